"""Users, their sessions and one-time tokens, SSO links and MFA recovery codes."""

from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from portal.models.base import Role, created_at_field, fk


class UserBase(SQLModel):
    email: str = Field(max_length=320, unique=True, index=True)
    full_name: str = Field(default="", max_length=200)
    role: str = Field(default=Role.CUSTOMER, sa_type=String(16), index=True)
    locale: str = Field(default="en", max_length=16)
    timezone: str = Field(default="Europe/London", max_length=64)


class User(UserBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # A customer-role user acts for exactly one customer account; staff have none.
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    is_active: bool = True
    email_verified_at: datetime | None = None
    mfa_enabled: bool = False
    # Fernet-encrypted seed (see domain/secrets_box.py).
    totp_secret: str | None = Field(default=None, max_length=255)
    # Last accepted TOTP time step: a code is never accepted twice.
    totp_last_step: int | None = None
    password_changed_at: datetime | None = None
    created_at: datetime = created_at_field()
    closed_at: datetime | None = None


class UserCreate(SQLModel):
    email: EmailStr
    full_name: str = ""
    password: str
    role: Role = Role.CUSTOMER


class UserUpdate(SQLModel):
    full_name: str | None = None
    locale: str | None = None
    timezone: str | None = None


class UserPublic(SQLModel):
    id: int
    email: str
    full_name: str
    role: str
    customer_id: int | None
    mfa_enabled: bool


class AuthSession(SQLModel, table=True):
    """A signed-in browser. Only the SHA-256 of the cookie's token is stored."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user.id", ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = created_at_field()
    last_seen_at: datetime = Field(default=None, nullable=False)
    expires_at: datetime  # absolute timeout
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=32)
    user_agent: str = Field(default="", max_length=400)
    ip_address: str = Field(default="", max_length=64)
    auth_method: str = Field(default="password", max_length=16)  # password, sso
    mfa_verified: bool = False


class AuthSessionPublic(SQLModel):
    id: int
    created_at: datetime
    last_seen_at: datetime
    user_agent: str
    ip_address: str
    auth_method: str
    current: bool = False


class TokenPurpose:
    LOGIN_TICKET = "login_ticket"
    PASSWORD_RESET = "password_reset"
    EMAIL_VERIFY = "email_verify"
    MFA_PENDING = "mfa_pending"


class UserToken(SQLModel, table=True):
    """Single-use, expiring tokens (login hand-off, password reset, email verification)."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user.id", ondelete="CASCADE")
    purpose: str = Field(max_length=32, index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = created_at_field()
    expires_at: datetime
    used_at: datetime | None = None
    auth_method: str = Field(default="password", max_length=16)
    mfa_verified: bool = False
    # A login ticket is bound to the browser that signed in (hash of a cookie it holds), so a
    # ticket cannot be planted in someone else's browser (login CSRF).
    binding_hash: str = Field(default="", max_length=64)


class RecoveryCode(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user.id", ondelete="CASCADE")
    code_hash: str = Field(max_length=255)
    created_at: datetime = created_at_field()
    used_at: datetime | None = None


class SsoIdentity(SQLModel, table=True):
    """Accounts are linked by (issuer, subject), never by email alone."""

    __table_args__ = (UniqueConstraint("issuer", "subject"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = fk("user.id", ondelete="CASCADE")
    issuer: str = Field(max_length=400)
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=320)
    created_at: datetime = created_at_field()
    last_login_at: datetime | None = None


class LoginThrottle(SQLModel, table=True):
    """Failed-login counters per account and per address (key is 'user:ID' or 'ip:ADDR')."""

    key: str = Field(primary_key=True, max_length=128)
    failures: int = 0
    window_started_at: datetime = created_at_field()
    blocked_until: datetime | None = None
