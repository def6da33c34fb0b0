"""`infolit standard-setting` and `infolit scale` through click's CliRunner: a study, a round, adoption."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assess.scales import LEVEL_DESCRIPTIONS
from assess.standards.versions import band_scale
from itembank.db import get_engine, session_scope
from tests.assess.standards.conftest import build_bank
from web.commands.scale import scale_group, standard_setting_group


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_researcher_sets_cuts_by_bookmarks_from_the_command_line(env_db: str) -> None:
    build_bank(get_engine())
    run = CliRunner()
    made = run.invoke(standard_setting_group, ["create", "初中", "--band", "7-9", "--assessment", "IMP"])
    assert made.exit_code == 0 and "band 7-9, 4 pages (SS)" in made.output, made.output
    booklet = run.invoke(standard_setting_group, ["booklet", "初中"])
    assert [line.split("\t")[0] for line in booklet.output.splitlines()] == ["1", "2", "3", "4"]
    mark = ["bookmark", "初中", "--round", "1", "--panellist"]
    for who, pages in (("王", "1 2 3"), ("李", "1 3 4"), ("张", "2 3 4")):
        placed = run.invoke(standard_setting_group, [*mark, who, *pages.split()])
        assert placed.exit_code == 0, placed.output
    refused = run.invoke(standard_setting_group, [*mark, "赵", "3", "2", "4"])
    assert refused.exit_code == 1 and "从低到高" in refused.output
    shown = run.invoke(standard_setting_group, ["round", "初中", "1"])
    assert shown.exit_code == 0 and "待提高｜合格\t1\t-0.292\t470.8" in shown.output, shown.output
    assert "impact (6 students): 待提高 33.3%, 合格 33.3%, 良好 16.7%, 优秀 16.7%" in shown.output
    assert "7-9\t420.0\t490.0\t560.0\t(framework)" in run.invoke(scale_group, ["show"]).output
    levels = run.invoke(standard_setting_group, ["levels", "初中", "--round", "1"])
    assert levels.exit_code == 0 and "合格\t[470.8, 609.0)\tpages" in levels.output, levels.output
    assert "draft: 处于“良好”水平的学生通常能够" in levels.output
    described = run.invoke(standard_setting_group, ["describe", "初中", "合格", "能查找常见信息。"])
    assert (
        described.exit_code == 0
        and "saved: 能查找常见信息。" in run.invoke(standard_setting_group, ["levels", "初中"]).output
    )
    assert run.invoke(standard_setting_group, ["describe", "初中", "满分", "x"]).exit_code == 1
    adopted = run.invoke(scale_group, ["adopt", "--study", "初中", "--round", "1"])
    assert adopted.exit_code == 0 and "scale version 2 is in force" in adopted.output, adopted.output
    assert "7-9\t470.8\t609.0\t696.1\t(set by this version)" in run.invoke(scale_group, ["show"]).output
    assert "7-9\t420.0\t490.0\t560.0\t(framework)" in run.invoke(scale_group, ["show", "1"]).output
    versions = run.invoke(scale_group, ["versions"]).output.splitlines()
    assert [v.split("\t")[:2] for v in versions] == [["2", "active"], ["1", "kept"]]
    assert "adopted as version 2" in run.invoke(standard_setting_group, ["list"]).output
    back = run.invoke(scale_group, ["adopt", "--version", "1"])
    assert back.exit_code == 0 and "scale version 1 is in force" in back.output
    assert run.invoke(scale_group, ["adopt"]).exit_code == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_settings_file_adopts_an_edited_version(env_db: str, tmp_path: Path) -> None:
    good = tmp_path / "scale.toml"
    good.write_text(
        'name = "2027 版"\nbaseline_mean = 0.2\nbaseline_sd = 1.1\nlevels = ["待提高", "达标", "良好", "优秀"]\n'
        'pass_level = "良好"\n[descriptions]\n"优秀" = "很好。"\n[cuts]\n"7-9" = [430, 500, 570]\n',
        encoding="utf-8",
    )
    run = CliRunner()
    adopted = run.invoke(scale_group, ["adopt", "--file", str(good)])
    assert adopted.exit_code == 0, adopted.output
    shown = run.invoke(scale_group, ["show"]).output
    assert "version 2\t2027 版\tactive\tedited" in shown and "baseline: mean 0.2, SD 1.1; 达标 from 良好" in shown
    assert (
        "7-9\t430.0\t500.0\t570.0\t(set by this version)" in shown and "3-4\t330.0\t400.0\t470.0\t(framework)" in shown
    )
    with session_scope(get_engine()) as s:
        scale = band_scale(session=s, band="7-9")
    assert scale.description("优秀") == "很好。" and scale.description("达标") == LEVEL_DESCRIPTIONS["合格"]
    assert scale.scale_score(1.3) == pytest.approx(600.0) and scale.passed(500.0) and not scale.passed(499.9)
    for text, why in (('cuts = {"7-9" = [500, 400, 600]}', "严格递增"), ('baseline_mean = 1', "同时给出"),
                      ('colour = "red"', "没有这些项"), ('pass_level = "满分"', "不是量表的水平")):  # fmt: skip
        bad = tmp_path / "bad.toml"
        bad.write_text(text, encoding="utf-8")
        refused = run.invoke(scale_group, ["adopt", "--file", str(bad)])
        assert refused.exit_code == 1 and why in refused.output, (text, refused.output)
    assert len(run.invoke(scale_group, ["versions"]).output.splitlines()) == 2
