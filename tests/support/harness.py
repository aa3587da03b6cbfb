"""The app under test: Reflex's AppHarnessProd, started the way `reflex run --env prod` starts the
portal, and built once per test run however many pytest-xdist workers serve it.

- The backend does not compile the pages when it starts (the production backend runs with
  REFLEX_SKIP_COMPILE, as `reflex run --env prod` sets it); AppHarnessProd compiled them twice,
  once in development mode for the backend and again in production mode for the export.
- The frontend (compiling the pages, then Vite's build) is made by the first worker that gets
  there. It leaves a copy under `.web-shared/` (laid out as a web folder), stamped with the run's
  id; every other worker of that run copies it into its own `.web-gwN` and points it at its own
  backend: the only file of the build that names the backend is the module made from `env.json`
  (`assets/reflex-env-*.js`, and its gzip), which the copy rewrites. Without pytest-xdist it is AppHarnessProd as it is.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

from reflex.testing import AppHarnessProd
from reflex_base import constants
from reflex_base.config import get_config
from reflex_base.environment import environment

SHARED = ".web-shared"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class PortalHarness(AppHarnessProd):
    def _initialize_app(self) -> None:
        environment.REFLEX_SKIP_COMPILE.set(True)
        try:
            super()._initialize_app()
        finally:
            environment.REFLEX_SKIP_COMPILE.set(None)

    def _start_frontend(self) -> None:
        run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
        if not run:
            super()._start_frontend()
            return
        shared = self.app_path / SHARED
        with _locked(self.app_path / f"{SHARED}.lock"):
            stamp = shared / "run.json"
            made = json.loads(stamp.read_text()) if stamp.is_file() else {}
            if made.get("run") == run:
                self._use_shared_build(shared, made["api_url"])
                return
            super()._start_frontend()
            self._share_build(shared, run)

    def _web_dir(self) -> Path:
        from reflex.utils import prerequisites

        with contextlib.chdir(self.app_path):
            return prerequisites.get_web_dir().resolve()

    # What a worker's server reads of an export: the pages, the routes (which paths are pages, for the
    # static server) and the backend's markers (stateful pages, bundled libraries).
    KEPT = (constants.Dirs.ROUTES_MANIFEST, constants.Dirs.BUNDLED_LIBRARIES,
            f"{constants.Dirs.BACKEND}/{constants.Dirs.STATEFUL_PAGES}")

    def _copy_export(self, src: Path, dst: Path) -> None:
        """The export under `src` (a web folder, or the shared copy laid out the same) into `dst`."""
        shutil.rmtree(dst / constants.Dirs.STATIC, ignore_errors=True)
        shutil.copytree(src / constants.Dirs.STATIC, dst / constants.Dirs.STATIC, symlinks=True)
        for name in self.KEPT:
            if (src / name).is_file():
                (dst / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / name, dst / name)

    def _share_build(self, shared: Path, run: str) -> None:
        shutil.rmtree(shared, ignore_errors=True)
        self._copy_export(self._web_dir(), shared)
        (shared / "run.json").write_text(json.dumps({"run": run, "api_url": get_config().api_url}))

    def _use_shared_build(self, shared: Path, built_for: str) -> None:
        """What AppHarnessProd._start_frontend does after its export, with the shared build."""
        with contextlib.chdir(self.app_path):
            config = get_config()
            config.api_url = "http://{}:{}".format(*self._poll_for_servers(timeout=30).getsockname())
            environment.REFLEX_ENV_MODE.set(constants.Env.PROD)  # as export() leaves the process
        web = self._web_dir()
        self._copy_export(shared, web)
        old, new = built_for.removeprefix("http://"), config.api_url.removeprefix("http://")
        rewritten = 0
        for module in (web / constants.Dirs.STATIC / "assets").glob("reflex-env-*.js"):
            text = module.read_text()
            if old not in text:
                continue
            text = text.replace(old, new)
            module.write_text(text)
            packed = module.with_name(module.name + ".gz")
            if packed.exists():
                packed.write_bytes(gzip.compress(text.encode(), mtime=0))
            rewritten += 1
        if rewritten != 1:
            msg = f"the shared build names its backend ({built_for}) in {rewritten} env modules, not one"
            raise RuntimeError(msg)
        self.frontend_thread = threading.Thread(target=self._run_frontend)
        self.frontend_thread.start()


