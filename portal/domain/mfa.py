"""TOTP two-factor authentication (RFC 6238) with one-time recovery codes.

- The seed is stored encrypted; a code is accepted once only: the time step of the last
  accepted code is kept and no code of that step or an earlier one passes again.
- Wrong codes and wrong recovery codes count against a per-user throttle.
- Turning MFA off needs the password and a current code.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, auth, throttle
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode, Invalid
from portal.domain.principal import Principal, require_principal
from portal.domain.secrets_box import decrypt, encrypt, keyed_hash
from portal.i18n import tr
from portal.models import PortalSetting, RecoveryCode, Role, User
from portal.settings import get_settings

_SEED = "totp-seed"
_RECOVERY = "recovery-code"
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no look-alikes (l/1, o/0, i)


@dataclasses.dataclass(frozen=True, slots=True)
class Enrollment:
    secret: str
    uri: str
    qr_svg_data_uri: str


def _user(session: Session, principal: Principal) -> User:
    user = session.get(User, require_principal(principal).user_id)
    if user is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return user


def _seed(user: User) -> str | None:
    return decrypt(user.totp_secret, purpose=_SEED) if user.totp_secret else None


def _qr(uri: str) -> str:
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def begin_enrollment(session: Session, *, principal: Principal) -> Enrollment:
    """A new seed, pending until a code from it is confirmed."""
    user = _user(session, principal)
    if user.mfa_enabled:
        raise DomainError(ErrorCode.CONFLICT, "already_enabled")
    secret = pyotp.random_base32()
    user.totp_secret = encrypt(secret, purpose=_SEED)
    user.totp_last_step = None
    session.add(user)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=get_settings().portal_business_name)
    return Enrollment(secret=secret, uri=uri, qr_svg_data_uri=_qr(uri))


def _matching_step(secret: str, code: str, *, now: float | None = None) -> int | None:
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    t = now if now is not None else time.time()
    current = int(t // totp.interval)
    for step in (current, current - 1, current + 1):  # one step of clock drift either way
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def check_code(session: Session, *, user: User, code: str, request: RequestInfo, now: float | None = None) -> bool:
    """Verify a TOTP code once: throttled, and never the same time step twice."""
    assert user.id is not None
    key = throttle.code_key(user.id)
    if throttle.is_blocked(session, key):
        raise DomainError(ErrorCode.THROTTLED)
    secret = _seed(user)
    step = _matching_step(secret, code, now=now) if secret else None
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        throttle.failed_check(throttles=((key, throttle.CODE),), action="mfa.code_failed", user_id=user.id,
                              customer_id=user.customer_id, request=request, replay=step is not None)
        return False
    user.totp_last_step = step
    session.add(user)
    throttle.clear(session, key)
    return True


def confirm_enrollment(session: Session, *, principal: Principal, code: str, request: RequestInfo) -> list[str]:
    user = _user(session, principal)
    if user.mfa_enabled or not user.totp_secret:
        raise DomainError(ErrorCode.CONFLICT, "not_enrolling")
    if not check_code(session, user=user, code=code, request=request):
        raise Invalid(tr("That code did not match. Check the time on your phone and try the newest code."),
                      field="code")
    user.mfa_enabled = True
    session.add(user)
    codes = _new_recovery_codes(session, user)
    audit.record(session, action="mfa.enabled", principal=principal, target_type="user", target_id=user.id or 0,
                 request=request)
    return codes


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    assert user.id is not None
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)
    codes = ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
             for _ in range(RECOVERY_CODES)]
    for c in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=keyed_hash(c, purpose=_RECOVERY)))
    return codes


def regenerate_recovery_codes(session: Session, *, principal: Principal, code: str, request: RequestInfo) -> list[str]:
    user = _user(session, principal)
    if not user.mfa_enabled:
        raise DomainError(ErrorCode.CONFLICT, "not_enabled")
    if not check_code(session, user=user, code=code, request=request):
        raise Invalid(tr("That code did not match."), field="code")
    codes = _new_recovery_codes(session, user)
    audit.record(session, action="mfa.recovery_codes_regenerated", principal=principal, request=request)
    return codes


def remaining_recovery_codes(session: Session, *, principal: Principal) -> int:
    user = _user(session, principal)
    return len(session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                       col(RecoveryCode.used_at).is_(None))).all())


def use_recovery_code(session: Session, *, user: User, code: str, request: RequestInfo) -> bool:
    assert user.id is not None
    key = throttle.code_key(user.id)
    if throttle.is_blocked(session, key):
        raise DomainError(ErrorCode.THROTTLED)
    normalised = code.strip().lower().replace(" ", "")
    if len(normalised) == 10 and "-" not in normalised:
        normalised = normalised[:5] + "-" + normalised[5:]
    row = session.exec(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == keyed_hash(normalised, purpose=_RECOVERY),
        col(RecoveryCode.used_at).is_(None),
    )).first()
    if row is None:
        throttle.failed_check(throttles=((key, throttle.CODE),), action="mfa.recovery_code_failed", user_id=user.id,
                              request=request)
        return False
    row.used_at = utcnow()
    session.add(row)
    throttle.clear(session, key)
    audit.record(session, action="mfa.recovery_code_used", user_id=user.id, customer_id=user.customer_id,
                 request=request)
    return True


def disable(session: Session, *, principal: Principal, password: str, code: str, request: RequestInfo) -> None:
    user = _user(session, principal)
    if not user.mfa_enabled:
        raise DomainError(ErrorCode.CONFLICT, "not_enabled")
    key = throttle.account_key(user.email)
    if throttle.is_blocked(session, key, throttle.code_key(user.id or 0)):
        raise DomainError(ErrorCode.THROTTLED)
    if not auth.verify_password(user.password_hash, password):
        throttle.failed_check(throttles=((key, throttle.ACCOUNT),), action="mfa.disable_failed",
                              principal=principal, request=request)
        raise Invalid(tr("Your password is not correct."), field="password")
    if not (check_code(session, user=user, code=code, request=request)
            or use_recovery_code(session, user=user, code=code, request=request)):
        raise Invalid(tr("That code did not match."), field="code")
    if mfa_required_for(session, role=user.role):
        raise DomainError(ErrorCode.NOT_ALLOWED, tr("Two-factor authentication is required for your role."))
    user.mfa_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    session.add(user)
    for old in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(old)
    audit.record(session, action="mfa.disabled", principal=principal, target_type="user", target_id=user.id or 0,
                 request=request)


# --- policy: admins can require MFA for staff ------------------------------------------

POLICY_KEY = "security.require_mfa_for_staff"


def mfa_required_for(session: Session, *, role: str) -> bool:
    if role not in (Role.AGENT, Role.ADMIN):
        return False
    row = session.get(PortalSetting, POLICY_KEY)
    return bool(row and row.value.get("enabled"))


def set_staff_mfa_requirement(session: Session, *, principal: Principal, enabled: bool,
                              request: RequestInfo) -> None:
    from portal.domain.principal import require_admin

    require_admin(principal)
    row = session.get(PortalSetting, POLICY_KEY) or PortalSetting(key=POLICY_KEY)
    row.value = {"enabled": bool(enabled)}
    row.updated_by_user_id = principal.user_id
    row.updated_at = utcnow()
    session.add(row)
    audit.record(session, action="policy.staff_mfa_required", principal=principal, enabled=bool(enabled),
                 request=request)
