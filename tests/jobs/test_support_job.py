"""The support sweep flags and escalates tickets about to miss their SLA, once, and the
console then shows them first."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, select

from portal.db import utcnow
from portal.domain import support
from portal.jobs import support as support_job
from portal.jobs.scheduler import JOBS, _load_job_modules, run_tick
from portal.models import JobRun, Notification, TicketMessage, TicketStatus
from tests.factories import make_customer, make_staff, make_ticket, principal_for
from tests.support.aio import run_async


def test_tickets_about_to_breach_are_flagged_escalated_and_shown_first(db: Session) -> None:
    # Given an unassigned ticket whose first response is due in 20 minutes, an assigned one whose
    # resolution is overdue, and one with plenty of time
    _, ca = make_customer(db)
    sam, kim = make_staff(db), make_staff(db)
    now = utcnow()
    soon = make_ticket(db, ca, subject="soon", first_response_due_at=now + timedelta(minutes=20),
                       resolution_due_at=now + timedelta(days=2), status=TicketStatus.NEW)
    late = make_ticket(db, ca, subject="late", assignee_user_id=kim.id, first_responded_at=now - timedelta(days=2),
                       first_response_due_at=now - timedelta(days=3), resolution_due_at=now - timedelta(hours=1))
    calm = make_ticket(db, ca, subject="calm", first_response_due_at=now + timedelta(days=2),
                       resolution_due_at=now + timedelta(days=5))

    # When the sweep runs
    assert support_job.sweep().startswith("flagged=2 ")

    # Then both are flagged with an internal note; the unassigned one alerts every agent,
    # the assigned one only its assignee
    for t in (soon, late, calm):
        db.refresh(t)
    assert soon.sla_breach_flagged_at and late.sla_breach_flagged_at and calm.sla_breach_flagged_at is None
    notes = db.exec(select(TicketMessage).where(TicketMessage.internal == True)).all()  # noqa: E712
    assert len(notes) == 2 and all("SLA warning" in n.body for n in notes)
    alerts = db.exec(select(Notification)).all()
    assert sorted((n.user_id, n.title) for n in alerts) == sorted([
        (sam.id, f"SLA at risk: {soon.number}"), (kim.id, f"SLA at risk: {soon.number}"),
        (kim.id, f"SLA at risk: {late.number}")])
    rows = support.queue(db, principal=principal_for(sam))
    assert [r.subject for r in rows][-1] == "calm" and rows[0].at_risk and rows[1].at_risk

    # And a second sweep flags nothing again
    assert support_job.sweep().startswith("flagged=0 ")


def test_the_sweep_is_a_scheduled_job(db: Session) -> None:
    _load_job_modules()
    spec = JOBS["support-sweep"]
    assert run_async(run_tick(spec, now=1_000_000.0)) is True
    run = db.exec(select(JobRun).where(JobRun.name == "support-sweep")).one()
    assert run.status == "ok" and run.detail.startswith("flagged=")
