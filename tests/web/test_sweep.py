"""Abandoned sittings are closed by each worker's sweep and by ``infolit sessions expire``."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.models import TestSession
from itembank.models import utcnow
from tests.web.conftest import Db, build_world, make_app, post_form
from tests.web.test_student_pages import form_answer, start


def _abandon(db: Db, tmp_path: Path) -> None:
    """A student answers one item and leaves; the deadline passes."""
    with TestClient(make_app(db, tmp_path, expire_every_seconds=0)) as client:
        html = start(client, db)
        post_form(client, "/test/answer", form_answer(html))
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        ts.deadline = utcnow() - timedelta(minutes=5)
        s.add(ts)
        s.commit()


def _status(db: Db) -> tuple[str, bool | None]:
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        return ts.status, ts.assessed


def test_each_worker_sweeps_abandoned_sittings(any_db: Db, tmp_path: Path) -> None:
    _abandon(any_db, tmp_path)
    assert _status(any_db) == ("in_progress", None)
    with TestClient(make_app(any_db, tmp_path, expire_every_seconds=0.2)):
        for _ in range(100):
            if _status(any_db)[0] != "in_progress":
                break
            time.sleep(0.1)
    assert _status(any_db) == ("expired", False)  # one answer: not assessed


def test_infolit_sessions_expire(env_db: str, tmp_path: Path) -> None:
    from itembank.db import get_engine
    from web.cli import cli

    engine = get_engine()
    world = build_world(engine)
    db = Db(env_db, engine, world)
    _abandon(db, tmp_path)
    result = CliRunner().invoke(cli, ["sessions", "expire"])
    assert result.exit_code == 0, result.output
    expected = "expired 1 abandoned sitting (0 assessed, 1 with too few answers); 0 still within their time"
    assert expected in result.output
    assert _status(db) == ("expired", False)
    missing = CliRunner().invoke(cli, ["sessions", "expire", "--assessment", "NOPE"])
    assert missing.exit_code == 1 and "没有编号为 NOPE 的测评" in missing.output
