"""``infolit sample``: a malformed frame lists every problem and writes nothing; draw, weights, report."""

from __future__ import annotations

import csv
from pathlib import Path

from click.testing import CliRunner, Result
from sqlmodel import func, select

from assess.sampling.frame import FRAME_COLUMNS
from assess.sampling.models import SampleDraw
from assess.sampling.select import SAMPLE_COLUMNS, draw_sample
from assess.sampling.store import find_draw
from itembank.db import session_scope
from itembank.tabular import csv_bytes
from tests.assess.sampling.helpers import ROW, frame_csv, small_frame
from tests.assess.sampling.world import make_assessment, seat_sample
from web.commands.sampling import sample_group

DESIGN = """
name = "测试抽样"
grades = [4]
[strata]
by = ["region", "locale"]
allocation = "minimum"
schools = 10
minimum = 2
[within]
mode = "students"
students = 15
[weights]
trim = 0.0
"""


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(sample_group, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _frame_file(path: Path) -> Path:
    frame = small_frame(60, big=1)
    header = (*FRAME_COLUMNS, "grade_4")
    rows = [
        tuple([str(frame.column(c)[i]) for c in FRAME_COLUMNS] + [str(frame.enrolment[4][i])])
        for i in range(frame.n_schools)
    ]
    path.write_bytes(csv_bytes([header, *rows]))
    return path


def test_a_malformed_frame_lists_every_problem_and_writes_nothing(env_db: str, tmp_path: Path) -> None:
    tmp_path = tmp_path / "files"
    tmp_path.mkdir()
    bad = [
        ROW,
        ("S001", "重复", "44", "广东省", "4401", "广州市", "440101", "新华区", "东部", "城区", "公办", "x", "0"),
        ("S 3", "", "44", "广东省", "4401", "广州市", "440101", "新华区", "北部", "城区", "公办", "1", "-1"),
    ]
    frame = tmp_path / "frame.csv"
    frame.write_bytes(frame_csv(bad))
    (tmp_path / "d.toml").write_text(DESIGN.replace("minimum = 2", "minimum = 1"), encoding="utf-8")
    with session_scope() as session:
        make_assessment(session)
    out = tmp_path / "sample.csv"
    result = invoke("draw", str(frame), "--design", str(tmp_path / "d.toml"), "--out", str(out),
                    "--assessment", "NAT-2026")  # fmt: skip
    assert result.exit_code != 0
    err = result.stderr if hasattr(result, "stderr") else result.output
    for line in (
        "row 3, school_code: 'S001' is already on row 2",
        "row 3, grade_4: 'x' is not a whole number of students",
        "row 4, school_code: 'S 3'",
        "row 4, school: empty cell",
        "row 4, region: '北部' is not one of",
        "row 4, grade_8: '-1' is not a whole number of students",
        "strata.minimum: must lie between 2 and 10,000, got 1",
    ):
        assert line in err, line
    assert "7 problems; nothing was written" in err
    assert not out.exists() and sorted(tmp_path.iterdir()) == [tmp_path / "d.toml", frame]
    with session_scope() as session:
        assert session.exec(select(func.count()).select_from(SampleDraw)).one() == 0


def test_a_design_that_does_not_fit_the_frame_writes_nothing(env_db: str, tmp_path: Path) -> None:
    frame = _frame_file(tmp_path / "frame.csv")
    (tmp_path / "d.toml").write_text(DESIGN.replace("schools = 10", "schools = 500"), encoding="utf-8")
    out = tmp_path / "sample.csv"
    result = invoke("draw", str(frame), "--design", str(tmp_path / "d.toml"), "--out", str(out))
    assert result.exit_code != 0 and "500 schools asked, the frame has 61 eligible" in result.output
    assert not out.exists()


def test_draw_weights_and_report(env_db: str, tmp_path: Path) -> None:
    frame = _frame_file(tmp_path / "frame.csv")
    (tmp_path / "d.toml").write_text(DESIGN, encoding="utf-8")
    out = tmp_path / "sample.csv"
    with session_scope() as session:
        assessment = make_assessment(session)
    result = invoke("draw", str(frame), "--design", str(tmp_path / "d.toml"), "--out", str(out), "--seed", "3",
                    "--assessment", "NAT-2026")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "drew 10 schools in 4 strata from 61 (1 with certainty)" in result.output
    with out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == SAMPLE_COLUMNS
    assert sum(r["role"] == "sampled" for r in rows) == 10
    again = invoke("draw", str(frame), "--design", str(tmp_path / "d.toml"), "--out", str(out))
    assert again.exit_code != 0 and "exists" in again.output
    with session_scope() as session:
        _assessment, draw = find_draw(session=session, assessment_code="NAT-2026")
        assert draw.seed == 3
        from assess.sampling.design import parse_design
        from assess.sampling.frame import read_frame

        sample = draw_sample(read_frame(frame), parse_design(draw.design), seed=3)
        assert [r["school_code"] for r in rows] == sample.codes().tolist()
        seat_sample(session, sample, assessment, take=15)
    weights = invoke("weights", "NAT-2026")
    assert weights.exit_code == 0, weights.output
    assert "jackknife zones" in weights.output
    report = invoke("report", "NAT-2026")
    assert report.exit_code == 0, report.output
    assert "全部" in report.output and "design effect" in report.output
    missing = invoke("weights", "NOPE")
    assert missing.exit_code != 0 and "NOPE" in missing.output
