"""The hourly job forgets completed SSO flows whose cookies have expired anyway."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from portal.db import utcnow
from portal.jobs import sso as sso_job
from portal.jobs.scheduler import JOBS
from portal.models import SsoFlowUse


def test_expired_flow_records_are_purged_and_live_ones_kept(db: Session) -> None:
    db.add(SsoFlowUse(state_hash="a" * 64, expires_at=utcnow() - timedelta(minutes=1)))
    db.add(SsoFlowUse(state_hash="b" * 64, expires_at=utcnow() + timedelta(minutes=5)))
    db.commit()
    assert sso_job.purge() == 1
    db.expire_all()
    assert [r.state_hash for r in db.exec(select(SsoFlowUse)).all()] == ["b" * 64]
    assert "sso-purge-flows" in JOBS
