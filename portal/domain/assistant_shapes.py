"""What the assistant answers with, and the words it takes as yes or no. Shared by the assistant's
conversation (portal.domain.assistant) and its order changes (portal.domain.assistant_changes)."""

from __future__ import annotations

import dataclasses
import re

from portal.domain.principal import Principal

# English, then German and French (the quick replies "Ja"/"Nein", "Oui"/"Non" send these words).
YES = re.compile(r"^\s*(yes|yep|yeah|sure|ok|okay|confirm|do it|go ahead|please do"
                 r"|ja|jawohl|gerne|klar|bitte ja|machen sie das|oui|d'accord|bien s[uû]r|allez-y|vas-y)\b", re.I)
NO = re.compile(r"^\s*(no|nope|cancel that|don'?t|stop|never ?mind|forget it"
                r"|nein|n[öo]|lieber nicht|vergessen sie es|non|pas maintenant|laissez tomber|laisse tomber)\b",
                re.I)


@dataclasses.dataclass
class Link:
    label: str
    href: str
    # Set for help articles found by a search: opening the link records the click for insights.
    query_id: int | None = None


@dataclasses.dataclass
class Reply:
    text: str
    links: list[Link] = dataclasses.field(default_factory=list)
    choices: list[str] = dataclasses.field(default_factory=list)  # quick replies the customer can tap
    confirm: bool = False  # the customer is asked to confirm a change


def acting(principal: Principal) -> Principal:
    """The customer's identity, marked as acted on by the assistant (for the audit trail)."""
    return dataclasses.replace(principal, via="assistant")
