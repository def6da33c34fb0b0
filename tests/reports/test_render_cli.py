"""``infolit report school|region|all`` write PDF, XLSX and HTML from a simulated national run.

The module takes its own copy of the session's simulated database (tests/reports/conftest.py);
the first command draws and stores its plausible values.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from assess.models import Assessment
from assess.simulate.pipeline import NationalRun
from itembank.db import make_engine
from reports.aggregate import ProfileSet, build_assessment_profiles
from reports.render_xlsx import DATA_SHEET
from tests.reports.national import invoke

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def profiles(national: tuple[Path, NationalRun]) -> ProfileSet:
    path, run = national
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine, expire_on_commit=False) as session:
        built = build_assessment_profiles(session=session, assessment_code=run.adaptive_assessment)
        session.commit()
    engine.dispose()
    return built


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


def _pdf_text(path: Path) -> str:
    tool = shutil.which("pdftotext")
    if tool is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils)")
    return subprocess.run([tool, str(path), "-"], capture_output=True, check=True, text=True).stdout


def test_a_school_profile_as_pdf_xlsx_and_html(
    national: tuple[Path, NationalRun], profiles: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, run = national
    school = max((p for p in profiles.at("school") if p.reported), key=lambda p: p.participation.students_assessed)
    code = school.identity.code
    pdf = tmp_path / "school.pdf"
    res = invoke(
        path, ["report", "school", code, "--assessment", run.adaptive_assessment, "--out", str(pdf)], monkeypatch
    )
    assert res.exit_code == 0, res.output
    assert pdf.read_bytes().startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert school.identity.name in text and f"{school.mean.estimate:.1f}" in text
    assert f"{100 * school.pass_rate.estimate:.1f}%" in text
    book = tmp_path / "school.xlsx"
    args = ["report", "school", code, "--assessment", run.adaptive_assessment, "--format", "xlsx", "--out", str(book)]
    assert invoke(path, args, monkeypatch).exit_code == 0
    wb = load_workbook(io.BytesIO(book.read_bytes()), read_only=True)
    rows = list(wb[DATA_SHEET].iter_rows(values_only=True))
    wb.close()
    mean = next(r for r in rows if r[3] == "mean")
    assert mean[2] == school.identity.name and mean[5] == round(school.mean.estimate, 6)
    page = tmp_path / "school.html"
    args = ["report", "school", code, "--assessment", run.adaptive_assessment, "--out", str(page)]
    assert invoke(path, args, monkeypatch).exit_code == 0
    html = page.read_text(encoding="utf-8")
    assert html.startswith('<section class="profile profile-school" lang="zh-CN"') and "<svg" in html


def test_a_region_profile_and_its_school_names(
    national: tuple[Path, NationalRun], profiles: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, run = national
    county = next(  # the smallest reported area (a county with five schools or more, else a city ...)
        p
        for level in ("county", "city", "province", "region")
        for p in profiles.at(level)
        if p.reported and p.spread and any(s.mean.reported for s in p.spread.schools)
    )
    assert county.spread is not None
    names = [s.name for s in county.spread.schools if s.name and s.mean.reported]
    shown, hidden = tmp_path / "shown.pdf", tmp_path / "hidden.pdf"
    base = ["report", "region", county.identity.code, "--assessment", run.adaptive_assessment, "--format", "pdf"]
    assert invoke(path, [*base, "--out", str(shown)], monkeypatch).exit_code == 0
    assert invoke(path, [*base, "--out", str(hidden), "--hide-school-names"], monkeypatch).exit_code == 0
    text, anonymous = _pdf_text(shown), _pdf_text(hidden)
    assert county.identity.name in text and "差异系数" in text
    assert names and all(n in text for n in names)
    assert not any(n in anonymous for n in names)


def test_report_all_writes_every_profile_as_pdf_and_xlsx_on_two_workers(
    national: tuple[Path, NationalRun], profiles: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, run = national
    out = tmp_path / "all"
    args = ["report", "all", "--assessment", run.adaptive_assessment, "--out", str(out), "--workers", "2"]
    res = invoke(path, args, monkeypatch)
    assert res.exit_code == 0, res.output
    expected = {f"{p.identity.level}/{p.identity.code}.{fmt}" for p in profiles for fmt in ("pdf", "xlsx")}
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == expected | {"profiles.csv", "columns.csv"}
    assert f"{len(list(profiles))} 份报告" in res.output and f"{len(expected)} 个文件" in res.output
    assert "2 个进程" in res.output and "pdf" in res.output
    for name in expected:
        data = (out / name).read_bytes()
        assert data.startswith(b"%PDF" if name.endswith(".pdf") else b"PK")


def test_bad_requests_are_one_line_and_write_nothing(
    national: tuple[Path, NationalRun], profiles: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, run = national
    code = run.adaptive_assessment
    withheld = next((p for p in profiles if not p.reported and p.identity.level != "school"), None)
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine) as session:  # an operational assessment nobody has sat yet
        real = session.exec(select(Assessment).where(Assessment.code == code)).one()
        session.add(Assessment(code="EMPTY1", name="尚未开考的测评", purpose="operational", grades=list(real.grades),
                               opens_at=real.opens_at, closes_at=real.closes_at,
                               calibration_id=real.calibration_id))  # fmt: skip
        session.commit()
    engine.dispose()
    cases = [
        (["report", "region", "NO-SUCH", "--assessment", code, "--out", str(tmp_path / "r.pdf")], "没有代码为 NO-SUCH"),
        (["report", "school", "X", "--assessment", code, "--out", str(tmp_path / "s.doc")], "unknown format doc"),
        (["report", "all", "--assessment", "NO-SUCH", "--out", str(tmp_path / "all")], "没有代码为 NO-SUCH 的测评"),
        (["report", "all", "--assessment", "EMPTY1", "--out", str(tmp_path / "all")], "还没有已完成并计分的作答"),
        (
            ["report", "school", "X", "--assessment", "EMPTY1", "--out", str(tmp_path / "e.pdf")],
            "还没有已完成并计分的作答",
        ),
        (["report", "all", "--assessment", code, "--out", str(tmp_path / "all"), "--format", "pdf,doc"], "doc"),
        (["report", "all", "--assessment", code, "--out", str(tmp_path / "all"), "--workers", "0"], "--workers"),
    ]
    if withheld is not None:
        target = str(tmp_path / "w.pdf")
        cases.append(
            (["report", "region", withheld.identity.code, "--assessment", code, "--out", target], "不生成报告")
        )
    for args, message in cases:
        res = invoke(path, args, monkeypatch)
        assert res.exit_code != 0, res.output
        assert message in res.output, res.output
        assert len(_errors(res.output)) == 1, res.output
    assert not any(tmp_path.iterdir()), sorted(tmp_path.iterdir())
