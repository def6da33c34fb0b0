"""Structured logs: one JSON object per line on stderr, one line per request.

A request line holds the time, method, path, status, duration in milliseconds, the client address
and, once the request has been signed in, the student id (never a ticket, PIN or answer)::

    {"ts": "2026-05-12T08:00:01.234Z", "level": "info", "logger": "infolit.request",
     "event": "request", "method": "POST", "path": "/api/v1/answer", "status": 200, "ms": 3.1,
     "client": "10.1.2.3", "student": 1234}

Other events (logins, unexpected errors with their traceback) use the same format, so one
``jq`` pipeline reads everything a worker writes.
"""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["JsonFormatter", "RequestLogMiddleware", "configure_logging", "log_event", "log_unrouted"]

REQUEST_LOGGER = "infolit.request"
EVENT_LOGGER = "infolit.web"
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
_encode = msgspec.json.Encoder(enc_hook=str).encode  # UTF-8 as it is; what JSON lacks becomes str


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON line; extra fields given with ``extra=`` become keys."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _timestamp(self, created: float) -> str:
        second = int(created)
        if second != self._second:  # one strftime per second, not per line
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        out: dict[str, Any] = {
            "ts": self._timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return _encode(out).decode()


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    _infolit = True

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send InfoLit's loggers to stderr as JSON lines (idempotent: safe to call per app)."""
    formatter = JsonFormatter()
    for name in (REQUEST_LOGGER, EVENT_LOGGER):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not any(getattr(h, "_infolit", False) for h in logger.handlers):
            handler = _StderrHandler()
            handler.setFormatter(formatter)
            logger.addHandler(handler)


def log_event(event: str, level: int = logging.INFO, *, exc_info: BaseException | None = None, **fields: Any) -> None:
    """Log an application event (``login``, ``error``...) with its fields (and a traceback)."""
    logging.getLogger(EVENT_LOGGER).log(level, event, extra=fields, exc_info=exc_info)


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


class RequestLogMiddleware:
    """ASGI middleware: time each routed request and log it as one JSON line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger(REQUEST_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request, capturing the status it was answered with."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except Exception as exc:  # an error raised outside the handler (CSRF): the app's handler answers it
            status = int(getattr(exc, "status_code", 500))
            raise
        finally:
            if self.logger.isEnabledFor(logging.INFO):
                fields: dict[str, Any] = {
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 2),
                    "client": _client(scope),
                }
                student = scope.get("state", {}).get("infolit.student")
                if student is not None:
                    fields["student"] = student
                # a record made directly: Logger.info would also walk the stack for the caller
                logger = self.logger
                record = logger.makeRecord(logger.name, logging.INFO, __file__, 0, "request", (), None, extra=fields)
                logger.handle(record)


async def log_unrouted(exc: Exception, scope: Scope) -> None:
    """``after_exception`` hook: log requests that matched no route (404/405 before any handler)."""
    if scope.get("type") != ScopeType.HTTP or "route_handler" in scope:
        return
    logging.getLogger(REQUEST_LOGGER).info(
        "request",
        extra={
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": getattr(exc, "status_code", 500),
            "client": _client(scope),
        },
    )
