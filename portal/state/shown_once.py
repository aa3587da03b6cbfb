"""Secrets shown once (a new API key, a webhook signing secret, the TOTP seed and its QR code,
recovery codes) never enter Reflex state.

Every frontend var is state, and state is pickled (Redis when scaled out, the state manager's
memory otherwise) and sent again on every reload. So the handler that creates such a secret hands
it to the browser in a one-time event instead: a script, sent once over the tab's websocket, that
writes it into elements the page renders empty, inside a hidden panel
(`portal.components.common.secret_panel`), and shows the panel. Only the page in front of the
person holds it; a reload, another tab or the server's state never sees it again.
"""

from __future__ import annotations

import json

import reflex as rx
from reflex_base.event import EventSpec

# Writes each value into the element with that id (an image's src, otherwise its text) and shows
# the panel around it. The elements may not exist yet (the same update may be what renders them),
# and React may mount them afresh (a websocket reconnect re-hydrates the page), so the values stay
# in this page's memory while it shows the same path, and an observer fills any empty slot again.
# A reload or another page forgets them.
_REVEAL = """((values) => {
  const keep = window.__portalShownOnce = window.__portalShownOnce || {path: "", values: {}};
  if (keep.path !== window.location.pathname) { keep.path = window.location.pathname; keep.values = {}; }
  Object.assign(keep.values, values);
  const fill = () => {
    if (keep.path !== window.location.pathname) { keep.values = {}; return; }
    for (const [id, value] of Object.entries(keep.values)) {
      const el = document.getElementById(id);
      if (!el) continue;
      if (el.tagName === "IMG") { if (el.getAttribute("src") !== value) el.src = value; }
      else if (el.textContent !== value) el.textContent = value;
      const panel = el.closest("[data-shown-once]");
      if (panel && panel.style.display !== "block") panel.style.display = "block";
    }
  };
  if (!keep.observer) {
    keep.observer = new MutationObserver(fill);
    keep.observer.observe(document.body, {childList: true, subtree: true});
  }
  fill();
})(%s)"""

_CONCEAL = """((ids) => {
  const keep = window.__portalShownOnce;
  for (const id of ids) {
    if (keep) delete keep.values[id];
    const el = document.getElementById(id);
    if (!el) continue;
    if (el.tagName === "IMG") el.removeAttribute("src"); else el.textContent = "";
    const panel = el.closest("[data-shown-once]");
    if (panel) panel.style.display = "none";
  }
})(%s)"""


def reveal(values: dict[str, str]) -> EventSpec:
    """Show these values (element id: value) in this tab's page, once; nothing is kept."""
    return rx.call_script(_REVEAL % json.dumps(values))


def conceal(*ids: str) -> EventSpec:
    """Empty these elements and hide their panel (the person has copied what they showed)."""
    return rx.call_script(_CONCEAL % json.dumps(list(ids)))
