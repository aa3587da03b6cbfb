"""What people read when something goes wrong: the UI owns the wording of error codes."""

from __future__ import annotations

from portal.domain.errors import DomainError
from portal.i18n import N_, tr

MESSAGES: dict[str, str] = {
    "auth_failed": N_("That email and password do not match an account. Check them and try again."),
    "throttled": N_("Too many attempts. Wait a few minutes and try again."),
    "token_invalid": N_("That sign-in link has expired or was already used. Please sign in again."),
    "not_found": N_("We could not find that. It may have been removed, or the link is wrong."),
    "forbidden": N_("You do not have access to that."),
    "unauthenticated": N_("Please sign in to continue."),
    "invalid": N_("Some of what you entered is not valid."),
    "conflict": N_("That was changed by someone else in the meantime. Reload and try again."),
    "not_allowed": N_("That is not possible right now."),
    "weak_password": N_("Choose a stronger password."),
    "mfa_required": N_("Enter the code from your authenticator app."),
}


def message_for(code: str) -> str:
    text = MESSAGES.get(str(code))
    return tr(text) if text else tr("Something went wrong. Please try again.")


def message_for_error(err: DomainError) -> str:
    """Invalid input, policy refusals and weak passwords carry a human reason in `detail`."""
    if err.code in ("invalid", "not_allowed", "weak_password") and err.detail and " " in err.detail:
        return err.detail
    return message_for(err.code)
