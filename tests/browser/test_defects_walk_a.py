"""Defects a first walk through the portal turned up (issue 20, items 4, 5, 6, 8, 9 and 13), each
met as the person who reported it meets it: a real server, Chromium, the demo company."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from portal.db import session_scope, utcnow
from portal.models import AuthSession, Order, Shipment, User
from portal.seed.demo import ADMIN_EMAIL, AGENT_EMAIL, DEMO_PASSWORD
from portal.settings import get_settings, reset_settings_cache
from portal.simulator import embedded
from tests.browser.test_login_flow import sign_in
from tests.factories_api import make_api_key
from tests.support.aio import run_async

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _user(db: Session, email: str) -> User:
    db.expire_all()
    return db.exec(select(User).where(User.email == email)).one()


def _signed_in(browser: Any, base_url: str, email: str, landing: str = r"/dashboard") -> Any:
    context = browser.new_context(base_url=base_url.rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(30_000)
    sign_in(page, email, DEMO_PASSWORD)
    page.wait_for_url(re.compile(landing))
    return page


# --- 4. sessions: real last use per session; the idle timeout ends an idle one ---------------

def test_a_push_to_an_idle_tab_is_not_use_and_the_idle_session_ends(browser: Any, harness: Any, demo: Any,
                                                                    db: Session) -> None:
    url = harness.frontend_url
    # Given Alice signed in on her laptop (tab left open on her profile) and then on her phone
    laptop = _signed_in(browser, url, "alice@example.com")
    laptop.goto("/account/profile")
    laptop.get_by_test_id("email-offers").wait_for()
    phone = _signed_in(browser, url, "alice@example.com")
    alice = _user(db, "alice@example.com")
    rows = db.exec(select(AuthSession).where(AuthSession.user_id == alice.id)
                   .order_by(col(AuthSession.created_at), col(AuthSession.id))).all()
    laptop_session, phone_session = rows[0], rows[1]
    # ... and the laptop has not been used for half an hour
    idle_since = utcnow() - timedelta(minutes=30)
    laptop_session.last_seen_at = idle_since
    db.add(laptop_session)
    db.commit()

    # When she is busy on the phone: renames herself and changes an email preference
    phone.goto("/account/profile")
    phone.locator("#p-full_name").fill("Alice Marlow")
    phone.get_by_test_id("save-details").click()
    phone.get_by_text("Saved.").first.wait_for()
    offers = laptop.get_by_test_id("email-offers")
    before = offers.get_attribute("data-state")
    phone.get_by_test_id("email-offers").click()
    # Then the open laptop tab is brought up to date (the push reached it) ...
    laptop.wait_for_function(
        "s => document.querySelector('[data-testid=email-offers]').getAttribute('data-state') !== s", arg=before)
    # ... but that push is not the laptop being used: its last use stays half an hour ago
    db.expire_all()
    assert db.get(AuthSession, laptop_session.id).last_seen_at.replace(tzinfo=None) == \
        idle_since.replace(tzinfo=None)
    assert db.get(AuthSession, phone_session.id).last_seen_at > idle_since  # positive control

    # And her sessions list shows each session's own last use, this device first
    phone.goto("/account/security")
    rows_ui = phone.get_by_test_id("session-row")
    rows_ui.nth(1).wait_for()
    assert "This device" in rows_ui.first.inner_text()
    assert rows_ui.first.get_by_test_id("session-last-active").inner_text() == "Now"
    assert rows_ui.nth(1).get_by_test_id("session-last-active").inner_text() == "30 minutes ago"

    # When the laptop has been idle for longer than the idle timeout while the phone stays busy
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    laptop_session = db.get(AuthSession, laptop_session.id)
    laptop_session.last_seen_at = utcnow() - idle - timedelta(minutes=1)
    db.add(laptop_session)
    db.commit()
    phone.goto("/account/profile")
    phone.get_by_test_id("email-offers").click()
    phone.get_by_text("Saved.").first.wait_for()
    # Then the laptop's next click finds its session over, and it is not listed any more
    laptop.get_by_role("link", name="Orders").first.click()
    laptop.wait_for_url(re.compile(r"/login"))
    phone.goto("/account/security")
    # A fresh page lists nothing until its load answers (seconds under CI's load): wait for the
    # list, then count it
    phone.get_by_test_id("session-row").first.wait_for()
    expect(phone.get_by_test_id("session-row")).to_have_count(1)
    assert "This device" in phone.get_by_test_id("session-row").first.inner_text()
    laptop.context.close()
    phone.context.close()


def test_many_sessions_show_the_recent_ones_and_fold_the_rest(browser: Any, harness: Any, demo: Any,
                                                              db: Session) -> None:
    from portal.domain import auth
    from portal.domain.audit import RequestInfo

    # Given Ben signed in from eight browsers over the last hours
    ben = _user(db, "ben@example.com")
    for n in range(8):
        new = auth.create_session(db, user=ben, request=RequestInfo(ip_address=f"10.0.0.{n}", user_agent="Mozilla/5.0 "
                                  "(X11; Linux x86_64) Chrome/140.0 Safari/537.36"), auth_method="password",
                                  mfa_verified=False)
        row = db.get(AuthSession, new.session_id)
        row.last_seen_at = utcnow() - timedelta(hours=n + 1)
        db.add(row)
    db.commit()
    # When he looks at where he is signed in
    page = _signed_in(browser, harness.frontend_url, "ben@example.com")
    page.goto("/account/security")
    rows = page.get_by_test_id("session-row")
    rows.first.wait_for()
    # Then this device comes first, then the most recently used, and the older ones are folded
    assert "This device" in rows.first.inner_text()
    assert rows.count() == 5
    assert [rows.nth(i).get_by_test_id("session-last-active").inner_text() for i in range(1, 5)] == \
        ["1 hour ago", "2 hours ago", "3 hours ago", "4 hours ago"]
    page.get_by_test_id("older-sessions").click()
    rows.nth(8).wait_for()
    assert rows.count() == 9
    page.context.close()


# --- 5. the demo keeps parcels moving -------------------------------------------------------

@pytest.fixture
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("CARRIER_SIMULATOR_STEP_SECONDS", "1")
    reset_settings_cache()
    embedded.reset()
    yield
    monkeypatch.undo()
    reset_settings_cache()
    embedded.reset()


def test_the_demo_keeps_parcels_moving_after_the_first_ones_arrive(page: Any, demo: Any, db: Session,
                                                                   fast_carrier: None) -> None:
    alice = _user(db, "alice@example.com")
    first_ids = {s.id for s in db.exec(select(Shipment).where(Shipment.tag != "Delivered")).all()}
    known = {s.id for s in db.exec(select(Shipment)).all()}
    # Given Alice watching her shipments
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/shipments")
    page.get_by_test_id("shipment-row").first.wait_for()
    rows_before = page.get_by_test_id("shipment-row").count()

    # When the demo runs (one tick of its carrier job after another) until the first parcels arrived
    seen_tags: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run_async(embedded.drive())
        with session_scope() as s:
            shipments = s.exec(select(Shipment)).all()
            originals_done = all(sh.tag in ("Delivered", "Exception") for sh in shipments if sh.id in first_ids)
            new = [sh for sh in shipments if sh.id not in known]
            seen_tags |= {sh.tag for sh in new}
            moving = [sh for sh in shipments if sh.tag not in ("Delivered", "Exception", "Expired")]
            if originals_done and len(moving) >= 3 and {"OutForDelivery", "AttemptFail"} <= seen_tags:
                break
        time.sleep(0.3)  # the job's pace (every few seconds in the demo); the loop ends on the condition
    # Then new parcels were started as the first ones arrived, a few are on their way, and they
    # pass through out-for-delivery and failed-attempt states a person can watch
    assert originals_done, "the demo's first parcels never arrived"
    assert len(new) >= 3 and len(moving) >= 3, f"only {len(moving)} parcels still moving"
    assert {"OutForDelivery", "AttemptFail"} <= seen_tags
    # ... and Alice's open page shows hers as they start, without a reload
    mine = [sh for sh in new if sh.customer_id == alice.customer_id]
    assert mine
    page.get_by_test_id("shipment-row").nth(rows_before).wait_for()
    assert mine[0].tracking_number in page.get_by_test_id("shipments").inner_text()
    # ... each one for an order of hers that is now shipped
    db.expire_all()
    assert db.get(Order, mine[0].order_id).status in ("shipped", "out_for_delivery", "delivered")


# --- 6. a delivery problem says what happened and what to do; milestones in order ------------

def test_an_exception_explains_itself_and_offers_help(page: Any, demo: Any, db: Session, backend_url: str) -> None:
    alice = _user(db, "alice@example.com")
    shipment = db.exec(select(Shipment).where(Shipment.customer_id == alice.customer_id,
                                              Shipment.tag == "InTransit")).first()
    assert shipment is not None
    order = db.get(Order, shipment.order_id)
    _, key = make_api_key(db, "shipments:write")
    # Given the warehouse system reports a problem with Alice's parcel through the integration API
    r = httpx.put(f"{backend_url}/api/v1/shipments/{shipment.carrier}/{shipment.tracking_number}",
                  headers={"Authorization": f"Bearer {key}"},
                  json={"order_number": order.number, "carrier_name": shipment.carrier_name, "tag": "Exception"})
    assert r.status_code == 200, r.text
    # When she opens the shipment
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto(f"/shipments/{shipment.id}")
    advice = page.get_by_test_id("shipment-advice")
    advice.wait_for()
    # Then the status line says there is a problem (not an old "In transit"/"Info received" detail),
    # with an explanation, a next step and help that starts from this shipment
    detail = page.get_by_test_id("shipment-detail").inner_text()
    assert "problem" in detail and "Info received" not in detail and "transit" not in detail.lower()
    assert "problem" in page.get_by_test_id("advice-title").inner_text().lower()
    assert page.get_by_test_id("advice-next").inner_text().startswith("What to do:")
    advice.get_by_test_id("advice-help").click()
    page.wait_for_url(re.compile(rf"/support/new\?about=shipment:{shipment.id}$"))


def test_a_failed_attempt_sits_before_delivered_in_the_progress(page: Any, demo: Any, db: Session) -> None:
    daniel = _user(db, "daniel@example.com")
    shipment = db.exec(select(Shipment).where(Shipment.customer_id == daniel.customer_id,
                                              Shipment.tag == "AttemptFail")).one()
    sign_in(page, "daniel@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto(f"/shipments/{shipment.id}")
    page.get_by_test_id("milestone").first.wait_for()
    labels = [m.split("\n")[0].strip() for m in page.get_by_test_id("milestone").all_inner_texts()]
    # The attempt happened after "Out for delivery" and before anything still to come
    assert labels.index("Failed attempt") == labels.index("Out for delivery") + 1
    assert labels.index("Failed attempt") < labels.index("Delivered")
    assert page.get_by_test_id("advice-title").inner_text() == "Delivery attempt failed"


# --- 8. profile: a too-long name names the field; a rename reaches the header at once --------

def test_profile_errors_name_the_field_and_a_rename_reaches_every_tab(browser: Any, harness: Any, demo: Any) -> None:
    page = _signed_in(browser, harness.frontend_url, "alice@example.com")
    other_tab = page.context.new_page()
    other_tab.goto("/orders")
    other_tab.get_by_test_id("user-menu").get_by_text("Alice Martin").wait_for()
    page.goto("/account/profile")
    name = page.locator("#p-full_name")
    name.wait_for()
    # When Alice types a name far too long
    too_long = "Alice " + "x" * 600
    name.fill(too_long)
    page.get_by_test_id("save-details").click()
    # Then the message names the field, and what she typed is still there
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Full name" in alert.inner_text()
    assert name.input_value() == too_long
    # When she renames herself
    name.fill("Alice Marlow")
    page.get_by_test_id("save-details").click()
    # Then the header says so at once, here and in her other open tab, without signing out
    page.get_by_test_id("user-menu").get_by_text("Alice Marlow").wait_for(timeout=10_000)
    other_tab.get_by_test_id("user-menu").get_by_text("Alice Marlow").wait_for(timeout=10_000)
    page.context.close()


# --- 9. agent console and admin roles ---------------------------------------------------------

def test_agent_console_filter_sla_labels_and_take(browser: Any, harness: Any, demo: Any, db: Session) -> None:
    page = _signed_in(browser, harness.frontend_url, AGENT_EMAIL, r"/agent")
    page.get_by_test_id("queue-row").first.wait_for()
    # The status filter names its choice once
    trigger = page.get_by_test_id("filter-status")
    assert trigger.inner_text().strip() == "Unresolved (new, open, pending)"
    # The SLA times say which is which
    sla = page.get_by_test_id("queue-row").first.get_by_test_id("sla-first-reply")
    assert sla.inner_text().startswith("First reply ")
    # Taking a ticket makes it the agent's own: no "Take" on it any more, here or on its page
    agent = _user(db, AGENT_EMAIL)
    row = page.get_by_test_id("queue-row").filter(has=page.get_by_test_id("take-row")).first
    subject = row.get_by_role("link").inner_text()
    row.get_by_test_id("take-row").click()
    mine = page.get_by_test_id("queue-row").filter(has_text=subject)
    mine.get_by_text("Yours").wait_for()
    assert mine.get_by_test_id("take-row").count() == 0
    mine.get_by_role("link").first.click()
    page.get_by_test_id("thread").wait_for()
    page.get_by_test_id("set-status").wait_for()
    assert page.get_by_test_id("take").count() == 0
    assert agent.id is not None
    # ... and choosing "Open only" lists only open tickets
    page.goto("/agent")
    page.get_by_test_id("queue-row").first.wait_for()
    page.get_by_test_id("filter-status").click()
    page.get_by_role("option", name="Open only").click()
    page.get_by_test_id("filter-status").get_by_text("Open only").wait_for()
    statuses = page.get_by_test_id("queue-row").locator("td:nth-child(4)").all_inner_texts()
    assert statuses and {s.strip() for s in statuses} == {"Open"}
    page.context.close()


def test_a_role_change_asks_before_it_applies(browser: Any, harness: Any, demo: Any, db: Session) -> None:
    page = _signed_in(browser, harness.frontend_url, ADMIN_EMAIL, r"/agent|/admin|/dashboard")
    page.goto("/admin/users")
    row = page.get_by_test_id("user-row").filter(has_text="ben@example.com")
    row.wait_for()
    # When the admin picks "agent" for Ben
    row.get_by_role("combobox").click()
    page.get_by_role("option", name="agent").click()
    # Then nothing changes until confirmed, and "Keep" leaves it as it was
    row.get_by_test_id("role-confirm").wait_for()
    assert "customer to agent" in row.get_by_test_id("role-confirm").inner_text()
    assert _user(db, "ben@example.com").role == "customer"
    row.get_by_role("button", name="Keep").click()
    row.get_by_test_id("role-confirm").wait_for(state="detached")
    assert _user(db, "ben@example.com").role == "customer"
    # When the admin confirms the change, it applies
    row.get_by_role("combobox").click()
    page.get_by_role("option", name="agent").click()
    row.get_by_test_id("confirm-role").click()
    page.get_by_text("Role changed.").wait_for()
    assert _user(db, "ben@example.com").role == "agent"
    page.context.close()


# --- 13. dashboard link, favicon, plurals, a closed account's sign-in ------------------------

def test_dashboard_shipment_links_to_the_shipment(page: Any, demo: Any) -> None:
    sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    link = page.get_by_test_id("shipments").get_by_test_id("shipment-row").first.get_by_role("link")
    link.click()
    page.wait_for_url(re.compile(r"/shipments/\d+$"))
    page.get_by_test_id("shipment-title").wait_for()


def test_every_page_has_a_favicon(browser: Any, one_port_url: str, harness: Any) -> None:
    context = browser.new_context(base_url=one_port_url)
    page = context.new_page()
    response = page.goto("/favicon.ico")
    assert response is not None and response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert response.body()[:4] == b"\x00\x00\x01\x00"
    context.close()


def test_counts_use_the_right_word(page: Any, demo: Any) -> None:
    sign_in(page, "ben@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/billing")
    due = page.get_by_test_id("billing-due").locator("xpath=..")
    due.get_by_text(re.compile(r"open invoice")).wait_for()
    text = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    assert "(s)" not in text
    m = re.search(r"(\d+) open invoices?\b", text)
    assert m is not None
    assert m.group(0) == (f"{m.group(1)} open invoice" if m.group(1) == "1" else f"{m.group(1)} open invoices")


def test_a_closed_account_is_told_so_at_sign_in_and_strangers_learn_nothing(page: Any, demo: Any) -> None:
    # Given Emma closes her account
    sign_in(page, "emma@example.com", DEMO_PASSWORD)
    page.wait_for_url(re.compile(r"/dashboard"))
    page.goto("/account/privacy")
    page.locator("#close-password").fill(DEMO_PASSWORD)
    page.locator("#close-confirm").fill("CLOSE")
    page.get_by_test_id("close-account").click()
    # Then the sign-in page she lands on says the account is closed
    page.wait_for_url(re.compile(r"/login/?\?closed=1"))
    page.get_by_text("Your account is closed").wait_for()
    # When she signs in again with her password, she is told why it fails
    page.fill("#email", "emma@example.com")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_test_id("sign-in").click()
    assert "closed" in page.get_by_role("alert").inner_text()
    # ... but without the password nobody learns the account exists (same answer as no account)
    page.fill("#password", "not her password at all")
    page.get_by_test_id("sign-in").click()
    page.get_by_role("alert").get_by_text("do not match").wait_for()
    page.fill("#email", "nobody-here@example.com")
    page.fill("#password", DEMO_PASSWORD)
    page.get_by_test_id("sign-in").click()
    page.get_by_role("alert").get_by_text("do not match").wait_for()
    assert "closed" not in page.get_by_role("alert").inner_text()
