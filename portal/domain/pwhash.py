"""Password hashes (argon2id), made and checked where `portal.concurrency.hashing` runs them: in a
heavy child process, which imports this small module alone (the fork server preloads it)."""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2id with the library's defaults (RFC 9106 second recommended option).
_hasher = PasswordHasher()


def make(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _dummy() -> str:
    """Verified against when the email is unknown, so both answers take the same time; made on
    first use, so that importing this module (the fork server does) costs no hash."""
    return _hasher.hash("not-a-real-password-" + secrets.token_hex(8))


def check(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether a hash was made with other parameters than today's (cheap: reads the hash's header)."""
    return _hasher.check_needs_rehash(password_hash)
