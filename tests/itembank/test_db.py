from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from itembank.db import dialect_name, make_engine, session_scope
from web import migrate


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(f"sqlite:///{tmp_path / 'x' / 'a.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


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
