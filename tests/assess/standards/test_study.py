"""A bookmark study: its booklet, a round's cuts and spread, their impact, adoption as a scale version."""

from __future__ import annotations

import statistics

import pytest
from numpy.testing import assert_allclose
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from assess.exceptions import StandardSettingRefused
from assess.sampling.models import SampleDraw, SampleSchool, SampleWeight
from assess.scales import cut_scores_for_band
from assess.standards.study import adopt_round, create_study, impact_of, place_bookmarks, round_result, study_view
from assess.standards.versions import active_scale, band_scale, list_versions
from itembank.models import utcnow
from tests.assess.standards.conftest import ACTOR, Bank
from tests.scoring.test_bookmark import LOGIT, gpcm_rp67

PANEL = {"王老师": [1, 2, 3], "李老师": [1, 3, 4], "张老师": [2, 3, 4]}


def _study(bank: Bank) -> None:
    with Session(bank.engine) as s:
        create_study(session=s, actor=ACTOR, name="初中 2026", band="7-9", assessment="IMP")
        for who, pages in PANEL.items():
            place_bookmarks(session=s, actor=ACTOR, study="初中 2026", round=1, panellist=who, pages=pages)
        s.commit()


def test_the_booklet_is_every_score_point_in_rp67_order(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        view = round_result(session=s, study="初中 2026", round=1)
        booklet = study_view(session=s, study="初中 2026").booklet
    g1, g2 = gpcm_rp67(0.8, -0.4, 0.9)
    c = bank.codes
    assert [(p["code"], p["score"]) for p in booklet] == [(c["X"], 1), (c["G"], 1), (c["A"], 1), (c["G"], 2)]
    assert_allclose([float(str(p["theta"])) for p in booklet], [-1 + LOGIT, g1, 0.5 + LOGIT / 1.2, g2], atol=1e-6)
    assert view.panellists == (("张老师", (2, 3, 4)), ("李老师", (1, 3, 4)), ("王老师", (1, 2, 3)))


def test_a_round_turns_into_cut_scores_as_the_hand_computation_says(bank: Bank) -> None:
    _study(bank)
    g1, g2 = gpcm_rp67(0.8, -0.4, 0.9)
    pages = {1: -1 + LOGIT, 2: g1, 3: 0.5 + LOGIT / 1.2, 4: g2}
    with Session(bank.engine) as s:
        result = round_result(session=s, study="初中 2026", round=1)
    for b, boundary in enumerate(result.boundaries):
        thetas = [pages[marks[b]] for marks in PANEL.values()]
        hand = statistics.median(thetas)
        assert_allclose(boundary.panel.theta, hand, atol=1e-6)
        assert_allclose(boundary.scale_score, 500 + 100 * hand, atol=1e-4)  # default baseline: mean 0, SD 1
        assert_allclose(boundary.scale_sd, 100 * statistics.stdev(thetas), atol=1e-4)
        q = statistics.quantiles(thetas, n=4, method="inclusive")
        assert_allclose(boundary.scale_iqr, 100 * (q[2] - q[0]), atol=1e-4)
        assert boundary.panel.median_page == statistics.median([m[b] for m in PANEL.values()])
    assert_allclose(result.cuts.cuts, (500 + 100 * pages[1], 500 + 100 * pages[3], 500 + 100 * pages[4]), atol=1e-4)
    assert [x.label for x in result.boundaries] == ["待提高｜合格", "合格｜良好", "良好｜优秀"]


def test_impact_counts_the_students_at_each_level_under_the_cuts(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        impact = round_result(session=s, study="初中 2026", round=1).impact
    # cuts 470.8, 609.0, 696.1; scores 300, 450, 500, 550, 650, 750 -> 2, 2, 1, 1
    assert impact is not None and not impact.weighted and impact.n == 6
    assert impact.counts == (2, 2, 1, 1)
    assert_allclose(impact.shares, (2 / 6, 2 / 6, 1 / 6, 1 / 6))


def test_impact_is_weighted_where_the_sample_has_weights(bank: Bank) -> None:
    _study(bank)
    weights = [1.0, 3.0, 2.0, 2.0, 1.0, 1.0]  # the seventh student (no sitting) and the first share nothing else
    with Session(bank.engine) as s:
        draw = SampleDraw(name="d", seed=1, assessment_id=bank.assessment_id, design="", weighted_at=utcnow())
        s.add(draw)
        s.flush()
        school = SampleSchool(draw_id=int(draw.id or 0), code="S1", name="x", stratum="s", sort_position=0,
                              role="sampled", measure=1.0, probability=1.0)  # fmt: skip
        s.add(school)
        s.flush()
        for sid, w in zip(bank.students, weights, strict=False):
            s.add(SampleWeight(draw_id=int(draw.id or 0), student_id=sid, school_id=int(school.id or 0), assessed=True,
                               final=w, base=w, school_adjustment=1, within=1, student_adjustment=1, trim=1,
                               zone=0, half=0))  # fmt: skip
        s.commit()
        cuts = round_result(session=s, study="初中 2026", round=1).cuts
        impact = impact_of(session=s, study="初中 2026", cuts=cuts)
    assert impact is not None and impact.weighted
    assert_allclose(impact.shares, (4 / 10, 4 / 10, 1 / 10, 1 / 10))


def test_adopting_a_round_makes_a_new_version_and_keeps_the_old(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        before = band_scale(session=s, band="7-9")
        assert before.cuts == (420.0, 490.0, 560.0) and before.version == 1
        adopted = adopt_round(session=s, actor=ACTOR, study="初中 2026", round=1)
        s.commit()
        _, g2 = gpcm_rp67(0.8, -0.4, 0.9)
        hand = tuple(round(500 + 100 * t, 1) for t in (-1 + LOGIT, 0.5 + LOGIT / 1.2, g2))
        assert adopted.number == 2 and adopted.cuts["7-9"] == hand
        after = band_scale(session=s, band="7-9")
        assert after.cuts == hand and after.version == 2
        assert band_scale(session=s, band="3-4").cuts == cut_scores_for_band("3-4").cuts  # other bands: the framework's
        assert [v.number for v in list_versions(session=s)] == [2, 1]
        assert [v.active for v in list_versions(session=s)] == [True, False]
        assert active_scale(session=s).source == "study:初中 2026 round:1"
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "scale.adopt")).one().target == "scale:2"


def test_bad_bookmarks_are_refused_and_nothing_is_written(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        for pages, why in (([1, 1, 2], "从低到高"), ([1, 2, 9], "1 到 4"), ([1, 2], "3 条")):
            with pytest.raises(StandardSettingRefused, match=why):
                place_bookmarks(session=s, actor=ACTOR, study="初中 2026", round=2, panellist="王老师", pages=pages)
        with pytest.raises(StandardSettingRefused, match="轮次"):
            place_bookmarks(session=s, actor=ACTOR, study="初中 2026", round=4, panellist="王老师", pages=[1, 2, 3])
        with pytest.raises(StandardSettingRefused, match="第 2 轮还没有书签"):
            round_result(session=s, study="初中 2026", round=2)
        with pytest.raises(StandardSettingRefused, match="已有名为"):
            create_study(session=s, actor=ACTOR, name="初中 2026", band="7-9", assessment="IMP")
