"""A worker's background sweep: abandoned sittings are closed and scored now and then (:mod:`assess.expiry`).

Each worker runs one thread that calls :func:`assess.expiry.expire_overdue` every ``interval``
seconds (``INFOLIT_EXPIRE_EVERY_SECONDS``, default 300; 0 turns it off), the first time one
interval after start, and not again when the worker stops. Several workers sweeping at once is
harmless: a sitting is ended once, in a transaction of its own, and the others skip it.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Engine

from assess.expiry import Expired, expire_overdue
from itembank.db import PeriodicThread
from itembank.models import utcnow
from web.logging import log_event

__all__ = ["ExpirySweeper"]


class ExpirySweeper(PeriodicThread):
    """Run :func:`assess.expiry.expire_overdue` every ``interval`` seconds in a thread (``start``/``stop``)."""

    name = "infolit-expiry-sweep"
    last_tick = False  # a stopping worker answers its requests; the next sweep is another worker's

    def __init__(self, engine: Engine, interval: float) -> None:
        super().__init__(interval)
        self.engine = engine
        self.runs = 0

    def tick(self) -> Expired | None:
        """One sweep now (see :meth:`sweep`)."""
        return self.sweep()

    def sweep(self) -> Expired | None:
        """One sweep now; ``None`` if it failed (logged; the next one tries again)."""
        try:
            done = expire_overdue(engine=self.engine, now=utcnow())
        except Exception as exc:  # noqa: BLE001 - a failed sweep is retried at the next interval
            log_event("expiry_sweep_failed", logging.WARNING, error=repr(exc))
            return None
        self.runs += 1
        if done.expired:
            log_event("sittings_expired", expired=done.expired, assessed=done.assessed)
        return done
