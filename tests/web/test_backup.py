"""Backup and restore of a live assessment with ``pg_dump`` and ``pg_restore`` (README, "Backup and restore").

Students are mid-test (one has answered three items, one has finished, one has only started)
when the database is dumped, as the README says to, while the app is running; the dump is
restored into a new database; every row of every table is the same there, and the students go
on from where they were on the restored database: the one mid-test resumes at the same item and
finishes, the finished one stays finished, new answers get new ids.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text

from itembank.db import make_engine
from tests import pgserver
from tests.web.conftest import Db, World, make_app
from tests.web.test_student_api import bearer, some_answer

pytestmark = pytest.mark.postgres


@pytest.fixture
def live_db(pg_server: pgserver.PgServer, pg_world: tuple[str, World]) -> Iterator[Db]:
    template, world = pg_world
    name = f"b_{uuid.uuid4().hex[:12]}"
    admin = sa_create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = make_engine(pg_server.url(name))
    try:
        yield Db(pg_server.url(name), engine, world)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}_restored" WITH (FORCE)'))
        admin.dispose()


def _sign_in(api: TestClient[Any], db: Db, n: int) -> tuple[dict[str, str], dict[str, Any]]:
    pupil = db.world.pupils[n]
    login = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin})
    assert login.status_code == 200, login.text
    started = api.post("/api/v1/start", headers=bearer(login.json()["token"]))
    assert started.status_code == 200, started.text
    return bearer(started.json()["token"]), started.json()["sitting"]


def _answer(api: TestClient[Any], headers: dict[str, str], state: dict[str, Any], n: int | None) -> dict[str, Any]:
    """Answer ``n`` items (all of them with ``None``); the state after."""
    while state["status"] == "in_progress" and (n is None or n > 0):
        item = state["item"]
        response = api.post(
            "/api/v1/answer", headers=headers, json={"item_id": item["id"], "answer": some_answer(item)}
        )
        assert response.status_code == 200, response.text
        state = response.json()
        n = None if n is None else n - 1
    return state


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    metadata = sa.MetaData()
    metadata.reflect(bind=engine)
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]
            for name, t in sorted(metadata.tables.items())
        }


def test_pg_dump_and_pg_restore_of_a_live_assessment(live_db: Db, pg_server: pgserver.PgServer, tmp_path: Path) -> None:
    with TestClient(make_app(live_db, tmp_path)) as api:
        midway, state = _sign_in(api, live_db, 0)
        state = _answer(api, midway, state, 3)
        assert state["status"] == "in_progress" and state["number"] == 4
        done, other = _sign_in(api, live_db, 1)
        assert _answer(api, done, other, None)["status"] == "finished"
        _sign_in(api, live_db, 2)  # started, nothing answered
        # the backup, taken while the app runs (pg_dump reads one consistent snapshot)
        dump = tmp_path / "infolit.dump"
        subprocess.run(
            [str(pg_server.bindir / "pg_dump"), "--format=custom", f"--file={dump}", _libpq(live_db.url)],
            check=True,
            capture_output=True,
        )
    before = _snapshot(live_db.engine)
    assert len(before["response"]) >= 3 + 9 and len(before["test_session"]) == 3

    restored_name = live_db.url.rsplit("/", 1)[1] + "_restored"
    admin = sa_create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{restored_name}"'))
    admin.dispose()
    restored_url = pg_server.url(restored_name)
    subprocess.run(
        [str(pg_server.bindir / "pg_restore"), "--no-owner", f"--dbname={_libpq(restored_url)}", str(dump)],
        check=True,
        capture_output=True,
    )
    restored = Db(restored_url, make_engine(restored_url), live_db.world)
    try:
        assert _snapshot(restored.engine) == before  # every row of every table, the same
        with TestClient(make_app(restored, tmp_path / "restored")) as api:
            headers, state = _sign_in(api, restored, 0)  # a new login resumes where the dump left it
            assert state["status"] == "in_progress" and state["number"] == 4
            assert _answer(api, headers, state, None)["status"] == "finished"
            login = api.post("/api/v1/login", json={"ticket": restored.world.pupils[1].ticket, "pin": "246810"})
            assert login.status_code == 409  # finished before the backup: still finished
            headers, state = _sign_in(api, restored, 2)
            assert state["number"] == 1 and _answer(api, headers, state, None)["status"] == "finished"
        after = _snapshot(restored.engine)
        with restored.engine.connect() as conn:
            columns = list(conn.execute(text("SELECT * FROM response LIMIT 0")).keys())
        at = columns.index("id")
        old_ids = {r[at] for r in before["response"]}
        new = [r for r in after["response"] if r[at] not in old_ids]
        assert len(new) >= 6 and min(r[at] for r in new) > max(old_ids)  # sequences restored too
        assert [r for r in after["response"] if r[at] in old_ids] == before["response"]
    finally:
        restored.engine.dispose()
