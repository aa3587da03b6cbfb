"""OpenAPI 3.1 description of /api/v1, generated from the pydantic models the routes validate
with, so what is documented is what is enforced."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from portal.domain.api import schemas as s
from portal.domain.api.keys import ALL_SCOPES
from portal.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Sequence

    from portal.api.v1 import Resource

REF = "#/components/schemas/{model}"
_ERRORS_READ = (401, 403, 404, 422)
_ERRORS_WRITE = (400, 401, 403, 404, 409, 413, 422)
_DESCRIPTIONS = {400: "Malformed JSON", 401: "Missing, unknown, revoked or rotated API key",
                 403: "The key lacks the scope", 404: "No such resource (or a referenced one is missing)",
                 409: "Conflicts with existing data", 413: "Body too large",
                 422: "Invalid input, or an Idempotency-Key reused with a different request"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _problem_responses(codes: Sequence[int]) -> dict[str, Any]:
    return {str(c): {"description": _DESCRIPTIONS[c],
                     "content": {"application/problem+json": {"schema": _ref("Problem")}}} for c in codes}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path_params(res: Resource) -> list[dict[str, Any]]:
    return [{"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "pattern": pattern, "maxLength": 64}} for name, pattern in res.params]


_IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Repeat a write safely: the same key and request return the first answer; the same key "
                   "with a different request is refused (422).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~][ -~]*$"},
}


@functools.cache
def _components() -> dict[str, Any]:
    inputs: list[type[BaseModel]] = [s.CustomerIn, s.OrderIn, s.ShipmentIn, s.InvoiceIn, s.PaymentIn, s.DocumentIn,
                                      s.ArticleIn]
    outputs: list[type[BaseModel]] = [s.CustomerOut, s.OrderOut, s.ShipmentOut, s.InvoiceOut, s.PaymentOut,
                                       s.DocumentOut, s.ArticleOut, s.Problem]
    models: list[Any] = [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs]
    _, top = models_json_schema(models, ref_template=REF)
    return dict(top.get("$defs", {}))


def build_openapi(resources: Sequence[Resource]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for res in resources:
        out_name, in_name = res.out_model.__name__, res.in_model.__name__
        paths[f"/api/v1/{res.name}"] = {"get": {
            "operationId": f"list_{res.name}", "summary": f"List {res.name}, oldest first",
            "tags": [res.name], "security": [{"bearer": [f"{res.name}:read"]}],
            "parameters": [
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}},
                {"name": "cursor", "in": "query", "required": False,
                 "description": "Opaque: the next_cursor of the previous page.",
                 "schema": {"type": "string", "maxLength": 200}},
            ],
            "responses": {"200": _json_response(f"A page of {res.name}", {
                "type": "object", "required": ["data", "next_cursor"],
                "properties": {"data": {"type": "array", "items": _ref(out_name)},
                               "next_cursor": {"type": ["string", "null"]}}}),
                **_problem_responses(_ERRORS_READ)},
        }}
        item = {
            "parameters": _path_params(res),
            "get": {"operationId": f"get_{res.singular}", "summary": f"Get one {res.singular}", "tags": [res.name],
                    "security": [{"bearer": [f"{res.name}:read"]}],
                    "responses": {"200": _json_response(f"The {res.singular}", _ref(out_name)),
                                  **_problem_responses(_ERRORS_READ)}},
            "put": {"operationId": f"upsert_{res.singular}",
                    "summary": f"Create or update the {res.singular} with this natural key", "tags": [res.name],
                    "security": [{"bearer": [f"{res.name}:write"]}],
                    "parameters": [_IDEMPOTENCY_HEADER],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(in_name)}}},
                    "responses": {"200": _json_response("Updated", _ref(out_name)),
                                  "201": _json_response("Created", _ref(out_name)),
                                  **_problem_responses(_ERRORS_WRITE)}},
        }
        paths[res.item_path] = item
    paths["/api/v1/documents/{external_id}/file"] = {
        "parameters": _path_params(next(r for r in resources if r.name == "documents")),
        "put": {"operationId": "put_document_file", "summary": "Upload the document's file (stored privately)",
                "tags": ["documents"], "security": [{"bearer": ["documents:write"]}],
                "parameters": [_IDEMPOTENCY_HEADER,
                               {"name": "filename", "in": "query", "required": False,
                                "schema": {"type": "string", "maxLength": 255}}],
                "requestBody": {"required": True, "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "description": "Send the bytes as the body; its Content-Type header (e.g. application/pdf) is "
                               "stored with the file.",
                "responses": {"200": _json_response("Stored", _ref("DocumentOut")),
                              **_problem_responses(_ERRORS_WRITE)}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{get_settings().portal_business_name} portal integration API", "version": "1.0.0",
                 "description": "Upserts by natural key, Idempotency-Key on every write, cursor pagination, "
                                "RFC 9457 problem details for every error. Scopes: " + ", ".join(ALL_SCOPES)},
        "paths": paths,
        "components": {
            "schemas": _components(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key created by an admin at /admin/api-keys."}},
        },
        "security": [{"bearer": []}],
    }
