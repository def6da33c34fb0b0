"""The interim node summary against numbers worked out by hand from the console world's sittings.

Finished sittings (scale scores): SWEB001 430 and 460, SNEXT01 470 and 500, SFAR001 510 and 540;
达标 from 450. So province 99: mean (430 + 460 + 470 + 500) / 4 = 465, 达标率 3/4, levels
待提高 1/4 and 合格 3/4; SNEXT01: mean 485, 达标率 1.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session

from reports.render_summary import render_summary
from reports.summary import NodeRef, SummaryRules, schools_under, summarize_node
from scoring.survey import SuppressionRule
from tests.console_world import build_console_world

LOOSE = SummaryRules(school=SuppressionRule(1, 1), area=SuppressionRule(1, 1))
P99 = NodeRef("area", "99", "测试省", "province", "/99/")
SNEXT = NodeRef("school", "SNEXT01", "隔壁第二中学", "school", "/99/9901/990102/SNEXT01/")


def test_a_summary_is_the_plain_mean_and_shares_of_finished_sittings(engine: Engine) -> None:
    world = build_console_world(engine)
    with Session(engine) as s:
        children = schools_under(session=s, path="/99/")
        summary = summarize_node(session=s, assessment_id=world.assessment_id, node=P99, children=children, rules=LOOSE)
    assert (summary.registered, summary.assessed, summary.in_progress, summary.not_started) == (8, 4, 2, 2)
    assert summary.schools == 2 and summary.suppressed is None
    assert summary.mean_scale == pytest.approx(465.0) and summary.pass_rate == pytest.approx(0.75)
    assert summary.level_shares == pytest.approx({"待提高": 0.25, "合格": 0.75, "良好": 0.0, "优秀": 0.0})
    by = {c.node.code: c for c in summary.children}
    assert list(by) == ["SNEXT01", "SWEB001"]
    assert by["SNEXT01"].mean_scale == pytest.approx(485.0) and by["SNEXT01"].pass_rate == pytest.approx(1.0)
    assert by["SWEB001"].pass_rate == pytest.approx(0.5)


def test_small_groups_report_counts_only_with_the_reason(engine: Engine) -> None:
    world = build_console_world(engine)
    with Session(engine) as s:
        school = summarize_node(session=s, assessment_id=world.assessment_id, node=SNEXT)
        region = summarize_node(session=s, assessment_id=world.assessment_id, node=P99)
    assert school.suppressed == "学生不足10人（2人）" and school.mean_scale is None and school.level_shares is None
    assert school.assessed == 2 and school.registered == 4
    assert region.suppressed == "学生不足30人（4人）" and region.pass_rate is None


def test_the_three_formats_carry_the_same_numbers(engine: Engine) -> None:
    world = build_console_world(engine)
    with Session(engine) as s:
        children = schools_under(session=s, path="/99/")
        summary = summarize_node(session=s, assessment_id=world.assessment_id, node=P99, children=children, rules=LOOSE)
    csv_text = render_summary(summary, "csv").decode("utf-8-sig")
    assert "465.0" in csv_text and "75.0%" in csv_text and "隔壁第二中学" in csv_text
    pdf = PdfReader(io.BytesIO(render_summary(summary, "pdf")))
    text = "".join(page.extract_text() for page in pdf.pages)
    assert "465.0" in text and "75.0%" in text
    raw = render_summary(summary, "xlsx")
    assert zipfile.is_zipfile(io.BytesIO(raw))
    sheet = load_workbook(io.BytesIO(raw)).active
    assert sheet is not None
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[1][:2] == ["99", "测试省"] and rows[1][7] == 465.0 and rows[2][0] == "SNEXT01"
    with pytest.raises(ValueError, match="unknown format"):
        render_summary(summary, "docx")
