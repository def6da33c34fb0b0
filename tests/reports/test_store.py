"""Stored profiles: a built profile read back from either database is the profile that was built."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from reports.aggregate import ProfileSet, build_profiles
from reports.models import ProfileBuild, StoredProfile
from reports.plausible import DrawnValues, store_plausible_values
from reports.store import load_profile, load_profiles, profile_from_json, profile_to_json, store_profiles, stored_build
from reports.tree import load_tree
from tests.reports.test_plausible import _people, _responses
from tests.reports.tiny import tiny_inputs


def _draw(session: Session, assessment_id: int, seed: int) -> None:
    from assess.models import Assessment

    assessment = session.get(Assessment, assessment_id)
    assert assessment is not None
    tree = load_tree(session=session, assessment=assessment)
    theta = np.linspace(-1, 1, 12).reshape(6, 2)
    drawn = DrawnValues(
        theta=theta, eap=theta.mean(axis=1), eap_sd=np.full(6, 0.4), dimension_theta={}, dimension_reliability={},
        dimension_items={}, conditioning=("girl",), model={},
    )  # fmt: skip
    store_plausible_values(
        session=session, tree=tree, responses=_responses(int(assessment.calibration_id or 0), 6), drawn=drawn, seed=seed
    )


def _profiles() -> ProfileSet:
    built = build_profiles(tiny_inputs(design="jkn"))
    return ProfileSet(built.assessment, built.profiles, {"load": 0.5, **built.seconds})


def test_a_profile_survives_json_with_its_types_and_withheld_numbers() -> None:
    profiles = _profiles()
    withheld = [p for p in profiles if not p.reported]
    assert withheld, "the tiny assessment has a school below the threshold"
    for p in profiles:
        text = profile_to_json(p)
        back = profile_from_json(text)
        assert profile_to_json(back) == text
        assert back.identity == p.identity and back.suppressed == p.suppressed
        assert [r.statistic for r in back.rows()] == [r.statistic for r in p.rows()]
        np.testing.assert_array_equal([r.estimate for r in back.rows()], [r.estimate for r in p.rows()])  # NaN = NaN
        np.testing.assert_array_equal([r.se for r in back.rows()], [r.se for r in p.rows()])
        assert isinstance(back.levels, tuple) and all(type(s.stat.estimate) is float for s in back.levels)
    assert math.isnan(profile_from_json(profile_to_json(withheld[0])).mean.estimate)


def test_stored_profiles_read_back_and_a_new_build_replaces_the_old(engine: Engine) -> None:
    profiles = _profiles()
    with Session(engine) as session:
        assessment = _people(session)
        aid = int(assessment.id or 0)
        with pytest.raises(LookupError):
            store_profiles(session=session, profiles=profiles, assessment_id=aid)
        assert stored_build(session=session, assessment_id=aid) is None
        _draw(session, aid, seed=1)
        build = store_profiles(session=session, profiles=profiles, assessment_id=aid, design="jkn")
        session.commit()
    assert (build.n_profiles, build.design) == (len(profiles), "jkn")
    assert build.n_reported == sum(1 for p in profiles if p.reported)
    school = profiles.at("school")[0]
    with Session(engine) as session:
        got = load_profile(session=session, assessment_id=aid, level="school", code=school.identity.code)
        assert got is not None and profile_to_json(got) == profile_to_json(school)
        assert load_profile(session=session, assessment_id=aid, level="school", code="NOPE") is None
        assert load_profile(session=session, assessment_id=aid + 1, level="school", code=school.identity.code) is None
        codes = [p.identity.code for p in profiles.at("school")]
        many = load_profiles(session=session, assessment_id=aid, level="school", codes=[*codes, "NOPE"])
        assert sorted(many) == sorted(codes)
        assert stored_build(session=session, assessment_id=aid) == build
        # storing again replaces the build, rows and all
        again = store_profiles(session=session, profiles=profiles, assessment_id=aid)
        session.commit()
        assert again.design == "auto" and stored_build(session=session, assessment_id=aid) == again
        assert len(session.exec(select(ProfileBuild)).all()) == 1
        assert len(session.exec(select(StoredProfile)).all()) == len(profiles)
        # PVs drawn again: their run goes, and the build that rested on it with it
        _draw(session, aid, seed=2)
        session.commit()
        assert stored_build(session=session, assessment_id=aid) is None
        assert session.exec(select(StoredProfile)).all() == []
