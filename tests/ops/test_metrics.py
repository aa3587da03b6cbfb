"""/metrics as Prometheus scrapes it from the running server (several workers in CI's second run:
every worker's counters are added up). Events and their latency by handler, job runs by job, emails, live refreshes
and failed secret checks appear as the portal works; strangers need the token, and a wrong token
is throttled and audited like any secret."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from portal.domain.mail import queue_mail
from portal.models import AuditEvent
from portal.state.dashboard import DashboardState
from tests.factories import make_customer
from tests.support.aio import run_async
from tests.support.backend import serve_backend, session_cookie, wait_for
from tests.support.metrics import sample
from tests.support.reflex_client import ReflexClient, handler_name

DASHBOARD = Path(__file__).resolve().parents[2] / "portal" / "deploy" / "grafana" / "portal-dashboard.json"
WORKERS = 2 if os.environ.get("REFLEX_REDIS_URL") else 1
TOKEN = "a-metrics-token-of-this-installation"
STRANGER = {"X-Forwarded-For": "203.0.113.9"}  # a client elsewhere, as the trusted proxy reports it
AFTERSHIP_REFUSED = {"direction": "in", "source": "aftership", "outcome": "refused"}
ENV = {"JOBS_ENABLED": "true", "JOBS_PRUNE_SECONDS": "1", "CARRIER_SIMULATOR": "false",
       "PORTAL_METRICS_TOKEN": TOKEN, "PORTAL_TRUSTED_PROXIES": "127.0.0.1"}


def test_metrics_count_what_the_portal_does_and_only_trusted_scrapers_read_them(
        db: Session, engine: Engine, root_dir: Path) -> None:
    user, _customer = make_customer(db)
    queue_mail(db, to="ann@example.com", subject="Your parcel", body="It arrives today.")
    db.commit()
    with serve_backend(root_dir, ENV, workers=WORKERS) as backend:
        url = f"{backend.url}/metrics"
        load = handler_name(DashboardState.load)

        async def open_dashboard(cookie: str) -> None:
            async with ReflexClient(backend.url, cookie=cookie) as client:
                await client.send(load)

        cookie = session_cookie(backend.url, db, user)

        def counted() -> str | None:
            # Timing starts with a worker's first event: a later one, on whichever worker, is timed.
            run_async(open_dashboard(cookie))
            text = httpx.get(url, timeout=10).text  # from this machine: no token needed
            done = (sample(text, "portal_events_total", handler=load) >= 1
                    and sample(text, "portal_event_seconds_count", handler=load) >= 1
                    and sample(text, "portal_job_runs_total", job="prune-history", status="ok") >= 1
                    and sample(text, "portal_emails_total", outcome="sent") >= 1)
            return text if done else None

        wait_for(counted, timeout=60, what="the dashboard event, a housekeeping run and the email in /metrics")

        # A webhook with no signature is refused, and counted.
        refused = sample(httpx.get(url, timeout=10).text, "portal_webhooks_total", **AFTERSHIP_REFUSED)
        assert httpx.post(f"{backend.url}/api/carrier/webhooks/aftership", content=b"{}", timeout=10).status_code == 401
        assert sample(httpx.get(url, timeout=10).text, "portal_webhooks_total", **AFTERSHIP_REFUSED) == refused + 1

        # A stranger (through the trusted proxy) needs the token; the right one opens it.
        assert httpx.get(url, headers=STRANGER, timeout=10).status_code == 401
        wrong = httpx.get(url, headers={**STRANGER, "Authorization": "Bearer guessed"}, timeout=10)
        assert wrong.status_code == 401
        right = httpx.get(url, headers={**STRANGER, "Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert right.status_code == 200 and "portal_events_total" in right.text
        assert sample(right.text, "portal_secret_check_failures_total", action="metrics.token_failed") >= 1
    audited = db.exec(select(AuditEvent).where(AuditEvent.action == "metrics.token_failed")).all()
    assert [(a.outcome, a.ip_address) for a in audited] == [("failed", "203.0.113.9")]


def test_the_sample_grafana_dashboard_queries_only_series_the_portal_exports() -> None:
    from portal import metrics

    every = (metrics.EVENTS, metrics.EVENT_SECONDS, metrics.LIVE_PUSHES, metrics.JOB_RUNS, metrics.EMAILS,
             metrics.SECRET_FAILURES, metrics.WEBHOOKS)
    exported = {m.describe()[0].name for m in every}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {re.sub(r"_(total|bucket|count|sum)$", "", name)
               for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\b(portal_[a-z_]+)", target["expr"])}
    assert queried and queried <= exported, queried - exported
    assert queried == exported  # and every series has a panel
