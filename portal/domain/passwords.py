"""Password policy (ASVS 2.1): at least 12 characters, any Unicode, long passphrases
welcome, and not one of the commonest passwords or a variation of the account's own name."""

from __future__ import annotations

import re
import unicodedata

from portal.domain.errors import DomainError, ErrorCode
from portal.i18n import tr
from portal.settings import get_settings

MIN_LENGTH = 12
MAX_LENGTH = 1024  # generous for passphrases; bounded so hashing cannot be abused

# The commonest passwords of at least 12 characters, plus short ones that people pad to 12
# ("password1234"); checked after normalising case and trailing digits/punctuation.
_COMMON = {
    "password", "passw0rd", "p@ssword", "p@ssw0rd", "qwerty", "qwertyuiop", "qwertyuiopasdf",
    "asdfghjkl", "zxcvbnm", "123456", "1234567890", "12345678910", "123456789012", "111111111111",
    "000000000000", "abc123", "abcdefghijkl", "iloveyou", "letmein", "welcome", "monkey", "dragon",
    "football", "baseball", "sunshine", "princess", "superman", "batman", "trustno1", "master",
    "shadow", "michael", "jennifer", "jordan", "hunter", "starwars", "whatever", "freedom",
    "charlie", "donald", "computer", "internet", "secret", "changeme", "changeit", "admin",
    "administrator", "root", "login", "welcome1", "letmein1", "password1", "passwordpassword",
    "mypassword", "yourpassword", "thepassword", "newpassword", "default", "guest", "test",
    "testtest", "testing", "qazwsxedc", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t6y", "q1w2e3r4t5y6",
    "zaq12wsx", "aa123456", "a1b2c3d4", "iloveyou123", "correcthorsebatterystaple",
    "correct horse battery staple", "summer", "winter", "spring", "autumn", "january", "london",
    "liverpool", "chelsea", "arsenal", "manchester", "portal",
    "customer", "customerportal", "outdoor", "mountain", "hiking", "camping",
}


def _common() -> set[str]:
    """The common passwords and the business's own name (whole and by word): what a guesser tries first."""
    business = _normalise(get_settings().portal_business_name)
    return _COMMON | {business.replace(" ", ""), *(w for w in re.split(r"\W+", business) if len(w) >= 4)}


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\d\W_]+$", "", text).strip()


def check_password(password: str, *, email: str = "", name: str = "") -> None:
    """Raise WEAK_PASSWORD with the reason in `detail` (the UI shows it) when not acceptable."""
    length = len(unicodedata.normalize("NFC", password))
    if length < MIN_LENGTH:
        raise DomainError(ErrorCode.WEAK_PASSWORD, tr("Use at least {min_len} characters; "
                          "a few unrelated words make a strong passphrase.", min_len=MIN_LENGTH), reason="too_short")
    if length > MAX_LENGTH:
        raise DomainError(ErrorCode.WEAK_PASSWORD, tr("Use at most {max_len} characters.", max_len=MAX_LENGTH),
                          reason="too_long")
    norm = _normalise(password)
    if len(set(norm.replace(" ", ""))) <= 2 or norm in _common() or norm.replace(" ", "") in _common():
        raise DomainError(ErrorCode.WEAK_PASSWORD, tr("That password is one of the most common ones and is "
                          "easy to guess. Choose something less predictable."), reason="common")
    personal = {_normalise(email.split("@")[0]) if email else "", _normalise(name.replace(" ", ""))}
    if any(p and len(p) >= 4 and p in norm.replace(" ", "") and len(norm) - len(p) < 6 for p in personal):
        raise DomainError(ErrorCode.WEAK_PASSWORD, tr("Your password should not be based on your name or "
                          "email address."), reason="personal")
