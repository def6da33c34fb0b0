"""The charts of a profile: what they draw, their alternative text, and their SVG for web pages."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace

import pytest
from reportlab.graphics.shapes import Drawing, Group, String

from reports import charts
from reports.formatting import format_ci, format_score, format_share
from reports.profile import Profile
from tests.reports.small import small_profiles

SVG = "{http://www.w3.org/2000/svg}"


def _strings(node: Drawing | Group) -> Iterator[str]:
    for item in node.getContents():
        if isinstance(item, String):
            yield item.text
        elif isinstance(item, Group):
            yield from _strings(item)


def test_the_level_chart_shows_each_share_and_the_pass_rate(school: Profile) -> None:
    chart = charts.draw_level_distribution(school)
    assert chart is not None
    texts = set(_strings(chart.drawing))
    for lv in school.levels:
        assert lv.level in texts
        assert format_share(lv.stat.estimate) in texts
        assert format_share(lv.stat.estimate) in chart.description
    bracket = f"达标率 {format_share(school.pass_rate.estimate)}（{format_ci(school.pass_rate, share=True)}）"
    assert bracket in texts


def test_the_comparison_chart_marks_a_significant_difference(school: Profile) -> None:
    chart = charts.draw_comparison(school)
    assert chart is not None
    texts = " ".join(_strings(chart.drawing))
    assert school.identity.name in texts and format_score(school.mean.estimate) in texts
    for c in (c for c in school.comparisons if c.statistic == "mean"):
        assert c.other_name in texts
        marked = f"{format_score(c.other.estimate)}  差" in texts
        assert marked
        expected = ("▲" if c.difference.estimate > 0 else "▼") if c.significant else ""
        value = next(t for t in _strings(chart.drawing) if t.startswith(format_score(c.other.estimate)))
        assert value.endswith(expected) if expected else not value.endswith(("▲", "▼"))


def test_an_unreliable_dimension_is_a_flag_not_a_number(county: Profile) -> None:
    chart = charts.draw_dimensions(county)
    assert chart is not None
    flagged = next(d for d in county.dimensions if d.unreliable)
    assert flagged.mean.suppressed and math.isnan(flagged.mean.estimate)
    texts = list(_strings(chart.drawing))
    assert f"信度 {flagged.reliability:.2f}，过低，不宜解读" in texts
    assert f"{flagged.name} 不报告" in chart.description
    shown = next(d for d in county.dimensions if not d.unreliable)
    assert f"{format_score(shown.mean.estimate)}（{format_ci(shown.mean)}）" in texts


def test_gaps_say_whether_they_are_significant(county: Profile) -> None:
    chart = charts.draw_gaps(county)
    assert chart is not None
    for g in county.gaps:
        if g.difference.reported:
            assert f"{g.label} " in chart.description
            assert ("显著" if g.significant else "不显著") in chart.description
        else:
            assert f"隐去：{g.difference.suppressed}" in list(_strings(chart.drawing))


def test_the_caterpillar_names_schools_only_where_allowed(county: Profile) -> None:
    named = charts.draw_caterpillar(county)
    assert named is not None
    assert county.spread is not None
    names = [s.name for s in county.spread.schools if s.mean.reported]
    assert names and all(n in list(_strings(named.drawing)) for n in names)
    hidden = charts.draw_caterpillar(county.without_school_names())
    assert hidden is not None and "不显示校名" in hidden.title
    texts = " ".join(_strings(hidden.drawing)) + charts.chart_svg(hidden, "c")
    assert not any(n in texts for n in names if n)
    # many schools: one interval per school at its rank, no labels
    nation = small_profiles().get("national", "national")
    many = charts.draw_caterpillar(nation, named_rows=5)
    assert many is not None and "共 24 所" in " ".join(_strings(many.drawing))
    assert "另有 1 所学校人数不足" in many.description


def test_a_withheld_profile_has_no_charts() -> None:
    withheld = small_profiles().get("school", "51010207")
    assert not withheld.reported
    assert charts.draw_profile_charts(withheld) == {}


def test_the_svg_is_labelled_well_formed_and_its_ids_are_its_own(school: Profile) -> None:
    drawn = charts.draw_profile_charts(school)
    assert {"levels", "comparison", "dimensions", "percentiles"} <= set(drawn)
    ids: list[str] = []
    for kind, chart in drawn.items():
        svg = charts.chart_svg(chart, f"s-{kind}")
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and root.get("role") == "img"
        assert root.get("aria-labelledby") == f"s-{kind}-title s-{kind}-desc"
        assert root.find(f"{SVG}title").text == chart.title  # type: ignore[union-attr]
        assert root.find(f"{SVG}desc").text == chart.description  # type: ignore[union-attr]
        assert "InfoLitSans" not in svg and "Noto Sans SC" in svg
        ids += [e.get("id") for e in root.iter() if e.get("id")]  # type: ignore[misc]
    assert len(ids) == len(set(ids))


def test_a_chart_of_numbers_beyond_the_axis_stays_inside_it(school: Profile) -> None:
    wild = replace(school.mean, ci_low=-1e6, ci_high=1e6)
    chart = charts.draw_comparison(replace(school, mean=wild))
    assert chart is not None
    for item in chart.drawing.getContents():
        for attr in ("x", "x1", "x2", "cx"):
            v = getattr(item, attr, None)
            if isinstance(v, float | int):
                assert -1 <= v <= chart.drawing.width + 1


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 1.0), (412.3, 587.9), (-37.0, 12.5), (0.0, 0.43), (299.0, 301.0)])
def test_ticks_are_round_and_cover_the_range(lo: float, hi: float) -> None:
    ticks = charts._ticks(lo, hi)
    assert 2 <= len(ticks) <= 6
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5))
    assert lo - 1e-9 <= ticks[0] < lo + step and hi - step < ticks[-1] <= hi + 1e-9
