"""A throwaway PostgreSQL server for the test run, from Debian's packages.

``start()`` runs ``initdb`` in a temporary folder and ``pg_ctl start`` on a free loopback port
(as the ``postgres`` system user when the tests run as root, since PostgreSQL refuses root), and
returns a handle that stops the server and removes the folder. ``find_bindir()`` says whether a
server is installed at all, so the suite can skip the ``postgres`` tests with a clear reason.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, or ``None`` if no server is installed."""
    env = os.environ.get("INFOLIT_PG_BINDIR")
    candidates = [env] if env else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgServer:
    """A running server: ``url(dbname)`` gives an SQLAlchemy URL for one of its databases."""

    bindir: Path
    datadir: Path
    port: int
    user: str
    run_as: list[str]

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start(bindir: Path, *, durable: bool = False) -> PgServer:
    """Initialise and start a server; raise ``RuntimeError`` with the server's output on failure.

    Tests run without fsync (a throwaway server); ``durable=True`` keeps PostgreSQL's defaults
    (fsync, synchronous commit, full page writes), as benchmarks must.
    """
    root = Path(tempfile.mkdtemp(prefix="infolit-pg-"))
    datadir = root / "data"
    run_as: list[str] = []
    user = os.environ.get("USER") or "postgres"
    if os.geteuid() == 0:
        run_as = ["runuser", "-u", "postgres", "--"]
        user = "postgres"
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
    port = _free_port()
    init = subprocess.run(
        [
            *run_as,
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ],
        capture_output=True,
        text=True,
    )
    if init.returncode != 0:
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    run = subprocess.run(
        [*run_as, str(bindir / "pg_ctl"), "-D", str(datadir), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
        raise RuntimeError(f"pg_ctl start failed: {run.stderr.strip()} {log[-2000:]}")
    return PgServer(bindir=bindir, datadir=datadir, port=port, user=user, run_as=run_as)


def bench_database(db: str, workdir: Path, cleanup: list[Callable[[], None]]) -> tuple[str, PgServer | None]:
    """A fresh, empty database for a benchmark: its URL, and the server when ``db`` is ``"postgres"``.

    PostgreSQL: a durable throwaway server (fsync and synchronous commit on) with a database
    ``bench``, its ``stop`` appended to ``cleanup``; otherwise a SQLite file in ``workdir``.
    """
    if db != "postgres":
        return f"sqlite:///{workdir / 'bench.db'}", None
    from sqlalchemy import create_engine, text

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql)")
    server = start(bindir, durable=True)
    cleanup.append(server.stop)
    admin = create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE bench"))
    admin.dispose()
    return server.url("bench"), server
