"""Profiles of a tiny assessment against hand computations (tests/reports/tiny.py describes it).

Rubin's rules with M = 2: estimate = mean of the two PV estimates, B = their variance (ddof 1),
measurement variance (1 + 1/2) B; in census mode the sampling variance is 0.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from reports.aggregate import build_profiles
from reports.inputs import SuppressionRules
from reports.profile import Profile
from scoring.irt import probabilities
from scoring.survey import SuppressionRule
from tests.reports.tiny import CUTS, tiny_inputs, tiny_values


def _rubin(a: float, b: float) -> tuple[float, float]:
    """Estimate and SE from two PV estimates, no sampling variance."""
    est = (a + b) / 2
    var_b = ((a - est) ** 2 + (b - est) ** 2) / 1
    return est, math.sqrt(1.5 * var_b)


LENIENT = SuppressionRules(
    subgroup=SuppressionRule(min_students=5, min_schools=1),
    region_subgroup=SuppressionRule(min_students=5, min_schools=2),
    min_responses=1,
)


@pytest.fixture(scope="module")
def census() -> dict[tuple[str, str], Profile]:
    return build_profiles(tiny_inputs(design="census"), rules=LENIENT).profiles


def test_a_school_mean_and_pass_rate_are_rubins_rules_by_hand(census: dict[tuple[str, str], Profile]) -> None:
    p = census[("school", "S01")]
    # S01: pv1 = 300..390 (mean 345); pv2 girls 320..360, boys 340..380 (mean 350)
    est, se = _rubin(345.0, 350.0)
    assert p.mean.estimate == pytest.approx(est) and p.mean.se == pytest.approx(se)
    assert p.mean.se_sampling == 0.0 and p.mean.se_measurement == pytest.approx(se)
    assert p.mean.ci_low == pytest.approx(est - 1.959963984540054 * se)
    assert p.mean.df == pytest.approx(1.0)  # Rubin's df (M - 1)(1 + U / B')^2 with U = 0
    # pass line 330: pv1 seven of ten, pv2 nine of ten
    est, se = _rubin(0.7, 0.9)
    assert p.pass_rate.estimate == pytest.approx(est) and p.pass_rate.se == pytest.approx(se)
    assert p.pass_level == "合格"
    # levels (cuts 330, 400, 470): every S01 value lies in 待提高 or 合格
    shares = {lv.level: lv.stat.estimate for lv in p.levels}
    assert shares == pytest.approx({"待提高": 0.2, "合格": 0.8, "良好": 0.0, "优秀": 0.0})


def test_percentiles_follow_the_inverse_ecdf(census: dict[tuple[str, str], Profile]) -> None:
    p = census[("school", "S01")]
    got = {q.p: q.stat.estimate for q in p.percentiles}
    # pv1 sorted 300..390; pv2 sorted 320 330 340 340 350 350 360 360 370 380: Q(p) = the ceil(10 p)-th value
    assert got[10] == pytest.approx((300 + 320) / 2)
    assert got[50] == pytest.approx((340 + 350) / 2)
    assert got[90] == pytest.approx((380 + 370) / 2)


def test_the_gender_gap_its_se_and_significance(census: dict[tuple[str, str], Profile]) -> None:
    gap = next(g for g in census[("school", "S01")].gaps if g.kind == "gender")
    assert (gap.group_a, gap.group_b, gap.label) == ("女生", "男生", "女生 − 男生")
    # pv1: girls 320, boys 370 (-50); pv2: girls 340, boys 360 (-20)
    est, se = _rubin(-50.0, -20.0)
    assert gap.difference.estimate == pytest.approx(est) and gap.difference.se == pytest.approx(se)
    assert not gap.significant  # |-35| < 1.96 * 25.98
    # in county X every school has the same girls-minus-boys pattern: the gap is the same, and B too
    county = next(g for g in census[("county", "320101")].gaps if g.kind == "gender")
    assert county.difference.estimate == pytest.approx(est) and county.difference.se == pytest.approx(se)


def test_urban_rural_gap_of_a_county(census: dict[tuple[str, str], Profile]) -> None:
    gaps = {g.kind: g for g in census[("county", "320101")].gaps}
    # urban S01-S03 (s = 0, 1, 2), rural S04-S05 (s = 3, 4): school means 345 + 20 s (pv1), +5 (pv2)
    assert gaps["locale"].label == "城区 − 农村"
    assert gaps["locale"].difference.estimate == pytest.approx(20 * (1 - 3.5))
    assert gaps["locale"].difference.se == pytest.approx(0.0, abs=1e-9)
    # rural has 20 students in 2 schools: under the default subgroup rule (30 students) it is withheld
    strict = build_profiles(tiny_inputs(design="census")).profiles[("county", "320101")]
    withheld = next(g for g in strict.gaps if g.kind == "locale")
    assert withheld.difference.suppressed == "学生不足30人（20人）" and math.isnan(withheld.difference.estimate)
    assert not withheld.significant


def test_suppression_at_the_thresholds(census: dict[tuple[str, str], Profile]) -> None:
    s08, s09 = census[("school", "S08")], census[("school", "S09")]
    assert s08.reported and s08.mean.n_students == 10  # exactly 10: reported
    assert s09.suppressed == "学生不足10人（9人）" and not s09.mean.reported and math.isnan(s09.mean.estimate)
    assert all(not q.stat.reported for q in s09.percentiles) and not s09.pass_rate.reported
    assert s09.sub_indicators == () and s09.strengths == () and s09.headline == ()
    county_y = census[("county", "320102")]
    assert county_y.suppressed == "学校不足5所（4所）" and county_y.spread is None
    county_x = census[("county", "320101")]
    assert county_x.reported and county_x.mean.n_schools == 5 and county_x.mean.n_students == 50
    # a withheld number never carries a figure into the long table
    rows = [r for r in s09.rows() if r.statistic == "mean"]
    assert rows[0].suppressed == "学生不足10人（9人）" and math.isnan(rows[0].estimate)


def test_participation_and_its_flag(census: dict[tuple[str, str], Profile]) -> None:
    s09 = census[("school", "S09")].participation
    assert (s09.students_sampled, s09.students_assessed, s09.students_excluded) == (12, 9, 0)
    assert s09.student_response_rate == pytest.approx(0.75)
    assert s09.flags == ("学生应答率 75%，低于抽样设计要求的 80%，结果可能有偏差。",)
    assert math.isnan(s09.school_response_rate)  # no sample design: the schools are those that took part
    city = census[("city", "3201")].participation
    assert (city.schools_sampled, city.students_sampled, city.students_assessed) == (9, 92, 89)
    assert city.flags == ()


def test_comparison_with_the_parent_and_the_nation(census: dict[tuple[str, str], Profile]) -> None:
    p = census[("school", "S01")]
    mean_cmp = [c for c in p.comparisons if c.statistic == "mean"]
    assert [(c.other_level, c.other_code) for c in mean_cmp] == [("county", "320101"), ("national", "national")]
    # county X: pv1 mean 345 + 20 * 2 = 385, pv2 390; S01 - X: -40 and -40
    assert mean_cmp[0].difference.estimate == pytest.approx(-40.0)
    assert mean_cmp[0].difference.se == pytest.approx(0.0, abs=1e-9)
    assert mean_cmp[0].significant and mean_cmp[0].verdict == "低于"
    scale, _, _, _ = tiny_values()
    nation = scale.mean(axis=0)
    assert mean_cmp[1].other.estimate == pytest.approx(nation.mean())
    assert mean_cmp[1].difference.estimate == pytest.approx(347.5 - nation.mean())


def test_dimensions_flag_an_unreliable_subscore(census: dict[tuple[str, str], Profile]) -> None:
    dims = {d.code: d for d in census[("school", "S01")].dimensions}
    assert dims["D1"].mean.estimate == pytest.approx(347.5 - 5.0) and not dims["D1"].unreliable
    assert dims["D2"].unreliable and not dims["D2"].mean.reported
    assert dims["D2"].mean.suppressed == "分维度信度过低（0.30），不宜解读"


def test_sub_indicator_observed_minus_expected(census: dict[tuple[str, str], Profile]) -> None:
    subs = {s.code: s for s in census[("school", "S01")].sub_indicators}
    scale, school_of, _, _ = tiny_values()
    mine = school_of == 0
    theta = (scale[mine] - 500.0) / 100.0
    # I1 (D1.1) right for even k: observed 5 / 10; expected: mean P1 at each PV
    p1 = np.stack([probabilities(tiny_inputs().responses.params, theta[:, m])[:, 0, 1] for m in range(2)], axis=1)
    d = 0.5 - p1.mean(axis=0)
    assert subs["D1.1"].observed == pytest.approx(0.5)
    assert subs["D1.1"].difference.estimate == pytest.approx(d.mean(), abs=2e-4)  # expected scores interpolated
    assert subs["D1.1"].difference.se == pytest.approx(math.sqrt(1.5 * np.var(d, ddof=1)), rel=1e-2)
    assert subs["D1.1"].n_items == 1 and subs["D1.1"].n_responses == 10
    assert d.mean() > 0.03 and subs["D1.1"].verdict == "strength"
    assert subs["D1.1"].sentence == (
        f"本校学生在“信息敏感性”方面表现突出：得分率比按其总体水平预期的高 {100 * d.mean():.0f} 个百分点。"
        "可以总结这方面的教学做法，用到其他方面。"
    )
    strong = sorted((s for s in subs.values() if s.verdict == "strength"), key=lambda s: -s.difference.estimate)
    assert census[("school", "S01")].strengths == tuple(s.sentence for s in strong)


def test_described_levels_come_from_the_items_at_rp67(census: dict[tuple[str, str], Profile]) -> None:
    desc = {d.level: d for d in census[("school", "S01")].level_descriptions}
    # 2PL a = 1: P = 0.67 at theta = b + ln(0.67 / 0.33) = b + 0.708; scale 570.8 and 620.8: both 优秀
    assert desc["优秀"].n_items == 2 and desc["优秀"].indicator_codes == ("D1.1", "D2.1")
    assert desc["优秀"].lower == CUTS[2] and desc["合格"].upper == CUTS[1]
    assert desc["优秀"].statements[0].startswith("能意识到身边问题中的信息需求")
    assert desc["待提高"].n_items == 0 and desc["待提高"].statements == ()
    assert desc["合格"].share is not None and desc["合格"].share.estimate == pytest.approx(0.8)


def test_a_researchers_described_level_replaces_the_drafted_statements(census: dict[tuple[str, str], Profile]) -> None:
    drafted = {d.level: d for d in census[("school", "S01")].level_descriptions}
    band = drafted["优秀"].band
    text = "能在复杂情境中综合评价信息来源，并说明理由。"
    inputs = replace(tiny_inputs(design="census"), described={band: {"优秀": text}})
    written = {d.level: d for d in build_profiles(inputs, rules=LENIENT).profiles[("school", "S01")].level_descriptions}
    assert written["优秀"].statements == (text,) and written["优秀"].indicator_codes == ()
    assert written["优秀"].n_items == drafted["优秀"].n_items  # the items still map where they did
    assert written["合格"] == drafted["合格"]  # a level without a written text keeps its drafted statements


def test_a_region_lists_its_schools_and_hides_names_on_request(census: dict[tuple[str, str], Profile]) -> None:
    county = census[("county", "320101")]
    assert county.spread is not None and [p.code for p in county.spread.schools] == ["S01", "S02", "S03", "S04", "S05"]
    assert [p.rank for p in county.spread.schools] == [1, 2, 3, 4, 5]
    assert [r.code for r in county.sub_areas] == ["S01", "S02", "S03", "S04", "S05"]
    hidden = county.without_school_names()
    assert hidden.spread is not None and {p.name for p in hidden.spread.schools} == {None}
    assert [p.label for p in hidden.spread.schools] == ["学校 1", "学校 2", "学校 3", "学校 4", "学校 5"]
    assert hidden.sub_areas == ()
    anon = build_profiles(tiny_inputs(), show_school_names=False).profiles[("county", "320101")]
    assert anon.spread is not None and anon.spread.names_shown is False
    assert all(p.code is None and p.name is None for p in anon.spread.schools)


def test_the_county_mean_se_is_the_delete_one_school_jackknife_by_hand() -> None:
    inputs = tiny_inputs(design="jkn")
    got = build_profiles(inputs, levels=["county"]).profiles[("county", "320101")].mean
    scale, school_of, _, _ = tiny_values()
    # JKn in one stratum (the province) of 9 schools: replicate j drops school j, others x 9/8, rho = 8/9
    in_x = school_of < 5
    full = scale[in_x].mean(axis=0)
    v = np.zeros(2)
    for j in range(9):
        keep = in_x & (school_of != j)
        v += 8 / 9 * (scale[keep].mean(axis=0) - full) ** 2
    u = v.mean()
    b = np.var(full, ddof=1)
    assert got.estimate == pytest.approx(full.mean())
    assert got.se_sampling == pytest.approx(math.sqrt(u))
    assert got.se == pytest.approx(math.sqrt(u + 1.5 * b))
    # a school's own mean has no sampling variance under a school-level jackknife
    school = build_profiles(inputs, levels=["school"]).profiles[("school", "S01")].mean
    assert school.se_sampling == 0.0 and school.se == pytest.approx(_rubin(345.0, 350.0)[1])


def test_change_since_a_previous_round() -> None:
    before = build_profiles(tiny_inputs())
    now = build_profiles(tiny_inputs(), previous=before, linking_error=3.0)
    ch = now.profiles[("school", "S01")].change
    assert ch is not None and ch.mean_change.estimate == pytest.approx(0.0)
    _, se = _rubin(345.0, 350.0)
    assert ch.mean_change.se == pytest.approx(math.sqrt(2 * se**2 + 9.0))
    assert not ch.significant and ch.linking_error == 3.0


def test_weighted_estimates_use_the_sampling_weights() -> None:
    _, _, girl, _ = tiny_values()
    weights = np.where(girl, 2.0, 1.0)
    p = build_profiles(tiny_inputs(weights=weights), levels=["school"]).profiles[("school", "S01")]
    # S01 pv1: girls 300..340 (sum 1600, weight 2), boys 350..390 (sum 1850); pv2: girls 1700, boys 1800
    pv1, pv2 = (2 * 1600 + 1850) / 15, (2 * 1700 + 1800) / 15
    est, se = _rubin(pv1, pv2)
    assert p.mean.estimate == pytest.approx(est) and p.mean.se == pytest.approx(se)
    assert p.participation.weighted and "各项估计均使用抽样权重" in p.methods.paragraphs[0]
    unweighted = build_profiles(tiny_inputs(), levels=["school"]).profiles[("school", "S01")]
    assert unweighted.mean.estimate == pytest.approx(347.5) and not unweighted.participation.weighted
