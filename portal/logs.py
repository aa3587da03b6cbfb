"""One logging configuration for the portal, Reflex, granian and uvicorn.

Development: one readable line a record. Production (or PORTAL_LOG_FORMAT=json): one JSON object
a line on stderr, for a log shipper. Every record says what it happened in, from context the
portal binds once per unit of work:

- `event`: a short id of the websocket event (the guard binds it, with `handler` and `user_id`);
- `request`: a short id of the HTTP request (from a well-formed `X-Request-ID`, else new), with
  `route` (method and path, never the query string);
- `job`: the scheduled job's name.

Records carry user ids, never emails, tokens or what someone typed: the portal's own messages
name people by id, and portal.logsafe replaces client tokens in every record.

An error in an event handler or an HTTP route is logged once, with its stack and a reference
(`ref`) that the person sees in the error message, so what they quote finds the line.
"""

from __future__ import annotations

import collections
import contextvars
import datetime
import json
import logging
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from reflex_base.event.context import EventContext
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CONTEXT: contextvars.ContextVar[MappingProxyType[str, Any]] = contextvars.ContextVar(
    "portal_log_context", default=MappingProxyType({}))
CONTEXT_FIELDS = ("event", "request", "job", "handler", "route", "user_id")
# Loggers of the server around the app: taken over so that they write through the same handler.
SERVER_LOGGERS = ("reflex", "_granian", "granian.access", "uvicorn", "uvicorn.error", "uvicorn.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{6,64}$")


def new_id() -> str:
    return secrets.token_hex(4)


def bind(**fields: Any) -> None:
    """Add fields to the current unit of work's context (this task, and threads it offloads to)."""
    _CONTEXT.set(MappingProxyType({**_CONTEXT.get(), **{k: v for k, v in fields.items() if v is not None}}))


def enter(**fields: Any) -> None:
    """Start a new unit of work in the current context (a websocket event): earlier fields go."""
    _CONTEXT.set(MappingProxyType({k: v for k, v in fields.items() if v is not None}))


# The context of recent events by Reflex's transaction id: Reflex calls the backend exception
# handler from a task of its own, outside the failed event's context.
_BY_EVENT: collections.OrderedDict[str, MappingProxyType[str, Any]] = collections.OrderedDict()
_REMEMBERED = 4096


def remember_event() -> None:
    """Keep this event's context under Reflex's id for it (called by the guard, every event)."""
    try:
        txid = EventContext.get().txid
    except LookupError:
        return
    _BY_EVENT[txid] = _CONTEXT.get()
    while len(_BY_EVENT) > _REMEMBERED:
        _BY_EVENT.popitem(last=False)


def recall_event() -> None:
    """Re-enter the context of the event Reflex is handling an error for."""
    try:
        txid = EventContext.get().txid
    except LookupError:
        return
    if (kept := _BY_EVENT.get(txid)) is not None:
        _CONTEXT.set(kept)


def current() -> dict[str, Any]:
    return dict(_CONTEXT.get())


@contextmanager
def unit(**fields: Any) -> Iterator[None]:
    """A unit of work with its own context (a job run, a request), restored afterwards."""
    token = _CONTEXT.set(MappingProxyType({k: v for k, v in fields.items() if v is not None}))
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def request_id(header: str | None) -> str:
    """The caller's X-Request-ID when it is a plain id (so a proxy's id follows the request),
    else a new one; never something that could forge log lines."""
    return header if header and _REQUEST_ID.match(header) else new_id()


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _CONTEXT.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in (*CONTEXT_FIELDS, "ref"):
            value = getattr(record, key, None)
            if value is not None:
                payload[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(context)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        fields = [f"{k}={getattr(record, k)}" for k in (*CONTEXT_FIELDS, "ref") if getattr(record, k, None) is not None]
        record.context = f" [{' '.join(fields)}]" if fields else ""
        return super().format(record)


_HANDLER_FLAG = "_portal_handler"


def configure(*, json_lines: bool | None = None, level: str | None = None) -> None:
    """Install the one handler on the root logger (idempotent: a second call replaces it).

    JSON in production unless PORTAL_LOG_FORMAT says otherwise. With JSON, Reflex's and the
    servers' loggers write through it too (their own console sinks are taken off); with text in
    development Reflex keeps its coloured console for its own lines."""
    from portal import logsafe
    from portal.settings import get_settings

    settings = get_settings()
    if json_lines is None:
        json_lines = settings.portal_log_format == "json" or (
            settings.portal_log_format == "auto" and settings.portal_env == "production")
    logsafe.install()
    handler = logging.StreamHandler(sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _HANDLER_FLAG, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("portal").setLevel((level or settings.portal_log_level).upper())
    if json_lines:
        for name in SERVER_LOGGERS:
            server_logger = logging.getLogger(name)
            for old in list(server_logger.handlers):
                server_logger.removeHandler(old)
            server_logger.propagate = True
        logging.getLogger("reflex").setLevel(logging.INFO)


_errors = logging.getLogger("portal.errors")


def report(exc: BaseException, what: str) -> str:
    """Log an unexpected error once, with its stack, and return the reference to show."""
    ref = current().get("event") or current().get("request") or new_id()
    _errors.error("unexpected error in %s", what, exc_info=(type(exc), exc, exc.__traceback__), extra={"ref": ref})
    return str(ref)


class RequestContext:
    """ASGI middleware for the HTTP routes: each request gets an id (answered in `X-Request-ID`)
    and its route in the log context; an unexpected error is logged once with that id, and the
    caller gets a 500 that names it instead of a stack or a dropped connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = request_id(headers.get("x-request-id"))
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        with unit(request=rid, route=f"{scope.get('method', '')} {scope.get('path', '')}"):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                report(exc, "an HTTP route")
                if started:
                    raise
                body = json.dumps({"error": "Something went wrong on our side.", "reference": rid}).encode()
                await send({"type": "http.response.start", "status": 500,
                            "headers": [(b"content-type", b"application/json"), (b"x-request-id", rid.encode()),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})

