"""Load test: N simulated students take whole adaptive tests over HTTP against a real server.

    python bench/load.py                          # 500 students, SQLite, 1 worker
    python bench/load.py --db postgres --workers 2
    python bench/load.py --students 200 --think 0.5
    python bench/load.py --waves 6 --workers 2            # login waves only (issue 15's figure)
    python bench/load.py --waves 6 --workers 4 --db postgres

What it does
------------
1. Prepares a throwaway database (SQLite file, or a throwaway PostgreSQL server from
   ``tests/pgserver.py``): the starter bank, one school, ``2 N`` grade-8 students with a keyed
   PIN hash (``--legacy-pins``: argon2id at the old parameters, as before), and an open adaptive
   assessment with the default national blueprint (24-30 items, SE
   0.3, content rules, two pilot items) on the bank's provisional calibration.
2. Starts the app on a free loopback port as ``infolit serve`` does: uvicorn for one worker,
   ``web.workers`` (one ``SO_REUSEPORT`` socket per worker) for ``--workers N``.
3. Paced run: N students log in at once (the login wave: its p99 is the figure to hold under
   1 s), start, and answer every item with a think time drawn
   around ``--think`` seconds, until the test ends. This is the "500 students at once" case:
   the answer latency p50/p95/p99 is the figure to hold under 200 ms.
4. Flat-out run: N other students answer with no think time at all, which measures the most
   answers per second the server sustains.
5. Counts the answers acknowledged (HTTP 200) against the rows stored: they must match.
6. Serves a bare Litestar JSON endpoint the same way and measures its requests per second with
   the same client, as the ceiling of the HTTP stack on this machine.

With ``--waves K`` it runs login waves only: K waves, each of N students not yet logged in
(connected first, so a wave measures logins, not TCP handshakes), all sending their login at
once; per wave it prints the wall-clock time, p50/p99/max latency, the server's CPU per login
(the app workers; on PostgreSQL its backends too, apart) and the machine's load average. The
target is p99 < 1 s in every wave. ``bench/login.py --round-trips`` counts the database round
trips of one login.

The client (one asyncio process with a minimal HTTP/1.1 keep-alive client per student, or httpx
with ``--client httpx``) runs on the same 2 cores and takes its share of the CPU: the figures are
a lower bound for a server with the machine to itself. The server's and the client's CPU time
per answer are printed for the flat-out run, so the server's own cost can be read off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import msgspec

try:  # the load client runs on uvloop when it is there (uvicorn's own event loop)
    import uvloop
except ImportError:  # pragma: no cover
    uvloop = None  # type: ignore[assignment]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return uvloop.run(coro) if uvloop is not None else asyncio.run(coro)


REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

T = TypeVar("T")
PIN = "135790"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# ------------------------------------------------------------------------------------- bare endpoint
def _bare() -> Any:
    from litestar import Litestar, get

    @get("/ping", sync_to_thread=False)
    def ping() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar([ping], logging_config=None)


bare_app = _bare()  # uvicorn bench.load:bare_app


# ------------------------------------------------------------------------------------- preparation
@dataclass
class Prepared:
    url: str
    tickets: list[str]
    assessment_id: int
    cleanup: list[Any] = field(default_factory=list)
    db_pid: int | None = None  # PostgreSQL's postmaster (its backends are its children)
    pg: Any = None  # the throwaway PostgreSQL server (tests/pgserver.PgServer), when --db postgres


def prepare(
    db: str, n_students: int, workdir: Path, *, legacy_pins: bool = False, total: int | None = None
) -> Prepared:
    from sqlmodel import select

    from assess.keys import new_key_text

    # one server key for this process and the server it starts (the PIN hashes are keyed with it)
    os.environ.setdefault("INFOLIT_SERVER_KEYS", new_key_text("bench"))

    from assess.blueprints import default_blueprint
    from assess.models import Area, Assessment, BlueprintRow, School, SchoolClass
    from assess.registration import pin_hasher
    from assess.simulate.pipeline import ensure_bank
    from itembank.db import bulk_insert, make_engine, session_scope
    from itembank.models import PROVISIONAL, Calibration, utcnow
    from web import migrate

    cleanup: list[Any] = []
    from tests import pgserver

    url, server = pgserver.bench_database(db, workdir, cleanup)
    # PostgreSQL's postmaster (its backends are its children), for their CPU time
    db_pid = None if server is None else int((server.datadir / "postmaster.pid").read_text().split()[0])
    engine = make_engine(url)
    migrate.upgrade(engine)
    now = utcnow()
    with session_scope(engine) as s:
        ensure_bank(session=s)
    with session_scope(engine) as s:
        cal = int(s.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one() or 0)
        province = Area(code="98", name="压测省", level="province", region="中部", path="/98/")
        s.add(province)
        s.flush()
        county = Area(
            code="980101", name="压测区", level="county", region="中部", path="/98/980101/", parent_id=province.id
        )
        s.add(county)
        s.flush()
        school = School(
            code="SBENCH", name="压测中学", locale="urban", area_id=int(county.id or 0), path="/98/980101/SBENCH/"
        )
        s.add(school)
        s.flush()
        klass = SchoolClass(school_id=int(school.id or 0), grade=8, name="8年级1班")
        s.add(klass)
        s.flush()
        if legacy_pins:  # the argon2id hash PINs had before the keyed one (verified, then upgraded, at login)
            from argon2 import PasswordHasher

            from assess.pins import LEGACY_PIN_HASH_PARAMETERS

            pin_hash = PasswordHasher(**LEGACY_PIN_HASH_PARAMETERS).hash(PIN)
        else:
            pin_hash = pin_hasher().hash(PIN)  # what registration stores
        tickets = [f"B{i:08d}" for i in range(2 * n_students if total is None else total)]
        rows = [
            {
                "code": f"BENCH{i:06d}",
                "grade": 8,
                "gender": "FM"[i % 2],
                "ticket": t,
                "school_id": school.id,
                "class_id": klass.id,
                "pin_hash": pin_hash,
                "path": school.path,
                "created_at": now,
            }
            for i, t in enumerate(tickets)
        ]
        from assess.models import Student

        bulk_insert(s, Student.__table__, rows)  # type: ignore[attr-defined]
        assessment = Assessment(
            code="BENCH",
            name="压测",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            grades=[8],
            calibration_id=cal,
        )
        s.add(assessment)
        s.flush()
        s.add(
            BlueprintRow(
                assessment_id=int(assessment.id or 0),
                grade_band="7-9",
                mode="adaptive",
                spec=default_blueprint().to_json(),
            )
        )
        assessment_id = int(assessment.id or 0)
    engine.dispose()
    return Prepared(url, tickets, assessment_id, cleanup, db_pid, server)


def stored_answers(url: str, assessment_id: int) -> int:
    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from assess.models import Response, TestSession
    from itembank.db import make_engine

    engine = make_engine(url)
    with Session(engine) as s:
        n = s.exec(
            select(func.count(col(Response.id)))
            .join(TestSession, col(TestSession.id) == Response.session_id)
            .where(TestSession.assessment_id == assessment_id)
        ).one()
    engine.dispose()
    return int(n)


# ------------------------------------------------------------------------------------- server
def server_env(prepared: Prepared, workdir: Path) -> dict[str, str]:
    """The settings of a benchmark server over the prepared database (the per-address login limit out of the way)."""
    return {
        "INFOLIT_DATABASE_URL": prepared.url,
        "INFOLIT_SECRET_KEY": "bench-secret-key-of-at-least-32-bytes",
        "INFOLIT_DATA_DIR": str(workdir),
        "INFOLIT_LOGIN_MAX_FAILURES_PER_IP": "100000",
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(app: str, env: dict[str, str], workers: int, log: Path, *, factory: bool) -> tuple[Any, str]:
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "4096",
        "--timeout-keep-alive",
        "120",
    ]
    if factory:
        args.append("--factory")
    if workers > 1:  # as `infolit serve --workers N`: one SO_REUSEPORT socket per worker (web/workers.py)
        args = [sys.executable, "-m", "web.workers", app, "--host", "127.0.0.1", "--port", str(port)]
        args += ["--workers", str(workers), "--backlog", "4096", "--timeout-keep-alive", "120"]
        args += ["--factory"] if factory else []
    out = log.open("w")
    proc = subprocess.Popen(args, cwd=REPO, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    probe = "/healthz" if factory else "/ping"
    for _ in range(300):
        try:
            if httpx.get(base + probe, timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"server failed to start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)
    raise SystemExit("server did not start")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total


def _spy(out: str, pid: int) -> Any:
    """Start py-spy sampling ``pid`` and its children into ``out`` (collapsed stacks); SIGINT ends it."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [exe, "record", "-p", str(pid), "-o", out, "--format", "raw", "--rate", "250"]
        + ["--nonblocking", "--subprocesses"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_server(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


# ------------------------------------------------------------------------------------- students
@dataclass
class Tally:
    answer_ms: list[float] = field(default_factory=list)
    login_ms: list[float] = field(default_factory=list)
    sent: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    finished: int = 0
    first: float = 0.0
    last: float = 0.0
    login_seconds: float = 0.0
    login_cpu: float = 0.0  # the server's CPU over the login wave
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    db_cpu: float = 0.0

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


def pick(item: dict[str, Any], rnd: random.Random) -> Any:
    """A random answer a student could give, from what the API shows of the item (every type of the bank)."""
    kind, shown = item["type"], item.get("interaction") or {}
    values = [o["value"] for o in item.get("options") or []]
    if kind == "partial_credit":
        return [rnd.choice(p["options"])["value"] for p in item["parts"]]
    if kind == "multiple_response":
        return sorted(rnd.sample(values, rnd.randint(1, len(values))))
    if kind == "ordering":
        return rnd.sample(values, len(values))
    if kind == "matching":
        return {v: rnd.choice(shown["targets"])[0] for v in values}
    if kind == "inline_choice":
        return {seg["gap"]: rnd.choice(seg["options"])[0] for seg in shown["segments"] if isinstance(seg, dict)}
    if kind == "entry":
        return (
            str(rnd.randint(0, 100)) if shown.get("inputmode") == "decimal" else rnd.choice(["二维码", "网址", "密码"])
        )
    if kind == "hotspot":
        keys = [r["key"] for r in shown["regions"]]
        return rnd.sample(keys, rnd.randint(1, min(2, len(keys))))
    if kind == "inbox_sim":
        return {m["key"]: rnd.choice(shown["actions"])[0] for m in shown["messages"]}
    if kind == "search_sim":
        query = rnd.sample(shown["words"], min(2, len(shown["words"])))
        chosen = rnd.choice(list(shown["results"]))
        return {"query": query, "chosen": chosen, "opened": [chosen], "searches": [query]}
    return rnd.choice(values)


class _Http1(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: collects a response with a Content-Length."""

    def __init__(self) -> None:
        self.transport: Any = None  # uvloop's transports do not derive from asyncio.Transport
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.waiter is None or self.waiter.done():
            return
        head = bytes(self.buffer[:end]).lower() + b"\r\n"
        at = head.find(b"content-length:")
        length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        self.waiter.set_result((int(head[9:12]), body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionResetError("the server closed the connection"))


class RawClient:
    """A minimal HTTP/1.1 keep-alive JSON client on an asyncio protocol (one connection), for when
    httpx's own cost would hide the server's: ``--client raw``. JSON via msgspec."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.conn: _Http1 | None = None
        self.prefix = f" HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        try:
            return await self._request(method, path, body, headers)
        except ConnectionError:
            # the server closed an idle keep-alive connection: open a new one and send again
            # (every call here is safe to repeat: the same answer again is a no-op)
            await self.aclose()
            return await self._request(method, path, body, headers)

    async def _request(self, method: str, path: str, body: Any, headers: dict[str, str] | None) -> tuple[int, Any]:
        conn = self.conn
        if conn is None or conn.transport is None:
            loop = asyncio.get_running_loop()
            _, conn = await loop.create_connection(_Http1, self.host, self.port)
            self.conn = conn
        assert conn.transport is not None
        payload = b"" if body is None else _encode(body)
        head = [method.encode(), b" ", path.encode(), self.prefix, b"Content-Length: %d\r\n" % len(payload)]
        if body is not None:
            head.append(b"Content-Type: application/json\r\n")
        for k, v in (headers or {}).items():
            head.append(f"{k}: {v}\r\n".encode())
        head += [b"\r\n", payload]
        conn.waiter = asyncio.get_running_loop().create_future()
        conn.transport.write(b"".join(head))
        status, data = await conn.waiter
        return status, (_decode(data) if data else None)

    async def aclose(self) -> None:
        if self.conn is not None and self.conn.transport is not None:
            self.conn.transport.close()
        self.conn = None


class HttpxClient:
    """One httpx AsyncClient per simulated student (one device, one connection)."""

    def __init__(self, base: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base, timeout=120, limits=httpx.Limits(max_connections=1), verify=False, trust_env=False
        )

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        r = await self.client.request(method, path, json=body, headers=headers)
        return r.status_code, (r.json() if r.content else None)

    async def aclose(self) -> None:
        await self.client.aclose()


CLIENTS: dict[str, type[RawClient] | type[HttpxClient]] = {"httpx": HttpxClient, "raw": RawClient}


async def log_in(client: Any, ticket: str, tally: Tally) -> dict[str, str] | None:
    """Log in; return the auth header (``None`` on an error)."""
    t0 = time.perf_counter()
    status, body = await client.request("POST", "/api/v1/login", {"ticket": ticket, "pin": PIN})
    tally.login_ms.append((time.perf_counter() - t0) * 1000)
    if status != 200:
        tally.error(f"login {status}")
        return None
    return {"Authorization": f"Bearer {body['token']}"}


async def start(
    client: Any, headers: dict[str, str] | None, tally: Tally
) -> tuple[dict[str, str], dict[str, Any]] | None:
    """Start the test; return the new auth header and the first state (``None`` on an error)."""
    if headers is None:
        return None
    status, body = await client.request("POST", "/api/v1/start", None, headers)
    if status != 200:
        tally.error(f"start {status}")
        return None
    return {"Authorization": f"Bearer {body['token']}"}, body["sitting"]


async def take_test(
    client: Any, headers: dict[str, str], state: dict[str, Any], think: float, tally: Tally, rnd: random.Random
) -> None:
    """Answer every item until the test ends (after an optional think time each)."""
    while state["status"] == "in_progress":
        if think:
            await asyncio.sleep(rnd.uniform(0.5 * think, 1.5 * think))
        item = state["item"]
        t = time.perf_counter()
        status, body = await client.request(
            "POST", "/api/v1/answer", {"item_id": item["id"], "answer": pick(item, rnd)}, headers
        )
        done = time.perf_counter()
        if status != 200:
            tally.error(f"answer {status}")
            return
        tally.answer_ms.append((done - t) * 1000)
        tally.sent += 1
        tally.first = tally.first or t
        tally.last = done
        state = body
    tally.finished += 1


async def run_students(
    base: str,
    tickets: list[str],
    think: float,
    seed: int,
    kind: str,
    server_pid: int | None = None,
    db_pid: int | None = None,
    wave_pid: int | None = None,
) -> Tally:
    """All students log in at once (the login wave), then all start, then all take the test at once."""
    tally = Tally()
    rnd = random.Random(seed)
    clients = [CLIENTS[kind](base) for _ in tickets]
    try:
        for c in clients:  # connect first: the wave measures logins, not TCP handshakes
            await c.request("GET", "/healthz")
        wave0 = cpu_seconds(wave_pid) if wave_pid else 0.0
        t0 = time.perf_counter()
        headers = await asyncio.gather(*(log_in(c, t, tally) for c, t in zip(clients, tickets, strict=True)))
        tally.login_seconds = time.perf_counter() - t0
        tally.login_cpu = cpu_seconds(wave_pid) - wave0 if wave_pid else 0.0
        signed = await asyncio.gather(*(start(c, h, tally) for c, h in zip(clients, headers, strict=True)))
        server0 = cpu_seconds(server_pid) if server_pid else 0.0
        db0 = cpu_seconds(db_pid) if db_pid else 0.0
        client0 = time.process_time()
        await asyncio.gather(
            *(
                take_test(c, s[0], s[1], think, tally, random.Random(rnd.random()))
                for c, s in zip(clients, signed, strict=True)
                if s is not None
            )
        )
        if server_pid:
            tally.server_cpu = cpu_seconds(server_pid) - server0
            tally.client_cpu = time.process_time() - client0
            tally.db_cpu = cpu_seconds(db_pid) - db0 if db_pid else 0.0
    finally:
        for c in clients:
            await c.aclose()
    return tally


@dataclass
class Wave:
    """One login wave: latencies, wall-clock, CPU of the server (and PostgreSQL), the load average."""

    login_ms: list[float]
    seconds: float
    server_cpu: float
    db_cpu: float
    client_cpu: float
    load_before: float
    load_after: float
    errors: dict[str, int]


def load_average() -> float:
    """The machine's 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


async def login_wave(base: str, tickets: list[str], kind: str, server_pid: int, db_pid: int | None) -> Wave:
    """All ``tickets`` log in at once (each on its own connection, opened beforehand)."""
    tally = Tally()
    clients = [CLIENTS[kind](base) for _ in tickets]
    try:
        for c in clients:
            await c.request("GET", "/healthz")
        load0 = load_average()
        server0, db0 = cpu_seconds(server_pid), cpu_seconds(db_pid) if db_pid else 0.0
        client0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.gather(*(log_in(c, t, tally) for c, t in zip(clients, tickets, strict=True)))
        seconds = time.perf_counter() - t0
        server = cpu_seconds(server_pid) - server0
        db_cpu = cpu_seconds(db_pid) - db0 if db_pid else 0.0
        client = time.process_time() - client0
    finally:
        for c in clients:
            await c.aclose()
    return Wave(tally.login_ms, seconds, server, db_cpu, client, load0, load_average(), tally.errors)


def run_waves(args: argparse.Namespace) -> int:
    """``--waves K``: K login waves of ``--students`` each, nothing else; 0 if every wave met p99 < 1 s."""
    n, k = args.students, args.waves
    workdir = Path(tempfile.mkdtemp(prefix="infolit-waves-"))
    print(
        f"login waves: {k} waves of {n} students at once, {args.workers} worker(s), {args.db}, {args.client} client, "
        f"on {os.cpu_count()} CPUs; load average {Path('/proc/loadavg').read_text().split()[:3]}"
    )
    t0 = time.perf_counter()
    prepared = prepare(args.db, n, workdir, legacy_pins=args.legacy_pins, total=n * k)
    print(f"  prepared {len(prepared.tickets)} students in {time.perf_counter() - t0:.1f} s ({workdir})")
    env = server_env(prepared, workdir)
    waves: list[Wave] = []
    try:
        proc, base = start_server("web.app:create_app", env, args.workers, workdir / "server.log", factory=True)
        try:
            time.sleep(1.0)  # let every worker finish starting up
            spy = _spy(args.spy, proc.pid) if args.spy else None
            for i in range(k):
                wave = _run(
                    login_wave(base, prepared.tickets[i * n : (i + 1) * n], args.client, proc.pid, prepared.db_pid)
                )
                waves.append(wave)
                ms = wave.login_ms
                db = f", PostgreSQL {1000 * wave.db_cpu / n:.2f} ms" if prepared.db_pid else ""
                print(
                    f"  wave {i + 1}: {n} logins in {wave.seconds:.2f} s; latency ms p50 {q(ms, 50):.0f}  "
                    f"p99 {q(ms, 99):.0f}  max {max(ms, default=0):.0f}; CPU per login: server "
                    f"{1000 * wave.server_cpu / n:.2f} ms{db}, client {1000 * wave.client_cpu / n:.2f} ms; "
                    f"load {wave.load_before:.2f} -> {wave.load_after:.2f}"
                    + (f"; errors {wave.errors}" if wave.errors else "")
                )
                time.sleep(1.0)
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
                print(f"  server profile of the waves (py-spy, collapsed stacks): {args.spy}")
        finally:
            stop_server(proc)
    finally:
        for fn in prepared.cleanup:
            fn()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    p99s = [q(w.login_ms, 99) for w in waves]
    met = sum(p < 1000 for p in p99s)
    ok = met == len(waves) and not any(w.errors for w in waves)
    print(
        f"  target p99 < 1 s in every wave: {'met' if ok else 'MISSED'} ({met} of {len(waves)} waves; "
        f"p99 {min(p99s):.0f}-{max(p99s):.0f} ms)"
    )
    return 0 if ok else 1


async def hammer(base: str, path: str, concurrency: int, seconds: float, kind: str) -> tuple[int, float]:
    count = 0
    end = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        client = CLIENTS[kind](base)
        try:
            while time.perf_counter() < end:
                status, _ = await client.request("GET", path)
                count += status == 200
        finally:
            await client.aclose()

    t0 = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    return count, time.perf_counter() - t0


def q(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def report(name: str, tally: Tally) -> None:
    span = max(tally.last - tally.first, 1e-9)
    a = tally.answer_ms
    print(
        f"  {name}: {tally.finished} students finished, {tally.sent} answers in {span:.1f} s "
        f"= {tally.sent / span:,.0f} answers/s"
    )
    print(
        f"    answer latency ms: p50 {q(a, 50):.1f}  p95 {q(a, 95):.1f}  p99 {q(a, 99):.1f}"
        f"  max {max(a, default=0):.1f}  (mean {statistics.fmean(a) if a else 0:.1f})"
    )
    cpu = f"; server CPU {1000 * tally.login_cpu / len(tally.login_ms):.1f} ms per login" if tally.login_cpu else ""
    print(
        f"    login wave: {len(tally.login_ms)} logins at once in {tally.login_seconds:.2f} s; "
        f"login latency ms p50 {q(tally.login_ms, 50):.0f}  p99 {q(tally.login_ms, 99):.0f}{cpu}"
    )
    if tally.server_cpu and tally.sent:
        print(
            f"    CPU per answer: server {1000 * tally.server_cpu / tally.sent:.2f} ms "
            f"(= {tally.sent / tally.server_cpu:,.0f} answers per CPU-second), "
            f"load client {1000 * tally.client_cpu / tally.sent:.2f} ms"
            + (f", PostgreSQL {1000 * tally.db_cpu / tally.sent:.2f} ms" if tally.db_cpu else "")
        )
    if tally.errors:
        print(f"    errors: {tally.errors}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--think",
        type=float,
        default=10.0,
        help="mean think time per item in the paced run, s (real students take 30-60 s)",
    )
    parser.add_argument("--bare-seconds", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="raw",
        help="a minimal raw HTTP/1.1 keep-alive client (0.2 ms CPU per answer), or httpx's AsyncClient "
        "(one per student; about 1 ms CPU per request, which then caps what is measured)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (database, server log)")
    parser.add_argument(
        "--legacy-pins", action="store_true", help="store argon2id PIN hashes (as before the keyed hash) to compare"
    )
    parser.add_argument("--spy", metavar="FILE", help="record a py-spy profile of the server's flat-out run to FILE")
    parser.add_argument(
        "--waves", type=int, default=0, metavar="K", help="login waves only: K waves of --students logins at once"
    )
    args = parser.parse_args(argv)
    if args.waves:
        return run_waves(args)

    workdir = Path(tempfile.mkdtemp(prefix="infolit-load-"))
    print(
        f"load test: {args.students} students, {args.workers} worker(s), {args.db}, {args.client} client, "
        f"{'argon2id' if args.legacy_pins else 'keyed'} PINs, on {os.cpu_count()} CPUs"
    )
    t0 = time.perf_counter()
    prepared = prepare(args.db, args.students, workdir, legacy_pins=args.legacy_pins)
    print(f"  prepared {len(prepared.tickets)} students in {time.perf_counter() - t0:.1f} s ({workdir})")
    env = server_env(prepared, workdir)
    ok = True
    try:
        proc, base = start_server("web.app:create_app", env, args.workers, workdir / "server.log", factory=True)
        try:
            paced_tickets = prepared.tickets[: args.students]
            flat_tickets = prepared.tickets[args.students :]
            wave_pid = proc.pid  # its CPU and its workers'
            paced = _run(run_students(base, paced_tickets, args.think, args.seed, args.client, wave_pid=wave_pid))
            report(f"paced run (think ~{args.think:g} s per item)", paced)
            # sample the server during the flat-out run (one worker: uvicorn's own process)
            spy = _spy(args.spy, proc.pid) if args.spy else None
            flat = _run(run_students(base, flat_tickets, 0.0, args.seed + 1, args.client, proc.pid, prepared.db_pid))
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
                print(f"  server profile of the flat-out run (py-spy, collapsed stacks): {args.spy}")
            report("flat-out run (no think time)", flat)
        finally:
            stop_server(proc)
        stored = stored_answers(prepared.url, prepared.assessment_id)
        sent = paced.sent + flat.sent
        print(f"  answers acknowledged {sent:,}, stored {stored:,}: {'match' if sent == stored else 'MISMATCH'}")
        ok = sent == stored and not paced.errors and not flat.errors
        proc, base = start_server("bench.load:bare_app", {}, args.workers, workdir / "bare.log", factory=False)
        try:
            n, secs = _run(hammer(base, "/ping", min(args.students, 100), args.bare_seconds, args.client))
        finally:
            stop_server(proc)
        print(f"  bare Litestar JSON endpoint, same client and workers: {n / secs:,.0f} requests/s")
        target = q(paced.answer_ms, 99) < 200
        rate = flat.sent / max(flat.last - flat.first, 1e-9)
        wave = q(paced.login_ms, 99)
        print(
            f"  target p99 < 200 ms with {args.students} students: {'met' if target else 'MISSED'}; "
            f"target >= 1,500 answers/s flat out: {'met' if rate >= 1500 else 'missed'}"
        )
        print(
            f"  target login wave of {args.students} at once, p99 < 1 s: {'met' if wave < 1000 else 'MISSED'} "
            f"(p99 {wave:.0f} ms; the whole wave {paced.login_seconds:.2f} s)"
        )
    finally:
        for fn in prepared.cleanup:
            fn()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
