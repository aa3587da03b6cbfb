"""Throttling, password policy, MFA, sessions, password reset and registration."""

from __future__ import annotations

import time
from datetime import timedelta

import pyotp
import pytest
from sqlmodel import Session, select

from portal.db import session_scope, utcnow
from portal.domain import account, auth, mfa
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode
from portal.domain.passwords import check_password
from portal.models import AuditEvent, AuthSession, LoginThrottle, MailMessage, Role, User, UserToken
from portal.settings import get_settings, reset_settings_cache
from tests.factories import PASSWORD, make_customer, make_staff, principal_for

REQ = RequestInfo(ip_address="198.51.100.9", user_agent="Mozilla/5.0 (X11; Linux x86_64) Chrome/150.0")


def actions(db: Session) -> list[str]:
    return [e.action for e in db.exec(select(AuditEvent).order_by(AuditEvent.id)).all()]


# --- throttling ----------------------------------------------------------------------

def _fail(db: Session, email: str, ip: str = "198.51.100.9") -> ErrorCode:
    with pytest.raises(DomainError) as exc:
        auth.authenticate(db, email=email, password="wrong password!", request=RequestInfo(ip_address=ip))
    db.commit()
    return exc.value.code


def test_repeated_failures_throttle_the_account_briefly_known_or_not(db: Session) -> None:
    make_customer(db, email="kim@example.com")
    for email in ("kim@example.com", "nobody@example.com"):
        codes = [_fail(db, email, ip=f"203.0.113.{i}") for i in range(7)]
        # Five free failures, then a short block: the same for a real and an unknown account.
        assert codes[:5] == [ErrorCode.AUTH_FAILED] * 5 and codes[5:] == [ErrorCode.THROTTLED] * 2
    with pytest.raises(DomainError) as exc:
        auth.authenticate(db, email="kim@example.com", password=PASSWORD, request=REQ)
    assert exc.value.code == ErrorCode.THROTTLED
    row = db.get(LoginThrottle, "acct:kim@example.com")
    assert row is not None and row.blocked_until is not None
    # The block never lasts long: at most 15 minutes whatever the attacker does.
    assert row.blocked_until - utcnow() <= timedelta(minutes=15)
    row.blocked_until = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    assert auth.authenticate(db, email="kim@example.com", password=PASSWORD, request=REQ).email == "kim@example.com"


def test_many_accounts_from_one_address_are_throttled(db: Session) -> None:
    codes = [_fail(db, f"user{i}@example.com", ip="192.0.2.77") for i in range(32)]
    assert ErrorCode.THROTTLED in codes[30:]


# --- password policy ---------------------------------------------------------------------

@pytest.mark.parametrize(("password", "reason"), [
    ("short pass", "too_short"), ("password1234", "common"), ("Qwertyuiop123!", "common"),
    ("aaaaaaaaaaaaaaaa", "common"), ("kimberly2024!!", "personal"),
])
def test_weak_passwords_are_refused_with_a_reason(password: str, reason: str) -> None:
    with pytest.raises(DomainError) as exc:
        check_password(password, email="kimberly@example.com", name="Kimberly Fox")
    assert exc.value.code == ErrorCode.WEAK_PASSWORD and exc.value.data["reason"] == reason
    assert len(exc.value.detail) > 20


@pytest.mark.parametrize("password", [
    "correct mule battery staple", "Zwölf Boxkämpfer jagen Viktor", "雨の日は図書館で本を読む", "a" * 3 + "b!9xZ" * 40,
])
def test_long_passphrases_and_any_unicode_are_accepted(password: str) -> None:
    check_password(password, email="kimberly@example.com", name="Kimberly Fox")


# --- MFA -------------------------------------------------------------------------------------

def _enable_mfa(db: Session, user: User) -> tuple[str, list[str]]:
    p = principal_for(user)
    enrollment = mfa.begin_enrollment(db, principal=p)
    assert enrollment.qr_svg_data_uri.startswith("data:image/svg+xml;base64,")
    assert "otpauth://totp/" in enrollment.uri
    code = pyotp.TOTP(enrollment.secret).now()
    codes = mfa.confirm_enrollment(db, principal=p, code=code, request=REQ)
    db.commit()
    return enrollment.secret, codes


def test_mfa_enrolment_stores_the_seed_encrypted_and_gives_ten_recovery_codes(db: Session) -> None:
    user, _ = make_customer(db)
    secret, codes = _enable_mfa(db, user)
    db.refresh(user)
    assert user.mfa_enabled and user.totp_secret and secret not in user.totp_secret
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "mfa.enabled" in actions(db)


def test_a_code_is_accepted_once_and_wrong_codes_are_throttled(db: Session) -> None:
    user, _ = make_customer(db)
    secret, _ = _enable_mfa(db, user)
    totp = pyotp.TOTP(secret)
    later = time.time() + 60  # a new time step, after the one used to enrol
    code = totp.at(later)
    assert mfa.check_code(db, user=user, code=code, request=REQ, now=later)
    db.commit()  # each attempt is a request of its own
    # The same code again, within its window: replay refused.
    assert not mfa.check_code(db, user=user, code=code, request=REQ, now=later + 5)
    # The replay counted as a failure; four more wrong codes use up the five free ones.
    for _ in range(4):
        assert not mfa.check_code(db, user=user, code="000000", request=REQ, now=later + 40)
    db.commit()
    with pytest.raises(DomainError) as exc:
        mfa.check_code(db, user=user, code=totp.at(later + 90), request=REQ, now=later + 90)
    assert exc.value.code == ErrorCode.THROTTLED


def test_recovery_codes_work_once(db: Session) -> None:
    user, _ = make_customer(db)
    _, codes = _enable_mfa(db, user)
    assert mfa.use_recovery_code(db, user=user, code=codes[3].upper(), request=REQ)
    db.commit()  # each attempt is a request of its own
    assert not mfa.use_recovery_code(db, user=user, code=codes[3], request=REQ)
    db.commit()
    assert mfa.remaining_recovery_codes(db, principal=principal_for(user)) == 9
    assert "mfa.recovery_code_used" in actions(db)


def test_turning_mfa_off_needs_password_and_code(db: Session) -> None:
    user, _ = make_customer(db)
    secret, _ = _enable_mfa(db, user)
    p = principal_for(user)
    with pytest.raises(DomainError):
        mfa.disable(db, principal=p, password="not it at all", code=pyotp.TOTP(secret).at(time.time() + 30),
                    request=REQ)
    with pytest.raises(DomainError):
        mfa.disable(db, principal=p, password=PASSWORD, code="123456", request=REQ)
    mfa.disable(db, principal=p, password=PASSWORD, code=pyotp.TOTP(secret).at(time.time() + 30), request=REQ)
    db.commit()
    db.refresh(user)
    assert not user.mfa_enabled and user.totp_secret is None
    assert "mfa.disabled" in actions(db)


def test_admins_can_require_mfa_for_staff(db: Session) -> None:
    admin = make_staff(db, role=Role.ADMIN)
    agent = make_staff(db, role=Role.AGENT)
    customer, _ = make_customer(db)
    with pytest.raises(DomainError):
        mfa.set_staff_mfa_requirement(db, principal=principal_for(agent), enabled=True, request=REQ)
    mfa.set_staff_mfa_requirement(db, principal=principal_for(admin), enabled=True, request=REQ)
    db.commit()
    sessions = {u.email: auth.create_session(db, user=u, request=REQ, auth_method="password", mfa_verified=False)
                for u in (agent, customer)}
    db.commit()
    assert auth.resolve_session(db, raw_token=sessions[agent.email].raw_token).mfa_setup_required is True
    assert auth.resolve_session(db, raw_token=sessions[customer.email].raw_token).mfa_setup_required is False


# --- sessions and password change ---------------------------------------------------------------

def test_people_list_and_end_only_their_own_sessions(db: Session) -> None:
    ann, _ = make_customer(db)
    bob, _ = make_customer(db)
    mine = [auth.create_session(db, user=ann, request=REQ, auth_method="password", mfa_verified=False)
            for _ in range(3)]
    theirs = auth.create_session(db, user=bob, request=REQ, auth_method="password", mfa_verified=False)
    db.commit()
    p = principal_for(ann, session_id=mine[0].session_id)
    listed = account.list_sessions(db, principal=p)
    assert {s.id for s in listed} == {m.session_id for m in mine}
    assert account.describe_device(listed[0].user_agent) == "Chrome on Linux"
    with pytest.raises(DomainError) as exc:
        account.revoke_session(db, principal=p, session_id=theirs.session_id, request=REQ)
    assert exc.value.code == ErrorCode.NOT_FOUND
    account.revoke_session(db, principal=p, session_id=mine[1].session_id, request=REQ)
    assert account.revoke_other_sessions(db, principal=p, request=REQ) == 1
    db.commit()
    assert auth.resolve_session(db, raw_token=mine[0].raw_token) is not None
    assert auth.resolve_session(db, raw_token=mine[2].raw_token) is None
    assert auth.resolve_session(db, raw_token=theirs.raw_token) is not None


def test_changing_the_password_can_end_the_other_sessions(db: Session) -> None:
    user, _ = make_customer(db)
    a, b = (auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
            for _ in range(2))
    db.commit()
    p = principal_for(user, session_id=a.session_id)
    with pytest.raises(DomainError):
        account.change_password(db, principal=p, current="not my password", new="new long passphrase here",
                                end_other_sessions=True, request=REQ)
    with pytest.raises(DomainError) as exc:
        account.change_password(db, principal=p, current=PASSWORD, new="password1234", end_other_sessions=True,
                                request=REQ)
    assert exc.value.code == ErrorCode.WEAK_PASSWORD
    assert account.change_password(db, principal=p, current=PASSWORD, new="new long passphrase here",
                                   end_other_sessions=True, request=REQ) == 1
    db.commit()
    assert auth.resolve_session(db, raw_token=a.raw_token) is not None
    assert auth.resolve_session(db, raw_token=b.raw_token) is None
    assert auth.authenticate(db, email=user.email, password="new long passphrase here", request=REQ)


# --- password reset ---------------------------------------------------------------------------

def test_reset_answers_the_same_and_mails_only_real_accounts(db: Session) -> None:
    make_customer(db, email="lee@example.com")
    account.request_password_reset(db, email="nobody@example.com", request=REQ)
    account.request_password_reset(db, email="LEE@example.com", request=REQ)
    db.commit()
    mails = db.exec(select(MailMessage)).all()
    assert [m.to_address for m in mails] == ["lee@example.com"]
    # The link comes from configuration, never from a request's Host header.
    assert f"{get_settings().portal_public_url}/reset?token=" in mails[0].body_text


def test_reset_token_is_single_use_expires_and_ends_every_session(db: Session) -> None:
    user, _ = make_customer(db, email="max@example.com")
    live = auth.create_session(db, user=user, request=REQ, auth_method="password", mfa_verified=False)
    account.request_password_reset(db, email="max@example.com", request=REQ)
    db.commit()
    body = db.exec(select(MailMessage)).one().body_text
    token = body.split("/reset?token=")[1].split()[0]
    with pytest.raises(DomainError) as exc:
        account.complete_password_reset(db, token=token, new_password="short", request=REQ)
    assert exc.value.code == ErrorCode.WEAK_PASSWORD
    account.complete_password_reset(db, token=token, new_password="a brand new passphrase", request=REQ)
    db.commit()
    assert auth.resolve_session(db, raw_token=live.raw_token) is None
    with pytest.raises(DomainError) as exc:
        account.complete_password_reset(db, token=token, new_password="another new passphrase", request=REQ)
    assert exc.value.code == ErrorCode.TOKEN_INVALID
    # No automatic sign-in: no session was created by the reset.
    assert len(db.exec(select(AuthSession).where(AuthSession.revoked_at.is_(None))).all()) == 0  # type: ignore[union-attr]
    # An expired token is refused too.
    account.request_password_reset(db, email="max@example.com", request=REQ)
    db.commit()
    tok = db.exec(select(UserToken).where(UserToken.used_at.is_(None))).one()  # type: ignore[union-attr]
    tok.expires_at = utcnow() - timedelta(minutes=1)
    db.add(tok)
    db.commit()
    assert not account.reset_token_is_valid(db, token="anything")


def test_reset_requests_for_one_address_are_limited(db: Session) -> None:
    make_customer(db, email="zoe@example.com")
    for _ in range(6):
        account.request_password_reset(db, email="zoe@example.com", request=REQ)
        db.commit()
    assert len(db.exec(select(MailMessage)).all()) == 3


# --- registration --------------------------------------------------------------------------

@pytest.fixture
def registration_on(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REGISTRATION_ENABLED", "true")
    reset_settings_cache()
    yield
    monkeypatch.delenv("REGISTRATION_ENABLED")
    reset_settings_cache()


def test_registration_is_off_unless_the_business_turns_it_on(db: Session) -> None:
    with pytest.raises(DomainError) as exc:
        account.register_customer(db, name="Ann", email="ann@example.com", password="long enough passphrase",
                                  request=REQ)
    assert exc.value.code == ErrorCode.FORBIDDEN


def test_registration_needs_email_verification(db: Session, registration_on: None) -> None:
    account.register_customer(db, name="Ann Lee", email="Ann@Example.com", password="long enough passphrase",
                              request=REQ)
    db.commit()
    with pytest.raises(DomainError) as exc:
        auth.authenticate(db, email="ann@example.com", password="long enough passphrase", request=REQ)
    assert exc.value.detail == "email_unverified"
    token = db.exec(select(MailMessage)).one().body_text.split("/verify?token=")[1].split()[0]
    account.verify_email(db, token=token, request=REQ)
    db.commit()
    assert auth.authenticate(db, email="ann@example.com", password="long enough passphrase", request=REQ)
    # Registering again with the same address answers the same and tells the owner instead.
    account.register_customer(db, name="Mallory", email="ann@example.com", password="another passphrase x",
                              request=REQ)
    db.commit()
    assert len(db.exec(select(User)).all()) == 1
    assert "already has one" in db.exec(select(MailMessage).order_by(MailMessage.id.desc())).first().body_text  # type: ignore[union-attr]


def test_role_changes_are_audited_and_end_sessions(db: Session) -> None:
    admin = make_staff(db, role=Role.ADMIN)
    agent = make_staff(db, role=Role.AGENT)
    s = auth.create_session(db, user=agent, request=REQ, auth_method="password", mfa_verified=False)
    db.commit()
    account.set_role(db, principal=principal_for(admin), user_id=agent.id, role=Role.ADMIN, request=REQ)
    db.commit()
    assert auth.resolve_session(db, raw_token=s.raw_token) is None
    assert "user.role_changed" in actions(db)


def test_failed_checks_of_a_secret_survive_the_rollback_of_the_attempt(db: Session) -> None:
    """Each wrong code or password raises, and the caller's transaction is rolled back; the
    throttle count and the audit row must stay all the same, or guessing is unlimited."""
    user, _ = make_customer(db)
    secret, _ = _enable_mfa(db, user)
    p = principal_for(user)
    for _ in range(5):
        with pytest.raises(DomainError), session_scope() as s:
            mfa.regenerate_recovery_codes(s, principal=p, code="000000", request=REQ)
    with pytest.raises(DomainError) as exc, session_scope() as s:
        mfa.regenerate_recovery_codes(s, principal=p, code=pyotp.TOTP(secret).now(), request=REQ)
    assert exc.value.code == ErrorCode.THROTTLED  # even the right code now waits
    db.expire_all()
    assert actions(db).count("mfa.code_failed") == 5

    other, _ = make_customer(db)
    for _ in range(5):
        with pytest.raises(DomainError), session_scope() as s:
            account.change_password(s, principal=principal_for(other), current="wrong guess", new="x" * 20,
                                    end_other_sessions=False, request=REQ)
    with pytest.raises(DomainError) as exc, session_scope() as s:
        account.change_password(s, principal=principal_for(other), current=PASSWORD, new="a fresh long passphrase",
                                end_other_sessions=False, request=REQ)
    assert exc.value.code == ErrorCode.THROTTLED
    db.expire_all()
    assert actions(db).count("auth.password_change_failed") == 5
