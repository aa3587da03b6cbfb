"""Account security a person manages themselves: sessions, password, reset, registration."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, auth, throttle
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode, Forbidden, Invalid, NotFound
from portal.domain.mail import queue_mail
from portal.domain.passwords import check_password
from portal.domain.principal import Principal, require_principal
from portal.i18n import N_, current_language, in_language, tr
from portal.models import AuthSession, Customer, Role, TokenPurpose, User, UserPreference, UserToken
from portal.settings import get_settings

RESET_VALID = timedelta(minutes=60)
VERIFY_VALID = timedelta(hours=24)
_RESET_RULE = throttle.Rule(free_failures=3, window=timedelta(minutes=15), first_block=timedelta(minutes=15),
                            max_block=timedelta(minutes=15))


@dataclasses.dataclass(frozen=True, slots=True)
class SessionView:
    id: int
    device: str
    ip_address: str
    auth_method: str
    created_at: str
    last_seen_at: str
    current: bool


def describe_device(user_agent: str) -> str:
    ua = user_agent or ""
    browser = next((name for pat, name in (
        (r"Edg/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/", "Firefox"), (r"Chrome/|Chromium/", "Chrome"),
        (r"Safari/", "Safari"), (r"python|httpx|curl", N_("Script")),
    ) if re.search(pat, ua, re.I)), N_("Browser"))
    system = next((name for pat, name in (
        (r"iPhone|iPad", "iOS"), (r"Android", "Android"), (r"Windows", "Windows"), (r"Mac OS X|Macintosh", "macOS"),
        (r"Linux", "Linux"),
    ) if re.search(pat, ua)), N_("unknown system"))
    return tr("{browser} on {system}", browser=tr(browser), system=tr(system))


def list_sessions(session: Session, *, principal: Principal) -> list[AuthSession]:
    p = require_principal(principal)
    now = utcnow()
    rows = session.exec(
        select(AuthSession).where(AuthSession.user_id == p.user_id, col(AuthSession.revoked_at).is_(None),
                                  AuthSession.expires_at > now)
        .order_by(col(AuthSession.last_seen_at).desc())
    ).all()
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    return [r for r in rows if r.last_seen_at + idle > now]


def revoke_session(session: Session, *, principal: Principal, session_id: int, request: RequestInfo) -> None:
    p = require_principal(principal)
    row = session.get(AuthSession, session_id)
    if row is None or row.user_id != p.user_id:
        raise NotFound("session")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        row.revoked_reason = "revoked_by_user"
        session.add(row)
        audit.record(session, action="session.revoked", principal=p, target_type="session", target_id=row.id or 0,
                     request=request)


def revoke_other_sessions(session: Session, *, principal: Principal, request: RequestInfo,
                          reason: str = "revoked_by_user") -> int:
    p = require_principal(principal)
    return _revoke_all(session, user_id=p.user_id, keep=p.session_id, reason=reason, request=request, principal=p)


def _revoke_all(session: Session, *, user_id: int, keep: int | None, reason: str, request: RequestInfo,
                principal: Principal | None = None) -> int:
    now = utcnow()
    rows = session.exec(select(AuthSession).where(AuthSession.user_id == user_id,
                                                  col(AuthSession.revoked_at).is_(None))).all()
    n = 0
    for row in rows:
        if row.id == keep:
            continue
        row.revoked_at = now
        row.revoked_reason = reason
        session.add(row)
        n += 1
    if n:
        audit.record(session, action="session.revoked_all", principal=principal, user_id=user_id,
                     reason=reason, count=n, request=request)
    return n


def change_password(session: Session, *, principal: Principal, current: str, new: str, end_other_sessions: bool,
                    request: RequestInfo) -> int:
    p = require_principal(principal)
    user = session.get(User, p.user_id)
    if user is None:
        raise Forbidden()
    key = throttle.account_key(user.email)
    if throttle.is_blocked(session, key):
        raise DomainError(ErrorCode.THROTTLED)
    if not auth.verify_password(user.password_hash, current):
        throttle.failed_check(throttles=((key, throttle.ACCOUNT),), action="auth.password_change_failed",
                              principal=p, request=request)
        raise Invalid(tr("Your current password is not correct."), field="current")
    check_password(new, email=user.email, name=user.full_name)
    user.password_hash = auth.hash_password(new)
    user.password_changed_at = utcnow()
    session.add(user)
    audit.record(session, action="auth.password_changed", principal=p, target_type="user", target_id=user.id or 0,
                 request=request)
    ended = 0
    if end_other_sessions:
        ended = _revoke_all(session, user_id=p.user_id, keep=p.session_id, reason="password_changed",
                            request=request, principal=p)
    return ended


def _link(path: str, token: str) -> str:
    # Built from configuration, never from the Host header of the request.
    return f"{get_settings().portal_public_url.rstrip('/')}{path}?token={token}"


def request_password_reset(session: Session, *, email: str, request: RequestInfo) -> None:
    """Always answers the same; a message goes out only when the account exists."""
    email_n = auth.normalize_email(email)
    key = f"reset:{email_n[:120]}"
    if throttle.is_blocked(session, key):
        return
    throttle.record_failure(session, key, _RESET_RULE)  # counts requests, not failures
    user = session.exec(select(User).where(User.email == email_n)).first()
    if user is None or not user.is_active or user.closed_at is not None:
        audit.record(session, action="auth.password_reset_requested", outcome="unknown_email", request=request)
        return
    raw = auth.new_token()
    assert user.id is not None
    session.add(UserToken(user_id=user.id, purpose=TokenPurpose.PASSWORD_RESET, token_hash=auth.hash_token(raw),
                          expires_at=utcnow() + RESET_VALID))
    name = get_settings().portal_business_name
    with in_language(user.locale):
        queue_mail(session, to=user.email, subject=tr("Reset your {business} password", business=name),
                   kind="account", user_id=user.id,
                   body=tr("Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your "
                           "{business} account. Choose a new password here within 60 minutes:\n\n"
                           "{link}\n\nIf you did not ask for this, ignore this message: your password "
                           "stays as it is.", name=user.full_name or "", business=name, link=_link("/reset", raw)))
    audit.record(session, action="auth.password_reset_requested", user_id=user.id, customer_id=user.customer_id,
                 request=request)


def _valid_token(session: Session, raw: str, purpose: str) -> UserToken | None:
    tok = session.exec(select(UserToken).where(UserToken.token_hash == auth.hash_token(raw),
                                               UserToken.purpose == purpose)).first()
    if tok is None or tok.used_at is not None or tok.expires_at < utcnow():
        return None
    return tok


def reset_token_is_valid(session: Session, *, token: str) -> bool:
    return bool(token) and _valid_token(session, token, TokenPurpose.PASSWORD_RESET) is not None


def complete_password_reset(session: Session, *, token: str, new_password: str, request: RequestInfo) -> None:
    """Sets the password and ends every session; it never signs anyone in (MFA still applies)."""
    tok = _valid_token(session, token, TokenPurpose.PASSWORD_RESET) if token else None
    if tok is None:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    user = session.get(User, tok.user_id)
    if user is None or not user.is_active:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    check_password(new_password, email=user.email, name=user.full_name)
    tok.used_at = utcnow()
    session.add(tok)
    user.password_hash = auth.hash_password(new_password)
    user.password_changed_at = utcnow()
    # The link went to this address only: using it proves the address is theirs. This is how
    # people invited through the integration API (who get such a link) can sign in at all.
    newly_verified = user.email_verified_at is None
    user.email_verified_at = user.email_verified_at or utcnow()
    session.add(user)
    if newly_verified:
        audit.record(session, action="auth.email_verified", user_id=user.id, customer_id=user.customer_id,
                     request=request, via="password_link")
    for other in session.exec(select(UserToken).where(UserToken.user_id == user.id,
                                                      UserToken.purpose == TokenPurpose.PASSWORD_RESET,
                                                      col(UserToken.used_at).is_(None))).all():
        other.used_at = utcnow()
        session.add(other)
    _revoke_all(session, user_id=user.id or 0, keep=None, reason="password_reset", request=request)
    throttle.clear(session, throttle.account_key(user.email))
    audit.record(session, action="auth.password_reset", user_id=user.id, customer_id=user.customer_id,
                 request=request)


def register_customer(session: Session, *, name: str, email: str, password: str, request: RequestInfo) -> None:
    """Self-registration, when the business turns it on. Same answer for new and taken emails."""
    if not get_settings().registration_enabled:
        raise Forbidden("registration_disabled")
    name = name.strip()
    email_n = auth.normalize_email(email)
    if not name or len(name) > 200:
        raise Invalid(tr("Enter your name."), field="name")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email_n) or len(email_n) > 320:
        raise Invalid(tr("Enter a valid email address."), field="email")
    check_password(password, email=email_n, name=name)
    biz = get_settings().portal_business_name
    existing = session.exec(select(User).where(User.email == email_n)).first()
    if existing is not None:
        with in_language(existing.locale):
            queue_mail(session, to=email_n, subject=tr("Your {business} account", business=biz), kind="account",
                       user_id=existing.id,
                       body=tr("Someone tried to create an account with this email address, which already has "
                               "one. If it was you, sign in or reset your password at {link}",
                               link=f"{get_settings().portal_public_url.rstrip('/')}/forgot"))
        audit.record(session, action="auth.registration_existing_email", user_id=existing.id, request=request)
        return
    n = (session.exec(select(Customer.id).order_by(col(Customer.id).desc())).first() or 0) + 1
    customer = Customer(name=name, email=email_n, number=f"C-{n + 50000:05d}")
    session.add(customer)
    session.flush()
    # In the language they registered in (the page's, from their browser or their choice).
    user = User(email=email_n, full_name=name, role=Role.CUSTOMER, customer_id=customer.id,
                password_hash=auth.hash_password(password), locale=current_language())
    session.add(user)
    session.flush()
    assert user.id is not None
    session.add(UserPreference(user_id=user.id))
    raw = auth.new_token()
    session.add(UserToken(user_id=user.id, purpose=TokenPurpose.EMAIL_VERIFY, token_hash=auth.hash_token(raw),
                          expires_at=utcnow() + VERIFY_VALID))
    # In the language the new customer registered in (served now).
    queue_mail(session, to=email_n, subject=tr("Confirm your email for {business}", business=biz), kind="account",
               user_id=user.id,
               body=tr("Welcome, {name}!\n\nConfirm your email address to start using your account:\n\n"
                       "{link}\n\nThe link is valid for 24 hours.", name=name, link=_link("/verify", raw)))
    audit.record(session, action="auth.registered", user_id=user.id, customer_id=customer.id, request=request)


def verify_email(session: Session, *, token: str, request: RequestInfo) -> None:
    tok = _valid_token(session, token, TokenPurpose.EMAIL_VERIFY) if token else None
    if tok is None:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    user = session.get(User, tok.user_id)
    if user is None:
        raise DomainError(ErrorCode.TOKEN_INVALID)
    tok.used_at = utcnow()
    user.email_verified_at = user.email_verified_at or utcnow()
    session.add_all([tok, user])
    audit.record(session, action="auth.email_verified", user_id=user.id, customer_id=user.customer_id,
                 request=request)


def set_role(session: Session, *, principal: Principal, user_id: int, role: Role, request: RequestInfo) -> None:
    from portal.domain.principal import require_admin

    require_admin(principal)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user")
    if user.id == principal.user_id:
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("You cannot change your own role."))
    if role == Role.CUSTOMER and user.customer_id is None:
        raise Invalid(tr("A customer needs a customer account."), field="role")
    old = user.role
    user.role = role
    session.add(user)
    _revoke_all(session, user_id=user_id, keep=None, reason="role_changed", request=request, principal=principal)
    audit.record(session, action="user.role_changed", principal=principal, target_type="user", target_id=user_id,
                 request=request, old=str(old), new=str(role))
