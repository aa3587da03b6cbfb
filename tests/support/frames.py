"""What a person saw: before every frame the browser paints, the address and one element's text
or value, recorded in the page (window.__frames) for a test to read afterwards."""

from __future__ import annotations

from typing import Any

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


def frames(page: Any) -> list[tuple[str, Any]]:
    return [(path, value) for path, value in page.evaluate("window.__frames")]


def shown_at(page: Any, path: str) -> set[Any]:
    """Every value painted while the address was `path`."""
    return {value for p, value in frames(page) if p == path}
