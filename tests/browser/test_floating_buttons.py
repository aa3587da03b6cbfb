"""At phone width the floating assistant button never hides a control (issue 17): on every
customer page, scrolled to the end, no link, button or field lies under it; everything above
can be scrolled out from under it, since the page ends with room for the button."""

from __future__ import annotations

from typing import Any

import pytest

from portal.seed.demo import DEMO_PASSWORD
from tests.browser.test_accessibility import PHONE, _ids, pages_by_role
from tests.browser.test_login_flow import sign_in

pytestmark = pytest.mark.browser

_COVERED = """() => {
    const button = document.querySelector('[data-testid=assistant-button]');
    if (!button) return null;
    const b = button.getBoundingClientRect();
    const hit = [];
    for (const el of document.querySelectorAll('a, button, input, select, textarea, [role=combobox], [role=switch]')) {
        if (el === button || button.contains(el) || el.closest('[data-testid=assistant-panel]')) continue;
        const r = el.getBoundingClientRect();
        if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
        if (r.left < b.right && r.right > b.left && r.top < b.bottom && r.bottom > b.top)
            hit.push((el.getAttribute('data-testid') || el.innerText || el.tagName).trim().slice(0, 40));
    }
    return hit;
}"""


def test_the_assistant_button_covers_no_control_at_the_end_of_any_page(browser: Any, harness: Any, demo: Any,
                                                                        engine: Any) -> None:
    context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), viewport=PHONE)
    try:
        page = context.new_page()
        sign_in(page, "alice@example.com", DEMO_PASSWORD)
        page.wait_for_url(lambda url: "/login" not in url)
        covered: dict[str, list[str]] = {}
        checked = unprotected = 0
        for path in pages_by_role(_ids(engine))["customer"]:
            page.goto(path)
            page.get_by_test_id("page-ready").wait_for(state="attached")
            page.wait_for_load_state("networkidle")
            page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
            hit = page.evaluate(_COVERED)
            assert hit is not None, f"no assistant button on {path}"  # the check sees the button
            checked += 1
            if hit:
                covered[path] = hit
            # The positive control: without the room the page ends with, the button would hide controls
            page.evaluate("() => { document.querySelector('[data-testid=page-content]').style.paddingBottom = '0';"
                          " window.scrollTo(0, document.documentElement.scrollHeight); }")
            unprotected += bool(page.evaluate(_COVERED))
        assert checked > 10 and unprotected > 5, (checked, unprotected)
        assert covered == {}, covered
    finally:
        context.close()
