"""The people tree of an assessment as arrays: who was tested where, at every reporting level.

:func:`load_tree` reads the assessment's sessions, its students, their schools and the area tree
(province / city / county, each province in one of the three regions) once, and gives every
student a group index at each level of :data:`reports.profile.PROFILE_LEVELS`: the school, its
county, city and province, the region and the nation. Aggregation and the population model's
covariates both start from it.

Who counts as sampled: without a sample design, the schools where the assessment has sessions
are its schools, and every registered student of the assessment's grades in them was expected to
sit (a session never ended, one that ended not assessed, or none, is non-response). Students
assessed are those whose session counts under :mod:`assess.scoring_rule`: finished or out of time
with the blueprint's minimum of scored answers (the latest when a student has several).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, select

from assess.models import REGIONS, Area, Assessment, School, Student, TestSession
from assess.scoring_rule import assessed_clause
from reports.exceptions import NoScores, UnknownAssessment
from reports.profile import ProfileLevel

__all__ = [
    "LOCALE_NAMES",
    "NATIONAL_CODE",
    "REGION_CODES",
    "GroupIndex",
    "PeopleTree",
    "build_tree",
    "find_assessment",
    "load_tree",
]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

REGION_CODES: dict[str, str] = {"东部": "east", "中部": "central", "西部": "west"}
"""Code of each region's profile (``infolit report region east``)."""
NATIONAL_CODE = "national"
"""Code of the national profile."""
LOCALE_NAMES: dict[str, str] = {"urban": "城区", "town": "县镇", "rural": "农村"}
"""Chinese names of the school locales."""


@dataclass(frozen=True, eq=False)
class GroupIndex:
    """The groups of one level: codes, names, regions, parents, and each student's group.

    ``codes[g]``, ``names[g]``, ``regions[g]`` describe group ``g``; ``parent[g]`` is the index of
    its parent in the next level up (``-1`` for the nation); ``of_student[i]`` is student ``i``'s
    group (``-1``: the student has none at this level, e.g. a school directly under a city).
    """

    level: ProfileLevel
    codes: tuple[str, ...]
    names: tuple[str, ...]
    regions: tuple[str, ...]
    parent_level: ProfileLevel | None
    parent: IntArray
    of_student: IntArray

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.codes)

    def index(self, code: str) -> int:
        """Index of the group with ``code`` (``KeyError`` if none)."""
        cached: dict[str, int] | None = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {c: k for k, c in enumerate(self.codes)}
            object.__setattr__(self, "_index_cache", cached)
        return cached[code]


@dataclass(frozen=True, eq=False)
class PeopleTree:
    """Every assessed student of an assessment, with the tree above, as arrays.

    Parameters
    ----------
    assessment
        The assessment row.
    student_ids, session_ids
        Assessed students and their latest assessed session, sorted by student id.
    grade, girl
        Each assessed student's grade and whether recorded female.
    locale
        Each assessed student's school locale (``urban`` / ``town`` / ``rural``).
    levels
        The groups of every level, by level name.
    school_locale
        Locale of each school of ``levels["school"]``.
    sampled, excluded
        Registered students of the assessment's grades per school (the expected sitters) and
        students excluded by the design (zeros without one), aligned with ``levels["school"]``.
    """

    assessment: Assessment
    student_ids: IntArray
    session_ids: IntArray
    grade: IntArray
    girl: BoolArray
    locale: npt.NDArray[np.str_]
    levels: dict[str, GroupIndex]
    school_locale: tuple[str, ...]
    sampled: IntArray
    excluded: IntArray

    @property
    def n_students(self) -> int:
        """Assessed students."""
        return int(self.student_ids.size)

    def ancestors(self, level: str, g: int) -> tuple[tuple[str, str, str], ...]:
        """``(level, code, name)`` of every group above group ``g`` of ``level``, the nation first."""
        out: list[tuple[str, str, str]] = []
        idx = self.levels[level]
        k = g
        while idx.parent_level is not None and k >= 0:
            up = self.levels[idx.parent_level]
            k = int(idx.parent[k])
            if k < 0:
                break
            out.append((up.level, up.codes[k], up.names[k]))
            idx = up
        return tuple(reversed(out))


def find_assessment(*, session: Session, code: str) -> Assessment:
    """The assessment with ``code``.

    Raises
    ------
    UnknownAssessment
        No assessment has that code.
    """
    row = session.exec(select(Assessment).where(Assessment.code == code)).first()
    if row is None:
        known = ", ".join(session.exec(select(Assessment.code).order_by(col(Assessment.id))).all()[:5])
        raise UnknownAssessment(f"没有代码为 {code} 的测评" + (f"（已有：{known}）" if known else ""))
    return row


def _scored_sessions(session: Session, assessment_id: int) -> tuple[IntArray, IntArray]:
    """Student ids and their latest assessed session of the assessment (:mod:`assess.scoring_rule`), by student id."""
    rows = session.exec(
        select(TestSession.student_id, TestSession.id).where(
            TestSession.assessment_id == assessment_id,
            assessed_clause(),
            col(TestSession.scale_score).is_not(None),
        )
    ).all()
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    arr = np.array([tuple(r) for r in rows], dtype=np.int64)
    arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    last = np.concatenate([arr[1:, 0] != arr[:-1, 0], [True]])
    return arr[last, 0], arr[last, 1]


def _area_levels(areas: Iterable[Area]) -> dict[str, list[Area]]:
    out: dict[str, list[Area]] = {"province": [], "city": [], "county": []}
    for a in areas:
        out.setdefault(a.level, []).append(a)
    for rows in out.values():
        rows.sort(key=lambda a: a.code)
    return out


def _index_of_path(path: str, by_code: dict[str, int]) -> int:
    """The group whose code appears in ``path`` (``/32/3201/320101/...``), or ``-1``."""
    for part in path.strip("/").split("/"):
        if part in by_code:
            return by_code[part]
    return -1


def _build_levels(
    schools: Sequence[School], areas: dict[str, list[Area]], school_of_student: IntArray
) -> dict[str, GroupIndex]:
    """Group indices of every level, parents pointing one level up (a missing level is skipped)."""
    region_of_province = {a.code: a.region for a in areas["province"]}
    codes = {lv: {a.code: k for k, a in enumerate(rows)} for lv, rows in areas.items()}
    n_s = len(schools)
    school_area = {
        lv: np.array([_index_of_path(s.path, codes[lv]) for s in schools], dtype=np.int64).reshape(n_s)
        for lv in ("county", "city", "province")
    }
    region_names = list(REGIONS)

    def region_of(path: str) -> str:
        for part in path.strip("/").split("/"):
            if part in region_of_province:
                return region_of_province[part]
        return ""

    school_region = [region_of(s.path) for s in schools]
    chain: list[ProfileLevel] = ["school", "county", "city", "province", "region", "national"]
    out: dict[str, GroupIndex] = {}
    # each school's group at every level, then each level's parent from any of its schools
    at: dict[str, IntArray] = {
        "school": np.arange(n_s, dtype=np.int64),
        **school_area,
        "region": np.array([region_names.index(r) if r in region_names else -1 for r in school_region], dtype=np.int64),
        "national": np.zeros(n_s, dtype=np.int64),
    }
    labels: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
        "school": (tuple(s.code for s in schools), tuple(s.name for s in schools), tuple(school_region)),
        **{lv: (tuple(a.code for a in rows), tuple(a.name for a in rows), tuple(a.region for a in rows))
           for lv, rows in areas.items() if lv in ("county", "city", "province")},
        "region": (tuple(REGION_CODES[r] for r in region_names), tuple(region_names), tuple(region_names)),
        "national": ((NATIONAL_CODE,), ("全国",), ("",)),
    }  # fmt: skip
    for k, lv in enumerate(chain):
        codes_l, names_l, regions_l = labels[lv]
        up: ProfileLevel | None = None
        for cand in chain[k + 1 :]:
            if np.any(at[cand] >= 0):
                up = cand
                break
        parent = np.full(len(codes_l), -1, dtype=np.int64)
        if up is not None:
            mine, theirs = at[lv], at[up]
            ok = (mine >= 0) & (theirs >= 0)
            parent[mine[ok]] = theirs[ok]
        per_student = np.where(school_of_student >= 0, at[lv][np.maximum(school_of_student, 0)], -1)
        out[lv] = GroupIndex(lv, codes_l, names_l, regions_l, up, parent, per_student.astype(np.int64))
    return out


def load_tree(*, session: Session, assessment: Assessment) -> PeopleTree:
    """Read the assessment's assessed students and the tree above them.

    Raises
    ------
    NoScores
        The assessment has no finished, scored session.
    """
    students, sessions = _scored_sessions(session, int(assessment.id or 0))
    if students.size == 0:
        raise NoScores(f"测评 {assessment.code} 还没有已完成并计分的作答，无法生成报告")
    school_ids = sorted(
        set(
            session.exec(
                select(Student.school_id)
                .join(TestSession, col(TestSession.student_id) == col(Student.id))
                .where(TestSession.assessment_id == assessment.id)
                .distinct()
            ).all()
        )
    )
    schools = sorted(session.exec(select(School).where(col(School.id).in_(school_ids))).all(), key=lambda s: s.code)
    school_pos = {int(s.id or 0): k for k, s in enumerate(schools)}
    grades = list(assessment.grades)
    query = select(Student.id, Student.school_id, Student.grade, Student.gender).where(
        col(Student.school_id).in_(school_ids)
    )
    if grades:
        query = query.where(col(Student.grade).in_(grades))
    registered = session.exec(query).all()
    reg = {int(r[0] or 0): (school_pos[int(r[1])], int(r[2]), r[3]) for r in registered}
    sampled = np.bincount([v[0] for v in reg.values()], minlength=len(schools)).astype(np.int64)
    missing = [int(s) for s in students.tolist() if int(s) not in reg]
    if missing:  # assessed outside the assessment's grades: still students of the assessment
        extra = session.exec(
            select(Student.id, Student.school_id, Student.grade, Student.gender).where(col(Student.id).in_(missing))
        ).all()
        for r in extra:
            reg[int(r[0] or 0)] = (school_pos[int(r[1])], int(r[2]), r[3])
            sampled[school_pos[int(r[1])]] += 1
    school_of = np.array([reg[int(s)][0] for s in students.tolist()], dtype=np.int64)
    grade = np.array([reg[int(s)][1] for s in students.tolist()], dtype=np.int64)
    girl = np.array([reg[int(s)][2] == "F" for s in students.tolist()], dtype=bool)
    used = {part for s in schools for part in s.path.strip("/").split("/")}
    areas = [a for a in session.exec(select(Area)).all() if a.code in used]
    return build_tree(
        assessment, schools, areas, student_ids=students, session_ids=sessions, school_of=school_of, grade=grade,
        girl=girl, sampled=sampled,
    )  # fmt: skip


def build_tree(
    assessment: Assessment,
    schools: Sequence[School],
    areas: Iterable[Area],
    *,
    student_ids: IntArray,
    session_ids: IntArray,
    school_of: IntArray,
    grade: IntArray,
    girl: BoolArray,
    sampled: IntArray,
    excluded: IntArray | None = None,
) -> PeopleTree:
    """The tree from rows already read: ``schools`` in code order, ``school_of[i]`` student ``i``'s school.

    Areas are placed by the codes in each school's ``path`` (``/32/3201/320101/S001/``); the region
    of a school is its province's.
    """
    school_list = list(schools)
    levels = _build_levels(school_list, _area_levels(areas), school_of)
    locales = tuple(s.locale for s in school_list)
    return PeopleTree(
        assessment=assessment,
        student_ids=np.asarray(student_ids, dtype=np.int64),
        session_ids=np.asarray(session_ids, dtype=np.int64),
        grade=np.asarray(grade, dtype=np.int64),
        girl=np.asarray(girl, dtype=bool),
        locale=np.array([locales[k] for k in np.asarray(school_of).tolist()], dtype=str),
        levels=levels,
        school_locale=locales,
        sampled=np.asarray(sampled, dtype=np.int64),
        excluded=np.zeros(len(school_list), dtype=np.int64) if excluded is None else np.asarray(excluded, np.int64),
    )
