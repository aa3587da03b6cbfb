"""What a person saw: before every frame the browser paints, the address and one element's text
or value, recorded in the page (window.__frames) for a test to read afterwards."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

_WATCH = """([selector, prop]) => {
  window.__frames = [];
  const tick = () => {
    const el = document.querySelector(selector);
    window.__frames.push([location.pathname.replace(/\\/+$/, ''), el ? el[prop] : null]);
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def watch_frames(page: Any, selector: str, prop: str = "innerText") -> None:
    """Start recording [path, element's `prop` (None while there is no such element)] per frame;
    it goes on across client-side navigations (a full page load ends it)."""
    page.evaluate(_WATCH, [selector, prop])


def shown_at(page: Any, path: str) -> set[Any]:
    """Every value painted while the address was `path`, up to now: the recorder runs at the start
    of each frame, so what Playwright just saw in the page may not be recorded until the next one
    (a condition, not a wait: two frames have been painted since)."""
    page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return {value for p, value in page.evaluate("window.__frames") if p == path}


def current_path(page: Any) -> str:
    """The page's address as the recorder names it (no trailing slash)."""
    return urlsplit(page.url).path.rstrip("/")
