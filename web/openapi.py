"""The API documentation at ``/schema``: Swagger UI served from this server, nothing from a CDN.

Litestar's render plugins load their scripts from a CDN (useless on an offline school network)
and put the start-up code inline (which a strict Content-Security-Policy refuses).
:class:`LocalSwaggerPlugin` renders the same Swagger UI from the files the ``swagger-ui-py``
package ships (``swagger-ui-bundle.js``, ``swagger-ui.css``), served under ``/schema/assets/``, and
starts it with ``static/schema.js``, a file of this site; so ``/schema`` works offline under
``script-src 'self'`` (see :func:`web.security.security_headers`). The schema itself stays at
``/schema/openapi.json``.

:func:`error_responses` documents the refusals a route can give (401, 409, ...) with the one
error body the API uses (:class:`ErrorOut`).
"""

from __future__ import annotations

import html
import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from litestar import Request, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File

__all__ = ["ASSETS", "ErrorOut", "LocalSwaggerPlugin", "error_responses", "swagger_ui_dir"]

ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css")
"""The Swagger UI files served under ``/schema/assets/`` (nothing else of the package is)."""


@lru_cache(maxsize=1)
def swagger_ui_dir() -> Path:
    """Where the ``swagger-ui-py`` package keeps Swagger UI's files (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed (pip install swagger-ui-py)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@dataclass(frozen=True)
class ErrorOut:
    """Every refusal of the API: the status, a stable code and a message fit to show the student.

    ``error`` names InfoLit's own refusal (``NotSignedIn``, ``TakenOver``, ``SessionClosed``,
    ``AnswerRejected``, ``LoginFailed``, ``LoginThrottled``, ...) or else the HTTP status
    (``BadRequest``). A refused request changed nothing.
    """

    status_code: int
    error: str
    detail: str
    problems: list[str] | None = None  # a refused file (an assessment file): every problem with its place


_MEANINGS = {
    400: "The request is malformed (not the shape this route takes, or an answer that does not fit its item).",
    401: "No valid bearer token (or it was revoked by a logout), or a wrong ticket or PIN at login.",
    403: "The assessment is not open now, or the request came from another site's page.",
    404: "The sitting has not been started.",
    409: "The sitting is over, taken over by another device, or the answer is to an item not on screen "
    "or changes one already given; or the assessment is not set up for this student.",
    415: "The body is not JSON (Content-Type: application/json).",
    422: "An empty answer sent without saying skip.",
    429: "Too many login attempts for this ticket or from this address (Retry-After says when to retry).",
}


def error_responses(*codes: int) -> dict[int, ResponseSpec]:
    """The ``responses=`` of a route: each refusal status with :class:`ErrorOut` and what it means."""
    return {
        code: ResponseSpec(data_container=ErrorOut, description=_MEANINGS[code], generate_examples=False)
        for code in codes
    }


class LocalSwaggerPlugin(OpenAPIRenderPlugin):
    """Swagger UI at the schema's root path, its files served by this app (no CDN, no inline script)."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(path=[path, "/swagger"])

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page: Swagger UI's CSS and script from ``/schema/assets``, started by ``/static/schema.js``."""
        from web.app import static_url  # the app module fingerprints static files

        base = request.app.openapi_config.path if request.app.openapi_config else "/schema"
        title = html.escape(str(openapi_schema.get("info", {}).get("title", "API")))
        page = f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{static_url("favicon.svg")}" type="image/svg+xml">
<link rel="stylesheet" href="{base}/assets/swagger-ui.css">
<script src="{base}/assets/swagger-ui-bundle.js" defer></script>
<script src="{static_url("schema.js")}" defer></script>
</head>
<body>
<main id="swagger-ui" data-spec="{html.escape(self.get_openapi_json_route(request))}"></main>
</body>
</html>
"""
        return page.encode()

    def receive_router(self, router: Router) -> None:
        """Serve the two Swagger UI files under ``<schema path>/assets/``."""
        router.register(_asset)


@get(
    "/assets/{name:str}",
    include_in_schema=False,
    sync_to_thread=False,
    cache_control=CacheControlHeader(max_age=86_400, public=True),
)
def _asset(name: FromPath[str]) -> File:
    """One of :data:`ASSETS` from the swagger-ui-py package (404 for anything else)."""
    if name not in ASSETS:
        raise NotFoundException()
    media = "text/css" if name.endswith(".css") else "text/javascript"
    return File(swagger_ui_dir() / name, media_type=media, content_disposition_type="inline")
