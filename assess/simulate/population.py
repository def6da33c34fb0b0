"""Simulated populations: the national sample in the database, and abilities for CAT studies.

:func:`build_population` draws a sample that an education researcher would recognise: provinces
of the eastern, central and western regions, their cities and counties, several hundred urban,
county-town and rural schools, classes of grade 4 and 8 (optionally 11), and students whose true
abilities carry region, school (intra-class correlation about 0.25), urban/rural and gender
effects on InfoLit's vertical theta scale. :func:`draw_population` draws abilities and grades
alone, for a CAT study that needs no database.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from assess.exceptions import SimulationError
from assess.models import Area, School, SchoolClass, Student
from itembank.db import bulk_insert
from itembank.models import utcnow

__all__ = [
    "DEFAULT_CHUNK",
    "GRADE_MEANS",
    "ChunkProgress",
    "PROVINCES",
    "Population",
    "build_population",
    "draw_population",
    "insert_areas",
    "insert_rows",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int], None]

DEFAULT_CHUNK = 50_000
"""Students registered, or simulated, scored and written, at a time in a national run.

A band of up to this many students is one chunk, so a run of the demo's size (50,000 students,
two bands) draws exactly the random numbers it drew before chunking; a national run of a million
students goes through in pieces of this size, which bounds the engine state, the final scores and
the rows waiting to be written (``python bench/million.py``: resident memory 0.5-0.76 GB through
every chunk of a million-student run on SQLite).
"""

ChunkProgress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: students done of the stage's total, after each chunk."""


GRADE_MEANS: dict[int, float] = {4: -1.0, 6: -0.4, 8: 0.0, 11: 0.6}
"""Mean ability by grade on the bank's vertical scale (docs/item-format.md), SD about 1 within a grade."""

PROVINCES: tuple[tuple[str, str, str], ...] = (
    ("32", "江苏省", "东部"),
    ("33", "浙江省", "东部"),
    ("44", "广东省", "东部"),
    ("37", "山东省", "东部"),
    ("41", "河南省", "中部"),
    ("42", "湖北省", "中部"),
    ("43", "湖南省", "中部"),
    ("51", "四川省", "西部"),
    ("52", "贵州省", "西部"),
    ("62", "甘肃省", "西部"),
)
"""Sampled provinces (code, name, region)."""

_CITY_NAMES = ("临江", "青山", "平川", "云台", "河西", "南湖", "松原", "石桥", "东岭", "长塘", "白沙", "望海")
_COUNTY_NAMES = ("城关", "新华", "永安", "丰乐", "清水", "广福", "双河", "龙泉", "长乐", "安平", "金川", "太和")
_REGION_EFFECT = {"东部": 0.20, "中部": 0.0, "西部": -0.25}
_LOCALE_EFFECT = {"urban": 0.15, "town": 0.0, "rural": -0.20}
_SCHOOL_SD = 0.5  # tau: with the pupil SD below, the intra-class correlation is about 0.25
_PUPIL_SD = 0.866
_SCHOOL_KINDS = {4: "小学", 8: "中学", 11: "高级中学"}


@dataclass(frozen=True)
class Population:
    """The simulated students, in the database order of their ids."""

    student_ids: IntArray
    grades: IntArray
    school_ids: IntArray
    true_theta: FloatArray


def insert_rows(session: Session, model: Any, rows: list[dict[str, Any]], *, chunk: int = 20_000) -> None:
    """Bulk insert ``rows`` of ``model`` in the session's transaction (see :func:`itembank.db.bulk_insert`)."""
    for i in range(0, len(rows), chunk):
        bulk_insert(session, model.__table__, rows[i : i + chunk])


@dataclass(frozen=True)
class _Schools:
    """The schools drawn: row dicts as inserted, with what the students are drawn from."""

    rows: list[dict[str, Any]]
    index: dict[str, tuple[int, str, str]]  # code -> (id, path, locale)
    locales: npt.NDArray[np.str_]
    regions: tuple[str, ...]
    grade: IntArray

    def id_of(self, s: int) -> int:
        """Database id of school ``s`` (in drawing order)."""
        return self.index[str(self.rows[s]["code"])][0]


def _insert_areas(session: Session) -> tuple[dict[str, int], list[tuple[str, str, str]], int]:
    """Provinces, three cities each, three counties per city; returns area ids, counties and the count."""
    areas: list[dict[str, Any]] = []
    counties: list[tuple[str, str, str]] = []  # (code, path, region)
    for pcode, pname, region in PROVINCES:
        areas.append({"code": pcode, "name": pname, "level": "province", "region": region, "path": f"/{pcode}/"})
        for ci in range(3):
            ccode = f"{pcode}{ci + 1:02d}"
            cname = f"{_CITY_NAMES[(int(pcode) + ci) % len(_CITY_NAMES)]}市"
            areas.append(
                {"code": ccode, "name": cname, "level": "city", "region": region, "path": f"/{pcode}/{ccode}/"}
            )
            for ki in range(3):
                kcode = f"{ccode}{ki + 1:02d}"
                suffix = "区" if ki == 0 else "县"
                kname = f"{_COUNTY_NAMES[(int(ccode) + ki) % len(_COUNTY_NAMES)]}{suffix}"
                path = f"/{pcode}/{ccode}/{kcode}/"
                areas.append({"code": kcode, "name": kname, "level": "county", "region": region, "path": path})
                counties.append((kcode, path, region))
    return insert_areas(session, areas), counties, len(areas)


def insert_areas(session: Session, areas: list[dict[str, Any]]) -> dict[str, int]:
    """Insert area rows (each with its ``path``), link each to its parent by the path; every area's id by code."""
    insert_rows(session, Area, areas)
    area_id = {code: int(aid or 0) for code, aid in session.exec(select(Area.code, Area.id)).all()}
    for a in areas:
        parts = a["path"].strip("/").split("/")
        if len(parts) > 1:
            row = session.get(Area, area_id[a["code"]])
            assert row is not None
            row.parent_id = area_id[parts[-2]]
            session.add(row)
    session.flush()
    return area_id


def _insert_schools(
    session: Session,
    rng: np.random.Generator,
    n_schools: int,
    grades: tuple[int, ...],
    area_id: dict[str, int],
    counties: list[tuple[str, str, str]],
) -> _Schools:
    """Schools in random counties; each serves one tested grade (primary for 4, junior/senior secondary)."""
    locales = rng.choice(["urban", "town", "rural"], size=n_schools, p=[0.40, 0.35, 0.25])
    county_of = rng.integers(0, len(counties), size=n_schools)
    school_grade = np.array([grades[i % len(grades)] for i in range(n_schools)], dtype=np.int64)
    rows = []
    for s in range(n_schools):
        kcode, path, _region = counties[county_of[s]]
        place = _COUNTY_NAMES[(s * 7) % len(_COUNTY_NAMES)]
        kind = _SCHOOL_KINDS.get(int(school_grade[s]), "学校")
        name = {"urban": f"{place}路第{s % 9 + 1}{kind}", "town": f"{place}镇中心{kind}", "rural": f"{place}乡{kind}"}[
            str(locales[s])
        ]
        code = f"S{kcode}{s:05d}"
        rows.append(
            {
                "code": code,
                "name": name,
                "locale": str(locales[s]),
                "sector": "private" if rng.random() < 0.08 else "public",
                "area_id": area_id[kcode],
                "path": f"{path}{code}/",
            }
        )
    insert_rows(session, School, rows)
    found = session.exec(select(School.id, School.code, School.path, School.locale)).all()
    index = {code: (int(sid or 0), path, loc) for sid, code, path, loc in found}
    regions = tuple(counties[int(c)][2] for c in county_of)
    return _Schools(rows, index, locales, regions, school_grade)


def _draw_students(
    rng: np.random.Generator, schools: _Schools, grades: tuple[int, ...], n_per_grade: IntArray
) -> tuple[list[dict[str, Any]], list[tuple[int, int, int, float, str]]]:
    """Classes, and students spread over the schools of their grade: ``(school, grade, class, theta, gender)``."""
    school_effect = rng.normal(0.0, _SCHOOL_SD, len(schools.rows))
    class_rows: list[dict[str, Any]] = []
    specs: list[tuple[int, int, int, float, str]] = []
    for gi, grade in enumerate(grades):
        members = np.nonzero(schools.grade == grade)[0]
        sizes = rng.multinomial(int(n_per_grade[gi]), np.full(members.size, 1.0 / members.size))
        for s, n in zip(members.tolist(), sizes.tolist(), strict=True):
            n_classes = max(1, int(np.ceil(n / 45)))
            base = (
                GRADE_MEANS.get(int(grade), 0.0)
                + _REGION_EFFECT[schools.regions[s]]
                + _LOCALE_EFFECT[str(schools.locales[s])]
                + school_effect[s]
            )
            for c in range(n_classes):
                class_rows.append(
                    {"school_id": schools.id_of(s), "grade": int(grade), "name": f"{int(grade)}年级{c + 1}班"}
                )
            gender = rng.choice(["F", "M"], size=n)
            theta = base + 0.05 * (gender == "F") + rng.normal(0.0, _PUPIL_SD, n)
            for i in range(n):
                specs.append((int(s), int(grade), i % n_classes, float(theta[i]), str(gender[i])))
    return class_rows, specs


def build_population(
    *,
    session: Session,
    n_students: int,
    rng: np.random.Generator,
    grades: tuple[int, ...] = (4, 8),
    progress: Progress | None = None,
) -> Population:
    """Create areas, schools, classes and students; return the students' true abilities.

    About 40% of schools are urban, 35% county-town and 25% rural; classes hold 25-45 sampled
    students. Students get a ticket code but no PIN (simulated students never log in).
    """
    tick = progress or (lambda _s, _n: None)
    n_per_grade = np.full(len(grades), n_students // len(grades))
    n_per_grade[: n_students - n_per_grade.sum()] += 1
    n_schools = max(len(PROVINCES) * 3, int(round(n_students / 70)))
    area_id, counties, n_areas = _insert_areas(session)
    tick("areas", n_areas)
    schools = _insert_schools(session, rng, n_schools, grades, area_id, counties)
    tick("schools", n_schools)
    class_rows, specs = _draw_students(rng, schools, grades, n_per_grade)
    insert_rows(session, SchoolClass, class_rows)
    class_id = {
        (int(sc), int(g), n): int(cid or 0)
        for cid, sc, g, n in session.exec(
            select(SchoolClass.id, SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)
        ).all()
    }
    tickets = rng.choice(10**9, size=len(specs), replace=False)
    student_rows = []
    for k, (s, grade, c, _theta, gender) in enumerate(specs):
        sid, path, _ = schools.index[str(schools.rows[s]["code"])]
        student_rows.append(
            {
                "code": f"P{k + 1:08d}",
                "grade": grade,
                "gender": gender,
                "ticket": f"T{tickets[k]:09d}",
                "school_id": sid,
                "class_id": class_id[(sid, grade, f"{grade}年级{c + 1}班")],
                "pin_hash": "",
                "path": path,
                "created_at": utcnow(),
            }
        )
    insert_rows(session, Student, student_rows)
    ids = np.array(session.exec(select(Student.id).order_by(col(Student.id))).all(), dtype=np.int64)[
        -len(student_rows) :
    ]
    tick("students", len(student_rows))
    return Population(
        student_ids=ids,
        grades=np.array([g for _, g, _, _, _ in specs], dtype=np.int64),
        school_ids=np.array([schools.id_of(s) for s, *_ in specs], dtype=np.int64),
        true_theta=np.array([t for _, _, _, t, _ in specs]),
    )


def draw_population(
    n: int, rng: np.random.Generator, *, grades: Sequence[int] = (4, 8), sd: float = 1.0
) -> tuple[FloatArray, IntArray]:
    """True abilities and grades of ``n`` examinees, in equal shares of ``grades``.

    Each grade is normal around its :data:`GRADE_MEANS` value with standard deviation ``sd``.

    Raises
    ------
    SimulationError
        No examinee or grade, or a grade without a mean ability.
    """
    if n < 1 or not grades:
        raise SimulationError("need at least one examinee and one grade")
    unknown = [g for g in grades if g not in GRADE_MEANS]
    if unknown:
        raise SimulationError(f"no mean ability for grade(s) {unknown}; known: {sorted(GRADE_MEANS)}")
    g = np.asarray(grades, dtype=np.int64)[rng.integers(0, len(grades), n)]
    means = np.array([GRADE_MEANS[int(x)] for x in g])
    return means + sd * rng.standard_normal(n), g
