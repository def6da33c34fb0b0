from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import Session, col, select

from assess.models import Area, Response, TestSession
from itembank.db import get_engine
from web.cli import cli


def test_demo_runs_the_pipeline_end_to_end_on_a_small_sample(env_db: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--students", "2000", "--seed", "3", "--no-serve"])
    assert result.exit_code == 0, result.output
    out = result.output
    total = re.search(r"学生 ([\d,]+) 人（试测 ([\d,]+)，自适应 ([\d,]+)）", out)
    assert total, out
    registered, trial, tested = (int(g.replace(",", "")) for g in total.groups())
    assert abs(registered - 2000) <= 200  # a probability sample: about the size asked for
    assert re.search(r"抽样：.*抽取 \d+ 所学校", out), out
    counted = re.search(r"自适应测评 ([\d,]+) 人，其中 ([\d,]+) 人作答达到最少题数", out)
    assert counted, out
    adaptive, assessed = (int(g.replace(",", "")) for g in counted.groups())
    assert assessed >= 0.9 * adaptive  # the minimum sample gives a bank the adaptive test can use
    tickets = re.findall(r"^(\d{10})\s+(\d{6})\s+(\d+) 年级$", out, flags=re.M)
    assert len(tickets) == 6, out
    for region in ("东部", "中部", "西部"):
        assert re.search(rf"{region}\s+[\d,]+\s+\d+\.\d", out), out
    with Session(get_engine()) as session:
        finished = session.exec(select(func.count(col(TestSession.id))).where(TestSession.status == "finished")).one()
        assert finished == trial + tested  # the sample's absentees and the six demonstration students never sat
        regions = session.exec(select(Area.region).distinct()).all()
        assert set(regions) == {"东部", "中部", "西部"}
        assert session.exec(select(func.count(col(Response.id)))).one() > 2000 * 20


def test_simulate_refuses_a_tiny_sample(env_db: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--students", "10"])
    assert result.exit_code != 0
    assert "10" in result.output


def test_demo_refuses_a_sample_too_small_to_calibrate(env_db: str) -> None:
    """Issue 12, defect 9: --students 300 was accepted and failed with "no responses at all"."""
    for n in ("300", "600", "1999"):
        result = CliRunner().invoke(cli, ["demo", "--students", n, "--no-serve"])
        assert result.exit_code == 2 and "2000" in result.output, result.output
    trial = CliRunner().invoke(cli, ["simulate", "--students", "3000", "--field-trial", "500"])
    assert trial.exit_code == 2 and "1000" in trial.output
