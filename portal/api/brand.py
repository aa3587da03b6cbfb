"""The brand's images, public: /api/brand/logo and /api/brand/favicon.

Each serves only the one configured file (PORTAL_LOGO_FILE, PORTAL_FAVICON_FILE), wherever it lives,
with the media type recognised from its content. The pages ask for `?v=<fingerprint>` (see
`brand_url`), so browsers may keep a copy for a year: a new file has a new address.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.brand import SVG, current_brand, image_type

LOGO_PATH = "/api/brand/logo"
FAVICON_PATH = "/api/brand/favicon"


def _read(path: Path) -> tuple[bytes, str | None]:
    return path.read_bytes(), image_type(path)


async def _serve(request: Request, path: Path) -> Response:
    try:
        data, kind = await run_in_threadpool(_read, path)
    except OSError:
        return Response("The brand image is missing.", status_code=404, media_type="text/plain")
    if kind is None:
        return Response("The brand image is not one the portal serves.", status_code=404, media_type="text/plain")
    etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
    headers = {"etag": etag, "x-content-type-options": "nosniff",
               # A fingerprinted address never changes its content; the bare address is checked daily.
               "cache-control": "public, max-age=31536000, immutable" if request.query_params.get("v")
               else "public, max-age=86400"}
    if kind == SVG:
        # An SVG opened on its own is a document: it may draw, never run script or load anything.
        headers["content-security-policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=kind, headers=headers)


async def logo(request: Request) -> Response:
    return await _serve(request, current_brand().logo)


async def favicon(request: Request) -> Response:
    return await _serve(request, current_brand().favicon)


routes = [
    Route(LOGO_PATH, logo, methods=["GET", "HEAD"]),
    Route(FAVICON_PATH, favicon, methods=["GET", "HEAD"]),
]
