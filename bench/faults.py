"""Faults under load: kill workers (SIGKILL) and restart PostgreSQL while students answer; lose nothing.

    python bench/faults.py                      # PostgreSQL, 3 workers, 200 students, 12 kills
    python bench/faults.py --db sqlite
    python bench/faults.py --students 300 --kills 20 --think 2

What it does
------------
1. Prepares a throwaway database as ``bench/load.py`` does (the starter bank, one school, students
   with an argon2 PIN, an open adaptive assessment) and starts ``infolit serve --workers N``'s
   supervisor (``web/workers.py``) on a free port.
2. Every student logs in, starts, and answers item after item with a think time around
   ``--think`` seconds, over ``bench/load.py``'s raw keep-alive HTTP client. A student behaves as a
   browser with a patient user: when a request fails (a reset or closed connection, a 5xx, a
   timeout) it sends the same answer again after a short pause, until it is acknowledged (200).
   Sending an answer again is harmless by design, so a retry after a lost acknowledgement is safe.
3. Meanwhile, at random moments, a random worker gets SIGKILL (``--kills`` times), and once, in the
   middle of the run, PostgreSQL itself is restarted (``pg_ctl restart -m immediate``: a crash and
   recovery; ``--pg-restart fast`` for a clean restart).
4. Afterwards every student logs in again (resuming its sitting) and answers until the sitting is
   finished: every session must be resumable and finishable.
5. Checks the database: every answer the client saw acknowledged is stored exactly once, for its
   session and item, with the value sent.

It prints answers sent (attempts), acknowledged, stored, duplicated and lost, sessions resumed and
finished, and the answer latency (first attempt to acknowledgement) overall and for answers begun
within two seconds of a kill or restart. The exit code is 1 if anything is lost or duplicated or a
session cannot be finished.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "bench"))  # after the repository: bench/reports.py is not the reports package

import load  # noqa: E402 - bench/load.py: its preparation, server start and HTTP client

_RETRY_PAUSE = (0.2, 1.0)  # seconds a student waits before sending a failed request again
_REQUEST_TIMEOUT = 30.0
_GIVE_UP = 180.0  # seconds of failures after which a student gives up on one request


# ------------------------------------------------------------------------------------- tallies
@dataclass
class Answer:
    """An answer the client saw acknowledged."""

    ticket: str
    item_id: int
    value: Any
    started: float
    acked: float


@dataclass
class Tally:
    """What the run saw."""

    attempts: int = 0
    acked: list[Answer] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    events: list[tuple[float, str]] = field(default_factory=list)  # (time, what): kills and restarts
    gave_up: int = 0
    resumed: int = 0
    finished: int = 0
    unfinished: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------- a patient student
class Client(load.RawClient):
    """``bench/load.py``'s raw HTTP/1.1 client without its own silent retry: :func:`patient` retries."""

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        return await self._request(method, path, body, headers)


async def patient(
    client: Any, tally: Tally, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, Any]:
    """Send until the server answers with something other than a failure (5xx, reset, timeout)."""
    first = time.perf_counter()
    while True:
        tally.attempts += method == "POST" and path == "/api/v1/answer"
        try:
            status, data = await asyncio.wait_for(client.request(method, path, body, headers), _REQUEST_TIMEOUT)
        except (TimeoutError, OSError) as exc:  # ConnectionError is an OSError
            tally.errors[f"{path} {type(exc).__name__}"] += 1
            await client.aclose()
        else:
            if status < 500:
                return status, data
            tally.errors[f"{path} {status}"] += 1
        if time.perf_counter() - first > _GIVE_UP:
            tally.gave_up += 1
            return 0, None
        await asyncio.sleep(random.uniform(*_RETRY_PAUSE))


async def sign_in(client: Any, ticket: str, tally: Tally) -> tuple[dict[str, str], dict[str, Any]] | str:
    """Log in and start (or resume): the auth header and where the sitting stands, or why not."""
    status, body = await patient(client, tally, "POST", "/api/v1/login", {"ticket": ticket, "pin": load.PIN})
    if status == 409 and "完成" in str((body or {}).get("detail", "")):
        return "finished"  # the login says the sitting is over: nothing to resume
    if status != 200:
        tally.errors[f"login {status}"] += 1
        return f"login {status}"
    headers = {"Authorization": f"Bearer {body['token']}"}
    status, body = await patient(client, tally, "POST", "/api/v1/start", None, headers)
    if status != 200:
        tally.errors[f"start {status}"] += 1
        return f"start {status}"
    return {"Authorization": f"Bearer {body['token']}"}, body["sitting"]


async def take_test(client: Any, ticket: str, think: float, tally: Tally, rnd: random.Random) -> str:
    """Answer until the sitting ends; returns its final status (or why it stopped)."""
    signed = await sign_in(client, ticket, tally)
    if isinstance(signed, str):
        return signed
    headers, state = signed
    while state["status"] == "in_progress":
        if think:
            await asyncio.sleep(rnd.uniform(0.5 * think, 1.5 * think))
        item = state["item"]
        value = load.pick(item, rnd)
        started = time.perf_counter()
        status, body = await patient(
            client, tally, "POST", "/api/v1/answer", {"item_id": item["id"], "answer": value}, headers
        )
        if status != 200:
            tally.errors[f"answer refused {status}: {(body or {}).get('detail', '')}"] += 1
            return f"answer {status}"
        tally.acked.append(Answer(ticket, int(item["id"]), value, started, time.perf_counter()))
        state = body
    return str(state["status"])


# ------------------------------------------------------------------------------------- faults
def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return out


def worker_pids(parent: int) -> list[int]:
    """The uvicorn workers of the ``web.workers`` supervisor: the children of its forkserver."""
    pids: list[int] = []
    for child in _children(parent):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"multiprocessing.forkserver" in cmdline:
            pids += _children(child)
    return pids


def restart_postgres(pg: Any, mode: str) -> float:
    """``pg_ctl restart`` the throwaway server; the seconds it took."""
    t0 = time.perf_counter()
    log = pg.datadir.parent / "log"  # the new postmaster writes there (a captured pipe would stay open)
    subprocess.run(
        [*pg.run_as, str(pg.bindir / "pg_ctl"), "-D", str(pg.datadir), "-l", str(log), "-m", mode, "-w", "restart"],
        check=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
    )
    return time.perf_counter() - t0


async def inflict(
    parent: int, pg: Any, kills: int, span: float, pg_mode: str, tally: Tally, rnd: random.Random
) -> None:
    """SIGKILL a random worker at ``kills`` random moments over ``span`` seconds; restart PostgreSQL once."""
    t0 = time.perf_counter()
    moments = sorted(rnd.uniform(0.05 * span, 0.95 * span) for _ in range(kills))
    plan: list[tuple[float, str]] = [(m, "kill") for m in moments]
    if pg is not None:
        plan.append((0.5 * span + rnd.uniform(-1.0, 1.0), "restart"))
    for at, what in sorted(plan):
        await asyncio.sleep(max(0.0, t0 + at - time.perf_counter()))
        if what == "restart":
            tally.events.append((time.perf_counter(), "postgres restart"))
            took = await asyncio.to_thread(restart_postgres, pg, pg_mode)
            tally.events.append((time.perf_counter(), f"postgres back after {took:.1f} s"))
            continue
        pids = worker_pids(parent)
        if not pids:
            continue
        victim = rnd.choice(pids)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            continue
        tally.events.append((time.perf_counter(), f"SIGKILL worker {victim}"))


async def run(base: str, tickets: list[str], parent: int, pg: Any, args: argparse.Namespace, tally: Tally) -> None:
    rnd = random.Random(args.seed)
    clients = [Client(base) for _ in tickets]
    span = args.think * 27  # about one adaptive test's worth of answers at this pace
    try:
        faults = asyncio.ensure_future(inflict(parent, pg, args.kills, span, args.pg_restart, tally, rnd))
        outcomes = await asyncio.gather(
            *(
                take_test(c, t, args.think, tally, random.Random(rnd.random()))
                for c, t in zip(clients, tickets, strict=True)
            )
        )
        await faults
        tally.errors.update(f"first pass ended: {o}" for o in outcomes if o != "finished")
        # every sitting can be resumed (a new login) and finished
        for c in clients:
            await c.aclose()
        clients = [Client(base) for _ in tickets]
        finals = await asyncio.gather(
            *(take_test(c, t, 0.0, tally, random.Random(rnd.random())) for c, t in zip(clients, tickets, strict=True))
        )
        tally.resumed = len(tickets)
        tally.finished = sum(f == "finished" for f in finals)
        tally.unfinished = [t for t, f in zip(tickets, finals, strict=True) if f != "finished"]
    finally:
        for c in clients:
            await c.aclose()


# ------------------------------------------------------------------------------------- checking
def stored_responses(url: str, assessment_id: int) -> list[tuple[str, int, Any]]:
    """Every stored response of the assessment: (ticket, item version id, value)."""
    from sqlmodel import Session, col, select

    from assess.models import Response, Student, TestSession
    from itembank.db import make_engine

    engine = make_engine(url)
    with Session(engine) as s:
        rows = s.exec(
            select(Student.ticket, Response.item_version_id, Response.answer)
            .join(TestSession, col(TestSession.id) == Response.session_id)
            .join(Student, col(Student.id) == TestSession.student_id)
            .where(TestSession.assessment_id == assessment_id)
        ).all()
    engine.dispose()
    return [(t, int(v), r.get("value") if isinstance(r, dict) else r) for t, v, r in rows]


def check(tally: Tally, stored: list[tuple[str, int, Any]]) -> tuple[int, int, int]:
    """(duplicated, lost, wrong value) over the acknowledged answers."""
    count = Counter((t, v) for t, v, _ in stored)
    value = {(t, v): x for t, v, x in stored}
    duplicated = sum(n - 1 for n in count.values() if n > 1)
    lost = wrong = 0
    for a in tally.acked:
        key = (a.ticket, a.item_id)
        if key not in value:
            lost += 1
        elif json.dumps(value[key], sort_keys=True) != json.dumps(a.value, sort_keys=True):
            wrong += 1
    return duplicated, lost, wrong


def latency_lines(tally: Tally) -> list[str]:
    ms = [(a.acked - a.started) * 1000 for a in tally.acked]
    moments = [t for t, what in tally.events if what.startswith(("SIGKILL", "postgres restart"))]
    near = [(a.acked - a.started) * 1000 for a in tally.acked if any(-2.0 <= a.started - m <= 2.0 for m in moments)]
    out = [
        f"  answer latency ms (first attempt to acknowledgement): p50 {load.q(ms, 50):.1f}  p99 {load.q(ms, 99):.1f}"
        f"  max {max(ms, default=0):.0f}  ({len(ms):,} answers)"
    ]
    if near:
        out.append(
            f"  within 2 s of a kill or restart: p50 {load.q(near, 50):.1f}  p99 {load.q(near, 99):.1f}"
            f"  max {max(near):.0f}  ({len(near):,} answers)"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="postgres")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--think", type=float, default=3.0, help="mean think time per item, s")
    parser.add_argument("--kills", type=int, default=12, help="SIGKILLs of a random worker (at least 10)")
    parser.add_argument("--pg-restart", choices=["immediate", "fast"], default="immediate")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, server log)")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="infolit-faults-"))
    print(
        f"faults: {args.students} students, {args.workers} workers, {args.db}, {args.kills} SIGKILLs"
        + (f", one PostgreSQL restart ({args.pg_restart})" if args.db == "postgres" else "")
        + f", think ~{args.think:g} s, on {os.cpu_count()} CPUs"
    )
    prepared = load.prepare(args.db, args.students, workdir)
    tickets = prepared.tickets[: args.students]
    env = load.server_env(prepared, workdir)
    tally = Tally()
    ok = False
    try:
        proc, base = load.start_server(
            "web.app:create_app", env, max(2, args.workers), workdir / "server.log", factory=True
        )
        t0 = time.perf_counter()
        try:
            load._run(run(base, tickets, proc.pid, prepared.pg, args, tally))
        finally:
            load.stop_server(proc)
        seconds = time.perf_counter() - t0
        stored = stored_responses(prepared.url, prepared.assessment_id)
        duplicated, lost, wrong = check(tally, stored)
        kills = sum(what.startswith("SIGKILL") for _, what in tally.events)
        restarts = [what for _, what in tally.events if what.startswith("postgres back")]
        print(f"  run: {seconds:.0f} s; {kills} workers killed" + (f"; {restarts[0]}" if restarts else ""))
        print(f"  answers sent {tally.attempts:,} (attempts, retries included), acknowledged {len(tally.acked):,}")
        print(f"  stored {len(stored):,}; duplicated {duplicated}; lost {lost}; stored with another value {wrong}")
        print(
            f"  sessions resumed {tally.resumed}, finished {tally.finished}"
            + (f"; NOT finished: {tally.unfinished[:5]}" if tally.unfinished else "")
        )
        for line in latency_lines(tally):
            print(line)
        failures = {k: v for k, v in tally.errors.items()}
        if failures:
            print(f"  failed attempts (each retried): {dict(sorted(failures.items()))}")
        if tally.gave_up:
            print(f"  requests given up after {_GIVE_UP:.0f} s of failures: {tally.gave_up}")
        ok = (
            duplicated == lost == wrong == 0
            and not tally.unfinished
            and not tally.gave_up
            and kills >= min(10, args.kills)
        )
        print(
            f"  {'PASS' if ok else 'FAIL'}: every acknowledged answer stored exactly once with its value, "
            "every session resumed and finished"
        )
    finally:
        for fn in prepared.cleanup:
            fn()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"  work folder: {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
