"""Scale versions: the default reproduces today's constants; an adopted version scores new sittings; old ones stay."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.exceptions import StandardSettingRefused
from assess.full_path import current_item
from assess.models import TestSession
from assess.scales import LEVEL_DESCRIPTIONS, LEVELS, cut_scores_for_band
from assess.standards.versions import (
    DEFAULT_VERSION,
    activate_version,
    active_scale,
    adopt_version,
    band_scale,
    list_versions,
    scale_version,
)
from tests.assess.standards.conftest import ACTOR
from tests.assess.test_full_path import _take_test

Live = tuple[Engine, int, list[int]]


def test_the_default_version_is_todays_constants(engine: Engine) -> None:
    with Session(engine) as s:
        scale = active_scale(session=s)
        assert scale == DEFAULT_VERSION and not scale.stored and list_versions(session=s) == [DEFAULT_VERSION]
        for band in ("3-4", "5-6", "7-9", "10-12"):
            got = band_scale(session=s, band=band)
            assert got.cuts == cut_scores_for_band(band).cuts and got.levels == LEVELS and got.pass_level == 1
            assert (got.baseline_mean, got.baseline_sd) == (0.0, 1.0)
            assert [got.description(x) for x in LEVELS] == [LEVEL_DESCRIPTIONS[x] for x in LEVELS]
        assert scale_version(session=s, number=1) == DEFAULT_VERSION


def test_an_adopted_version_scores_new_sittings_and_the_old_one_stays(live: Live) -> None:
    engine, aid, students = live
    _take_test(engine, aid, students[0], seed=1)
    high = replace(DEFAULT_VERSION, name="全部优秀", cuts={"7-9": (-1000.0, -999.0, -998.0)}, baseline_mean=0.5,
                   baseline_sd=2.0, descriptions={**DEFAULT_VERSION.descriptions, "优秀": "新的描述"})  # fmt: skip
    with Session(engine) as s:
        adopt_version(session=s, actor=ACTOR, settings=high)
        s.commit()
    _take_test(engine, aid, students[1], seed=2)
    with Session(engine) as s:
        old, new = (s.exec(select(TestSession).where(TestSession.student_id == sid)).one() for sid in students[:2])
        assert old.scale_score == pytest.approx(500 + 100 * (old.theta or 0.0))
        assert old.level == cut_scores_for_band("7-9").level(old.scale_score or 0.0)
        assert new.scale_score == pytest.approx(500 + 100 * ((new.theta or 0.0) - 0.5) / 2.0)
        assert new.level == "优秀" and new.passed is True
        shown = current_item(session=s, test_session=new)
        assert shown.description == "新的描述"
        assert [(v.number, v.active) for v in list_versions(session=s)] == [(2, True), (1, False)]
        assert scale_version(session=s, number=1).cuts == {}
        activate_version(session=s, actor=ACTOR, number=1)
        s.commit()
        assert band_scale(session=s, band="7-9").cuts == cut_scores_for_band("7-9").cuts
        assert [(v.number, v.active) for v in list_versions(session=s)] == [(2, False), (1, True)]


def test_a_version_that_does_not_make_sense_is_refused(engine: Engine) -> None:
    bad = (
        (replace(DEFAULT_VERSION, cuts={"7-9": (500.0, 450.0, 600.0)}), "严格递增"),
        (replace(DEFAULT_VERSION, levels=("a", "a", "b", "c")), "四个互不相同"),
        (replace(DEFAULT_VERSION, pass_level=0), "达标线"),
        (replace(DEFAULT_VERSION, baseline_sd=0.0), "标准差"),
    )
    with Session(engine) as s:
        for settings, why in bad:
            with pytest.raises(StandardSettingRefused, match=why):
                adopt_version(session=s, actor=ACTOR, settings=settings)
        assert list_versions(session=s) == [DEFAULT_VERSION]
