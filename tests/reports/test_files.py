"""Profiles into files: the long table holds the profile's numbers; a failed render leaves no file."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace
from pathlib import Path

import pytest

from reports.aggregate import build_profiles
from reports.files import CSV_COLUMNS, available_formats, profile_csv, profiles_csv, write_profile
from reports.profile import Profile
from tests.reports.tiny import tiny_inputs


def _table(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def test_the_long_table_holds_every_number_of_the_profile() -> None:
    profiles = build_profiles(tiny_inputs()).profiles
    p = profiles[("school", "S01")]
    rows = _table(profile_csv(p))
    assert list(rows[0]) == [name for name, _ in CSV_COLUMNS]
    by_stat = {r["statistic"]: r for r in rows}
    assert float(by_stat["mean"]["estimate"]) == pytest.approx(p.mean.estimate, abs=1e-6)
    assert float(by_stat["pass_rate"]["estimate"]) == pytest.approx(p.pass_rate.estimate, abs=1e-6)
    assert float(by_stat["mean"]["se_measurement"]) == pytest.approx(p.mean.se_measurement, abs=1e-6)
    assert {"p10", "p50", "p90", "level:合格", "dimension:D1", "vs:county:mean", "subindicator:D1.1"} <= set(by_stat)
    assert by_stat["vs:county:mean"]["significant"] == "是" and by_stat["mean"]["significant"] == ""
    assert len(rows) == len(list(p.rows()))
    withheld = _table(profile_csv(profiles[("school", "S09")]))
    mean = next(r for r in withheld if r["statistic"] == "mean")
    assert mean["estimate"] == "" and mean["suppressed"] == "学生不足10人（9人）"
    both = _table(profiles_csv([p, profiles[("county", "320101")]]))
    assert {r["code"] for r in both} == {"S01", "320101"}


def test_a_name_that_looks_like_a_formula_stays_text() -> None:
    p = build_profiles(tiny_inputs(), levels=["school"]).profiles[("school", "S01")]
    evil = replace(p, identity=replace(p.identity, name='=HYPERLINK("http://x")'))
    rows = _table(profile_csv(evil))
    assert rows[0]["name"] == '\'=HYPERLINK("http://x")'


def test_a_failed_render_leaves_no_file(tmp_path: Path) -> None:
    p: Profile = build_profiles(tiny_inputs(), levels=["school"]).profiles[("school", "S01")]

    def broken(_: Profile) -> bytes:
        raise RuntimeError("boom")

    target = tmp_path / "school" / "S01.pdf"
    with pytest.raises(RuntimeError):
        write_profile(p, target, broken)
    assert not target.exists() and not list(tmp_path.rglob("*.tmp"))
    assert write_profile(p, tmp_path / "S01.csv", available_formats()["csv"]) > 0
    assert math.isfinite(float(_table((tmp_path / "S01.csv").read_bytes())[0]["estimate"]))
