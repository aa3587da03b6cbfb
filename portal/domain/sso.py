"""Single sign-on: what a verified OpenID Connect identity may do here.

The protocol (signatures, nonce, audience...) is checked in portal.integrations.oidc before
anything reaches this module. The rules here:
- an identity is (issuer, subject); it is never matched to a user by email, because
  a provider's email claim says nothing about who owns the account in this portal;
- linking needs a signed-in user who started the link themselves;
- an SSO login does not get around MFA: a user with MFA gets a short-lived pending token
  that the login page trades for a code, never a session.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime

from sqlmodel import Session, col, select

from portal.db import utcnow
from portal.domain import audit, auth
from portal.domain.audit import RequestInfo
from portal.domain.errors import DomainError, ErrorCode, NotFound
from portal.domain.principal import Principal
from portal.models import SsoFlowUse, SsoIdentity, User


@dataclasses.dataclass(frozen=True, slots=True)
class SsoSignIn:
    """Either a new session, or (MFA on) a pending token for the login page; never both."""

    user_id: int
    role: str
    session: auth.NewSession | None = None
    mfa_token: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SsoIdentityRow:
    id: int
    issuer: str
    email: str
    created_at: datetime
    last_login_at: datetime | None


def consume_flow(session: Session, *, state: str, expires_at: datetime) -> None:
    """Mark a flow as completed; a second callback with the same state is refused."""
    key = hashlib.sha256(state.encode()).hexdigest()
    if session.get(SsoFlowUse, key) is not None:
        raise DomainError(ErrorCode.TOKEN_INVALID, "sso flow already used")
    session.add(SsoFlowUse(state_hash=key, expires_at=expires_at))
    session.flush()


def flow_rejected(session: Session, *, reason: str, request: RequestInfo, user_id: int | None = None) -> None:
    """A callback that failed a protocol check: an audited failed login, never a session."""
    audit.record(session, action="auth.login_failed", user_id=user_id, outcome="failed", request=request,
                 method="sso", reason=reason[:64])


def purge_used_flows(session: Session) -> int:
    rows = session.exec(select(SsoFlowUse).where(col(SsoFlowUse.expires_at) < utcnow())).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def _find(session: Session, *, issuer: str, subject: str) -> SsoIdentity | None:
    return session.exec(select(SsoIdentity).where(
        SsoIdentity.issuer == issuer, SsoIdentity.subject == subject)).first()


def sign_in(session: Session, *, issuer: str, subject: str, request: RequestInfo) -> SsoSignIn:
    """Sign in the user linked to (issuer, subject). Unlinked or inactive: AUTH_FAILED."""
    ident = _find(session, issuer=issuer, subject=subject)
    user = session.get(User, ident.user_id) if ident else None
    if ident is None or user is None or not user.is_active or user.closed_at is not None:
        audit.record(session, action="auth.login_failed", user_id=user.id if user else None,
                     outcome="failed", request=request, method="sso",
                     reason="sso_unlinked" if ident is None else "inactive",
                     issuer=issuer[:400], subject=subject[:255])
        raise DomainError(ErrorCode.AUTH_FAILED, "sso_unlinked" if ident is None else "inactive")
    assert user.id is not None
    ident.last_login_at = utcnow()
    session.add(ident)
    if user.mfa_enabled:
        # The login page trades this for a code; SSO is only the first factor.
        raw = auth.issue_mfa_pending(session, user=user, auth_method="sso")
        audit.record(session, action="auth.mfa_challenge", user_id=user.id, customer_id=user.customer_id,
                     request=request, method="sso")
        return SsoSignIn(user_id=user.id, role=user.role, mfa_token=raw)
    new = auth.create_session(session, user=user, request=request, auth_method="sso", mfa_verified=False)
    audit.login_succeeded(session, user_id=user.id, customer_id=user.customer_id, method="sso", request=request)
    return SsoSignIn(user_id=user.id, role=user.role, session=new)


def link_identity(session: Session, *, principal: Principal, issuer: str, subject: str, email: str,
                  request: RequestInfo) -> SsoIdentity:
    """Link (issuer, subject) to the signed-in user. An identity already linked to someone
    else is refused (CONFLICT); linking the same one again changes nothing."""
    ident = _find(session, issuer=issuer, subject=subject)
    if ident is not None:
        if ident.user_id != principal.user_id:
            audit.record(session, action="auth.sso_link_refused", principal=principal, outcome="denied",
                         request=request, issuer=issuer[:400], reason="linked_to_another_user")
            raise DomainError(ErrorCode.CONFLICT, "identity linked to another user")
        return ident
    ident = SsoIdentity(user_id=principal.user_id, issuer=issuer[:400], subject=subject[:255], email=email[:320])
    session.add(ident)
    session.flush()
    audit.record(session, action="auth.sso_linked", principal=principal, target_type="sso_identity",
                 target_id=ident.id or "", request=request, issuer=issuer[:400], email=email[:320])
    return ident


def identities_of(session: Session, *, principal: Principal) -> list[SsoIdentityRow]:
    rows = session.exec(select(SsoIdentity).where(SsoIdentity.user_id == principal.user_id)
                        .order_by(SsoIdentity.id)).all()  # type: ignore[arg-type]
    return [SsoIdentityRow(id=r.id or 0, issuer=r.issuer, email=r.email, created_at=r.created_at,
                           last_login_at=r.last_login_at) for r in rows]


def unlink_identity(session: Session, *, principal: Principal, identity_id: int, request: RequestInfo) -> None:
    """Remove one of the principal's own links; someone else's id answers NOT_FOUND."""
    ident = session.get(SsoIdentity, identity_id)
    if ident is None or ident.user_id != principal.user_id:
        raise NotFound("sso identity")
    session.delete(ident)
    audit.record(session, action="auth.sso_unlinked", principal=principal, target_type="sso_identity",
                 target_id=identity_id, request=request, issuer=ident.issuer)
