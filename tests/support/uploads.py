"""Sending files through a Reflex upload zone the way a person does, including choosing again when
the browser never sent the choice.

Reflex's client sends one upload per zone at a time: a choice made while the zone's previous
upload is still finishing in the browser is dropped, and the only trace is a console line
("Upload already in progress for <zone>"). The portal's pages now hold such a choice and send it
once the zone is free (assets/portal-actions.js; tests/browser/test_upload_queue.py proves it,
and fails without it). This helper still chooses again, as a person whose file did not appear
would, but only when the browser sent no upload for the choice, so a file the portal received
and then did not show still fails the wait."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

SENT_WITHIN_MS = 5_000  # a choice is sent at once; no request by then means the browser dropped it
ATTEMPTS = 4


def _is_upload(request: Any) -> bool:
    return request.method == "POST" and "/_upload" in request.url


def send_files(page: Any, send: Callable[[], None], shows: Any, timeout_ms: int = 30_000) -> int:
    """Run `send` (choose files, and click whatever sends them) until the browser sends an upload,
    then wait until `shows` (a locator) is visible. Returns how many times `send` ran."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with page.expect_request(_is_upload, timeout=SENT_WITHIN_MS):
                send()
        except PlaywrightTimeoutError:
            if attempt == ATTEMPTS:
                raise
            continue
        shows.wait_for(timeout=timeout_ms)
        return attempt
    raise AssertionError("unreachable")
