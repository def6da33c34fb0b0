"""``/healthz``: the app is up and its database answers (for load balancers and monitoring)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, get
from litestar.datastructures import State

from itembank.db import ping

__all__ = ["Health", "healthz"]


@dataclass(frozen=True)
class Health:
    """Health of this worker: ``ok`` or ``error``, and the database's state."""

    status: str
    database: str


@get("/healthz", tags=["ops"], sync_to_thread=False)
def healthz(request: Request[Any, Any, State]) -> Response[Health]:
    """200 when a ``SELECT 1`` on the database succeeds, 503 (with the reason) when it does not."""
    try:
        ping(request.app.state.engine)
    except Exception as exc:  # noqa: BLE001 - any failure is "unhealthy"
        return Response(Health("error", f"{type(exc).__name__}"), status_code=503)
    return Response(Health("ok", "ok"))
