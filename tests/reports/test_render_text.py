"""The terminal summary of profiles (reports.render_text.format_profile_summary)."""

from __future__ import annotations

import re

from reports.render_text import format_profile_summary, text_width
from tests.reports.small import small_profiles


def test_the_summary_prints_each_profile_as_the_report_files_do() -> None:
    profiles = small_profiles()
    nation, west = profiles.get("national", "national"), profiles.get("region", "west")
    withheld = next(p for p in profiles.at("school") if not p.reported)
    lines = format_profile_summary([nation, west, withheld]).splitlines()
    assert lines[0].split() == ["区域", "学校数", "学生数", "平均量表分", "标准误", "达标率", "标准误"]
    cells = lines[1].split()
    assert cells[0] == "全国"
    assert cells[1:3] == [
        str(nation.participation.schools_participating),
        f"{nation.participation.students_assessed:,}",
    ]
    assert cells[3:5] == [f"{nation.mean.estimate:.1f}", f"{nation.mean.se:.1f}"]
    assert cells[5:7] == [f"{100 * nation.pass_rate.estimate:.1f}%", f"{100 * nation.pass_rate.se:.1f}"]
    assert lines[2].split()[0] == west.identity.name
    assert re.search(r"—\s+—\s+—\s+—\s+（" + re.escape(str(withheld.suppressed)) + "）$", lines[3]), lines[3]
    # the numeric columns line up although the names are Chinese (two columns per character)
    assert len({text_width(line.split("  （")[0]) for line in lines}) == 1
