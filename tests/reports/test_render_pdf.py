"""The PDF of a profile: its text holds the aggregation's numbers, every font is embedded, pages look right.

Text and fonts are read back with poppler (pdftotext, pdffonts, pdftoppm), as a reader's viewer
would see them. Page images go to a temporary folder; with ``INFOLIT_UPDATE_DOC_IMAGES=1`` they
are written to docs/images/reports/ as well (the README shows them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from reports.files import available_formats
from reports.profile import Profile
from reports.render_pdf import render_profile_pdf
from tests.reports.small import small_profiles

REPO = Path(__file__).resolve().parents[2]
DOC_IMAGES = REPO / "docs" / "images" / "reports"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not installed (apt-get install poppler-utils)")
    return path


def _text(pdf: bytes, tmp_path: Path) -> str:
    src = tmp_path / "profile.pdf"
    src.write_bytes(pdf)
    out = subprocess.run([_tool("pdftotext"), str(src), "-"], capture_output=True, check=True, text=True)
    return out.stdout


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b", pdf))


@pytest.fixture(scope="module")
def school_pdf(school: Profile) -> bytes:
    return render_profile_pdf(school)


def test_the_school_pdf_shows_its_name_mean_and_pass_rate_as_aggregated(
    school: Profile, school_pdf: bytes, tmp_path: Path
) -> None:
    text = _text(school_pdf, tmp_path)
    assert school.identity.name == "安平区实验中学" and school.identity.name in text
    assert f"{school.mean.estimate:.1f}" in text  # the table: one decimal
    assert f"{100 * school.pass_rate.estimate:.1f}%" in text
    assert f"平均量表分 {school.mean.estimate:.0f} 分" in text  # the headline sentence: whole points
    assert f"达标率 {school.pass_rate.estimate:.0%}" in text
    lo, hi = school.mean.ci_low, school.mean.ci_high
    assert f"{lo:.1f}–{hi:.1f}" in text
    assert f"{school.mean.se:.1f}" in text


def test_every_font_is_embedded_as_a_subset(school_pdf: bytes, county: Profile, tmp_path: Path) -> None:
    for name, pdf in (("school", school_pdf), ("county", render_profile_pdf(county))):
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        out = subprocess.run([_tool("pdffonts"), str(path)], capture_output=True, check=True, text=True).stdout
        rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
        assert rows, out
        for row in rows:
            emb, sub, uni = row[-5:-2]
            assert (emb, sub, uni) == ("yes", "yes", "yes"), out
            assert row[0].split("+")[-1] in ("NotoSansSC-Regular", "NotoSansSC-Bold"), out


def test_the_summary_says_what_matters_and_marks_significance(
    school: Profile, school_pdf: bytes, tmp_path: Path
) -> None:
    text = _text(school_pdf, tmp_path)
    compact = re.sub(r"\s+", "", text)
    assert "一页摘要" in text
    for sentence in (*school.headline, *school.strengths, *school.weaknesses):
        assert re.sub(r"\s+", "", sentence) in compact
    significant = [c for c in school.comparisons if c.significant]
    assert significant, "the fixture's school differs significantly from someone"
    for c in significant:
        assert f"显著{c.verdict}" in text
    assert "▲ 显著高于，▼ 显著低于" in text


def test_a_withheld_number_shows_its_reason(school: Profile, school_pdf: bytes, tmp_path: Path) -> None:
    text = _text(school_pdf, tmp_path)
    gender = next(g for g in school.gaps if g.kind == "gender")
    assert not gender.difference.reported and gender.difference.suppressed
    assert f"隐去：{gender.difference.suppressed}" in text
    flagged = next(d for d in school.dimensions if d.unreliable)
    assert f"{flagged.name}（信度 {flagged.reliability:.2f}）" in text


def test_a_withheld_school_gets_the_reason_and_no_numbers(tmp_path: Path) -> None:
    p = small_profiles().get("school", "51010207")
    assert not p.reported
    pdf = render_profile_pdf(p)
    text = _text(pdf, tmp_path)
    assert "结果不予报告" in text and "学生不足10人（8人）" in text
    assert "平均量表分" not in text.split("结果不予报告", 1)[1] and _pages(pdf) == 2


def test_a_school_profile_takes_two_to_four_pages(school_pdf: bytes) -> None:
    assert 2 <= _pages(school_pdf) <= 4
    for p in small_profiles().at("school"):
        assert _pages(render_profile_pdf(p)) <= 4, p.identity.code


def test_the_region_pdf_shows_the_spread_of_its_schools(county: Profile, tmp_path: Path) -> None:
    assert county.spread is not None
    text = _text(render_profile_pdf(county), tmp_path)
    assert "学校之间的差异" in text and "差异系数" in text
    assert f"{county.spread.cv.estimate:.3f}" in text
    assert f"{100 * county.spread.between_share.estimate:.1f}%" in text
    names = [s.name for s in county.spread.schools if s.name]
    assert names and all(n in text for n in names)
    hidden = _text(render_profile_pdf(county.without_school_names()), tmp_path)
    assert not any(n in hidden for n in names)
    assert "学校 1" in hidden


def test_levels_are_described_from_the_bank(county: Profile, tmp_path: Path) -> None:
    text = re.sub(r"\s+", "", _text(render_profile_pdf(county), tmp_path))
    described = [d for d in county.level_descriptions if d.statements]
    assert described
    for d in described:
        assert re.sub(r"\s+", "", d.statements[0]) in text


def test_names_print_as_written_and_the_output_is_reproducible(school: Profile, tmp_path: Path) -> None:
    odd = replace(school, identity=replace(school.identity, name="A&B<实验>中学"))
    pdf = render_profile_pdf(odd)
    assert "A&B<实验>中学" in _text(pdf, tmp_path)
    assert render_profile_pdf(odd) == pdf


def test_pdf_is_a_registered_format(school: Profile) -> None:
    assert available_formats()["pdf"] is render_profile_pdf


def test_page_images_of_a_school_and_a_region(school_pdf: bytes, county: Profile, tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    for name, pdf in (("school", school_pdf), ("region", render_profile_pdf(county))):
        src = tmp_path / f"{name}.pdf"
        src.write_bytes(pdf)
        subprocess.run([_tool("pdftoppm"), "-r", "100", "-png", str(src), str(folder / name)], check=True)
        pages = sorted(folder.glob(f"{name}-*.png"))
        assert len(pages) == _pages(pdf)
        for page in pages:
            with Image.open(page) as im:
                assert im.size == (827, 1170)  # A4 (595 x 842 pt) at 100 dpi, as pdftoppm rounds it
                inked = sum(im.convert("L").histogram()[:200])
                assert inked > 2_000, f"{page.name} is nearly blank"
    if os.environ.get("INFOLIT_UPDATE_DOC_IMAGES") == "1":  # the README's pictures, in 96 colours
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        for old in DOC_IMAGES.glob("*.png"):
            old.unlink()
        for page in sorted(folder.glob("*.png")):
            with Image.open(page) as im:
                im.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(DOC_IMAGES / page.name, optimize=True)
