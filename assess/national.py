"""The national sample simulator: a people tree, a field trial on booklets, adaptive tests.

:func:`build_population` draws a sample that an education researcher would recognise: provinces
of the eastern, central and western regions, their cities and counties, several hundred urban,
county-town and rural schools, classes of grade 4 and 8 (optionally 11), and students whose true
abilities carry region, school (intra-class correlation about 0.25), urban/rural and gender
effects on InfoLit's vertical theta scale.

:func:`run_field_trial` gives a subsample linear, matrix-sampled booklets (rotated blocks, with
grade 5-6 items shared by both grades so that the two grades link on one scale);
:func:`run_adaptive` runs everybody else through the adaptive engine. Answers are drawn from the
generating model, turned into an answer a student could have given (the key, a distractor, so
many parts right), scored by :func:`itembank.scoring_rules.score_response` and written as
:class:`~assess.models.Response` rows, exactly as a live session stores them; only the batching
differs.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import and_
from sqlmodel import Session, col, select

from assess.banks import BandBank, band_of_grade, exposure_bank, load_band_bank
from assess.blueprints import BlueprintSpec, default_blueprint, parse_blueprint
from assess.engine import EngineBank, initial_theta
from assess.models import (
    Area,
    Assessment,
    BlueprintRow,
    Booklet,
    Response,
    School,
    SchoolClass,
    Student,
    TestSession,
)
from assess.scales import final_scores, final_scores_batch
from assess.simulation import draw_scores, simulate_sessions
from assess.study import calibrate_exposure_by_grade
from itembank.db import bulk_insert
from itembank.models import Item, ItemVersion, utcnow
from itembank.scoring_rules import Scorable, score_response

__all__ = [
    "PROVINCES",
    "ExposureSet",
    "Population",
    "answer_for_score",
    "build_population",
    "calibrate_blueprint_exposure",
    "run_adaptive",
    "run_field_trial",
    "set_exposure_control",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int], None]

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
_GRADE_MEAN = {4: -1.0, 8: 0.0, 11: 0.6}
_SCHOOL_SD = 0.5  # tau: with the pupil SD below, the intra-class correlation is about 0.25
_PUPIL_SD = 0.866


@dataclass(frozen=True)
class Population:
    """The simulated students, in the database order of their ids."""

    student_ids: IntArray
    grades: IntArray
    school_ids: IntArray
    true_theta: FloatArray


def _chunks(rows: list[dict[str, Any]], size: int = 20_000) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield rows[i : i + size]


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert in the session's transaction (see :func:`itembank.db.bulk_insert`)."""
    for chunk in _chunks(rows):
        bulk_insert(session, model.__table__, chunk)


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
    # ---- areas
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
                areas.append(
                    {
                        "code": kcode,
                        "name": kname,
                        "level": "county",
                        "region": region,
                        "path": f"/{pcode}/{ccode}/{kcode}/",
                    }
                )
                counties.append((kcode, f"/{pcode}/{ccode}/{kcode}/", region))
    _insert(session, Area, areas)
    area_rows = session.exec(select(Area.code, Area.id)).all()
    area_id = dict(area_rows)
    parent_updates = [(a["code"], a["path"].strip("/").split("/")) for a in areas]
    for code, parts in parent_updates:
        if len(parts) > 1:
            row = session.get(Area, area_id[code])
            assert row is not None
            row.parent_id = area_id[parts[-2]]
            session.add(row)
    session.flush()
    tick("areas", len(areas))
    # ---- schools: each school serves one tested grade (primary for 4, junior/senior secondary)
    locales = rng.choice(["urban", "town", "rural"], size=n_schools, p=[0.40, 0.35, 0.25])
    county_of = rng.integers(0, len(counties), size=n_schools)
    school_grade = np.array([grades[i % len(grades)] for i in range(n_schools)])
    kinds = {4: "小学", 8: "中学", 11: "高级中学"}
    school_rows = []
    for s in range(n_schools):
        kcode, path, _region = counties[county_of[s]]
        place = _COUNTY_NAMES[(s * 7) % len(_COUNTY_NAMES)]
        kind = kinds.get(int(school_grade[s]), "学校")
        name = {"urban": f"{place}路第{s % 9 + 1}{kind}", "town": f"{place}镇中心{kind}", "rural": f"{place}乡{kind}"}[
            str(locales[s])
        ]
        code = f"S{kcode}{s:05d}"
        school_rows.append(
            {
                "code": code,
                "name": name,
                "locale": str(locales[s]),
                "sector": "private" if rng.random() < 0.08 else "public",
                "area_id": area_id[kcode],
                "path": f"{path}{code}/",
            }
        )
    _insert(session, School, school_rows)
    schools = session.exec(select(School.id, School.code, School.path, School.locale)).all()
    school_index = {code: (int(sid or 0), path, loc) for sid, code, path, loc in schools}
    tick("schools", n_schools)
    # ---- students: spread each grade over its schools, in classes
    school_effect = rng.normal(0.0, _SCHOOL_SD, n_schools)
    class_rows: list[dict[str, Any]] = []
    student_specs: list[tuple[int, int, int, float, str]] = []  # (school idx, grade, class no, theta, gender)
    for gi, grade in enumerate(grades):
        members = np.nonzero(school_grade == grade)[0]
        sizes = rng.multinomial(int(n_per_grade[gi]), np.full(members.size, 1.0 / members.size))
        for s, n in zip(members.tolist(), sizes.tolist(), strict=True):
            n_classes = max(1, int(np.ceil(n / 45)))
            region = counties[county_of[s]][2]
            base = (
                _GRADE_MEAN.get(int(grade), 0.0)
                + _REGION_EFFECT[region]
                + _LOCALE_EFFECT[str(locales[s])]
                + school_effect[s]
            )
            for c in range(n_classes):
                class_rows.append(
                    {
                        "school_id": school_index[str(school_rows[s]["code"])][0],
                        "grade": int(grade),
                        "name": f"{int(grade)}年级{c + 1}班",
                    }
                )
            gender = rng.choice(["F", "M"], size=n)
            theta = base + 0.05 * (gender == "F") + rng.normal(0.0, _PUPIL_SD, n)
            for i in range(n):
                student_specs.append((int(s), int(grade), i % n_classes, float(theta[i]), str(gender[i])))
    _insert(session, SchoolClass, class_rows)
    class_id = {
        (int(sc), int(g), n): int(cid or 0)
        for cid, sc, g, n in session.exec(
            select(SchoolClass.id, SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)
        ).all()
    }
    tickets = rng.choice(10**9, size=len(student_specs), replace=False)
    student_rows = []
    for k, (s, grade, c, _theta, gender) in enumerate(student_specs):
        sid, path, _ = school_index[str(school_rows[s]["code"])]
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
    _insert(session, Student, student_rows)
    ids = np.array(session.exec(select(Student.id).order_by(col(Student.id))).all(), dtype=np.int64)[
        -len(student_rows) :
    ]
    tick("students", len(student_rows))
    return Population(
        student_ids=ids,
        grades=np.array([g for _, g, _, _, _ in student_specs], dtype=np.int64),
        school_ids=np.array([school_index[str(school_rows[s]["code"])][0] for s, *_ in student_specs], dtype=np.int64),
        true_theta=np.array([t for _, _, _, t, _ in student_specs]),
    )


def answer_for_score(version: Scorable, score: int, rnd: random.Random) -> Any:
    """An answer a student could have given to ``version`` that earns ``score``.

    The inverse of :func:`itembank.scoring_rules.score_response`, used by the simulator so that
    stored answers look like real ones (the key, a distractor, some parts right) and are scored by
    the same rule as live answers.
    """
    kind = version.type
    keys = list(version.key or [])
    if kind == "true_false":
        return keys[0] if score else ("F" if keys[0] == "T" else "T")
    options = [o["key"] for o in version.options or []]
    if kind == "single_choice":
        return keys[0] if score else rnd.choice([o for o in options if o not in keys])
    if kind == "multiple_response":
        top = 2 if version.scoring == "partial" else 1
        if score == top:
            return sorted(keys)
        if score == 1:  # partial credit: a non-empty proper subset of the key
            return sorted(rnd.sample(keys, rnd.randint(1, len(keys) - 1)))
        return sorted({rnd.choice([o for o in options if o not in keys]), rnd.choice(keys)})
    parts = version.parts or []
    n_right = list(version.score_map or []).index(score)  # the fewest parts right that reach the score
    right = set(rnd.sample(range(len(parts)), n_right))
    return [
        part["key"]
        if i in right
        else rnd.choice([o["key"] for o in part.get("options", []) if o["key"] != part["key"]])
        for i, part in enumerate(parts)
    ]


@dataclass(frozen=True)
class _Content:
    """A plain snapshot of an item version's scoring content (no ORM attribute overhead)."""

    type: str
    options: list[dict[str, str]] | None
    key: list[str] | None
    scoring: str | None
    parts: list[dict[str, Any]] | None
    score_map: list[int] | None


@dataclass
class _Writer:
    """Writes simulated sessions and their responses in batches (the live path writes one at a time).

    Each simulated answer is built by :func:`answer_for_score` and scored by
    :func:`~itembank.scoring_rules.score_response`; a few answer variants per item and score are
    built and scored once, then reused, since scoring the same answer again gives the same score.
    """

    session: Session
    versions: dict[int, _Content]
    pilot_versions: set[int]
    rng: np.random.Generator
    variants: int = 4

    def __post_init__(self) -> None:
        self._rnd = random.Random(int(self.rng.integers(2**63)))
        self._cache: dict[tuple[int, int], list[tuple[Any, int]]] = {}

    def answer(self, version_id: int, score: int) -> tuple[Any, int]:
        """An answer earning ``score`` on the version, with the score the live rule gives it."""
        pool = self._cache.get((version_id, score))
        if pool is None:
            version = self.versions[version_id]
            pool = []
            for _ in range(self.variants):
                ans = answer_for_score(version, score, self._rnd)
                got = score_response(version, ans)
                if got != score:
                    raise AssertionError(f"simulated answer to version {version_id} scores {got}, not {score}")
                pool.append((ans, got))
            self._cache[(version_id, score)] = pool
        return pool[self._rnd.randrange(len(pool))]

    def write(
        self,
        *,
        assessment_id: int,
        student_ids: IntArray,
        items: list[list[int]],
        scores: list[list[int]],
        started: datetime,
        finals: list[dict[str, Any]],
        booklet_ids: list[int | None] | None = None,
    ) -> int:
        session_rows = []
        for k, sid in enumerate(student_ids):
            session_rows.append(
                {
                    "assessment_id": assessment_id,
                    "student_id": int(sid),
                    "booklet_id": booklet_ids[k] if booklet_ids else None,
                    "status": "finished",
                    "seed": int(self.rng.integers(2**31)),
                    "device": "simulated",
                    "started_at": started,
                    "deadline": started + timedelta(minutes=45),
                    "finished_at": started + timedelta(minutes=25),
                    "position": len(items[k]),
                    **finals[k],
                }
            )
        _insert(self.session, TestSession, session_rows)
        ids = dict(
            self.session.exec(
                select(TestSession.student_id, TestSession.id).where(TestSession.assessment_id == assessment_id)
            ).all()
        )
        responses = []
        n = 0
        for k, sid in enumerate(student_ids):
            ts_id = ids[int(sid)]
            for pos, (v, sc) in enumerate(zip(items[k], scores[k], strict=True)):
                answer, stored = self.answer(v, sc)
                responses.append(
                    {
                        "session_id": ts_id,
                        "item_version_id": v,
                        "position": pos,
                        "answer": {"value": answer},
                        "score": stored,
                        "pilot": v in self.pilot_versions,
                        "latency_ms": self._rnd.randint(8000, 90000),
                        "answered_at": started + timedelta(seconds=40 * (pos + 1)),
                    }
                )
            if len(responses) >= 50_000:
                _insert(self.session, Response, responses)
                n += len(responses)
                responses = []
        _insert(self.session, Response, responses)
        return n + len(responses)


def _versions(session: Session) -> tuple[dict[int, _Content], set[int]]:
    rows = session.exec(
        select(ItemVersion, Item.status).join(
            Item, and_(col(Item.id) == col(ItemVersion.item_id), col(ItemVersion.number) == col(Item.current_version))
        )
    ).all()
    content = {int(v.id or 0): _Content(v.type, v.options, v.key, v.scoring, v.parts, v.score_map) for v, _ in rows}
    return content, {int(v.id or 0) for v, st in rows if st == "pilot"}


def _lock_versions(session: Session, version_ids: Iterable[int]) -> None:
    from sqlalchemy import update

    ids = sorted(set(version_ids))
    for i in range(0, len(ids), 500):
        session.execute(update(ItemVersion).where(col(ItemVersion.id).in_(ids[i : i + 500])).values(locked=True))


def run_field_trial(
    *,
    session: Session,
    population: Population,
    members: IntArray,
    calibration_id: int,
    rng: np.random.Generator,
    items_per_booklet: int = 30,
    block_size: int = 10,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Assessment:
    """Give ``members`` (indices into the population) rotated booklets; store sessions and answers.

    Grade 4 booklets draw on the 3-4 and 5-6 items, grade 8 on 5-6 and 7-9, grade 11 on 7-9 and
    10-12, so that shared items link adjacent grades. Blocks of ``block_size`` items rotate so
    that every block appears in several positions (booklet ``i`` holds blocks ``i, i+1, i+2``).
    """
    tick = progress or (lambda _s, _n: None)
    now = now or utcnow()
    assessment = Assessment(
        code=f"FT{now:%Y%m%d%H%M%S}",
        name="信息素养题库试测（抽样题本）",
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=20),
        grades=sorted({int(g) for g in population.grades[members]}),
        purpose="field_trial",
        calibration_id=calibration_id,
    )
    session.add(assessment)
    session.flush()
    versions, pilots = _versions(session)
    writer = _Writer(session, versions, pilots, rng)
    link = {4: ("3-4", "5-6"), 8: ("5-6", "7-9"), 11: ("7-9", "10-12")}
    total = 0
    for grade in sorted({int(g) for g in population.grades[members]}):
        bands = link.get(grade, (band_of_grade(grade, session=session),))
        banks = [load_band_bank(session=session, calibration_id=calibration_id, band=b) for b in bands]
        pool_versions = sorted({v for bb in banks for v in bb.version_ids})
        order = rng.permutation(len(pool_versions))
        blocks = [[pool_versions[i] for i in order[s : s + block_size]] for s in range(0, len(order), block_size)]
        blocks = [b for b in blocks if len(b) == block_size] or blocks
        per = max(1, items_per_booklet // block_size)
        booklets = []
        for i in range(len(blocks)):
            codes_v = [v for j in range(per) for v in blocks[(i + j) % len(blocks)]]
            booklets.append(codes_v)
        spec = default_blueprint(mode="booklets")
        session.add(
            BlueprintRow(
                assessment_id=int(assessment.id or 0),
                grade_band=band_of_grade(grade, session=session),
                mode="booklets",
                spec=spec.to_json(),
            )
        )
        code_of = {v: bb.codes[j] for bb in banks for j, v in enumerate(bb.version_ids)}
        booklet_rows = [
            Booklet(
                assessment_id=int(assessment.id or 0),
                code=f"G{grade}-B{i + 1:02d}",
                grade_band=band_of_grade(grade, session=session),
                item_codes=[code_of[v] for v in bv],
            )
            for i, bv in enumerate(booklets)
        ]
        session.add_all(booklet_rows)
        session.flush()
        who = members[population.grades[members] == grade]
        assign = np.arange(who.size) % len(booklets)
        rng.shuffle(assign)
        # draw answers from the generating (provisional) parameters of the union bank
        union = _union_bank(banks)
        items: list[list[int]] = []
        scores: list[list[int]] = []
        for b, bv in enumerate(booklets):
            rows = np.nonzero(assign == b)[0]
            if rows.size == 0:
                continue
            idx = np.array([union[v] for v in bv])
            theta = population.true_theta[who[rows]]
            sc = np.stack([draw_scores(union.engine, np.full(rows.size, j), theta, rng) for j in idx], axis=1)
            for r in range(rows.size):
                items.append(list(bv))
                scores.append(sc[r].tolist())
        ordered = np.concatenate([np.nonzero(assign == b)[0] for b in range(len(booklets))])
        finals = [{"n_scored": len(it)} for it in items]
        total += writer.write(
            assessment_id=int(assessment.id or 0),
            student_ids=population.student_ids[who[ordered]],
            items=items,
            scores=scores,
            started=now - timedelta(days=25),
            finals=finals,
            booklet_ids=[int(booklet_rows[int(assign[r])].id or 0) for r in ordered],
        )
        tick(f"field trial grade {grade}", who.size)
    _lock_all_answered(session, int(assessment.id or 0))
    return assessment


@dataclass(frozen=True)
class _Union:
    engine: EngineBank
    index: dict[int, int]

    def __getitem__(self, version_id: int) -> int:
        return self.index[version_id]


def _union_bank(banks: list[BandBank]) -> _Union:
    """One engine bank over the items of several bands (for drawing answers)."""
    from scoring.params import ItemParams

    seen: dict[int, tuple[BandBank, int]] = {}
    for bb in banks:
        for j, v in enumerate(bb.version_ids):
            seen.setdefault(v, (bb, j))
    vids = sorted(seen)
    params = ItemParams.concatenate([seen[v][0].engine.params.subset([seen[v][1]]) for v in vids])
    areas = [seen[v][0].dimensions[seen[v][1]] for v in vids]
    engine = EngineBank.build(params, areas)
    return _Union(engine, {v: i for i, v in enumerate(vids)})


def _lock_all_answered(session: Session, assessment_id: int) -> None:
    answered = session.exec(
        select(Response.item_version_id)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id)
        .distinct()
    ).all()
    _lock_versions(session, (int(v) for v in answered))


def calibrate_blueprint_exposure(
    bank: BandBank,
    spec: BlueprintSpec,
    grades: Iterable[int],
    rng: np.random.Generator,
    *,
    sessions: int = 2_000,
    iterations: int = 8,
) -> BlueprintSpec:
    """``spec`` with Sympson-Hetter parameters calibrated for ``bank`` (``spec.exposure``, by code).

    Simulated students of ``grades`` (abilities drawn around each grade's start ability) take the
    blueprint's test repeatedly; each round sets ``K = target / P(selected)`` for the items
    selected more often than ``spec.target_exposure`` (Sympson & Hetter 1985; see
    :func:`assess.study.calibrate_exposure_by_grade`). Only items with ``K < 1`` are listed.
    """
    bp = spec.engine_blueprint()
    grade_of = rng.choice(np.array(sorted(set(grades)), dtype=np.int64), size=sessions)
    theta = initial_theta(bp, grade_of) + rng.standard_normal(sessions)
    calibrated = calibrate_exposure_by_grade(
        bank.engine,
        bp,
        theta,
        grade_of,
        rng,
        target=spec.target_exposure,
        iterations=iterations,
        progress=None,
    )
    exposure = {
        code: max(1e-4, round(float(k), 4))
        for code, k, pilot in zip(bank.codes, calibrated.exposure, bank.engine.pilot, strict=True)
        if k < 1.0 and not pilot
    }
    return dataclasses.replace(spec, exposure=exposure)


@dataclass(frozen=True)
class ExposureSet:
    """Exposure control as set on one grade band of an assessment."""

    band: str
    items: int  # operational items in the band's bank
    controlled: int  # items with K < 1
    lowest: float  # the smallest K (1.0 when none is controlled)


def set_exposure_control(
    *,
    session: Session,
    assessment_code: str,
    target: float,
    rng: np.random.Generator,
    sessions: int = 2_000,
    iterations: int = 8,
) -> list[ExposureSet]:
    """Turn on Sympson-Hetter exposure control for an adaptive assessment that has not started.

    For each adaptive grade band, calibrates the parameters on the assessment's calibration and
    its grades (:func:`calibrate_blueprint_exposure`) and stores them with the blueprint, in the
    caller's transaction.

    Raises
    ------
    LookupError
        No such assessment, or it has no calibration or no adaptive blueprint.
    ValueError
        Students have already sat it (their tests ran without exposure control), or ``target``
        is not in (0, 1].
    """
    if not 0 < target <= 1:
        raise ValueError(f"the target exposure rate must be in (0, 1], not {target}")
    assessment = session.exec(select(Assessment).where(Assessment.code == assessment_code)).first()
    if assessment is None:
        raise LookupError(f"no assessment {assessment_code!r}")
    if assessment.calibration_id is None:
        raise LookupError(f"assessment {assessment_code} has no calibration")
    sat = session.exec(select(TestSession.id).where(TestSession.assessment_id == assessment.id)).first()
    if sat is not None:
        raise ValueError(
            f"assessment {assessment_code} has sessions already: exposure control must be set before it starts"
        )
    rows = session.exec(
        select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id, BlueprintRow.mode == "adaptive")
    ).all()
    if not rows:
        raise LookupError(f"assessment {assessment_code} has no adaptive blueprint")
    done = []
    for row in sorted(rows, key=lambda r: r.grade_band):
        grades = [g for g in assessment.grades or [] if band_of_grade(g, session=session) == row.grade_band]
        if not grades:
            continue
        bank = load_band_bank(session=session, calibration_id=assessment.calibration_id, band=row.grade_band)
        spec = dataclasses.replace(parse_blueprint(row.spec), sympson_hetter=True, target_exposure=target)
        spec = calibrate_blueprint_exposure(bank, spec, grades, rng, sessions=sessions, iterations=iterations)
        row.spec = spec.to_json()
        session.add(row)
        n_items = int((~bank.engine.pilot).sum())
        done.append(ExposureSet(row.grade_band, n_items, len(spec.exposure), min(spec.exposure.values(), default=1.0)))
    session.flush()
    return done


def run_adaptive(
    *,
    session: Session,
    population: Population,
    members: IntArray,
    calibration_id: int,
    truth_calibration_id: int,
    rng: np.random.Generator,
    spec: BlueprintSpec | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    assessment: Assessment | None = None,
) -> Assessment:
    """Run ``members`` through adaptive tests on ``calibration_id``; answers follow ``truth_calibration_id``.

    The engine selects and scores with the operational calibration, while simulated students
    answer according to the generating parameters, as real students answer according to the
    truth and not to our estimates of it.
    """
    tick = progress or (lambda _s, _n: None)
    now = now or utcnow()
    spec = spec or default_blueprint()
    grades = sorted({int(g) for g in population.grades[members]})
    if assessment is None:
        assessment = Assessment(
            code=f"CAT{now:%Y%m%d%H%M%S}",
            name="学生信息素养自适应测评",
            opens_at=now - timedelta(days=10),
            closes_at=now + timedelta(days=20),
            grades=grades,
            purpose="operational",
            calibration_id=calibration_id,
        )
        session.add(assessment)
        session.flush()
        for band in sorted({band_of_grade(g, session=session) for g in grades}):
            session.add(
                BlueprintRow(
                    assessment_id=int(assessment.id or 0), grade_band=band, mode="adaptive", spec=spec.to_json()
                )
            )
        session.flush()
    versions, pilots = _versions(session)
    writer = _Writer(session, versions, pilots, rng)
    bp = spec.engine_blueprint()
    for band in sorted({band_of_grade(g, session=session) for g in grades}):
        who = members[
            np.array([band_of_grade(int(g), session=session) == band for g in population.grades[members]], dtype=bool)
        ]
        if who.size == 0:
            continue
        bank = load_band_bank(session=session, calibration_id=calibration_id, band=band)
        truth = load_band_bank(session=session, calibration_id=truth_calibration_id, band=band)
        truth_engine = _aligned_truth(bank, truth)
        band_spec = spec
        if spec.sympson_hetter and not spec.exposure:  # calibrated for this bank and these students
            band_spec = calibrate_blueprint_exposure(bank, spec, population.grades[who].tolist(), rng)
            row = session.exec(
                select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id, BlueprintRow.grade_band == band)
            ).one()
            row.spec = band_spec.to_json()
            session.add(row)
        sim = simulate_sessions(
            exposure_bank(bank, band_spec) if band_spec.sympson_hetter else bank.engine,
            bp,
            population.true_theta[who],
            rng,
            grades=population.grades[who],
            pilot_per_session=spec.pilot_items,
            answer_bank=truth_engine,
        )
        items: list[list[int]] = []
        scores: list[list[int]] = []
        op_items = np.where((sim.items >= 0) & ~bank.engine.pilot[np.maximum(sim.items, 0)], sim.items, -1)
        prior = initial_theta(bp, population.grades[who])
        results = final_scores_batch(bank.engine, op_items, np.maximum(sim.scores, 0), band=band, prior_mean=prior)
        if spec.final_estimator != "eap":
            results = [
                final_scores(
                    bank.engine, row[row >= 0].tolist(), sc[row >= 0].tolist(), method=spec.final_estimator, band=band
                )
                for row, sc in zip(op_items, sim.scores, strict=True)
            ]
        for s in range(who.size):
            got = sim.items[s][sim.items[s] >= 0]
            items.append([bank.version_ids[j] for j in got])
            scores.append(sim.scores[s][: got.size].tolist())
        finals = [
            {
                "n_scored": int((op_items[s] >= 0).sum()),
                "theta": r.theta,
                "se": r.se,
                "scale_score": r.scale_score,
                "level": r.level,
                "passed": r.passed,
                "subscores": r.subscores,
            }
            for s, r in enumerate(results)
        ]
        writer.write(
            assessment_id=int(assessment.id or 0),
            student_ids=population.student_ids[who],
            items=items,
            scores=scores,
            started=now - timedelta(days=5),
            finals=finals,
        )
        tick(f"adaptive band {band}", who.size)
    _lock_all_answered(session, int(assessment.id or 0))
    return assessment


def _aligned_truth(bank: BandBank, truth: BandBank) -> EngineBank:
    """The generating parameters in the operational bank's item order."""
    from scoring.params import ItemParams

    parts = []
    for v in bank.version_ids:
        j = truth.index_of(v)
        parts.append(truth.engine.params.subset([j]))
    return EngineBank.build(ItemParams.concatenate(parts), list(bank.dimensions))
