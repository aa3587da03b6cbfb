"""Health for load balancers and service managers.

- /api/health/live: the process answers (restart it when this fails).
- /api/health/ready: it can serve: database reachable, schema at the migration head, Redis
  reachable when configured, scheduler alive (when jobs are on); 503 with the reasons when not
  (take it out of the pool until it is).
- /api/health: the database check, and outside production the live-runtime figures tests and
  benchmarks read.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from portal.api.common import request_info
from portal.db import get_engine
from portal.settings import get_settings

REDIS_TIMEOUT_SECONDS = 2.0


def _database_ok() -> bool:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False
    return True


def _schema() -> tuple[str, str | None]:
    """("ok" | "unreachable" | "behind", reason)."""
    from portal.schema import schema_problem

    try:
        problem = schema_problem(get_engine())
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return "unreachable", f"database unreachable: {type(exc).__name__}"
    return ("ok", None) if problem is None else ("behind", problem)


async def _redis() -> str | None:
    url = get_settings().reflex_redis_url
    if not url:
        return None
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
                                     socket_timeout=REDIS_TIMEOUT_SECONDS)
    try:
        await asyncio.wait_for(client.ping(), REDIS_TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        return f"redis unreachable: {type(exc).__name__}"
    finally:
        await client.aclose()
    return None


async def live(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ready(_request: Request) -> Response:
    from portal.jobs.scheduler import scheduler_state

    reasons: list[str] = []
    schema, problem = await run_in_threadpool(_schema)
    if problem:
        reasons.append(problem)
    redis_problem = await _redis()
    if redis_problem:
        reasons.append(redis_problem)
    scheduler = scheduler_state()
    if scheduler == "stopped":
        reasons.append("scheduler not running")
    body: dict[str, object] = {
        "status": "not ready" if reasons else "ok",
        "database": "ok" if schema != "unreachable" else "unreachable",
        "schema": schema,
        "redis": ("off" if not get_settings().reflex_redis_url else "unreachable" if redis_problem else "ok"),
        "scheduler": scheduler,
    }
    if reasons:
        body["reasons"] = reasons
    return JSONResponse(body, status_code=503 if reasons else 200)


async def health(_request: Request) -> Response:
    if not await run_in_threadpool(_database_ok):
        return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
    body: dict[str, object] = {"status": "ok", "database": "ok"}
    if get_settings().portal_env != "production":
        # For benchmarks and tests: how many open tabs the live registry holds (a count only).
        from portal.live.push import runtime

        body["live_tabs"] = await runtime.registry.size()
        # And how many tabs' Reflex states this worker keeps in memory (portal.state.tab_states).
        kept = getattr(getattr(runtime.app, "_state_manager", None), "states", None)
        if isinstance(kept, dict):
            body["tab_states"] = len(kept)
        from portal.live.loop import stats

        body["loop_first"] = dict(stats)
    return JSONResponse(body)


def _token_accepted(given: str, request: Request) -> bool | None:
    """True, False (wrong: throttled and audited), or None while this address is blocked."""
    from portal.db import session_scope
    from portal.domain import throttle
    from portal.metrics import token_matches

    info = request_info(request)
    key = throttle.address_key(info.ip_address)
    with session_scope() as db:
        blocked = throttle.is_blocked(db, key)
    if not blocked and token_matches(given):
        return True
    throttle.failed_check(throttles=() if blocked else ((key, throttle.ADDRESS),), action="metrics.token_failed",
                          reason="throttled" if blocked else "bad_token", request=info)
    return None if blocked else False


async def metrics(request: Request) -> Response:
    """Prometheus exposition of every worker's counters (portal.metrics)."""
    from portal.api.app import _is_loopback
    from portal.metrics import CONTENT_TYPE_LATEST, exposition

    auth = request.headers.get("authorization", "")
    if auth:
        accepted = await run_in_threadpool(_token_accepted, auth.removeprefix("Bearer ").strip(), request)
        if accepted is None:
            return PlainTextResponse("Too many attempts; wait a few minutes.", status_code=429)
        if not accepted:
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
    elif not (request.client and _is_loopback(request.client.host)):
        return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return Response(await run_in_threadpool(exposition), media_type=CONTENT_TYPE_LATEST)


routes = [
    Route("/api/health", health, methods=["GET"]),
    Route("/api/health/live", live, methods=["GET"]),
    Route("/api/health/ready", ready, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
