"""WCAG 2.2 AA as axe-core checks it (issue 17): every page, for every role, in light and dark
mode and at phone width, has no violations. axe-core comes from npm (tests/a11y, installed by
`make test`) and is injected into each page as the person's browser shows it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from portal.domain import content_gaps
from portal.seed.demo import ADMIN_EMAIL, AGENT_EMAIL, DEMO_PASSWORD
from tests.browser.test_login_flow import sign_in
from tests.factories import principal_for

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[1] / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _axe_source() -> str:
    assert AXE.is_file(), f"{AXE} is missing: `make test` installs it (npm ci --prefix tests/a11y)"
    return AXE.read_text()


def _ids(engine: Any) -> dict[str, Any]:
    """Concrete pages of the demo for each parameterised route."""
    from portal.models.billing import Invoice
    from portal.models.customers import Customer
    from portal.models.identity import User
    from portal.models.kb import KbArticle, KbCategory
    from portal.models.orders import Order
    from portal.models.shipping import Shipment
    from portal.models.support import Conversation, Ticket

    with Session(engine) as db:
        alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
        customer = db.get(Customer, alice.customer_id)
        assert customer
        order = db.exec(select(Order).where(Order.customer_id == customer.id)).first()
        shipment = db.exec(select(Shipment).where(Shipment.customer_id == customer.id)).first()
        invoice = db.exec(select(Invoice).where(Invoice.customer_id == customer.id)).first()
        ticket = db.exec(select(Ticket).where(Ticket.customer_id == customer.id)).first()
        any_ticket = db.exec(select(Ticket)).first()
        conversation = db.exec(select(Conversation)).first()
        article = db.exec(select(KbArticle).where(KbArticle.status == "published")).first()
        assert order and shipment and invoice and ticket and any_ticket and article
        category = db.get(KbCategory, article.category_id)
        assert category
        # The editor with a brief from the insights' "questions without a good answer" beside it
        admin = db.exec(select(User).where(User.email == ADMIN_EMAIL)).one()
        gap = content_gaps.create_brief(db, principal=principal_for(admin), title="promo code not working",
                                        questions=["promo code not working", "where do i enter a promo code"])
        db.commit()
        return {"gap": gap, "order": order.id, "shipment": shipment.id, "invoice": invoice.id, "ticket": ticket.id,
                "any_ticket": any_ticket.id, "conversation": conversation.id if conversation else None,
                "article_id": article.id, "category": category.slug, "article": article.slug}


def pages_by_role(ids: dict[str, Any]) -> dict[str, list[str]]:
    public = ["/login", "/register", "/forgot", "/help", f"/help/{ids['category']}",
              f"/help/{ids['category']}/{ids['article']}"]
    customer = ["/dashboard", "/orders", f"/orders/{ids['order']}", "/orders/new", "/shipments",
                f"/shipments/{ids['shipment']}", "/billing", f"/billing/invoices/{ids['invoice']}", "/documents",
                "/support", "/support/new", f"/tickets/{ids['ticket']}", "/notifications", "/offers",
                "/account/profile", "/account/security", "/account/privacy", "/help", "/timeline"]
    agent = ["/agent", f"/agent/tickets/{ids['any_ticket']}", "/agent/articles",
             f"/agent/articles/{ids['article_id']}", "/account/security"]
    if ids["conversation"]:
        agent.append(f"/agent/chats/{ids['conversation']}")
    admin = ["/admin/users", "/admin/audit", "/admin/insights", "/admin/offers", "/admin/api-keys",
             "/admin/webhooks", "/admin/brand", f"/agent/articles/new?gap={ids['gap']}"]
    return {"public": public, "customer": customer, "agent": agent, "admin": admin}


SIGN_IN = {"customer": "alice@example.com", "agent": AGENT_EMAIL, "admin": ADMIN_EMAIL}


def _check(page: Any, source: str) -> tuple[list[dict[str, Any]], int]:
    # Hydrated (the shell's marker, or a signed-out page's heading) and done loading
    page.wait_for_function("() => document.querySelector('[data-testid=page-ready]') || "
                           "(!document.querySelector('[data-testid=shell]') && document.querySelector('h1, h2'))")
    page.wait_for_load_state("networkidle")
    # Nothing fading or sliding in: a dialog's opening animation blends its colours with the page
    # below, and axe would measure a red button's contrast half-way (4.49 once, on CI). Endless
    # animations (a spinner) are not waited for.
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running'"
                           " || !isFinite(a.effect?.getComputedTiming().endTime))")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(source + "\n;0")
    result = page.evaluate("async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags},"
                           " resultTypes: ['violations']}); return {v: r.violations.map(v => ({id: v.id,"
                           " impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')"
                           " + ' :: ' + n.failureSummary.slice(0, 300))})), n: r.passes.length + r.violations.length"
                           " + r.incomplete.length + r.inapplicable.length} }", TAGS)
    return result["v"], result["n"]


@pytest.fixture
def scan(browser: Any, harness: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def new_page(scheme: str, viewport: dict[str, int], locale: str = "en-GB") -> Any:
        context = browser.new_context(base_url=harness.frontend_url.rstrip("/"), color_scheme=scheme,
                                      viewport=viewport, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield new_page
    for context in contexts:
        context.close()


def test_every_page_for_every_role_has_no_axe_violations(scan: Any, demo: Any, engine: Any,
                                                         record_property: Any) -> None:
    source = _axe_source()
    by_role = pages_by_role(_ids(engine))
    found: dict[str, list[dict[str, Any]]] = {}
    checked = 0
    rules = 0
    for scheme, viewport in (("light", DESKTOP), ("dark", DESKTOP), ("light", PHONE)):
        for role, paths in by_role.items():
            page = scan(scheme, viewport)
            if role in SIGN_IN:
                sign_in(page, SIGN_IN[role], DEMO_PASSWORD)
                page.wait_for_url(lambda url: "/login" not in url)
            for path in paths:
                page.goto(path)
                violations, applied = _check(page, source)
                checked += 1
                rules = max(rules, applied)
                if violations:
                    found[f"{scheme} {viewport['width']}px {role} {path}"] = violations
    # In German and French too: a customer whose profile says German, strangers whose browser says French
    # (translated names must still match what is shown, <html lang> must follow).
    translated = {"customer-de": ("lukasz@example.com", "de-DE", [p for p in by_role["customer"] if p.count("/") == 1]
                                  + ["/account/profile", "/account/security", "/account/privacy", "/support/new"]),
                  "public-fr": ("", "fr-FR", by_role["public"])}
    for who, (email, locale, paths) in translated.items():
        for scheme, viewport in (("light", DESKTOP), ("dark", PHONE)):
            page = scan(scheme, viewport, locale)
            if email:
                sign_in(page, email, DEMO_PASSWORD)
                page.wait_for_url(lambda url: "/login" not in url)
            for path in dict.fromkeys(paths):
                page.goto(path)
                page.wait_for_function("(lang) => document.documentElement.lang === lang", arg=locale[:2])
                violations, applied = _check(page, source)
                checked += 1
                rules = max(rules, applied)
                if violations:
                    found[f"{scheme} {viewport['width']}px {who} {path}"] = violations
    # In the run's summary, passing or not (tests/conftest.py), from an xdist worker too
    record_property("summary", f"axe-core {TAGS}: {checked} page views checked ({sum(len(p) for p in by_role.values())}"
                    f" pages x light, dark, phone, and in German and French; up to {rules} rules each),"
                    f" {len(found)} with violations")
    assert not found, json.dumps(_by_rule(found), indent=1)


def _by_rule(found: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Violations grouped by rule: where (page views) and what (distinct elements), to read at once."""
    rules: dict[str, Any] = {}
    for view, violations in found.items():
        for v in violations:
            entry = rules.setdefault(v["id"], {"help": v["help"], "views": [], "nodes": []})
            entry["views"].append(view)
            entry["nodes"].extend(n for n in v["nodes"] if n not in entry["nodes"])
    for entry in rules.values():
        entry["views"], entry["nodes"] = [*entry["views"][:8], f"... {len(entry['views'])} in all"], entry["nodes"][:12]
    return rules


def test_confirmations_that_open_over_a_page_have_no_axe_violations(scan: Any, demo: Any, engine: Any) -> None:
    """The page scan never opens a dialog or a panel; these hold the solid red buttons of what cannot be
    undone (cancel an order, remove an address), so they are opened and scanned as shown."""
    from portal.models.identity import User
    from portal.models.orders import Order, OrderStatus

    with Session(engine) as db:
        alice = db.exec(select(User).where(User.email == "alice@example.com")).one()
        paid = db.exec(select(Order).where(Order.customer_id == alice.customer_id,
                                           Order.status == OrderStatus.PAID)).first()
        assert paid is not None
    source = _axe_source()
    found: dict[str, list[dict[str, Any]]] = {}
    reds: set[str] = set()
    for scheme in ("light", "dark"):
        page = scan(scheme, DESKTOP)
        sign_in(page, "alice@example.com", DEMO_PASSWORD)
        page.wait_for_url(lambda url: "/login" not in url)

        page.goto(f"/orders/{paid.id}")
        _check(page, source)
        page.get_by_test_id("action-cancel").click()
        button = page.get_by_test_id("confirm-cancel")
        button.wait_for()
        reds.add(button.evaluate("b => getComputedStyle(b).backgroundColor"))
        violations, _ = _check(page, source)
        if violations:
            found[f"{scheme} cancel-order panel"] = violations

        page.goto("/account/profile")
        _check(page, source)
        page.get_by_test_id("address-delete").first.click()
        page.get_by_role("alertdialog").wait_for()
        page.get_by_test_id("address-delete-confirm").wait_for()
        violations, _ = _check(page, source)
        if violations:
            found[f"{scheme} remove-address dialog"] = violations
        page.keyboard.press("Escape")
        page.get_by_role("alertdialog").wait_for(state="detached")
    assert not found, json.dumps(_by_rule(found), indent=1)
    # What was scanned is the stylesheet's red, in both modes (not a default that happened to pass)
    assert reds == {"rgb(206, 44, 49)"}
