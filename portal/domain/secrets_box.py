"""Encryption at rest for secrets the server must read back (TOTP seeds), and keyed hashes
for secrets it only compares (recovery codes). Keys derive from PORTAL_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from portal.settings import get_settings


def _key(purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{get_settings().portal_secret_key}".encode()).digest()


def encrypt(plain: str, *, purpose: str) -> str:
    return Fernet(base64.urlsafe_b64encode(_key(purpose))).encrypt(plain.encode()).decode()


def decrypt(token: str, *, purpose: str) -> str | None:
    try:
        return Fernet(base64.urlsafe_b64encode(_key(purpose))).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def keyed_hash(value: str, *, purpose: str) -> str:
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()
