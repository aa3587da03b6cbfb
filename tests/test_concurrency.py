"""Password hashing runs on threads with a lower CPU priority than the event loop's."""

from __future__ import annotations

import os
import threading

import pytest

from portal.concurrency import HASH_NICENESS, hashing
from portal.domain.auth import hash_password, verify_password


def _my_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="thread priorities are a Linux thing")
def test_hashing_threads_run_at_a_lower_priority_than_the_caller() -> None:
    here = _my_niceness()  # positive control: the calling thread keeps its own priority
    assert hashing(_my_niceness) == min(19, here + HASH_NICENESS) > here
    assert _my_niceness() == here


def test_hashes_made_there_verify() -> None:
    h = hash_password("correct horse battery staple")
    assert verify_password(h, "correct horse battery staple")
    assert not verify_password(h, "wrong")
    assert not verify_password(None, "anything")
