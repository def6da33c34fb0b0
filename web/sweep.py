"""A worker's background sweep: abandoned sittings are closed and scored now and then (:mod:`assess.expiry`).

Each worker runs one thread that calls :func:`assess.expiry.expire_overdue` every ``interval``
seconds (``INFOLIT_EXPIRE_EVERY_SECONDS``, default 300; 0 turns it off), the first time one
interval after start. Several workers sweeping at once is harmless: a sitting is ended once, in a
transaction of its own, and the others skip it.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.engine import Engine

from assess.expiry import Expired, expire_overdue
from itembank.models import utcnow
from web.logging import log_event

__all__ = ["ExpirySweeper"]


class ExpirySweeper:
    """Run :func:`assess.expiry.expire_overdue` every ``interval`` seconds in a thread (``start``/``stop``)."""

    def __init__(self, engine: Engine, interval: float) -> None:
        self.engine = engine
        self.interval = interval
        self.runs = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ExpirySweeper:
        """Start the thread (nothing when ``interval`` is 0 or less)."""
        if self._thread is None and self.interval > 0:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="infolit-expiry-sweep", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (a sweep under way finishes its current sitting first)."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            thread.join(timeout=30)

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

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sweep()
