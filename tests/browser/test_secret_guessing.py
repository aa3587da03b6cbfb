"""Guessing a second factor over the websocket, the way a tester did it (400 codes at ~160/s
behind a signed-in session): each wrong code is throttled and audited even though the event's
own transaction is rolled back, so the right code is refused once the free attempts are used."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from sqlmodel import Session, select

from portal.models import AuditEvent
from portal.state.security import SecurityState
from tests.browser.test_forged_events import cookie_for
from tests.domain.test_identity import _enable_mfa
from tests.factories import make_customer
from tests.support.aio import run_async as run
from tests.support.reflex_client import ReflexClient, deltas_text, handler_name

pytestmark = pytest.mark.browser
REGENERATE = handler_name(SecurityState.regenerate_codes)


async def _attempts(backend_url: str, cookie: str, codes: list[str]) -> list[str]:
    async with ReflexClient(backend_url, cookie=cookie) as c:
        return [deltas_text(await c.send(REGENERATE, {"form_data": {"code": code}}, path="/account/security"))
                for code in codes]


def test_guessed_codes_are_throttled_and_audited_over_the_websocket(db: Session, harness: Any,
                                                                    backend_url: str) -> None:
    user, _ = make_customer(db)
    secret, _ = _enable_mfa(db, user)
    right = pyotp.TOTP(secret).at(time.time() + 30)
    wrong = [f"{n:06d}" for n in range(8) if f"{n:06d}" != right]
    answers = run(_attempts(backend_url, cookie_for(db, user), [*wrong, right]))
    assert "did not match" in answers[0]
    assert "Too many attempts" in answers[-1], answers[-1]
    db.expire_all()
    failed = db.exec(select(AuditEvent).where(AuditEvent.action == "mfa.code_failed",
                                              AuditEvent.actor_user_id == user.id)).all()
    assert len(failed) >= 5  # throttled attempts after the fifth are refused before any check

    # Positive control: the same right code, sent the same way by someone who has not been
    # guessing, mints new recovery codes.
    other, _ = make_customer(db)
    other_secret, _ = _enable_mfa(db, other)
    [answer] = run(_attempts(backend_url, cookie_for(db, other), [pyotp.TOTP(other_secret).at(time.time() + 30)]))
    assert "New recovery codes" in answer, answer
