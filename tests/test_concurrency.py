"""Password hashing and pure-Python heavy work (PDFs, export archives) run in child processes, in
a session (so a scheduling group) of their own, at a lower CPU priority than the event loop's; the
children go when the server does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from portal import concurrency
from portal.concurrency import HASH_NICENESS, hashing, in_process
from portal.domain.auth import hash_password, verify_password


def _scheduling() -> tuple[int, int, int, str]:
    """(pid, session, niceness, Linux autogroup or "") of the calling process."""
    try:
        with open("/proc/self/autogroup") as f:
            group = f.read().strip()
    except OSError:
        group = ""
    return os.getpid(), os.getsid(0), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), group


@pytest.mark.skipif(not hasattr(os, "getsid"), reason="sessions and priorities are a Unix thing")
def test_hashing_runs_in_a_child_in_a_scheduling_group_of_its_own_at_a_lower_priority() -> None:
    pid, sid, nice, group = _scheduling()  # positive control: the same call here
    assert pid == os.getpid() and sid != pid
    child, child_sid, child_nice, child_group = hashing(_scheduling)
    assert child != pid
    assert child_sid == child != sid  # a session of its own
    assert child_nice == min(19, nice + HASH_NICENESS) > nice
    if group:  # a kernel with autogroups: a group of its own, with the same lower priority
        assert child_group != group
        assert child_group.endswith(f"nice {min(19, HASH_NICENESS)}")
    assert _scheduling() == (pid, sid, nice, group)  # the caller's own are untouched


def test_hashes_made_there_verify() -> None:
    h = hash_password("correct horse battery staple")
    assert verify_password(h, "correct horse battery staple")
    assert not verify_password(h, "wrong")
    assert not verify_password(None, "anything")


# -- pure-Python heavy work in child processes ------------------------------------------------------

def _where_and_how() -> tuple[int, int, str]:
    from portal.i18n import current_language

    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), current_language()


def _fails(message: str) -> None:
    raise ValueError(message)


def _dies() -> None:
    os._exit(3)


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="process priorities are a Linux thing")
def test_in_process_runs_in_a_child_at_a_lower_priority_in_the_callers_language() -> None:
    from portal.i18n import in_language

    here = os.getpriority(os.PRIO_PROCESS, 0)
    assert _where_and_how() == (os.getpid(), here, "en")  # positive control: the same call here
    with in_language("de"):
        pid, nice, lang = in_process(_where_and_how)
    assert pid != os.getpid()
    assert nice == min(19, here + HASH_NICENESS) > here
    assert lang == "de"
    assert in_process(_where_and_how)[2] == "en"


def test_in_process_raises_the_childs_error_here() -> None:
    with pytest.raises(ValueError, match="the field is wrong"):
        in_process(_fails, "the field is wrong")


def test_a_child_that_dies_is_replaced() -> None:
    first = in_process(_where_and_how)[0]
    with pytest.raises(BrokenProcessPool):  # it died on both tries: the caller hears of it
        in_process(_dies)
    again = in_process(_where_and_how)[0]  # and the next call gets a fresh child
    assert again != first


def test_a_pdf_made_in_a_child_speaks_the_callers_language() -> None:
    from portal.i18n import in_language
    from portal.integrations.pdf import render_text_pdf

    with in_language("de"):
        german = render_text_pdf("Titel", ["Zeile"], business="Acme")
    english = render_text_pdf("Titel", ["Zeile"], business="Acme")
    assert german.startswith(b"%PDF") and english.startswith(b"%PDF")
    assert english == render_text_pdf("Titel", ["Zeile"], business="Acme")  # the same words, the same bytes
    assert german != english  # "Seite 1 von 1" against "Page 1 of 1" in the footer


def test_work_in_processes_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(concurrency, "HEAVY_PROCESSES", False)
    assert in_process(_where_and_how)[0] == os.getpid()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


_ORPHAN = """
import os, sys
from portal.concurrency import in_process
from tests.test_concurrency import _scheduling
print(in_process(_scheduling)[0], flush=True)
sys.stdin.readline()
os.kill(os.getpid(), 9)
"""


def test_the_children_exit_when_the_server_is_killed() -> None:
    """A child waits on a queue that never closes, and no signal to the server's process group
    reaches its own session: it watches the server's process instead."""
    import time

    root = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-c", _ORPHAN], cwd=root, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdin is not None
    child = int(server.stdout.readline())
    try:
        assert _alive(child)  # positive control: there while the server is
        server.stdin.write("\n")
        server.stdin.flush()
        assert server.wait(timeout=30) == -9
        deadline = time.monotonic() + 30
        while _alive(child) and not _zombie(child):
            assert time.monotonic() < deadline, "the child outlived the server"
            time.sleep(0.05)
    finally:
        if _alive(child) and not _zombie(child):
            os.kill(child, 9)


def _zombie(pid: int) -> bool:
    """Exited but not reaped (its parent gone, and this machine's first process may not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_idle_children_exit_and_the_next_call_gets_new_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    first = in_process(_where_and_how)[0]
    assert concurrency._processes is not None and _alive(first)  # positive control: kept while in use
    monkeypatch.setattr(concurrency, "IDLE_SECONDS", 0.2)
    in_process(_where_and_how)  # idle from now on
    deadline = time.monotonic() + 30
    while concurrency._processes is not None or _alive(first):  # let go, and the child gone
        assert time.monotonic() < deadline, "the idle children never exited"
        time.sleep(0.05)
    assert in_process(_where_and_how)[0] != first  # a new child


_AFFINITY = """
import json, os
from portal.concurrency import in_process
print(json.dumps([sorted(os.sched_getaffinity(0)), sorted(in_process(os.sched_getaffinity, 0))]), flush=True)
"""


def _server_with(heavy_cpus: str, code: str) -> subprocess.CompletedProcess[str]:
    """`code` run as a server would be, with PORTAL_HEAVY_CPUS set to `heavy_cpus`."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PORTAL_HEAVY_CPUS": heavy_cpus}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs a machine with two CPUs or more, and Linux's CPU affinity")
def test_the_heavy_processes_can_be_kept_on_cpus_of_their_own() -> None:
    cpus = sorted(os.sched_getaffinity(0))
    run = _server_with("", _AFFINITY)  # positive control: unset, a child may run wherever the server may
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [cpus, cpus]
    run = _server_with(str(cpus[-1]), _AFFINITY)
    assert run.returncode == 0, run.stderr
    server, child = json.loads(run.stdout)
    assert child == [cpus[-1]]  # the heavy work on that CPU alone
    assert server == cpus  # the server's own (its event loop's) untouched


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux's CPU affinity")
def test_a_heavy_cpu_list_that_is_not_one_is_refused_naming_the_setting() -> None:
    mine = min(os.sched_getaffinity(0))
    assert concurrency.cpu_list("") == frozenset()
    assert concurrency.cpu_list(f" {mine} ") == {mine}  # positive control: a list this machine has
    for bad, said in [("x", "'x' is not a CPU number"), ("1-0", "'1-0' is not a CPU range"),
                      ("0,", "'' is not a CPU number"), ("4096", "CPU 4096 is not one this server may run on")]:
        with pytest.raises(ValueError, match="^" + re.escape(f"PORTAL_HEAVY_CPUS: {said}")):
            concurrency.cpu_list(bad)
    run = _server_with("x", "import portal.concurrency")  # the server does not start with it
    assert run.returncode != 0 and "PORTAL_HEAVY_CPUS: 'x' is not a CPU number" in run.stderr
    assert _server_with(str(mine), "import portal.concurrency").returncode == 0  # control: a good one starts
