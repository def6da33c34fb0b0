"""Shared fixtures: a fresh migrated database per test, on SQLite and (marker ``postgres``) PostgreSQL.

Tests that take the ``engine`` fixture run twice: once on a new SQLite file, once on a new
database of a throwaway PostgreSQL server that the session starts (skipped, with the reason, when
no server is installed: ``apt-get install postgresql``). Set ``INFOLIT_REQUIRE_POSTGRES=1`` (CI
does) to make a missing server an error instead of a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import Engine

from itembank.db import make_engine
from tests import pgserver

REPO = Path(__file__).resolve().parents[1]


# A fixed server key for every test process (PIN hashes, TOTP secrets: assess.keys); without it a
# PostgreSQL test would be refused, and a SQLite one would write a key file into the data folder.
os.environ.setdefault("INFOLIT_SERVER_KEYS", "t1:dGVzdC1zZXJ2ZXIta2V5LW5vdC1mb3ItcHJvZHVjdGlvbi0xMjM0")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgserver.PgServer]:
    bindir = pgserver.find_bindir()
    if bindir is None:
        if os.environ.get("INFOLIT_REQUIRE_POSTGRES") == "1":
            pytest.fail("INFOLIT_REQUIRE_POSTGRES=1 but no PostgreSQL server is installed")
        pytest.skip("PostgreSQL server not installed (apt-get install postgresql); postgres tests skipped")
    server = pgserver.start(bindir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: pgserver.PgServer) -> str:
    """A migrated template database; each test clones it (fast) instead of migrating again."""
    from web import migrate

    admin = sa_create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("CREATE DATABASE infolit_template"))
    admin.dispose()
    engine = make_engine(pg_server.url("infolit_template"))
    migrate.upgrade(engine)
    engine.dispose()
    return "infolit_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test copies it."""
    from web import migrate

    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "infolit.db"
        target.write_bytes(template.read_bytes())
        yield f"sqlite:///{target}"
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    template_name: str = request.getfixturevalue("pg_template")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa_create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    try:
        yield server.url(name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh, migrated database (SQLite and PostgreSQL)."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def env_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the process settings (CLI, app) at a fresh database and data folder."""
    from itembank import db, settings

    monkeypatch.setenv("INFOLIT_DATABASE_URL", db_url)
    monkeypatch.setenv("INFOLIT_DATA_DIR", str(tmp_path / "data"))
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        yield db_url
    finally:
        db.get_engine().dispose()
        settings.get_settings.cache_clear()
        db.get_engine.cache_clear()
