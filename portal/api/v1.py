"""The integration REST API under /api/v1 for the business's own systems (shop, ERP, CRM).

Routes stay thin: authenticate the key, validate the request against the same pydantic
models the OpenAPI description is generated from, call one domain function, present the
result. Every error is an RFC 9457 problem (application/problem+json).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.api.openapi import build_openapi
from portal.api.problems import from_domain, from_validation, problem
from portal.db import session_scope
from portal.domain.api import idempotency, keys
from portal.domain.api import resources as r
from portal.domain.api import schemas as s
from portal.domain.api.keys import ApiCaller
from portal.domain.errors import DomainError, Invalid
from portal.integrations.http_input import BadJson, BodyTooLarge, parse_json, read_body

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_JSON_BYTES = 1024 * 1024
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9.+-]{1,50}/[A-Za-z0-9.+-]{1,50}$")


@dataclasses.dataclass(frozen=True)
class Resource:
    name: str
    singular: str
    params: tuple[tuple[str, str], ...]  # path parameters of one item and their patterns
    in_model: type[BaseModel]
    out_model: type[BaseModel]
    upsert: Callable[..., tuple[BaseModel, bool]]
    get: Callable[..., BaseModel]
    list: Callable[..., tuple[list[Any], str | None]]

    @property
    def item_path(self) -> str:
        return f"{PREFIX}/{self.name}/" + "/".join("{" + p + "}" for p, _ in self.params)


KEY = s.KEY_PATTERN
RESOURCES: tuple[Resource, ...] = (
    Resource("customers", "customer", (("external_id", KEY),), s.CustomerIn, s.CustomerOut,
             lambda db, c, k, d: r.upsert_customer(db, caller=c, external_id=k["external_id"], data=d),
             lambda db, c, k: r.get_customer(db, caller=c, external_id=k["external_id"]), r.list_customers),
    Resource("orders", "order", (("number", s.NUMBER_PATTERN),), s.OrderIn, s.OrderOut,
             lambda db, c, k, d: r.upsert_order(db, caller=c, number=k["number"], data=d),
             lambda db, c, k: r.get_order(db, caller=c, number=k["number"]), r.list_orders),
    Resource("shipments", "shipment", (("carrier", r.CARRIER_PATTERN), ("tracking_number", r.TRACKING_PATTERN)),
             s.ShipmentIn, s.ShipmentOut,
             lambda db, c, k, d: r.upsert_shipment(db, caller=c, carrier=k["carrier"],
                                                   tracking_number=k["tracking_number"], data=d),
             lambda db, c, k: r.get_shipment(db, caller=c, carrier=k["carrier"],
                                             tracking_number=k["tracking_number"]), r.list_shipments),
    Resource("invoices", "invoice", (("number", s.NUMBER_PATTERN),), s.InvoiceIn, s.InvoiceOut,
             lambda db, c, k, d: r.upsert_invoice(db, caller=c, number=k["number"], data=d),
             lambda db, c, k: r.get_invoice(db, caller=c, number=k["number"]), r.list_invoices),
    Resource("payments", "payment", (("reference", KEY),), s.PaymentIn, s.PaymentOut,
             lambda db, c, k, d: r.upsert_payment(db, caller=c, reference=k["reference"], data=d),
             lambda db, c, k: r.get_payment(db, caller=c, reference=k["reference"]), r.list_payments),
    Resource("documents", "document", (("external_id", KEY),), s.DocumentIn, s.DocumentOut,
             lambda db, c, k, d: r.upsert_document(db, caller=c, external_id=k["external_id"], data=d),
             lambda db, c, k: r.get_document(db, caller=c, external_id=k["external_id"]), r.list_documents),
    Resource("articles", "article", (("slug", KEY),), s.ArticleIn, s.ArticleOut,
             lambda db, c, k, d: r.upsert_article(db, caller=c, slug=k["slug"], data=d),
             lambda db, c, k: r.get_article(db, caller=c, slug=k["slug"]), r.list_articles),
)
_BY_NAME = {res.name: res for res in RESOURCES}


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _authenticate(db: Session, request: Request) -> ApiCaller:
    caller = keys.authenticate(db, raw_key=_bearer(request))
    if caller is None:
        # Unknown, revoked and rotated-away keys all get the same answer.
        raise _Refused(problem(401, detail="Send a valid API key as 'Authorization: Bearer <key>'.",
                               instance=request.url.path, headers={"WWW-Authenticate": 'Bearer realm="api"'}))
    return caller


def _path_keys(request: Request, res: Resource) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, pattern in res.params:
        value = str(request.path_params.get(name, ""))
        if not re.fullmatch(pattern, value):
            raise Invalid(f"{name} must match {pattern}", field=f"path.{name}")
        out[name] = value
    return out


async def _read_body(request: Request, limit: int) -> bytes:
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        raise _Refused(problem(413, detail=str(exc), instance=request.url.path)) from None


def _guarded(fn: Callable[[], Response], instance: str) -> Response:
    """Runs one unit of work and turns every refusal into a problem response."""
    try:
        return fn()
    except _Refused as refused:
        return refused.response
    except DomainError as err:
        return from_domain(err, instance=instance)
    except ValidationError as exc:
        return from_validation(exc, instance=instance)
    except IntegrityError:
        # A concurrent write with the same natural or idempotency key won the race.
        return problem(409, kind="concurrent-write", detail="A concurrent request changed this resource; retry.",
                       instance=instance)
    except DataError:
        return problem(422, kind="validation", detail="A value is out of range for storage.", instance=instance)


def _json(body: bytes, instance: str) -> Any:
    try:
        return parse_json(body)
    except BadJson as exc:
        raise _Refused(problem(400, kind="malformed-json", detail=str(exc), instance=instance,
                               errors=[{"field": "body", "message": str(exc)}])) from None


def _limit(request: Request) -> int:
    raw = request.query_params.get("limit", "50")
    try:
        value = int(raw)
    except ValueError:
        raise Invalid("limit must be an integer from 1 to 200", field="query.limit") from None
    if not 1 <= value <= 200:
        raise Invalid("limit must be an integer from 1 to 200", field="query.limit")
    return value


def _list_route(res: Resource) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        def work() -> Response:
            with session_scope() as db:
                caller = _authenticate(db, request)
                cursor = request.query_params.get("cursor") or None
                if cursor is not None and len(cursor) > 200:
                    raise Invalid("cursor is not one this API returned", field="query.cursor")
                rows, nxt = res.list(db, caller=caller, cursor=cursor, limit=_limit(request))
                body = {"data": [row.model_dump(mode="json") for row in rows], "next_cursor": nxt}
            return JSONResponse(body)

        return await run_in_threadpool(_guarded, work, request.url.path)

    return endpoint


def _get_route(res: Resource) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        def work() -> Response:
            with session_scope() as db:
                caller = _authenticate(db, request)
                out = res.get(db, caller, _path_keys(request, res))
                body = out.model_dump(mode="json")
            return JSONResponse(body)

        return await run_in_threadpool(_guarded, work, request.url.path)

    return endpoint


def _idempotent_write(request: Request, body: bytes,
                      write: Callable[[Session, ApiCaller], tuple[BaseModel, bool]],
                      checks: Callable[[Session, ApiCaller], None]) -> Response:
    raw_key = request.headers.get("idempotency-key")
    with session_scope() as db:
        caller = _authenticate(db, request)
        checks(db, caller)
        idem = idempotency.check_key(raw_key) if raw_key is not None else None
        req_hash = idempotency.request_hash(request.method, request.url.path, body)
        if idem is not None:
            seen = idempotency.lookup(db, caller=caller, key=idem, req_hash=req_hash)
            if seen is not None:
                return JSONResponse(seen[1], status_code=seen[0], headers={"Idempotent-Replayed": "true"})
        out, created = write(db, caller)
        status = 201 if created else 200
        payload = out.model_dump(mode="json")
        if idem is not None:
            idempotency.remember(db, caller=caller, key=idem, req_hash=req_hash, status_code=status, body=payload)
    return JSONResponse(payload, status_code=status)


def _put_route(res: Resource) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        instance = request.url.path
        try:
            body = await _read_body(request, MAX_JSON_BYTES)
        except _Refused as refused:
            return refused.response
        state: dict[str, Any] = {}

        def checks(_db: Session, caller: ApiCaller) -> None:
            # Scope before content: a key that may not write learns nothing about the body.
            keys.require_scope(caller, res.name, write=True)
            state["keys"] = _path_keys(request, res)
            state["data"] = res.in_model.model_validate(_json(body, instance))

        def work() -> Response:
            return _idempotent_write(request, body,
                                     lambda db, caller: res.upsert(db, caller, state["keys"], state["data"]), checks)

        return await run_in_threadpool(_guarded, work, instance)

    return endpoint


async def put_document_file(request: Request) -> Response:
    instance = request.url.path
    try:
        body = await _read_body(request, r.MAX_FILE_BYTES)
    except _Refused as refused:
        return refused.response
    res = _BY_NAME["documents"]
    content_type = request.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
    if not _CONTENT_TYPE.fullmatch(content_type):
        content_type = "application/octet-stream"
    state: dict[str, Any] = {}

    def checks(_db: Session, caller: ApiCaller) -> None:
        keys.require_scope(caller, "documents", write=True)
        state["keys"] = _path_keys(request, res)
        filename = request.query_params.get("filename", "")
        if len(filename) > 255 or "\x00" in filename:
            raise Invalid("filename is at most 255 characters", field="query.filename")
        state["filename"] = filename or state["keys"]["external_id"]

    def write(db: Session, caller: ApiCaller) -> tuple[BaseModel, bool]:
        out = r.store_document_file(db, caller=caller, external_id=state["keys"]["external_id"], content=body,
                                    content_type=content_type, filename=state["filename"])
        return out, False

    return await run_in_threadpool(_guarded, lambda: _idempotent_write(request, body, write, checks), instance)


async def openapi(_request: Request) -> Response:
    return JSONResponse(build_openapi(RESOURCES))


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return problem(status, detail=str(getattr(exc, "detail", "")) or "", instance=request.url.path)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("integration API failed", exc_info=exc)
    return problem(500, detail="Something went wrong on our side.", instance=request.url.path)


def _routes() -> list[Route]:
    routes = [Route("/openapi.json", openapi, methods=["GET"])]
    for res in RESOURCES:
        sub = res.item_path[len(PREFIX):]
        routes.append(Route(f"/{res.name}", _list_route(res), methods=["GET"]))
        routes.append(Route(sub, _get_route(res), methods=["GET"]))
        routes.append(Route(sub, _put_route(res), methods=["PUT"]))
    routes.append(Route("/documents/{external_id}/file", put_document_file, methods=["PUT"]))
    return routes


def build_v1() -> Starlette:
    return Starlette(routes=_routes(), exception_handlers={HTTPException: _http_error, Exception: _server_error})
