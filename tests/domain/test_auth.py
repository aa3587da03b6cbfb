"""Password login, sessions and the login hand-off ticket."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import auth
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode
from portal.models import AuditEvent, AuthSession, UserToken
from tests.factories import PASSWORD, make_customer

REQ = RequestInfo(ip_address="203.0.113.7", user_agent="pytest")


def test_passwords_are_hashed_with_argon2id() -> None:
    h = auth.hash_password("correct horse battery staple")
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, "correct horse battery staple")
    assert not auth.verify_password(h, "wrong")
    assert not auth.verify_password(None, "anything")


def test_unknown_user_and_wrong_password_answer_the_same(db: Session) -> None:
    make_customer(db, email="ann@example.com")
    errors = []
    for email, pw in (("nobody@example.com", PASSWORD), ("ann@example.com", "not the password")):
        with pytest.raises(DomainError) as exc:
            auth.authenticate(db, email=email, password=pw, request=REQ)
        errors.append((exc.value.code, exc.value.detail))
    assert errors[0] == errors[1] == (ErrorCode.AUTH_FAILED, "")
    db.commit()
    failed = db.exec(select(AuditEvent).where(AuditEvent.action == "auth.login_failed")).all()
    assert len(failed) == 2


def test_email_is_matched_case_insensitively(db: Session) -> None:
    user, _ = make_customer(db, email="bo@example.com")
    assert auth.authenticate(db, email="  BO@Example.com ", password=PASSWORD, request=REQ).id == user.id


def test_login_ticket_is_single_use_and_creates_a_hashed_session(db: Session) -> None:
    user, _ = make_customer(db)
    ticket = auth.issue_login_ticket(db, user=user)
    db.commit()
    new = auth.redeem_login_ticket(db, ticket=ticket, request=REQ)
    db.commit()
    row = db.get(AuthSession, new.session_id)
    assert row is not None and row.token_hash == auth.hash_token(new.raw_token)
    assert new.raw_token not in row.token_hash
    assert row.ip_address == "203.0.113.7"
    with pytest.raises(DomainError) as exc:
        auth.redeem_login_ticket(db, ticket=ticket, request=REQ)
    assert exc.value.code == ErrorCode.TOKEN_INVALID
    assert db.exec(select(AuditEvent).where(AuditEvent.action == "auth.login")).one().actor_user_id == user.id


def test_expired_ticket_is_refused(db: Session) -> None:
    user, _ = make_customer(db)
    ticket = auth.issue_login_ticket(db, user=user)
    tok = db.exec(select(UserToken)).one()
    tok.expires_at = utcnow() - timedelta(seconds=1)
    db.add(tok)
    db.commit()
    with pytest.raises(DomainError):
        auth.redeem_login_ticket(db, ticket=ticket, request=REQ)


def test_session_resolves_to_its_user_until_logout(db: Session) -> None:
    user, customer = make_customer(db)
    new = auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
    db.commit()
    principal = auth.resolve_session(db, raw_token=new.raw_token)
    assert principal is not None
    assert (principal.user_id, principal.customer_id, principal.role) == (user.id, customer.id, "customer")
    auth.end_session(db, principal=principal, request=REQ)
    db.commit()
    # The old cookie is worthless once the session ended on the server.
    assert auth.resolve_session(db, raw_token=new.raw_token) is None
    assert auth.resolve_session(db, raw_token="forged-token") is None
    assert auth.resolve_session(db, raw_token="") is None


def test_idle_and_absolute_timeouts_end_a_session(db: Session) -> None:
    user, _ = make_customer(db)
    idle = auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
    absolute = auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
    db.commit()
    row = db.get(AuthSession, idle.session_id)
    assert row is not None
    row.last_seen_at = utcnow() - timedelta(days=3)
    row2 = db.get(AuthSession, absolute.session_id)
    assert row2 is not None
    row2.expires_at = utcnow() - timedelta(minutes=1)
    db.add_all([row, row2])
    db.commit()
    assert auth.resolve_session(db, raw_token=idle.raw_token) is None
    assert auth.resolve_session(db, raw_token=absolute.raw_token) is None


def test_deactivated_user_loses_sessions_and_cannot_log_in(db: Session) -> None:
    user, _ = make_customer(db)
    new = auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
    user.is_active = False
    db.add(user)
    db.commit()
    assert auth.resolve_session(db, raw_token=new.raw_token) is None
    with pytest.raises(DomainError):
        auth.authenticate(db, email=user.email, password=PASSWORD, request=REQ)
