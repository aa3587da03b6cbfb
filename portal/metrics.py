"""Prometheus metrics, safe with several worker processes.

Every process writes its counters to files under PROMETHEUS_MULTIPROC_DIR (default
PORTAL_DATA_DIR/metrics, created here before prometheus_client is imported), and /metrics adds up
the files of all of them, so any worker answers for the whole server. Counters and histograms only (no gauges):
totals carry on across restarts, which Prometheus's rate() handles.

/metrics answers clients on this machine, or anyone sending `Authorization: Bearer
<PORTAL_METRICS_TOKEN>`; a wrong token is throttled and audited like any other secret.
"""

from __future__ import annotations

import functools
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from portal.settings import get_settings

log = logging.getLogger(__name__)
Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


def _multiproc_dir() -> Path:
    from portal.db import private_dir

    path = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(get_settings().portal_data_dir / "metrics")))
    private_dir(path)
    return path


_multiproc_dir()

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest  # noqa: E402
from prometheus_client.multiprocess import MultiProcessCollector  # noqa: E402

EVENTS = Counter("portal_events_total", "Reflex events let through the guard, by handler", ["handler"])
EVENT_SECONDS = Histogram("portal_event_seconds", "Time to process a Reflex event, by handler", ["handler"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
LIVE_PUSHES = Counter("portal_live_refreshes_total", "Tab states refreshed by live pushes of domain events")
JOB_RUNS = Counter("portal_job_runs_total", "Scheduled job runs by job and outcome (ok, failed, interrupted)",
                   ["job", "status"])
EMAILS = Counter("portal_emails_total", "Emails handed to the mail server (sent) or refused by it (failed)",
                 ["outcome"])
WEBHOOKS = Counter("portal_webhooks_total", "Webhooks received (in: accepted or refused) and delivered (out: "
                   "delivered or failed), by source or target kind", ["direction", "source", "outcome"])
SECRET_FAILURES = Counter("portal_secret_check_failures_total",
                          "Failed checks of a secret (sign-in, two-factor, recovery codes, metrics token), by action",
                          ["action"])


@functools.lru_cache(maxsize=1)
def known_handlers() -> frozenset[str]:
    """Every event handler name of the app's states: the only values the handler label takes
    (a client may send any name; a made-up one is counted as "other", never as a new series)."""
    import reflex as rx
    from reflex.utils.format import format_event_handler

    found: set[str] = set()
    todo: list[Any] = [rx.State]
    while todo:
        cls = todo.pop()
        found |= {format_event_handler(handler) for handler in cls.event_handlers.values()}
        todo.extend(cls.get_substates())
    return frozenset(found)


def counted_webhook(source: str) -> Callable[[Endpoint], Endpoint]:
    """Count a webhook route's answers: 2xx accepted, anything else refused."""
    def wrap(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def counted(request: Any) -> Any:
            response = await endpoint(request)
            outcome = "accepted" if 200 <= response.status_code < 300 else "refused"
            WEBHOOKS.labels(direction="in", source=source, outcome=outcome).inc()
            return response

        return counted  # type: ignore[return-value]

    return wrap


def _handler(name: str) -> str:
    return name if name in known_handlers() else "other"


# The labelled children of the two per-event metrics, by handler label (one of the app's handlers,
# or "other", so a client's made-up names add nothing here): `labels()` on every event was most of
# what counting cost.
_EVENT_COUNTERS: dict[str, Any] = {}
_EVENT_TIMERS: dict[str, Any] = {}


def _child(children: dict[str, Any], metric: Any, name: str) -> Any:
    label = _handler(name)
    child = children.get(label)
    if child is None:
        child = children[label] = metric.labels(handler=label)
    return child


def _event_counter(name: str) -> Any:
    return _child(_EVENT_COUNTERS, EVENTS, name)


def _event_timer(name: str) -> Any:
    return _child(_EVENT_TIMERS, EVENT_SECONDS, name)


def count_event(app: Any, name: str) -> None:
    try:
        instrument(app)
        _event_counter(name).inc()
    except Exception:  # a metric never stops an event
        log.exception("counting event %s failed", name[:120])


def instrument(app: Any) -> None:
    """Time every event the app's event processor executes (taking the tab's state, the handler,
    sending the delta), by handler: wraps the processor's `_execute_event`, the step Reflex
    documents for subclasses to override. Done once, on the first event (the processor is made by
    Reflex's own lifespan task)."""
    proc = getattr(app, "_event_processor", None)
    if proc is None or getattr(proc, "_portal_timed", False):
        return
    execute = proc._execute_event

    async def timed(*, entry: Any, registered_handler: Any) -> None:
        start = time.perf_counter()
        try:
            await execute(entry=entry, registered_handler=registered_handler)
        finally:
            _event_timer(entry.event.name).observe(time.perf_counter() - start)

    proc._execute_event = timed
    proc._portal_timed = True


def exposition() -> bytes:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(_multiproc_dir()))
    return bytes(generate_latest(registry))


def token_matches(given: str) -> bool:
    expected = get_settings().portal_metrics_token
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


__all__ = ["CONTENT_TYPE_LATEST", "EMAILS", "EVENTS", "EVENT_SECONDS", "JOB_RUNS", "LIVE_PUSHES", "SECRET_FAILURES",
           "WEBHOOKS", "count_event", "counted_webhook", "exposition", "token_matches"]
