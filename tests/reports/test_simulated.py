"""Profiles of a simulated national run equal a direct computation from the stored plausible values.

One small national simulation (1,500 students, SQLite) is shared by the module: the operational
assessment's PVs are drawn and stored, every profile built, and a county's and a school's numbers
recomputed here from the stored values with plain numpy (Rubin's rules, the delete-one-school
jackknife within provinces written out as a loop). The CLI runs on the same database.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.models import Assessment, TestSession
from assess.simulate.pipeline import NationalRun
from itembank.db import make_engine
from reports.aggregate import ProfileSet, build_assessment_profiles
from reports.models import PlausibleValue, PlausibleValueRun
from reports.tree import find_assessment, load_tree
from tests.reports.national import invoke

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(national: tuple[Path, NationalRun]) -> Iterator[tuple[Engine, ProfileSet]]:
    path, run = national
    engine = make_engine(f"sqlite:///{path}")
    with Session(engine, expire_on_commit=False) as session:
        profiles = build_assessment_profiles(session=session, assessment_code=run.adaptive_assessment, n_pvs=5)
        session.commit()
    yield engine, profiles
    engine.dispose()


def _stored(engine: Engine, code: str) -> dict[str, Any]:
    """The stored PVs with each student's school, county, province and gender, from the database."""
    with Session(engine) as session:
        assessment = find_assessment(session=session, code=code)
        tree = load_tree(session=session, assessment=assessment)
        run = session.exec(select(PlausibleValueRun).where(PlausibleValueRun.assessment_id == assessment.id)).one()
        rows = {
            r.student_id: r for r in session.exec(select(PlausibleValue).where(PlausibleValue.run_id == run.id)).all()
        }
    ordered = [rows[int(s)] for s in tree.student_ids.tolist()]
    return {
        "run": run,
        "tree": tree,
        "scale": np.array([r.scale_score for r in ordered]),
        "theta": np.array([r.theta for r in ordered]),
        "level": np.array([r.level for r in ordered]),
        "band": [r.band for r in ordered],
    }


def test_the_stored_pvs_carry_the_scale_and_the_levels_of_the_framework(built: tuple[Engine, ProfileSet]) -> None:
    engine, profiles = built
    data = _stored(engine, profiles.assessment.code)
    run = data["run"]
    assert run.n_pvs == 5 and data["scale"].shape == (data["tree"].n_students, 5)
    assert (run.scale_mean, run.scale_sd, run.levels) == (500.0, 100.0, ["待提高", "合格", "良好", "优秀"])
    np.testing.assert_allclose(
        data["scale"], 500 + 100 * (data["theta"] - run.baseline_mean) / run.baseline_sd, atol=2e-3
    )
    from assess.scales import cut_scores_for_band

    for band in set(data["band"]):
        mine = np.array([b == band for b in data["band"]])
        cuts = cut_scores_for_band(band).cuts
        assert tuple(run.cuts[band]) == cuts
        np.testing.assert_array_equal(data["level"][mine], np.searchsorted(cuts, data["scale"][mine], side="right"))
    assert set(run.dimensions) == {"D1", "D2", "D3", "D4"}
    assert all(0.0 < v["reliability"] < 1.0 for v in run.dimensions.values())


def test_a_region_profile_equals_a_direct_computation(built: tuple[Engine, ProfileSet]) -> None:
    engine, profiles = built
    data = _stored(engine, profiles.assessment.code)
    tree, scale, level = data["tree"], data["scale"], data["level"]
    school_of, province_of = tree.levels["school"].of_student, tree.levels["province"].of_student
    region_of = tree.levels["region"].of_student
    r = int(np.argmax(np.bincount(region_of)))
    p = profiles.get("region", tree.levels["region"].codes[r])
    assert p.reported
    mine = region_of == r
    per_pv = scale[mine].mean(axis=0)
    assert p.mean.estimate == pytest.approx(per_pv.mean())
    # JKn within provinces, written out: replicate s drops school s, the other schools of its province
    # get weight nh / (nh - 1), factor (nh - 1) / nh; a province with one school has no replicate
    v = np.zeros(scale.shape[1])
    for s in np.unique(school_of):
        prov = province_of[school_of == s][0]
        nh = np.unique(school_of[province_of == prov]).size
        if nh < 2:
            continue
        w = np.where(province_of == prov, nh / (nh - 1), 1.0) * (school_of != s) * mine
        v += (nh - 1) / nh * ((w[:, None] * scale).sum(axis=0) / w.sum() - per_pv) ** 2
    u, b = v.mean(), per_pv.var(ddof=1)
    assert p.mean.se_sampling == pytest.approx(math.sqrt(u), rel=1e-9)
    assert p.mean.se_measurement == pytest.approx(math.sqrt(1.2 * b), rel=1e-9)
    assert p.mean.se == pytest.approx(math.sqrt(u + 1.2 * b), rel=1e-9)
    assert p.pass_rate.estimate == pytest.approx((level[mine] >= 1).mean(axis=0).mean())
    median = [np.sort(scale[mine, m])[math.ceil(0.5 * mine.sum()) - 1] for m in range(scale.shape[1])]
    assert next(q for q in p.percentiles if q.p == 50).stat.estimate == pytest.approx(np.mean(median))
    girls = tree.girl
    gap = next(g for g in p.gaps if g.kind == "gender")
    d = scale[mine & girls].mean(axis=0) - scale[mine & ~girls].mean(axis=0)
    assert gap.difference.estimate == pytest.approx(d.mean())
    nation = scale.mean(axis=0)
    vs_nation = next(x for x in p.comparisons if x.statistic == "mean" and x.other_level == "national")
    assert vs_nation.difference.estimate == pytest.approx((per_pv - nation).mean())
    assert p.spread is not None and len(p.spread.schools) == np.unique(school_of[mine]).size


def test_a_school_profile_equals_a_direct_computation(built: tuple[Engine, ProfileSet]) -> None:
    engine, profiles = built
    data = _stored(engine, profiles.assessment.code)
    tree, scale = data["tree"], data["scale"]
    school_of = tree.levels["school"].of_student
    s = int(np.argmax(np.bincount(school_of)))
    p = profiles.get("school", tree.levels["school"].codes[s])
    per_pv = scale[school_of == s].mean(axis=0)
    assert p.mean.estimate == pytest.approx(per_pv.mean())
    assert p.mean.se_sampling == 0.0  # the school is the whole population of its own profile
    assert p.mean.se == pytest.approx(math.sqrt(1.2 * per_pv.var(ddof=1)))
    assert p.participation.students_assessed == int((school_of == s).sum())
    assert p.identity.ancestors[0] == ("national", "national", "全国")
    assert len(p.sub_indicators) == 17 and len(p.level_descriptions) == 4
    assert all(d.statements for d in p.level_descriptions if d.n_items)


def test_the_cli_writes_profiles_and_refuses_bad_requests_with_one_line(
    national: tuple[Path, NationalRun],
    built: tuple[Engine, ProfileSet],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, run = national
    _, profiles = built
    code = run.adaptive_assessment
    out = tmp_path / "out"
    res = invoke(path, ["report", "build", code, "--out", str(out), "--level", "county,national"], monkeypatch)
    assert res.exit_code == 0, res.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.csv"))
    assert "national/national.csv" in written and "profiles.csv" in written and "columns.csv" in written
    assert len([w for w in written if w.startswith("county/")]) == len(profiles.at("county"))
    text = (out / "national" / "national.csv").read_text(encoding="utf-8-sig")
    assert (
        f"national,national,全国,mean,平均量表分,{round(profiles.get('national', 'national').mean.estimate, 6)}" in text
    )
    for args, message in (
        (["report", "school", "NO-SUCH", "--assessment", code, "--out", str(tmp_path / "x.csv")], "没有代码为 NO-SUCH"),
        (["report", "build", "NO-SUCH", "--out", str(tmp_path / "y")], "没有代码为 NO-SUCH 的测评"),
        (["report", "build", code, "--out", str(tmp_path / "z"), "--format", "doc"], "unknown format doc"),
        (["report", "build", code, "--out", str(tmp_path / "z"), "--level", "village"], "unknown level village"),
    ):
        res = invoke(path, args, monkeypatch)
        assert res.exit_code != 0 and message in res.output, res.output
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "y").exists() and not (tmp_path / "z").exists()
    res = invoke(path, ["report", "pvs", code], monkeypatch)
    assert res.exit_code == 0 and "每人 5 个合理值" in res.output  # current: not drawn again
    # every school profile of one county as one ZIP
    county = profiles.at("county")[0]
    schools = {
        p.identity.code
        for p in profiles.at("school")
        if ("county", county.identity.code, county.identity.name) in p.identity.ancestors
    }
    archive = tmp_path / "county.zip"
    args = ["report", "build", code, "--zip", str(archive), "--within", county.identity.code, "--level", "school"]
    res = invoke(path, args, monkeypatch)
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
    assert names == {f"school/{s}.csv" for s in schools} | {"profiles.csv", "columns.csv"}
    res = invoke(
        path, ["report", "build", code, "--zip", str(tmp_path / "a.zip"), "--out", str(tmp_path / "a")], monkeypatch
    )
    assert res.exit_code != 0 and "give one of --out DIR or --zip FILE" in res.output


def test_a_build_of_every_profile_is_kept_for_the_consoles(
    national: tuple[Path, NationalRun], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reports.store import load_profile, stored_build

    path, run = national
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    res = invoke(copy, ["report", "build", run.adaptive_assessment], monkeypatch)
    assert res.exit_code == 0 and "已保存供控制台查看" in res.output, res.output
    engine = make_engine(f"sqlite:///{copy}")
    with Session(engine) as session:
        assessment = find_assessment(session=session, code=run.adaptive_assessment)
        build = stored_build(session=session, assessment_id=int(assessment.id or 0))
        tree = load_tree(session=session, assessment=assessment)
        n_groups = sum(len(tree.levels[lv].codes) for lv in tree.levels)
        assert build is not None and build.n_profiles == n_groups
        nation = load_profile(session=session, assessment_id=int(assessment.id or 0), level="national", code="national")
        assert nation is not None and nation.reported and nation.participation.students_assessed == tree.n_students
    engine.dispose()
    # a partial build is written, not kept; it needs somewhere to go
    res = invoke(copy, ["report", "build", run.adaptive_assessment, "--level", "school"], monkeypatch)
    assert res.exit_code != 0 and "give --out DIR or --zip FILE" in res.output


def test_a_school_below_the_threshold_is_refused_and_nothing_is_written(
    national: tuple[Path, NationalRun], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, run = national
    copy = tmp_path / "copy.db"
    shutil.copyfile(path, copy)
    engine = make_engine(f"sqlite:///{copy}")
    with Session(engine) as session:
        assessment = session.exec(select(Assessment).where(Assessment.code == run.adaptive_assessment)).one()
        tree = load_tree(session=session, assessment=assessment)
        s = int(np.argmax(np.bincount(tree.levels["school"].of_student)))
        school_code = tree.levels["school"].codes[s]
        ids = tree.session_ids[tree.levels["school"].of_student == s][5:].tolist()
        for row in session.exec(select(TestSession).where(col(TestSession.id).in_(ids))).all():
            row.assessed, row.scale_score = False, None  # five students of the school left assessed
        session.commit()
    engine.dispose()
    target = tmp_path / "school.csv"
    args = ["report", "school", school_code, "--assessment", run.adaptive_assessment, "--out", str(target)]
    res = invoke(copy, args, monkeypatch)
    assert res.exit_code != 0 and "学生不足10人（5人），不生成报告" in res.output, res.output
    assert not target.exists()
