"""The SSO routes end to end against an in-process fake provider: what gets a session,
what gets refused, and that a refusal never leaves a session behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from portal.api import sso_routes
from portal.api.app import SecurityHeaders, build_api
from portal.db import utcnow
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.models import AuditEvent, AuthSession, SsoIdentity, TokenPurpose, UserToken
from portal.settings import get_settings, reset_settings_cache
from tests.factories import make_customer, make_staff
from tests.factories_sso import CLIENT_ID, CLIENT_SECRET, DISCOVERY, FakeIdp, link, tamper_payload


@pytest.fixture
def idp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeIdp]:
    monkeypatch.setenv("OIDC_DISCOVERY_URL", DISCOVERY)
    monkeypatch.setenv("OIDC_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OIDC_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("OIDC_DISPLAY_NAME", "Test IdP")
    monkeypatch.setenv("PORTAL_PUBLIC_URL", "http://portal.test")
    reset_settings_cache()
    fake = FakeIdp()
    client = fake.client()
    monkeypatch.setattr(sso_routes, "_client_for", lambda _settings: client)
    yield fake
    monkeypatch.undo()
    reset_settings_cache()


def browser() -> TestClient:
    return TestClient(SecurityHeaders(build_api()), base_url="http://portal.test", follow_redirects=False)


def start(c: TestClient, **params: str) -> dict[str, str]:
    r = c.get("/api/auth/sso/start", params=params)
    assert r.status_code == 303, r.text
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


def sessions(db: Session) -> list[AuthSession]:
    db.expire_all()
    return list(db.exec(select(AuthSession)).all())


def audits(db: Session, action: str) -> list[AuditEvent]:
    db.expire_all()
    return list(db.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def sign_in_via_idp(c: TestClient, idp: FakeIdp, *, code: str = "c1", start_params: dict[str, str] | None = None,
                    **claims: object) -> tuple[dict[str, str], object]:
    q = start(c, **(start_params or {}))
    idp.issue_code(code, idp.mint(**({"nonce": q["nonce"]} | claims)))
    r = c.get("/api/auth/sso/callback", params={"code": code, "state": q["state"], "iss": idp.issuer})
    return q, r


def test_start_is_off_when_sso_is_not_configured(db: Session) -> None:
    assert not get_settings().sso_enabled
    assert browser().get("/api/auth/sso/start").status_code == 404


def test_start_sets_a_signed_httponly_lax_flow_cookie_and_sends_to_the_provider(idp: FakeIdp, db: Session) -> None:
    c = browser()
    r = c.get("/api/auth/sso/start", params={"next": "//evil.test/x"})
    assert r.status_code == 303 and r.headers["location"].startswith(f"{idp.issuer}/auth?")
    q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}
    assert q["redirect_uri"] == "http://portal.test/api/auth/sso/callback"
    assert q["code_challenge_method"] == "S256" and q["state"] and q["nonce"]
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{sso_routes.FLOW_COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower() and "Path=/api/auth/sso" in cookie and "Max-Age=600" in cookie
    flow = sso_routes.open_flow(c.cookies.get(sso_routes.FLOW_COOKIE))
    assert flow is not None and flow["state"] == q["state"] and flow["next"] == ""  # open redirect dropped
    # The verifier never leaves in the URL: only its S256 challenge does.
    assert flow["verifier"] not in r.headers["location"]


def test_linked_identity_signs_in_with_an_sso_session(idp: FakeIdp, db: Session) -> None:
    # Given Alice, who linked her provider identity
    alice, _ = make_customer(db, email="alice@example.com")
    link(db, alice)
    c = browser()
    # When she comes back from the provider
    _, r = sign_in_via_idp(c, idp, start_params={"next": "/orders/7"})
    # Then she has a session made by SSO and lands where she wanted to go
    assert r.status_code == 303 and r.headers["location"] == "/orders/7"
    raw = r.cookies[get_settings().session_cookie_name]
    principal = auth.resolve_session(db, raw_token=raw)
    assert principal is not None and principal.user_id == alice.id
    assert [s.auth_method for s in sessions(db)] == ["sso"]
    assert [a.data["method"] for a in audits(db, "auth.login")] == ["sso"]
    # ... and the flow cookie is gone
    assert f'{sso_routes.FLOW_COOKIE}=""' in ";".join(r.headers.get_list("set-cookie"))


def test_staff_land_on_the_agent_console(idp: FakeIdp, db: Session) -> None:
    agent = make_staff(db)
    link(db, agent)
    _, r = sign_in_via_idp(browser(), idp)
    assert r.headers["location"] == "/agent"


def test_a_replayed_callback_gets_no_second_session(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    link(db, alice)
    c = browser()
    q = start(c)
    flow_cookie = c.cookies.get(sso_routes.FLOW_COOKIE)
    idp.issue_code("c1", idp.mint(nonce=q["nonce"]))
    assert c.get("/api/auth/sso/callback", params={"code": "c1", "state": q["state"]}).headers[
        "location"] == "/dashboard"
    # When an attacker who copied the flow cookie replays the whole callback, with a fresh
    # code for the same flow
    idp.issue_code("c2", idp.mint(nonce=q["nonce"]))
    other = browser()
    other.cookies.set(sso_routes.FLOW_COOKIE, flow_cookie or "", domain="portal.test", path="/api/auth/sso")
    r = other.get("/api/auth/sso/callback", params={"code": "c2", "state": q["state"]})
    # Then it is refused: still exactly one session
    assert r.status_code == 303 and r.headers["location"] == "/login?error=sso_failed"
    assert get_settings().session_cookie_name not in r.cookies
    assert len(sessions(db)) == 1
    assert any(a.data.get("reason") == "replayed_callback" for a in audits(db, "auth.login_failed"))


def test_a_replayed_code_is_refused(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    link(db, alice)
    c = browser()
    _, r = sign_in_via_idp(c, idp)
    assert r.headers["location"] == "/dashboard"
    # A new flow that presents the already-used code: the provider says invalid_grant
    q2 = start(c)
    r2 = c.get("/api/auth/sso/callback", params={"code": "c1", "state": q2["state"]})
    assert r2.headers["location"] == "/login?error=sso_failed"
    assert len(sessions(db)) == 1
    assert any(a.data.get("reason") == "token_rejected" for a in audits(db, "auth.login_failed"))


@pytest.mark.parametrize(("claims", "reason"), [
    ({"nonce": "not-the-flows-nonce"}, "wrong_nonce"),
    ({"aud": "another-client"}, "wrong_audience"),
    ({"iss": "https://evil.test"}, "wrong_issuer"),
    ({"exp": int(utcnow().timestamp()) - 600, "iat": int(utcnow().timestamp()) - 900}, "expired"),
])
def test_bad_id_tokens_get_no_session(idp: FakeIdp, db: Session, claims: dict[str, object], reason: str) -> None:
    alice, _ = make_customer(db)
    link(db, alice)
    _, r = sign_in_via_idp(browser(), idp, **claims)
    assert r.status_code == 303 and r.headers["location"] == "/login?error=sso_failed"
    assert get_settings().session_cookie_name not in r.cookies
    assert sessions(db) == []
    assert [a.data.get("reason") for a in audits(db, "auth.login_failed")] == [reason]


def test_a_tampered_id_token_gets_no_session(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    link(db, alice, subject="alice-sub")
    c = browser()
    q = start(c)
    # The attacker signs in as themselves and swaps in Alice's subject
    idp.codes["c1"] = {"access_token": "x", "token_type": "Bearer",
                       "id_token": tamper_payload(idp.mint(nonce=q["nonce"], sub="mallory"), sub="alice-sub")}
    r = c.get("/api/auth/sso/callback", params={"code": "c1", "state": q["state"]})
    assert r.headers["location"] == "/login?error=sso_failed" and sessions(db) == []


def test_state_mismatch_tampered_cookie_and_missing_cookie_are_refused(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    link(db, alice)
    c = browser()
    q = start(c)
    idp.issue_code("c1", idp.mint(nonce=q["nonce"]))
    # A state that is not this browser's (login CSRF)
    r = c.get("/api/auth/sso/callback", params={"code": "c1", "state": "attacker-state"})
    assert r.headers["location"] == "/login?error=sso_failed"
    # A cookie whose contents were changed
    c2 = browser()
    q2 = start(c2)
    body, sig = (c2.cookies.get(sso_routes.FLOW_COOKIE) or "").split(".")
    c2.cookies.set(sso_routes.FLOW_COOKIE, body[:-2] + "AA." + sig, domain="portal.test", path="/api/auth/sso")
    r2 = c2.get("/api/auth/sso/callback", params={"code": "c1", "state": q2["state"]})
    assert r2.headers["location"] == "/login?error=sso_failed"
    # No cookie at all
    r3 = browser().get("/api/auth/sso/callback", params={"code": "c1", "state": q["state"]})
    assert r3.headers["location"] == "/login?error=sso_failed"
    # A response naming another issuer (RFC 9207 mix-up defence)
    c4 = browser()
    q4 = start(c4)
    r4 = c4.get("/api/auth/sso/callback", params={"code": "c1", "state": q4["state"], "iss": "https://evil.test"})
    assert r4.headers["location"] == "/login?error=sso_failed"
    assert sessions(db) == []


def test_an_expired_flow_cookie_is_refused() -> None:
    sealed = sso_routes.seal_flow({"state": "s", "exp": int(utcnow().timestamp()) - 1})
    assert sso_routes.open_flow(sealed) is None
    exp = int(utcnow().timestamp()) + 60
    fresh = sso_routes.seal_flow({"state": "s", "exp": exp})
    assert sso_routes.open_flow(fresh) == {"state": "s", "exp": exp}
    assert sso_routes.open_flow(fresh + "x") is None


def test_provider_error_is_reported_as_cancelled(idp: FakeIdp, db: Session) -> None:
    c = browser()
    q = start(c)
    r = c.get("/api/auth/sso/callback", params={"error": "access_denied", "state": q["state"]})
    assert r.headers["location"] == "/login?error=sso_cancelled"


def test_unlinked_identity_is_refused_even_when_the_email_matches(idp: FakeIdp, db: Session) -> None:
    # Given Alice, with no SSO link, and a provider that says the person's email is Alice's
    make_customer(db, email="alice@example.com")
    _, r = sign_in_via_idp(browser(), idp, email="alice@example.com", sub="someone-else")
    # Then nobody is signed in and nothing was linked by email
    assert r.headers["location"] == "/login?error=sso_unlinked"
    assert sessions(db) == [] and db.exec(select(SsoIdentity)).all() == []
    failed = audits(db, "auth.login_failed")
    assert [(a.data["reason"], a.data["method"]) for a in failed] == [("sso_unlinked", "sso")]


def test_mfa_user_gets_a_pending_token_not_a_session(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db, email="alice@example.com")
    alice.mfa_enabled = True
    db.add(alice)
    db.commit()
    link(db, alice)
    _, r = sign_in_via_idp(browser(), idp)
    loc = r.headers["location"]
    assert loc.startswith("/login?mfa=")
    assert get_settings().session_cookie_name not in r.cookies and sessions(db) == []
    raw = parse_qs(urlsplit(loc).query)["mfa"][0]
    tok = db.exec(select(UserToken).where(UserToken.token_hash == auth.hash_token(raw))).one()
    assert tok.purpose == TokenPurpose.MFA_PENDING and tok.auth_method == "sso" and tok.user_id == alice.id
    assert tok.used_at is None and not tok.mfa_verified
    assert timedelta(minutes=4) < tok.expires_at - utcnow() <= timedelta(minutes=5)


def test_signed_in_customer_links_their_identity(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    new = auth.create_session(db, user=alice, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    c = browser()
    c.cookies.set(get_settings().session_cookie_name, new.raw_token, domain="portal.test")
    q, r = sign_in_via_idp(c, idp, start_params={"link": "1"}, sub="alice-at-idp", email="a@idp.test")
    # Linking makes the person sign in at the provider again
    assert q["prompt"] == "login"
    assert r.headers["location"] == "/account/security?sso=linked"
    ident = db.exec(select(SsoIdentity)).one()
    assert (ident.user_id, ident.issuer, ident.subject, ident.email) == (alice.id, idp.issuer, "alice-at-idp",
                                                                          "a@idp.test")
    assert [a.actor_user_id for a in audits(db, "auth.sso_linked")] == [alice.id]
    # Linking made no new session
    assert len(sessions(db)) == 1


def test_link_needs_a_session_and_the_same_user_at_the_end(idp: FakeIdp, db: Session) -> None:
    # A stranger asking to link is sent to sign in first
    r = browser().get("/api/auth/sso/start", params={"link": "1"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Faccount%2Fsecurity"
    # Someone who signed out while at the provider links nothing
    alice, _ = make_customer(db)
    new = auth.create_session(db, user=alice, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    c = browser()
    c.cookies.set(get_settings().session_cookie_name, new.raw_token, domain="portal.test")
    q = start(c, link="1")
    auth.revoke_by_token(db, raw_token=new.raw_token, request=RequestInfo())
    db.commit()
    idp.issue_code("c1", idp.mint(nonce=q["nonce"]))
    r2 = c.get("/api/auth/sso/callback", params={"code": "c1", "state": q["state"]})
    assert r2.headers["location"] == "/login?error=sso_failed"
    assert db.exec(select(SsoIdentity)).all() == []


def test_an_identity_linked_to_bob_cannot_be_taken_by_alice(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    bob, _ = make_customer(db)
    link(db, bob, subject="shared-sub")
    new = auth.create_session(db, user=alice, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    c = browser()
    c.cookies.set(get_settings().session_cookie_name, new.raw_token, domain="portal.test")
    _, r = sign_in_via_idp(c, idp, start_params={"link": "1"}, sub="shared-sub")
    assert r.headers["location"] == "/account/security?sso=conflict"
    db.expire_all()
    assert [i.user_id for i in db.exec(select(SsoIdentity)).all()] == [bob.id]
    assert len(audits(db, "auth.sso_link_refused")) == 1


def test_another_site_cannot_start_a_link(idp: FakeIdp, db: Session) -> None:
    alice, _ = make_customer(db)
    new = auth.create_session(db, user=alice, request=RequestInfo(), auth_method="password", mfa_verified=False)
    db.commit()
    c = browser()
    c.cookies.set(get_settings().session_cookie_name, new.raw_token, domain="portal.test")
    r = c.get("/api/auth/sso/start", params={"link": "1"}, headers={"sec-fetch-site": "cross-site"})
    assert r.headers["location"] == "/account/security?sso=refused"
    assert sso_routes.FLOW_COOKIE not in r.cookies
    # A plain sign-in flow never forces the provider's login screen
    assert "prompt" not in start(browser())
