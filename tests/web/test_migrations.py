"""Upgrading a populated database to head loses nothing, from every earlier revision, on both databases.

For each revision R of ``web/migrations/versions`` (whatever revisions exist: a new migration is
covered without touching this test), a fresh database is upgraded one revision at a time from the
base to R, and after each step rows are added to every table that exists then, with values of
every column's type, foreign keys pointing at rows already there, and hostile text. Then it is
upgraded to head, and every row must still be there with every value it had (in the columns that
still exist).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from itembank.db import make_engine
from tests import pgserver
from web import migrate

ROWS_PER_STEP = 3
_T0 = dt.datetime(2025, 5, 1, 8, 30, tzinfo=dt.UTC)
_TEXTS = ["信息素养", "O'Brien; DROP TABLE x; --", '=HYPERLINK("x")', "\u202e反", "a\nb"]
# values that columns with a closed set of meanings take (the schema does not enforce them today)
_HINTS: dict[str, list[Any]] = {
    "level": ["province", "city", "county"],
    "region": ["东部", "中部", "西部"],
    "locale": ["urban", "town", "rural"],
    "sector": ["public", "private"],
    "gender": ["F", "M"],
    "status": ["in_progress", "finished", "operational", "draft"],
    "mode": ["adaptive", "booklets"],
    "role": ["admin", "researcher", "bureau", "school"],
}


def revisions() -> list[str]:
    """Every revision from the base to head, in order."""
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return [r.revision for r in reversed(list(script.walk_revisions()))]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A factory of URLs of new, empty (not migrated) databases of one kind."""
    made: list[str] = []
    if request.param == "sqlite":
        yield lambda: f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    admin = sa_create_engine(server.url(), isolation_level="AUTOCOMMIT")

    def make() -> str:
        name = f"m_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return server.url(name)

    try:
        yield make
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class _Filler:
    """Adds rows to every table, remembering each by its primary key with the values written."""

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.counter = 0
        self.written: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}

    def _value(self, column: sa.Column[Any], conn: Connection, metadata: sa.MetaData) -> Any:
        self.counter += 1
        n = self.counter
        for fk in column.foreign_keys:
            target = fk.column
            found = conn.execute(sa.select(target).order_by(sa.func.random()).limit(1)).scalar()
            if found is not None:
                return found
            return None if column.nullable else n
        kind = column.type
        if isinstance(kind, sa.Boolean):
            return n % 2 == 0
        if isinstance(kind, sa.Integer):
            return 1_000_000 + n
        if isinstance(kind, sa.Float | sa.Numeric):
            return n + 0.25
        if isinstance(kind, sa.DateTime):
            return _T0 + dt.timedelta(seconds=n, microseconds=123)
        if isinstance(kind, sa.LargeBinary):
            return bytes([n % 256]) + _TEXTS[n % len(_TEXTS)].encode() + b"\x00\xff"
        if isinstance(kind, sa.JSON):
            return {"n": n, "text": _TEXTS[n % len(_TEXTS)], "list": [n, None, 1.5]}
        if isinstance(kind, sa.String):
            limit = kind.length or 200
            hint = _HINTS.get(column.name)
            if hint is not None and not column.unique and not column.primary_key:
                return str(self.rnd.choice(hint))[:limit]
            token = f"{column.name[:3]}{n}"
            text_value = f"{token}{_TEXTS[n % len(_TEXTS)]}" if limit > 24 else token
            return text_value[:limit]
        raise AssertionError(f"no test value for {column.table.name}.{column.name} of type {kind!r}")

    def fill(self, engine: Engine) -> None:
        """``ROWS_PER_STEP`` new rows in every table (parents first)."""
        metadata = sa.MetaData()
        metadata.reflect(bind=engine)
        with engine.begin() as conn:
            for table in metadata.sorted_tables:
                if table.name == "alembic_version":
                    continue
                added = sum(self._row(conn, metadata, table) for _ in range(ROWS_PER_STEP))
                assert added, f"could not add a row to {table.name}"
                self._advance_sequences(conn, table)

    def _row(self, conn: Connection, metadata: sa.MetaData, table: sa.Table) -> bool:
        for attempt in range(40):  # another draw when a unique key clashes or a CHECK refuses the row
            values = {c.name: self._value(c, conn, metadata) for c in table.columns}
            if attempt:  # a CHECK may tie columns together (a role and its node): leave some nullable ones empty
                values.update({c.name: None for c in table.columns if c.nullable and self.rnd.random() < 0.5})
            try:
                with conn.begin_nested():
                    conn.execute(table.insert().values(**values))
            except IntegrityError:
                continue
            key = tuple(values[c.name] for c in table.primary_key.columns)
            self.written.setdefault(table.name, {})[key] = values
            return True
        return False

    @staticmethod
    def _advance_sequences(conn: Connection, table: sa.Table) -> None:
        """PostgreSQL: move serial sequences past the ids written, as the app's inserts would have."""
        if conn.dialect.name != "postgresql":
            return
        for column in table.primary_key.columns:
            if isinstance(column.type, sa.Integer):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', '{column.name}'), "
                        f'(SELECT max("{column.name}") FROM "{table.name}")) '
                        f"WHERE pg_get_serial_sequence('\"{table.name}\"', '{column.name}') IS NOT NULL"
                    )
                )


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _same(written: Any, read: Any) -> bool:
    if isinstance(written, dt.datetime) and isinstance(read, dt.datetime):
        return _utc(written) == _utc(read)
    if isinstance(written, dict | list):
        return json.dumps(written, sort_keys=True) == json.dumps(read, sort_keys=True)
    return bool(written == read)


def _check_everything_is_there(engine: Engine, written: dict[str, dict[tuple[Any, ...], dict[str, Any]]]) -> int:
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    checked = 0
    with engine.connect() as conn:
        for name, rows in written.items():
            assert name in metadata.tables, f"table {name} was dropped with {len(rows)} rows in it"
            table = metadata.tables[name]
            pk = list(table.primary_key.columns)
            for key, values in rows.items():
                found = conn.execute(sa.select(table).where(*(c == k for c, k in zip(pk, key, strict=True)))).first()
                assert found is not None, f"{name} row {key} is gone"
                row = found._mapping
                for column, value in values.items():
                    if column in table.columns:
                        assert _same(value, row[column]), f"{name} {key}: {column} {value!r} became {row[column]!r}"
                checked += 1
    return checked


def test_there_are_revisions_to_test() -> None:
    names = revisions()
    assert names[0] == "0001_itembank" and len(names) >= 4 and len(set(names)) == len(names)


@pytest.mark.parametrize("start", revisions())
def test_a_database_populated_up_to_a_revision_upgrades_to_head_with_nothing_lost(empty_url: Any, start: str) -> None:
    engine = make_engine(empty_url())
    try:
        filler = _Filler(seed=len(start))
        for revision in revisions()[: revisions().index(start) + 1]:
            migrate.upgrade(engine, revision)
            assert migrate.current_revision(engine) == revision
            filler.fill(engine)
        migrate.upgrade(engine)  # to head, in one go, as `infolit db upgrade` does
        assert migrate.current_revision(engine) == revisions()[-1]
        checked = _check_everything_is_there(engine, filler.written)
        assert checked == sum(len(rows) for rows in filler.written.values()) >= ROWS_PER_STEP * 10
        filler.fill(engine)  # the upgraded schema takes new rows too
    finally:
        engine.dispose()


def test_0009_judges_the_sittings_that_ended_before_it(empty_url: Any) -> None:
    """Ended sittings get ``assessed`` by their assessment's minimum; nothing stored changes."""
    from alembic import command

    from tests.web.conftest import build_world

    engine = make_engine(empty_url())
    try:
        migrate.upgrade(engine)
        world = build_world(engine)  # blueprints with min_items 9
        now = dt.datetime(2026, 5, 12, 8, 0)
        with engine.begin() as conn:
            for k, (status, n_scored, scale) in enumerate(
                [("finished", 0, 500.0), ("finished", 9, 530.0), ("expired", 4, 470.0), ("in_progress", 3, None)]
            ):
                conn.execute(
                    text(
                        "INSERT INTO test_session (assessment_id, student_id, status, seed, device, started_at, "
                        "position, n_scored, scale_score, level, passed) "
                        "VALUES (:a, :s, :status, 1, 'd', :now, :n, :n, :scale, :level, :passed)"
                    ),
                    {
                        "a": world.assessment_id,
                        "s": world.pupils[k].id,
                        "status": status,
                        "now": now,
                        "n": n_scored,
                        "scale": scale,
                        "level": None if scale is None else "良好",
                        "passed": None if scale is None else True,
                    },
                )
        cfg = migrate.alembic_config(engine.url.render_as_string(hide_password=False))
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.downgrade(cfg, "0004_login_failure")
        migrate.upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT status, n_scored, scale_score, level, assessed FROM test_session ORDER BY student_id")
            ).all()
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2], r[3], None if r[4] is None else bool(r[4])) for r in rows] == [
        ("finished", 0, 500.0, "良好", False),  # the empty hand-in the audit found: kept, but not counted
        ("finished", 9, 530.0, "良好", True),
        ("expired", 4, 470.0, "良好", False),
        ("in_progress", 3, None, None, None),
    ]
