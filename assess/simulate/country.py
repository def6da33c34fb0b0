"""A synthetic country: the school frame of ten provinces in the three regions, and its true abilities.

:func:`build_country` makes a frame like a national one: tens of thousands of primary schools
(grade 4) and junior secondary schools (grade 8) in 10 provinces (4 cities of 5 counties each),
their number by province roughly as the provinces' sizes, a locale mix that is more urban in
the east and more rural in the west, and enrolments that are large in cities (median about 180
a grade in a primary school), middling in county towns and small in villages (median about 25,
many below 10: the 教学点 of the countryside). Each school carries a true effect on InfoLit's
theta scale: region and locale effects (the same as :mod:`assess.simulate.population`) plus a
school effect (SD 0.5, an intra-class correlation of about 0.25).

:func:`national_design` is the design the national simulation draws through: explicit strata
region x province x locale (or coarser for a small sample), a minimum per stratum so small
western strata still get schools, implicit stratification by city, county and enrolment, up to
35 students per target grade in a school, two replacements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func
from sqlmodel import Session, col, select

from assess.models import School, SchoolClass, Student
from assess.sampling.design import SamplingDesign, WithinSchool
from assess.sampling.frame import SchoolFrame
from assess.sampling.select import DrawnSample, draw_sample
from assess.simulate.population import (
    DEFAULT_CHUNK,
    GRADE_MEANS,
    PROVINCES,
    ChunkProgress,
    Population,
    insert_areas,
    insert_rows,
)
from itembank.models import utcnow

__all__ = ["Country", "SeatedSample", "build_country", "national_design", "plan_schools", "seat_national_sample"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int], None]

REGION_EFFECT = {"东部": 0.20, "中部": 0.0, "西部": -0.25}
LOCALE_EFFECT = {"urban": 0.15, "town": 0.0, "rural": -0.20}
SCHOOL_SD = 0.5
PUPIL_SD = 0.866
_PROVINCE_SIZE = {"32": 1.0, "33": 0.8, "44": 1.4, "37": 1.3, "41": 1.5, "42": 0.9, "43": 1.0, "51": 1.2,
                  "52": 0.7, "62": 0.5}  # fmt: skip
_LOCALE_MIX = {"东部": (0.45, 0.35, 0.20), "中部": (0.30, 0.35, 0.35), "西部": (0.25, 0.30, 0.45)}
_MEDIAN = {"urban": 180.0, "town": 110.0, "rural": 25.0}
_SIGMA = {"urban": 0.5, "town": 0.5, "rural": 0.9}
_CITY_NAMES = ("临江", "青山", "平川", "云台", "河西", "南湖", "松原", "石桥", "东岭", "长塘", "白沙", "望海")
_COUNTY_NAMES = ("城关", "新华", "永安", "丰乐", "清水", "广福", "双河", "龙泉", "长乐", "安平", "金川", "太和")
_LOCALES = ("urban", "town", "rural")


@dataclass(frozen=True, eq=False)
class Country:
    """The frame of every school, and each school's true effect on the theta scale (beyond its grade's mean)."""

    frame: SchoolFrame
    effect: FloatArray


def build_country(rng: np.random.Generator, *, n_schools: int = 30_000, grades: tuple[int, ...] = (4, 8)) -> Country:
    """A country of about ``n_schools`` schools (see the module docstring).

    Primary schools (about 65%) enrol the lowest of ``grades`` and secondary schools the others.
    """
    share = np.array([_PROVINCE_SIZE.get(code, 1.0) for code, _, _ in PROVINCES])
    per_province = rng.multinomial(n_schools, share / share.sum())
    cols: dict[str, list[str]] = {k: [] for k in (
        "school_code", "school", "province_code", "province", "city_code", "city", "county_code", "county",
        "region", "locale")}  # fmt: skip
    kinds: list[bool] = []
    for (pcode, pname, region), n in zip(PROVINCES, per_province.tolist(), strict=True):
        locales = rng.choice(_LOCALES, size=n, p=_LOCALE_MIX[region])
        county = rng.integers(0, 20, size=n)
        primary = rng.random(n) < 0.65
        for k in range(n):
            ci, ki = int(county[k]) // 5, int(county[k]) % 5
            ccode, kcode = f"{pcode}{ci + 1:02d}", f"{pcode}{ci + 1:02d}{ki + 1:02d}"
            loc = str(locales[k])
            place = _COUNTY_NAMES[(k * 7 + ki) % len(_COUNTY_NAMES)]
            kind = "小学" if primary[k] else "中学"
            name = {"urban": f"{place}路第{k % 9 + 1}{kind}", "town": f"{place}镇中心{kind}",
                    "rural": f"{place}乡{'村' if primary[k] else ''}{kind}"}[loc]  # fmt: skip
            cols["school_code"].append(f"S{kcode}{k:05d}")
            cols["school"].append(name)
            cols["province_code"].append(pcode)
            cols["province"].append(pname)
            cols["city_code"].append(ccode)
            cols["city"].append(f"{_CITY_NAMES[(int(pcode) + ci) % len(_CITY_NAMES)]}市")
            cols["county_code"].append(kcode)
            cols["county"].append(f"{_COUNTY_NAMES[(int(ccode) + ki) % len(_COUNTY_NAMES)]}{'区' if ki == 0 else '县'}")
            cols["region"].append(region)
            cols["locale"].append(loc)
        kinds += primary.tolist()
    total = len(kinds)
    primary_arr = np.array(kinds, dtype=bool)
    loc_arr = np.array(cols["locale"])
    median = np.array([_MEDIAN[x] for x in cols["locale"]])
    sigma = np.array([_SIGMA[x] for x in cols["locale"]])
    size = np.clip(np.rint(median * np.exp(sigma * rng.standard_normal(total))), 3, 900).astype(np.int64)
    enrolment: dict[int, npt.NDArray[np.int64]] = {}
    low = min(grades)
    for g in grades:
        if g == low:
            enrolment[g] = np.where(primary_arr, size, 0)
        else:
            enrolment[g] = np.where(primary_arr, 0, np.rint(size * 1.6).astype(np.int64))
    effect = (
        np.array([REGION_EFFECT[r] for r in cols["region"]])
        + np.array([LOCALE_EFFECT[str(x)] for x in loc_arr])
        + SCHOOL_SD * rng.standard_normal(total)
    )
    frame = SchoolFrame.from_columns(cols, enrolment, source="<synthetic country>")
    return Country(frame, effect)


def national_design(n_schools: int, grades: tuple[int, ...], *, students: int = 35) -> SamplingDesign:
    """The national simulation's design for ``n_schools`` schools (strata as fine as the size allows)."""
    by: tuple[str, ...]
    if n_schools >= 30 * 4:
        by, n_strata = ("region", "province_code", "locale"), 30
    elif n_schools >= 9 * 3:
        by, n_strata = ("region", "locale"), 9
    else:
        by, n_strata = ("region",), 3
    minimum = max(2, min(6, n_schools // (3 * n_strata)))
    return SamplingDesign(
        name="全国信息素养测评（模拟抽样）",
        grades=tuple(sorted(grades)),
        strata_by=by,
        allocation="minimum",
        schools=max(n_schools, 2 * n_strata),
        minimum=minimum,
        sort=("city_code", "county_code", "-enrolment"),
        within=WithinSchool(mode="students", students=students),
        replacements=2,
        trim=4.0,
    )


@dataclass(frozen=True, eq=False)
class SeatedSample:
    """The national sample in the database: who is registered, who sits which test, and the draw.

    ``population`` holds every registered student (the operational sample's participating
    schools, then the field-trial schools); ``field_trial`` and ``operational`` index the students
    who sit the field trial and the operational test (the operational sample's absentees sit
    neither); ``sample`` is the draw, to be stored with the operational assessment.
    """

    population: Population
    field_trial: IntArray
    operational: IntArray
    sample: DrawnSample
    schools_refused: int
    replacements_used: int
    absent: int


def plan_schools(country: Country, n_students: int, grades: tuple[int, ...], *, students: int = 35) -> int:
    """Schools to draw for about ``n_students`` registered students: the PPS-expected take of a school."""
    enrol = np.stack([country.frame.enrolment[g] for g in grades], axis=1)
    take = np.minimum(enrol, students).sum(axis=1).astype(np.float64)
    mos = np.maximum(enrol.sum(axis=1), students * (enrol > 0).sum(axis=1)).astype(np.float64)
    expected = float((mos * take).sum() / mos.sum())
    return max(6, int(round(n_students / expected)))


def seat_national_sample(
    *,
    session: Session,
    country: Country,
    design: SamplingDesign,
    field_trial: int,
    rng: np.random.Generator,
    seed: int,
    refuse: float = 0.08,
    refuse_replacement: float = 0.25,
    absent: float = 0.05,
    progress: Progress | None = None,
    chunk: int = DEFAULT_CHUNK,
    chunk_progress: ChunkProgress | None = None,
) -> SeatedSample:
    """Draw the design, let schools refuse (replacements step in) and students miss the test; register them.

    A sampled school refuses with probability ``refuse``, a replacement asked in its place with
    ``refuse_replacement``; a registered student of a participating school misses the test with
    probability ``absent``. Field-trial schools are whole schools drawn at random from the rest of
    the frame, each grade in turn (the trial calibrates every grade band's items). Areas, schools,
    one class per grade and the students go in through the same tables as a registration file's.
    The students are written ``chunk`` at a time (every random number is drawn as in one piece,
    so the chunk changes nothing stored).
    """
    tick = progress or (lambda _s, _n: None)
    f = country.frame
    sample = draw_sample(f, design, seed=seed)
    taking: list[int] = []  # positions in the draw
    refused = used_repl = 0
    for i in np.nonzero(sample.sampled)[0].tolist():
        if rng.random() >= refuse:
            taking.append(i)
            continue
        refused += 1
        for role in (1, 2):
            cand = np.nonzero((sample.replaces == i) & (sample.role == role))[0]
            if cand.size and rng.random() >= refuse_replacement:
                taking.append(int(cand[0]))
                used_repl += 1
                break
    op_rows = [int(sample.index[i]) for i in taking]
    drawn = set(sample.index.tolist())
    enrol = np.stack([f.enrolment[g] for g in design.grades], axis=1)
    take = np.minimum(enrol, design.within.students)
    pool = [int(r) for r in rng.permutation(f.n_schools).tolist() if r not in drawn and take[r].sum() >= 20]
    ft_rows: list[int] = []
    per_grade = np.zeros(len(design.grades), dtype=np.int64)  # balanced: each item band needs its grade
    for r in pool:
        if per_grade.sum() >= field_trial:
            break
        if take[r, int(np.argmin(per_grade))] == 0:
            continue
        ft_rows.append(r)
        per_grade += take[r]
    rows = op_rows + ft_rows
    area_rows: dict[str, dict[str, Any]] = {}
    for r in rows:
        p, c, k = (str(f.column(n)[r]) for n in ("province_code", "city_code", "county_code"))
        region = str(f.column("region")[r])
        area_rows.setdefault(p, {"code": p, "name": str(f.column("province")[r]), "level": "province",
                                 "region": region, "path": f"/{p}/"})  # fmt: skip
        area_rows.setdefault(c, {"code": c, "name": str(f.column("city")[r]), "level": "city", "region": region,
                                 "path": f"/{p}/{c}/"})  # fmt: skip
        area_rows.setdefault(k, {"code": k, "name": str(f.column("county")[r]), "level": "county",
                                 "region": region, "path": f"/{p}/{c}/{k}/"})  # fmt: skip
    area_id = insert_areas(session, list(area_rows.values()))
    tick("areas", len(area_rows))
    school_rows = []
    for r in rows:
        code = str(f.column("school_code")[r])
        k = str(f.column("county_code")[r])
        school_rows.append({
            "code": code, "name": str(f.column("school")[r]), "locale": str(f.column("locale")[r]),
            "sector": str(f.column("sector")[r]), "area_id": area_id[k], "path": f"{area_rows[k]['path']}{code}/",
        })  # fmt: skip
    insert_rows(session, School, school_rows)
    codes = [str(s["code"]) for s in school_rows]
    school_id: dict[str, int] = {}
    for i in range(0, len(codes), 900):
        for sid, code in session.exec(select(School.id, School.code).where(col(School.code).in_(codes[i : i + 900]))):
            school_id[code] = int(sid or 0)
    tick("schools", len(school_rows))
    class_rows = [
        {"school_id": school_id[codes[j]], "grade": int(g), "name": f"{int(g)}年级1班"}
        for j, r in enumerate(rows)
        for gk, g in enumerate(design.grades)
        if take[r, gk] > 0
    ]
    insert_rows(session, SchoolClass, class_rows)
    class_id: dict[tuple[int, int], int] = {}
    ids = list(school_id.values())
    for i in range(0, len(ids), 900):
        for cid, sc, g in session.exec(
            select(SchoolClass.id, SchoolClass.school_id, SchoolClass.grade).where(
                col(SchoolClass.school_id).in_(ids[i : i + 900])
            )
        ):
            class_id[(int(sc), int(g))] = int(cid or 0)
    seats = _Seats(rows=rows, take=take, n_operational=len(op_rows), school_id=[school_id[c] for c in codes],
                   paths=[str(r["path"]) for r in school_rows], class_id=class_id)  # fmt: skip
    population, kinds = _register_students(
        session, country, design, seats, rng, absent=absent, chunk=chunk, chunk_progress=chunk_progress
    )
    tick("students", int(population.student_ids.size))
    return SeatedSample(
        population=population,
        field_trial=np.nonzero(kinds == 2)[0].astype(np.int64),
        operational=np.nonzero(kinds == 0)[0].astype(np.int64),
        sample=sample,
        schools_refused=refused,
        replacements_used=used_repl,
        absent=int((kinds == 1).sum()),
    )


@dataclass(frozen=True, eq=False)
class _Seats:
    """The schools that register students: frame rows (operational first), takes, database ids and paths."""

    rows: list[int]
    take: IntArray
    n_operational: int
    school_id: list[int]
    paths: list[str]
    class_id: dict[tuple[int, int], int]


def _register_students(
    session: Session,
    country: Country,
    design: SamplingDesign,
    seats: _Seats,
    rng: np.random.Generator,
    *,
    absent: float,
    chunk: int,
    chunk_progress: ChunkProgress | None,
) -> tuple[Population, IntArray]:
    """Draw and insert the seated schools' students, ``chunk`` rows at a time; the population and each one's kind.

    The kind is 0 for an operational sitter, 1 an operational absentee, 2 a field-trial student.
    Only the abilities, grades, schools and kinds (numbers) are kept for every student; the rows
    are written and dropped chunk by chunk, and their ids read back for that chunk alone.
    """
    first = int(session.exec(select(func.count(col(Student.id)))).one())
    total = int(seats.take[seats.rows].sum()) if seats.rows else 0
    theta = np.empty(total)
    grade_of = np.empty(total, dtype=np.int64)
    school_of = np.empty(total, dtype=np.int64)
    kind = np.empty(total, dtype=np.int64)
    new_ids = np.empty(total, dtype=np.int64)
    tickets = rng.choice(10**9, size=total, replace=False)
    pending: list[dict[str, Any]] = []
    written = 0

    def flush() -> None:
        nonlocal written, pending
        if not pending:
            return
        last = session.exec(select(func.max(col(Student.id)))).one() or 0
        insert_rows(session, Student, pending, chunk=chunk)
        got = session.exec(select(Student.id).where(col(Student.id) > last).order_by(col(Student.id))).all()
        new_ids[written : written + len(pending)] = np.asarray(got, dtype=np.int64)[-len(pending) :]
        written += len(pending)
        pending = []
        if chunk_progress is not None:
            chunk_progress("students", written, total)

    at = 0
    for j, r in enumerate(seats.rows):
        sid, path = seats.school_id[j], seats.paths[j]
        for gk, g in enumerate(design.grades):
            n = int(seats.take[r, gk])
            if n == 0:
                continue
            girls = rng.random(n) < 0.5
            t = GRADE_MEANS.get(int(g), 0.0) + country.effect[r] + 0.05 * girls + PUPIL_SD * rng.standard_normal(n)
            away = rng.random(n) < absent
            theta[at : at + n] = t
            grade_of[at : at + n] = int(g)
            school_of[at : at + n] = sid
            kind[at : at + n] = 2 if j >= seats.n_operational else away.astype(np.int64)
            for m in range(n):
                pending.append({
                    "code": f"P{first + at + m + 1:08d}", "grade": int(g), "gender": "F" if girls[m] else "M",
                    "ticket": f"T{tickets[at + m]:09d}", "school_id": sid, "class_id": seats.class_id[(sid, int(g))],
                    "pin_hash": "", "path": path, "created_at": utcnow(),
                })  # fmt: skip
            at += n
            if len(pending) >= chunk:
                flush()
    flush()
    return Population(student_ids=new_ids, grades=grade_of, school_ids=school_of, true_theta=theta), kind
