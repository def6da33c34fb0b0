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
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from litestar.config.csrf import CSRFConfig

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SessionToken",
    "TokenSigner",
    "WebSettings",
    "add_security_headers",
    "csrf_config",
    "derive_key",
    "get_web_settings",
    "new_device_token",
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
    staff_session_hours: float = 10.0
    staff_idle_minutes: float = 60.0
    staff_login_max_failures: int = 5


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
        staff_session_hours=float(env.get("INFOLIT_STAFF_SESSION_HOURS") or 10),
        staff_idle_minutes=float(env.get("INFOLIT_STAFF_IDLE_MINUTES") or 60),
        staff_login_max_failures=int(env.get("INFOLIT_STAFF_LOGIN_MAX_FAILURES") or 5),
    )


@lru_cache(maxsize=1)
def get_web_settings() -> WebSettings:
    """The web settings of this process, read from the environment on first use."""
    return web_settings_from_env()


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


_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
_COMMON = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)

_COMMON_RAW = [(name.encode(), value.encode()) for name, value in _COMMON]
_CSP_RAW = (b"content-security-policy", _CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")


async def add_security_headers(message: Any, scope: Any) -> None:
    """``before_send`` hook: strict CSP on pages, no caching of anything but static files.

    The CSP allows scripts and styles from this site only (htmx is vendored, nothing is inline),
    so injected markup could not run even if it slipped past the Markdown sanitiser. Pages are
    ``no-store``: a shared school computer keeps no copy of an item, and the back button cannot
    show an item already answered. The OpenAPI pages under ``/schema`` keep Litestar's defaults.
    """
    if message["type"] != "http.response.start":
        return
    path: str = scope.get("path", "")
    # raw header pairs (this runs on every response; Litestar's header wrapper cost more)
    headers = list(message.get("headers") or ())
    headers += _COMMON_RAW
    if not path.startswith("/schema"):
        names = [name.lower() for name, _ in headers]
        if b"content-security-policy" in names:
            headers = [h for h, n in zip(headers, names, strict=True) if n != b"content-security-policy"]
        headers.append(_CSP_RAW)
        if not path.startswith("/static/") and b"cache-control" not in names:
            headers.append(_NO_STORE)
    message["headers"] = headers
