"""The real app, compiled for production and served by AppHarnessProd, with demo data,
driven by Playwright on Debian's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from tests.conftest import wipe

# A web-first assertion (`expect(...)`) waits as long as a locator's action may (30 s per page,
# below) would be too long to fail on, and Playwright's own 5 s is too short for a fresh page's
# load on a loaded two-core CI machine (seen: the security page's sessions under PostgreSQL). It
# changes nothing for a check that holds: expect answers as soon as it does.
expect.set_options(timeout=15_000)

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def harness(engine: Engine, root_dir: Any) -> Iterator[Any]:
    from tests.support.harness import PortalHarness

    with PortalHarness.create(root=root_dir, app_name="portal") as h:
        assert h.frontend_url is not None
        yield h


@pytest.fixture(scope="session")
def backend_url(harness: Any) -> str:
    host, port = harness.backend.servers[0].sockets[0].getsockname()[:2]
    return f"http://{host}:{port}"


@pytest.fixture(scope="session")
def one_port_url(harness: Any, backend_url: str) -> str:
    """Pages and API routes from one origin, as a person meets the portal after `make run`: the
    backend serves the compiled pages too (what Reflex does when both ports are the same), so links
    to /api/... are same-origin paths, which Reflex's client-side router would take over."""
    import contextlib

    from reflex.utils.exec import get_frontend_mount

    app = harness.app_instance
    with contextlib.chdir(harness.app_path):
        app._api.routes.append(get_frontend_mount(router=app.router))
    return backend_url


@pytest.fixture
def demo(engine: Engine) -> Iterator[Any]:
    """The demo company, loaded fresh for each test and removed afterwards."""
    from portal.db import session_scope
    from portal.seed.demo import load_demo

    wipe(engine)
    with session_scope() as s:
        summary = load_demo(s)
    yield summary
    wipe(engine)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, harness: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"))
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()
