"""Security plumbing of the web app: web settings, signed session tokens, CSRF, response headers.

A student's sign-in is one signed token: student id, assessment id, test session id (once the
sitting has started), the device token and an expiry, with an HMAC-SHA256 over them keyed by a key
derived from ``INFOLIT_SECRET_KEY``. The browser holds it in an HttpOnly, SameSite=Lax cookie
(``Secure`` when ``INFOLIT_SECURE_COOKIES=1``); other front ends send it as a bearer token. The
token holds no answer and no state beyond these ids: everything else lives in the database, so
any worker holding the same secret key serves any request.

Environment variables (read once, see :func:`get_web_settings`)
-----------------------------------------------------------------
``INFOLIT_SECURE_COOKIES``
    ``1`` when the site is served over HTTPS: cookies get the ``Secure`` attribute.
``INFOLIT_LOGIN_MAX_FAILURES``
    Failed logins allowed per ticket within the window (default 5).
``INFOLIT_LOGIN_MAX_FAILURES_PER_IP``
    Failed logins allowed per client address within the window (default 100: a school lab shares
    one address behind its NAT).
``INFOLIT_LOGIN_WINDOW_SECONDS``
    The throttle window (default 900).
``INFOLIT_ALLOWED_ORIGINS``
    Comma-separated origins (``https://ceping.example.cn``) whose pages may call the JSON API
    besides the site itself (the ``Host`` the request names); needed only when a proxy rewrites
    ``Host``.
``INFOLIT_EXPIRE_EVERY_SECONDS``
    How often each worker closes and scores sittings abandoned past their deadline (default
    300; 0: never, leave it to ``infolit sessions expire``).
``INFOLIT_LOGIN_BACKOFF_SECONDS``
    Past its limit, an address may try once every this many seconds (default 2) instead of
    waiting out the window: a lab is never locked out for long by someone else's guesses.
``INFOLIT_STAFF_SESSION_HOURS``, ``INFOLIT_STAFF_IDLE_MINUTES``
    A staff session's longest life (default 10 hours) and longest pause between requests
    (default 60 minutes).
``INFOLIT_STAFF_LOGIN_MAX_FAILURES``
    Login attempts allowed per staff account within the window (default 5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection, Request
from litestar.handlers.base import BaseRouteHandler

from web.exceptions import BadJson, CrossSiteRefused, InsecureSecretKey, NotJson

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SessionToken",
    "TokenSigner",
    "WebSettings",
    "MIN_SECRET_KEY_LENGTH",
    "check_secret_key",
    "csrf_config",
    "derive_key",
    "get_web_settings",
    "json_depth",
    "new_device_token",
    "refuse_cross_site",
    "require_json",
    "security_headers",
    "web_settings_from_env",
]

SESSION_COOKIE = "infolit_session"
"""Name of the cookie that holds the signed session token."""
CSRF_COOKIE = "infolit_csrf"
"""Name of the CSRF cookie (double-submit: the page repeats it in a form field or header)."""
CSRF_HEADER = "x-csrftoken"
"""Header htmx sends the CSRF token in (set on ``<body hx-headers=...>``)."""


@dataclass(frozen=True)
class WebSettings:
    """Settings only the web layer reads (the rest are :class:`itembank.settings.Settings`)."""

    secure_cookies: bool = False
    login_max_failures: int = 5
    login_max_failures_per_ip: int = 100
    login_window_seconds: int = 900
    login_backoff_seconds: float = 2.0
    allowed_origins: tuple[str, ...] = ()
    expire_every_seconds: float = 300.0
    staff_session_hours: float = 10.0
    staff_idle_minutes: float = 60.0
    staff_login_max_failures: int = 5
    job_consumer: bool = True  # a background-job consumer beside the app (INFOLIT_JOBS_CONSUMER=0: none)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def web_settings_from_env(env: dict[str, str] | None = None) -> WebSettings:
    """Build the web settings from an environment mapping (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    return WebSettings(
        secure_cookies=_truthy(env.get("INFOLIT_SECURE_COOKIES")),
        login_max_failures=int(env.get("INFOLIT_LOGIN_MAX_FAILURES") or 5),
        login_max_failures_per_ip=int(env.get("INFOLIT_LOGIN_MAX_FAILURES_PER_IP") or 100),
        login_window_seconds=int(env.get("INFOLIT_LOGIN_WINDOW_SECONDS") or 900),
        login_backoff_seconds=float(env.get("INFOLIT_LOGIN_BACKOFF_SECONDS") or 2.0),
        expire_every_seconds=float(env.get("INFOLIT_EXPIRE_EVERY_SECONDS") or 300.0),
        allowed_origins=tuple(
            o.strip().rstrip("/").lower() for o in (env.get("INFOLIT_ALLOWED_ORIGINS") or "").split(",") if o.strip()
        ),
        staff_session_hours=float(env.get("INFOLIT_STAFF_SESSION_HOURS") or 10),
        staff_idle_minutes=float(env.get("INFOLIT_STAFF_IDLE_MINUTES") or 60),
        staff_login_max_failures=int(env.get("INFOLIT_STAFF_LOGIN_MAX_FAILURES") or 5),
        job_consumer=(env.get("INFOLIT_JOBS_CONSUMER") or "1").strip().lower() not in {"0", "false", "no", "off"},
    )


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    """The web settings of this process, read from the environment on first use."""
    return web_settings_from_env()


MIN_SECRET_KEY_LENGTH = 32
"""The shortest ``INFOLIT_SECRET_KEY`` accepted, in bytes (``secrets.token_urlsafe(32)`` gives 43)."""


def check_secret_key(secret: str) -> None:
    """Refuse a secret key too short to sign session tokens and CSRF cookies safely (at startup).

    Raises
    ------
    InsecureSecretKey
        Shorter than :data:`MIN_SECRET_KEY_LENGTH` bytes.
    """
    length = len(secret.encode())
    if length < MIN_SECRET_KEY_LENGTH:
        raise InsecureSecretKey(
            f"INFOLIT_SECRET_KEY is {length} bytes long; it must have at least {MIN_SECRET_KEY_LENGTH} "
            "(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def derive_key(secret: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose (``session``, ``csrf``) derived from the app's secret key."""
    return hmac.new(secret.encode(), f"infolit/{purpose}/v1".encode(), hashlib.sha256).digest()


def new_device_token() -> str:
    """A fresh random device token (the browser or app instance that holds a sitting)."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class SessionToken:
    """What a signed-in student's cookie (or bearer token) says.

    Attributes
    ----------
    student_id, assessment_id
        Who sits which assessment.
    device
        The device token; a sitting answers only to the device that holds it.
    test_session_id
        The sitting, once started (``None`` before the student presses start).
    expires_at
        Unix time after which the token is refused.
    """

    student_id: int
    assessment_id: int
    device: str
    test_session_id: int | None
    expires_at: int


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class TokenSigner:
    """Signs and reads :class:`SessionToken` strings (``v1.<ids>.<device>.<expiry>.<mac>``)."""

    def __init__(self, secret: str) -> None:
        self._key = derive_key(secret, "session")
        self._verified: dict[str, SessionToken] = {}  # token strings whose MAC checked out

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def sign(self, token: SessionToken) -> str:
        """The token as a string safe for a cookie or an ``Authorization`` header."""
        body = (
            f"v1.{token.student_id}.{token.assessment_id}.{token.test_session_id or 0}."
            f"{token.device}.{token.expires_at}"
        )
        return f"{body}.{self._mac(body)}"

    def read(self, value: str | None, *, now: float | None = None) -> SessionToken | None:
        """The token in ``value``, or ``None`` if it is missing, tampered with or expired."""
        if not value or len(value) > 200:
            return None
        now = time.time() if now is None else now
        known = self._verified.get(value)
        if known is not None:  # the same string verifies the same way: only the expiry can change
            return known if known.expires_at >= now else None
        body, _, mac = value.rpartition(".")
        if not body or not hmac.compare_digest(mac, self._mac(body)):
            return None
        parts = body.split(".")
        if len(parts) != 6 or parts[0] != "v1":
            return None
        try:
            student, assessment, session, expires = int(parts[1]), int(parts[2]), int(parts[3]), int(parts[5])
        except ValueError:
            return None
        token = SessionToken(student, assessment, parts[4], session or None, expires)
        if len(self._verified) >= 50_000:
            self._verified.clear()
        self._verified[value] = token
        return token if expires >= now else None


def csrf_config(secret: str, *, secure: bool) -> CSRFConfig:
    """Litestar's double-submit CSRF protection for every form; the JSON API (bearer tokens) is exempt."""
    return CSRFConfig(
        secret=_b64(derive_key(secret, "csrf")),
        cookie_name=CSRF_COOKIE,
        header_name=CSRF_HEADER,
        cookie_httponly=True,
        cookie_secure=secure,
        cookie_samesite="lax",
        exclude=["^/api/", "^/healthz", "^/schema"],
    )


def _same_site(connection: ASGIConnection[Any, Any, Any, Any], origin: str) -> bool:
    """Whether ``origin`` is this site (the ``Host`` the request names) or an allowed origin."""
    origin = origin.strip().rstrip("/").lower()
    if origin == "null":  # a sandboxed frame, a file: page
        return False
    web: WebSettings | None = connection.app.state.get("web")
    if web is not None and origin in web.allowed_origins:
        return True
    host = (connection.headers.get("host") or "").strip().lower()
    return bool(host) and urlsplit(origin).netloc == host


async def refuse_cross_site(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard of the JSON API: refuse what a page of another site sends (before any work).

    A coroutine although it only reads headers: Litestar runs a plain-function guard in a worker
    thread, a hop that cost more than the check.

    A browser says where a request comes from: ``Sec-Fetch-Site: cross-site``, or an ``Origin``
    that is not this site. Other front ends (apps, scripts) send neither and are not affected;
    their bearer token is what signs them in.

    Raises
    ------
    CrossSiteRefused
        The request comes from another site's page.
    """
    site = (connection.headers.get("sec-fetch-site") or "").lower()
    origin = connection.headers.get("origin")
    if site == "cross-site" or (origin is not None and not _same_site(connection, origin)):
        raise CrossSiteRefused(detail="不接受来自其他网站的请求。")


MAX_JSON_DEPTH = 32
"""The deepest nesting a JSON body may have (an answer needs 2; the decoder's stack would end near 1,000)."""
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def json_depth(body: bytes, *, stop_at: int = MAX_JSON_DEPTH) -> int:
    """How deep arrays and objects nest in ``body`` (strings skipped), counting up to ``stop_at + 1``."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b"", body):
        if byte in b"[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_at:
                    break
        elif byte in b"]}":
            depth -= 1
    return deepest


async def require_json(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
    """Guard of the API routes that take a body: it must say it is JSON, and not nest absurdly deep.

    A ``text/plain`` or form body is what a page of another site can send without the browser
    asking first (a CORS "simple request"); a JSON body makes the browser ask, and InfoLit never
    says yes. The body is read here (Litestar keeps it for the handler) and its nesting counted
    before the decoder sees it: a body nested thousands deep exhausted the decoder's stack (a 500).

    Raises
    ------
    NotJson
        The ``Content-Type`` is not ``application/json`` (or ``application/...+json``).
    BadJson
        Nested deeper than :data:`MAX_JSON_DEPTH`.
    """
    media = (connection.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise NotJson(detail="请求的内容必须是 JSON（Content-Type: application/json）。")
    if isinstance(connection, Request) and json_depth(await connection.body()) > MAX_JSON_DEPTH:
        raise BadJson(detail=f"请求的 JSON 嵌套太深（最多 {MAX_JSON_DEPTH} 层）。")


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), midi=(), payment=(), usb=()"
)
"""Powerful browser features no page of the test needs, turned off for every page."""
HSTS = "max-age=31536000"
"""``Strict-Transport-Security`` behind HTTPS (a year; subdomains are the school's business)."""
_COMMON = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", PERMISSIONS_POLICY),
)

_COMMON_RAW = [(name.encode(), value.encode()) for name, value in _COMMON]
_HSTS_RAW = (b"strict-transport-security", HSTS.encode())
_CSP_RAW = (b"content-security-policy", _CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")


def security_headers(*, https: bool) -> Callable[[Any, Any], Awaitable[None]]:
    """The ``before_send`` hook that adds the security headers to every response.

    A strict CSP: scripts and styles from this site only (htmx is vendored, nothing is inline),
    so injected markup could not run even if it slipped past the Markdown sanitiser; the API
    documentation under ``/schema`` (Swagger UI, served locally: :mod:`web.openapi`) too.
    ``Permissions-Policy`` turns off camera, microphone, location and the like. Behind HTTPS
    (``https``, as ``INFOLIT_SECURE_COOKIES=1`` says) ``Strict-Transport-Security`` too. Pages
    are ``no-store``: a shared school computer keeps no copy of an item, and the back button
    cannot show an item already answered; static files keep their own caching.
    """
    common = _COMMON_RAW + ([_HSTS_RAW] if https else [])

    async def add_security_headers(message: Any, scope: Any) -> None:
        if message["type"] != "http.response.start":
            return
        path: str = scope.get("path", "")
        # raw header pairs (this runs on every response; Litestar's header wrapper cost more)
        headers = list(message.get("headers") or ())
        names = [name.lower() for name, _ in headers]
        if b"content-security-policy" in names:
            headers = [h for h, n in zip(headers, names, strict=True) if n != b"content-security-policy"]
        headers += common
        headers.append(_CSP_RAW)
        if not path.startswith(("/static/", "/schema/assets/")) and b"cache-control" not in names:
            headers.append(_NO_STORE)
        message["headers"] = headers

    return add_security_headers
