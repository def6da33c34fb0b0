from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from itembank.db import AUTO_CHECKPOINT_PAGES, WalCheckpointer, dialect_name, make_engine, session_scope
from web import migrate


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x' / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_wal_checkpointer_copies_the_wal_in_its_own_thread(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.connect() as conn:  # SQLite's own checkpoint waits for a much larger WAL
        assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == AUTO_CHECKPOINT_PAGES
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (v TEXT)"))
    for i in range(50):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO scratch VALUES (:v)"), {"v": "x" * 2000 + str(i)})
    checkpointer = WalCheckpointer(engine, interval=0.05)
    done = checkpointer.checkpoint()
    assert done is not None
    busy, wal_pages, copied = done
    assert busy == 0 and wal_pages > 50 and copied == wal_pages  # everything reached the database file
    checkpointer.start()
    assert checkpointer.start() is checkpointer  # idempotent: one thread
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO scratch VALUES ('more')"))
    runs = checkpointer.runs
    deadline = time.monotonic() + 10
    while checkpointer.runs == runs and time.monotonic() < deadline:
        time.sleep(0.02)
    checkpointer.stop()
    checkpointer.stop()
    assert checkpointer.runs > runs
    assert not any(t.name == "infolit-wal-checkpoint" for t in threading.enumerate())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scratch")).scalar() == 51
    engine.dispose()


def test_wal_checkpointer_is_a_no_op_elsewhere(engine: Engine) -> None:
    checkpointer = WalCheckpointer(make_engine("sqlite://"), interval=0.01).start()
    assert checkpointer._thread is None  # an in-memory database has no WAL
    if dialect_name(engine) == "postgresql":
        assert WalCheckpointer(engine).start()._thread is None


def test_unsupported_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        make_engine("mysql://u@h/db")


def test_migrations_reach_head(engine: Engine) -> None:
    assert dialect_name(engine) in {"sqlite", "postgresql"}
    assert migrate.current_revision(engine) is not None
    migrate.upgrade(engine)  # upgrading an up-to-date database is a no-op


def test_session_scope_rolls_back_on_error(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (v INTEGER)"))
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        session.execute(text("INSERT INTO scratch VALUES (1)"))
        raise RuntimeError("boom")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM scratch")).scalar() == 0


def test_bulk_insert_stores_what_the_orm_would(engine: Engine) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session, select

    from assess.models import Area
    from itembank.db import bulk_insert

    when = datetime(2026, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
    with Session(engine) as session:
        session.add(Area(code="11", name="北京市", level="province", region="东部", path="/11/"))
        session.commit()
        from itembank.models import Calibration

        session.add(Calibration(name="orm", created_at=when))
        session.commit()
        n = bulk_insert(
            session,
            Calibration.__table__,
            [
                {
                    "name": "bulk",
                    "status": "draft",
                    "source": "",
                    "latent_mean": 0.0,
                    "latent_sd": 1.0,
                    "created_at": when,
                },
            ],
        )
        session.commit()
        assert n == 1
        rows = {c.name: c for c in session.exec(select(Calibration)).all()}
    assert rows["bulk"].created_at == rows["orm"].created_at == when
    with engine.connect() as conn:
        raw = conn.execute(text("SELECT name, CAST(created_at AS TEXT) FROM calibration ORDER BY name")).all()
    assert raw[0][1] == raw[1][1], raw  # the same stored text, so SQL comparisons agree


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import stat

    old = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite:///{tmp_path / 'private.db'}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (v TEXT)"))
            conn.execute(text("INSERT INTO t VALUES ('pin hashes live here')"))
            for name in ("private.db", "private.db-wal"):
                assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        engine.dispose()
    finally:
        os.umask(old)
    existing = tmp_path / "existing.db"
    existing.touch(mode=0o640)
    make_engine(f"sqlite:///{existing}").dispose()
    assert stat.S_IMODE(existing.stat().st_mode) == 0o640  # an operator's choice is kept
