"""Benchmark: what a failed login costs, for an unknown ticket and for a wrong PIN (ticket enumeration).

    python bench/login.py [--tries 40] [--db sqlite|postgres]
    python bench/login.py --round-trips [--db sqlite|postgres]

Prepares ``bench/load.py``'s database (students whose PINs are hashed with the parameters
registration uses) and sends logins through the app over HTTP in process (Litestar's test
client): an unknown ticket, a known ticket with a wrong PIN, and the right PIN. Prints the
median and the 10th and 90th percentiles in milliseconds of each kind and whether the unknown
ticket and the wrong PIN got the same status and message. The audit saw 5 ms against 48 ms
before both were checked against an argon2 hash.

``--round-trips`` counts, for each kind, what one ``POST /api/v1/login`` asks of the database,
from the driver itself: on PostgreSQL the messages that wait for the server (a ``Sync`` or a
simple ``Query``, from libpq's protocol trace; every ``BEGIN`` and ``COMMIT`` included), on
SQLite the statements run (its trace callback; ``BEGIN`` and ``COMMIT`` included, the WAL
checkpoints of the server's own thread left out).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class RoundTrips:
    """Counts what every connection of an engine asks of its database (see the module docstring)."""

    def __init__(self, engine: Any, workdir: Path) -> None:
        self.statements: list[str] = []
        self.traces: list[Path] = []
        self.workdir = workdir
        event.listen(engine, "connect", self._connected)

    def _connected(self, dbapi_connection: Any, _record: Any) -> None:
        if hasattr(dbapi_connection, "set_trace_callback"):  # sqlite3
            dbapi_connection.set_trace_callback(self.statements.append)
            return
        from psycopg import pq

        path = self.workdir / f"libpq-{len(self.traces)}.trace"
        self.traces.append(path)
        out = path.open("w")
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        self._keep = [*getattr(self, "_keep", []), out]  # the file stays open as long as the trace

    def count(self) -> int:
        """Round trips so far."""
        n = sum(1 for s in self.statements if not s.startswith("PRAGMA wal_checkpoint"))
        for path in self.traces:
            for line in path.read_text(errors="replace").splitlines():
                fields = line.split("\t")
                if len(fields) > 2 and fields[0] == "F" and fields[2] in ("Sync", "Query"):
                    n += 1
        return n


def round_trips(db: str, tries: int) -> int:
    """``--round-trips``: what each kind of login asks of the database, per login."""
    from litestar.testing import TestClient

    from bench.load import PIN, prepare
    from itembank.db import make_engine
    from itembank.settings import Settings
    from web.app import create_app
    from web.security import WebSettings

    workdir = Path(tempfile.mkdtemp(prefix="infolit-trips-"))
    prepared = prepare(db, 2 * tries + 2, workdir)
    engine = make_engine(prepared.url)
    trips = RoundTrips(engine, workdir)
    settings = Settings(data_dir=workdir, database_url=prepared.url, secret_key="b" * 43)
    web = WebSettings(login_max_failures=10**6, login_max_failures_per_ip=10**6, expire_every_seconds=0)
    kinds = {
        "right PIN": lambda k: {"ticket": prepared.tickets[k], "pin": PIN},
        "wrong PIN": lambda k: {"ticket": prepared.tickets[tries + k], "pin": "246801"},
        "unknown ticket": lambda k: {"ticket": f"X{k:08d}", "pin": "246801"},
    }
    print(f"database round trips per POST /api/v1/login on {db} ({tries} logins of each kind, after a warm-up)")
    try:
        with TestClient(create_app(settings=settings, engine=engine, web=web)) as client:
            for name, body in kinds.items():  # warm up: the first of each kind fills what a worker keeps
                client.post("/api/v1/login", json=body(tries - 1 if name != "unknown ticket" else 10**7))
            for name, body in kinds.items():
                before = trips.count()
                statuses = {client.post("/api/v1/login", json=body(k)).status_code for k in range(tries - 1)}
                per = (trips.count() - before) / (tries - 1)
                print(f"  {name:15s} {per:5.2f} round trips per login (statuses {sorted(statuses)})")
    finally:
        engine.dispose()
        for stop in prepared.cleanup:
            stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=40)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--round-trips", action="store_true", help="count the database round trips of a login")
    args = parser.parse_args(argv)
    if args.round_trips:
        return round_trips(args.db, args.tries)

    from litestar.testing import TestClient

    from bench.load import PIN, prepare
    from itembank.db import make_engine
    from itembank.settings import Settings
    from web.app import create_app
    from web.security import WebSettings

    workdir = Path(tempfile.mkdtemp(prefix="infolit-login-"))
    prepared = prepare(args.db, args.tries + 1, workdir)
    engine = make_engine(prepared.url)
    settings = Settings(data_dir=workdir, database_url=prepared.url, secret_key="b" * 43)
    # limits out of the way: this measures the check, not the throttle
    web = WebSettings(login_max_failures=10**6, login_max_failures_per_ip=10**6)
    kinds = {
        "unknown ticket": lambda k: {"ticket": f"X{k:08d}", "pin": "246801"},
        "wrong PIN": lambda k: {"ticket": prepared.tickets[k], "pin": "246801"},
        "right PIN": lambda k: {"ticket": prepared.tickets[args.tries + 1 + k], "pin": PIN},
    }
    times: dict[str, list[float]] = {name: [] for name in kinds}
    answers: dict[str, set[tuple[int, str]]] = {name: set() for name in kinds}
    try:
        with TestClient(create_app(settings=settings, engine=engine, web=web)) as client:
            client.post("/api/v1/login", json=kinds["unknown ticket"](10**7))  # warm up (the dummy hash is made once)
            for k in range(args.tries):
                for name, body in kinds.items():
                    start = time.perf_counter()
                    response = client.post("/api/v1/login", json=body(k))
                    times[name].append((time.perf_counter() - start) * 1000)
                    answers[name].add((response.status_code, response.json().get("detail", "")))
    finally:
        engine.dispose()
        for stop in prepared.cleanup:
            stop()
    print(f"{args.tries} logins of each kind on {args.db} (argon2id as registration hashes PINs)")
    for name, values in times.items():
        q = statistics.quantiles(values, n=10)
        print(f"  {name:15s} median {statistics.median(values):6.1f} ms   p10 {q[0]:6.1f}   p90 {q[-1]:6.1f}")
    same = answers["unknown ticket"] == answers["wrong PIN"] and len(answers["wrong PIN"]) == 1
    print(f"  unknown ticket and wrong PIN answered the same: {'yes' if same else 'NO'} {sorted(answers['wrong PIN'])}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
