"""A small synthetic assessment with every part of a profile filled in (no database), for the renderers.

Two provinces in two regions (江苏省, 东部; 四川省, 西部), each with one city and two counties of
six schools; county 云溪县 has a seventh school of eight students (withheld: fewer than ten).
About 1,200 grade-7 and grade-8 students (grade band 7-9, cuts 420/490/560). True ability: a
school effect, +0.25 for 江苏, +0.3 for grade 8, +0.1 for girls, normal noise; five plausible
values per student scatter around it (posterior SD 0.35) on the reporting scale 500 + 100 theta.
Sixty 2PL items over the seventeen sub-indicators, 24 answered per student; in county 安平区 the
"信息检索" items are easier than the model says (a strength) and in 青石区 the "人工智能初步"
items harder (a weakness). Dimension D4's subscore reliability is set below 0.5 (a flag).
Names are as a school would write them, so rendering shows real Chinese text.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from assess.models import Area, Assessment, School
from assess.scales import LEVELS
from itembank.framework import default_framework
from reports.aggregate import ProfileSet, build_profiles
from reports.inputs import ReportInputs
from reports.models import PlausibleValueRunPublic
from reports.plausible import AssessmentResponses, StoredValues
from reports.profile import AssessmentInfo
from reports.sample import choose_design
from reports.tree import build_tree
from scoring.params import ItemParams

FloatArray = npt.NDArray[np.float64]

CUTS = (420.0, 490.0, 560.0)  # band 7-9 of the default framework
M = 5
PROVINCES = (("32", "江苏省", "东部", "3201", "东岭市"), ("51", "四川省", "西部", "5101", "西川市"))
COUNTIES = {"32": (("320101", "安平区"), ("320102", "金川县")), "51": (("510101", "青石区"), ("510102", "云溪县"))}
SCHOOL_NAMES = ("实验中学", "第一中学", "第二中学", "城关中学", "育才学校", "乡中心学校")
LOCALES = ("urban", "urban", "town", "town", "rural", "rural")


def _areas() -> list[Area]:
    out = []
    for code, name, region, city, city_name in PROVINCES:
        out.append(Area(code=code, name=name, level="province", region=region, path=f"/{code}/"))
        out.append(Area(code=city, name=city_name, level="city", region=region, path=f"/{code}/{city}/"))
        for county, county_name in COUNTIES[code]:
            out.append(Area(code=county, name=county_name, level="county", region=region,
                            path=f"/{code}/{city}/{county}/"))  # fmt: skip
    return out


def _schools() -> tuple[list[School], list[str]]:
    """Schools in code order and the county of each."""
    schools, county_of = [], []
    for code, _name, _region, city, _city_name in PROVINCES:
        for county, county_name in COUNTIES[code]:
            count = 7 if county == "510102" else 6
            for k in range(count):
                sc = f"{county}{k + 1:02d}"
                name = f"{county_name}{SCHOOL_NAMES[k]}" if k < 6 else f"{county_name}石门村教学点"
                locale = LOCALES[k] if k < 6 else "rural"
                schools.append(
                    School(code=sc, name=name, locale=locale, area_id=0, path=f"/{code}/{city}/{county}/{sc}/")
                )
                county_of.append(county)
    return schools, county_of


def small_inputs(seed: int = 7) -> ReportInputs:
    """The small assessment as :class:`~reports.inputs.ReportInputs` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    now = datetime(2025, 5, 12, 8, 0)
    assessment = Assessment(id=1, code="S25", name="2025年春季初中学生信息素养测评", opens_at=now, closes_at=now,
                            grades=[7, 8], calibration_id=1)  # fmt: skip
    schools, county_of = _schools()
    sizes = np.array([8 if s.name.endswith("教学点") else int(rng.integers(35, 66)) for s in schools])
    school_of = np.repeat(np.arange(len(schools)), sizes)
    n = school_of.size
    effect = rng.normal(0.0, 0.4, len(schools)) + np.array([0.25 if c.startswith("32") else 0.0 for c in county_of])
    grade = rng.choice([7, 8], n)
    girl = rng.random(n) < 0.5
    theta = effect[school_of] + 0.3 * (grade == 8) + 0.1 * girl + rng.normal(0.0, 0.85, n)
    tree = build_tree(
        assessment, schools, _areas(), student_ids=np.arange(1, n + 1), session_ids=np.arange(1, n + 1),
        school_of=school_of, grade=grade, girl=girl, sampled=sizes + (np.arange(len(schools)) % 5 == 0),
    )  # fmt: skip
    pv = theta[:, None] + rng.normal(0.0, 0.35, (n, M))
    scale = 500.0 + 100.0 * pv
    level = np.searchsorted(np.asarray(CUTS), scale, side="right").astype(np.int64)
    reliability = {"D1": 0.72, "D2": 0.66, "D3": 0.78, "D4": 0.42}
    dims = {d: scale + rng.normal(0.0, 100 * np.sqrt(1 / r - 1) * 0.5, (n, M)) for d, r in reliability.items()}
    run = PlausibleValueRunPublic(
        id=1, assessment_id=1, calibration_id=1, created_at=now, n_pvs=M, n_students=n, n_sessions=n,
        conditioning=["grade8", "girl", "urban", "rural", "west", "school"], model={"reliability": 0.88},
        dimensions={d: {"reliability": r, "items": 6.0} for d, r in reliability.items()},
        levels=list(LEVELS), pass_level=1, cuts={"7-9": list(CUTS)},
    )  # fmt: skip
    values = StoredValues(
        run=run, scale=scale, level=level, passed=level >= 1, dimension_scale=dims, eap_sd=np.full(n, 0.35),
        bands=tuple("7-9" for _ in range(n)), levels=LEVELS, pass_level=1, cuts={"7-9": CUTS},
    )  # fmt: skip
    responses = _responses(rng, theta, school_of, county_of)
    info = AssessmentInfo(
        code="S25", name=assessment.name, grades=(7, 8), opens_at=now, closes_at=now, calibration="2025春季标定",
        round_label="2025年05月", generated_at=datetime(2025, 6, 1, 9, 0),
    )  # fmt: skip
    return ReportInputs(tree=tree, values=values, responses=responses, framework=default_framework(),
                        sample=choose_design(tree, mode="auto"), info=info)  # fmt: skip


def _responses(
    rng: np.random.Generator, theta: FloatArray, school_of: npt.NDArray[np.int64], county_of: list[str]
) -> AssessmentResponses:
    indicators = [i.code for i in default_framework().indicators]
    n_items, per_student = 60, 24
    tags = tuple(indicators[j % len(indicators)] for j in range(n_items))
    a = rng.uniform(0.8, 1.8, n_items)
    b = rng.normal(0.2, 0.9, n_items)
    n = theta.size
    county = np.array(county_of)[school_of]
    shift = np.zeros((n, n_items))
    shift[np.ix_(county == "320101", [j for j, t in enumerate(tags) if t == "D3.1"])] = 0.9
    shift[np.ix_(county == "510101", [j for j, t in enumerate(tags) if t == "D2.4"])] = -0.9
    cols = np.argsort(rng.random((n, n_items)), axis=1)[:, :per_student]
    cols.sort(axis=1)
    rows = np.repeat(np.arange(n), per_student)
    flat = cols.ravel()
    p = 1.0 / (1.0 + np.exp(-(a[flat] * (theta[rows] - b[flat]) + shift[rows, flat])))
    scores = (rng.random(p.size) < p).astype(np.float64)
    indptr = np.arange(0, n * per_student + 1, per_student)
    matrix = sp.csr_matrix((scores, flat, indptr), shape=(n, n_items))  # explicit zeros kept
    params = ItemParams(ids=tuple(f"I{j:02d}" for j in range(n_items)), models=("2pl",) * n_items, a=a,
                        b=b.reshape(-1, 1), c=np.zeros(n_items))  # fmt: skip
    return AssessmentResponses(
        params=params, version_ids=tuple(range(1, n_items + 1)), indicators=tags,
        dimensions=tuple(t.split(".")[0] for t in tags), matrix=matrix, calibration_id=1,
        calibration_name="2025春季标定", baseline_mean=0.0, baseline_sd=1.0,
    )  # fmt: skip


@cache
def small_profiles() -> ProfileSet:
    """Every profile of the small assessment (built once per process)."""
    return build_profiles(small_inputs())
