"""``infolit assessment create|example|list|open|close`` (web/commands/assessments.py)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from assess.full_path import start_session
from assess.models import Assessment, TestSession
from assess.simulate.pipeline import ensure_bank
from itembank.calibrations import bank_params, store_calibration
from itembank.db import get_engine, session_scope
from itembank.models import PROVISIONAL
from tests.assess.conftest import make_tree
from web.cli import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, ["assessment", *args])


def test_an_operator_creates_opens_and_closes_a_round(env_db: str, tmp_path: Path) -> None:
    engine = get_engine()
    with session_scope(engine) as s:
        ensure_bank(session=s)
        store_calibration(
            session=s, name="published", params=bank_params(session=s, calibration=PROVISIONAL), status="operational"
        )
        (student,) = make_tree(s, n_students=1)
        sid = int(student.id or 0)
    example = invoke("example", "--code", "CLI-1")
    assert example.exit_code == 0 and 'code = "CLI-1"' in example.output
    good = tmp_path / "round.toml"
    good.write_text(example.output.replace("grades = [4, 8]", "grades = [8]"), encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        example.output.replace("min_items = 24", "min_items = -3").replace("[4, 8]", "[8, 8]"), encoding="utf-8"
    )

    refused = invoke("create", "--blueprint", str(bad))
    assert refused.exit_code == 1 and "未写入任何数据" in refused.output
    assert "blueprint.min_items" in refused.output and "grades：有重复的年级" in refused.output
    with Session(engine) as s:
        assert s.exec(select(Assessment)).all() == []

    made = invoke("create", "--blueprint", str(good))
    assert made.exit_code == 0, made.output
    assert "已创建测评批次 CLI-1" in made.output and "7-9 adaptive" in made.output and "未开始" in made.output
    assert invoke("create", "--blueprint", str(good)).exit_code == 1  # the code is taken now

    opened = invoke("open", "CLI-1", "--until", "2099-01-01T17:00")
    assert opened.exit_code == 0, opened.output
    assert "已开放，2099-01-01 17:00" in opened.output
    assert "已经在开放中" in invoke("open", "CLI-1").output
    assert "CLI-1\t进行中" in invoke("list").output

    with session_scope(engine) as s:  # a student starts, and leaves the sitting open
        a = s.exec(select(Assessment).where(Assessment.code == "CLI-1")).one()
        from assess.models import Student

        pupil = s.get(Student, sid)
        assert pupil is not None
        start_session(session=s, assessment=a, student=pupil, device="d1", seed=1)
    closed = invoke("close", "CLI-1")
    assert closed.exit_code == 0, closed.output
    assert "结束了 1 场未交卷的作答（0 场达到最少题数并计分，1 场题数不足不计入结果）" in closed.output
    assert "CLI-1\t已结束" in invoke("list").output and "作答中 0 完成 0 超时 1" in invoke("list").output
    assert invoke("close", "CLI-1").exit_code == 1
    assert "没有找到这个测评批次" in invoke("open", "NOPE").output
    with Session(engine) as s:
        assert s.exec(select(TestSession.status)).all() == ["expired"]
        actions = [e.action for e in s.exec(select(AuditEvent)).all()]
    assert actions == ["assessment.create", "assessment.open", "assessment.close"]
