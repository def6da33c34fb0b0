"""Grade bands from the framework in use, and the cut scores of a band (assess.banks, assess.scales)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.banks import band_of_grade, blueprint_for, grade_band, load_band_bank
from assess.exceptions import NotConfigured
from assess.models import Assessment
from assess.scales import cut_scores_for_band, final_scores
from itembank.db import session_scope
from itembank.framework import GradeBandSpec, default_framework, parse_framework
from itembank.services import load_framework


def test_without_a_stored_framework_the_default_bands_apply(engine: Engine) -> None:
    with Session(engine) as s:
        assert [band_of_grade(g, session=s) for g in range(3, 13)] == (
            ["3-4"] * 2 + ["5-6"] * 2 + ["7-9"] * 3 + ["10-12"] * 3
        )
        with pytest.raises(NotConfigured, match=r"2 年级不在.*3-4 \(3/4\)"):
            band_of_grade(2, session=s)


def test_the_stored_frameworks_bands_decide(engine: Engine) -> None:
    doc = default_framework().to_document()
    doc["code"] = "two-bands"
    doc["grade_bands"] = [
        {"code": "1-6", "name": "小学", "grades": [1, 2, 3, 4, 5, 6]},
        {"code": "7-12", "name": "中学", "grades": [7, 8, 9, 10, 11, 12], "cuts": [400, 480, 560]},
    ]
    with session_scope(engine) as s:
        load_framework(session=s, spec=parse_framework(doc))
    with Session(engine) as s:
        assert band_of_grade(2, session=s) == "1-6" and band_of_grade(9, session=s) == "7-12"
        assert cut_scores_for_band(grade_band(9, session=s)).cuts == (400.0, 480.0, 560.0)


def test_cut_scores_of_a_band_without_its_own_are_interpolated_at_its_mean_grade() -> None:
    default = {b.code: b.cuts for b in default_framework().grade_bands}
    assert cut_scores_for_band("7-9").cuts == default["7-9"] == (420.0, 490.0, 560.0)
    # a band of the default's code keeps the default's cuts
    assert cut_scores_for_band(GradeBandSpec("5-6", "x", (5, 6))).cuts == (370.0, 440.0, 510.0)
    # 6-8: mean grade 7, between 5-6 (mean 5.5) and 7-9 (mean 8): 1.5/2.5 of the way
    six_eight = cut_scores_for_band(GradeBandSpec("6-8", "x", (6, 7, 8))).cuts
    assert six_eight == pytest.approx((370 + 0.6 * 50, 440 + 0.6 * 50, 510 + 0.6 * 50))
    # 9-12: mean 10.5, between 7-9 (8) and 10-12 (11): 2.5/3 of the way
    nine_twelve = cut_scores_for_band(GradeBandSpec("9-12", "x", (9, 10, 11, 12))).cuts
    assert nine_twelve == pytest.approx(tuple(c + 50 * 2.5 / 3 for c in (420.0, 490.0, 560.0)))
    # below the youngest default band: held at its cuts
    assert cut_scores_for_band(GradeBandSpec("1-2", "x", (1, 2))).cuts == (330.0, 400.0, 470.0)
    # a band that states its cuts keeps them
    assert cut_scores_for_band(GradeBandSpec("6-8", "x", (6, 7, 8), (1.0, 2.0, 3.0))).cuts == (1.0, 2.0, 3.0)
    with pytest.raises(NotConfigured, match="6-8"):
        cut_scores_for_band("6-8")  # a code alone must be a default band


def test_levels_follow_the_bands_cut_scores(live: tuple[Engine, int, list[int]]) -> None:
    engine, aid, _ = live
    with Session(engine) as s:
        assessment = s.get(Assessment, aid)
        assert assessment is not None and assessment.calibration_id is not None
        bank = load_band_bank(session=s, calibration_id=assessment.calibration_id, band="7-9")
        spec = blueprint_for(session=s, assessment_id=aid, band="7-9")
    assert spec.min_items == 8
    items = list(range(8))
    scores = [int(bank.engine.params.max_scores[j]) for j in items]  # all right
    high = final_scores(bank.engine, items, scores)
    low_cuts = cut_scores_for_band(GradeBandSpec("7-9", "x", (7, 8, 9), (100.0, 110.0, 120.0)))
    assert final_scores(bank.engine, items, scores, cuts=low_cuts).level == "优秀"
    top_cuts = cut_scores_for_band(GradeBandSpec("7-9", "x", (7, 8, 9), (900.0, 950.0, 990.0)))
    top = final_scores(bank.engine, items, scores, cuts=top_cuts)
    assert top.level == "待提高" and not top.passed and top.scale_score == high.scale_score
    with Session(engine) as s, pytest.raises(NotConfigured, match="10-12"):
        blueprint_for(session=s, assessment_id=aid, band="10-12")
    with Session(engine) as s, pytest.raises(NotConfigured, match="999"):
        load_band_bank(session=s, calibration_id=999, band="7-9")
