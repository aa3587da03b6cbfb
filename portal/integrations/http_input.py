"""Reading what an HTTP client sends, within limits: the one place request bodies and JSON are read.

Every route that reads a body (our API routes, the webhooks, the bundled simulators) goes through
`read_body`, which stops at the limit whatever the headers say: a declared Content-Length above
the limit is refused before anything is read, and a chunked body (no Content-Length) or one that
lies about its length is refused as soon as the bytes read pass the limit, so at most `limit`
bytes plus one chunk are ever held in memory.

`parse_json` refuses documents nested deeper than `MAX_JSON_DEPTH` before the parser sees them
(Python's parser raises RecursionError on deep nesting, which would otherwise be a 500).

This module sits with the adapters (no domain, no UI) so that the API and the simulators, which
live in different layers, share the same code.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from starlette.requests import Request

MAX_JSON_DEPTH = 32
# A JSON string literal (escapes included); brackets inside strings do not nest anything.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class BodyTooLarge(Exception):
    """The request body is larger than the route accepts (answer 413)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"The request body is larger than {limit} bytes.")


class BadJson(ValueError):
    """The body is not JSON this portal accepts (answer 400)."""


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as more than `limit` bytes are declared or read."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in `raw` (strings ignored); malformed input is counted
    the same way, the parser refuses it afterwards."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(accumulate(1 if ch in b"[{" else -1 for ch in brackets))


def parse_json(raw: bytes | str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads that refuses (BadJson) malformed text and nesting deeper than `max_depth`."""
    data = raw.encode() if isinstance(raw, str) else raw
    if json_depth(data) > max_depth:
        raise BadJson(f"JSON nested deeper than {max_depth} levels is not accepted.")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadJson("The body is not valid JSON.") from None
