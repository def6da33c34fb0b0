"""A sample in the database: the draw of an assessment, its weights after testing, and what the reports read.

The schools of a draw are linked to the people tree by their code: a sampled school registers its
sampled classes under the frame's school code (``infolit people import``), and its registered
students of the target grades are its sampled students. A student is assessed where it has an
assessed, scored sitting of the assessment (the rule the reports use).

- :func:`store_draw` keeps a draw (design file, seed, schools) for an assessment;
- :func:`weigh_assessment` computes every sampled student's weight and jackknife zone after
  testing (:mod:`assess.sampling.weights`, :mod:`assess.sampling.jackknife`) and stores them,
  replacing any earlier weights of the draw, in the caller's transaction;
- :func:`load_weighted` reads them back (:class:`WeightedSample`) for the sample report and for
  :func:`reports.sample.load_sample_frame`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete
from sqlmodel import Session, col, select

from assess.exceptions import NotFound
from assess.models import Assessment, School, Student, TestSession
from assess.sampling.design import SamplingDesign, parse_design
from assess.sampling.exceptions import SamplingError
from assess.sampling.jackknife import JackknifeZones, form_zones
from assess.sampling.models import SampleDraw, SampleDrawPublic, SampleSchool, SampleWeight
from assess.sampling.select import ROLES, DrawnSample, DrawnSchools
from assess.sampling.weights import SampleWeights, StudentRecords, compute_weights
from assess.scoring_rule import assessed_clause
from itembank.db import bulk_insert
from itembank.models import utcnow

__all__ = [
    "WeightedSample",
    "find_draw",
    "load_drawn_schools",
    "load_weighted",
    "store_draw",
    "weigh_assessment",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def bulk_rows(session: Session, model: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` in chunks (:func:`itembank.db.bulk_insert`: COPY on PostgreSQL)."""
    for i in range(0, len(rows), 20_000):
        bulk_insert(session, model.__table__, [dict(r) for r in rows[i : i + 20_000]])


def _assessment(session: Session, code: str) -> Assessment:
    row = session.exec(select(Assessment).where(Assessment.code == code)).first()
    if row is None or row.id is None:
        raise NotFound(f"没有代码为 {code} 的测评")
    return row


def store_draw(
    *, session: Session, sample: DrawnSample, assessment_code: str, replace: bool = False
) -> SampleDrawPublic:
    """Keep ``sample`` as the draw of the assessment (in the caller's transaction).

    Raises
    ------
    NotFound
        No assessment has that code.
    SamplingError
        The assessment has a draw already and ``replace`` is false.
    """
    assessment = _assessment(session, assessment_code)
    old = session.exec(select(SampleDraw).where(SampleDraw.assessment_id == assessment.id)).first()
    if old is not None:
        if not replace:
            raise SamplingError(f"测评 {assessment_code} 已有抽样（{old.name}）；要重新抽样请加 --replace")
        session.execute(delete(SampleWeight).where(col(SampleWeight.draw_id) == old.id))
        session.execute(delete(SampleSchool).where(col(SampleSchool.draw_id) == old.id))
        session.delete(old)
        session.flush()
    draw = SampleDraw(
        name=sample.design.name,
        seed=sample.seed,
        frame_source=sample.frame.source[:255],
        n_schools=sample.n,
        n_sampled=int(sample.sampled.sum()),
        assessment_id=int(assessment.id or 0),
        design=sample.design.to_toml(),
        strata={k: int(v) for k, v in sample.stratum_enrolment.items()},
    )
    session.add(draw)
    session.flush()
    codes = sample.codes()
    names = sample.frame.column("school")[sample.index]
    rows = [
        {
            "draw_id": draw.id, "code": str(codes[i]), "name": str(names[i])[:128], "stratum": str(sample.stratum[i]),
            "sort_position": int(sample.order[i]), "role": ROLES[int(sample.role[i])],
            "replaces": str(codes[int(sample.replaces[i])]) if sample.replaces[i] >= 0 else "",
            "enrolment": {str(g): int(sample.frame.enrolment[g][sample.index[i]]) for g in sample.design.grades},
            "measure": float(sample.measure[i]), "probability": float(sample.probability[i]),
            "certainty": bool(sample.certainty[i]),
        }
        for i in range(sample.n)
    ]  # fmt: skip
    bulk_rows(session, SampleSchool, rows)
    session.flush()
    return SampleDrawPublic.model_validate(draw)


def find_draw(*, session: Session, assessment_code: str) -> tuple[Assessment, SampleDraw]:
    """The assessment and its draw.

    Raises
    ------
    NotFound
        No such assessment, or it has no draw (``infolit sample draw ... --assessment CODE``).
    """
    assessment = _assessment(session, assessment_code)
    draw = session.exec(select(SampleDraw).where(SampleDraw.assessment_id == assessment.id)).first()
    if draw is None:
        raise NotFound(
            f"测评 {assessment_code} 没有抽样：先运行 infolit sample draw FRAME --design D.toml --assessment CODE"
        )
    return assessment, draw


def load_drawn_schools(
    *, session: Session, draw: SampleDraw
) -> tuple[SamplingDesign, DrawnSchools, list[SampleSchool]]:
    """The draw's design and schools (in stored order) as the weights need them."""
    design = parse_design(draw.design, source=f"draw {draw.id}")
    rows = list(
        session.exec(select(SampleSchool).where(SampleSchool.draw_id == draw.id).order_by(col(SampleSchool.id)))
    )
    pos = {r.code: k for k, r in enumerate(rows)}
    schools = DrawnSchools(
        code=np.array([r.code for r in rows], dtype=np.str_),
        stratum=np.array([r.stratum for r in rows], dtype=np.str_),
        role=np.array([ROLES.index(r.role) for r in rows], dtype=np.int64),
        replaces=np.array([pos.get(r.replaces, -1) if r.replaces else -1 for r in rows], dtype=np.int64),
        order=np.array([r.sort_position for r in rows], dtype=np.int64),
        probability=np.array([r.probability for r in rows], dtype=np.float64),
        certainty=np.array([r.certainty for r in rows], dtype=bool),
        enrolment=np.array(
            [[int(r.enrolment.get(str(g), 0)) for g in design.grades] for r in rows], dtype=np.int64
        ).reshape(len(rows), len(design.grades)),
        stratum_enrolment={str(k): int(v) for k, v in draw.strata.items()},
    )
    return design, schools, rows


@dataclass(frozen=True, eq=False)
class _Sitters:
    student_ids: IntArray
    records: StudentRecords
    scores: FloatArray


def _sitters(session: Session, assessment: Assessment, design: SamplingDesign, rows: list[SampleSchool]) -> _Sitters:
    """The sampled students (registered in a drawn school, target grade) and which were assessed, with scores."""
    pos = {r.code: k for k, r in enumerate(rows)}
    id_pos: dict[int, int] = {}
    codes = list(pos)
    for i in range(0, len(codes), 900):
        for sid, code in session.exec(select(School.id, School.code).where(col(School.code).in_(codes[i : i + 900]))):
            id_pos[int(sid or 0)] = pos[code]
    if not id_pos:
        empty = np.zeros(0, dtype=np.int64)
        return _Sitters(empty, StudentRecords(empty, empty, np.zeros(0, dtype=bool)), np.zeros(0))
    students = session.exec(
        select(Student.id, Student.school_id, Student.grade)
        .where(col(Student.school_id).in_(list(id_pos)), col(Student.grade).in_(list(design.grades)))
        .order_by(col(Student.id))
    ).all()
    scored = dict(
        session.exec(
            select(TestSession.student_id, TestSession.scale_score)
            .where(
                TestSession.assessment_id == assessment.id,
                assessed_clause(),
                col(TestSession.scale_score).is_not(None),
            )
            .order_by(col(TestSession.id))
        ).all()
    )
    ids = np.array([int(s[0] or 0) for s in students], dtype=np.int64)
    school = np.array([id_pos[int(s[1])] for s in students], dtype=np.int64)
    grade = np.array([int(s[2]) for s in students], dtype=np.int64)
    assessed = np.array([int(i) in scored for i in ids.tolist()], dtype=bool)
    scores = np.array([float(scored.get(int(i), np.nan) or np.nan) for i in ids.tolist()])
    return _Sitters(ids, StudentRecords(school, grade, assessed), scores)


@dataclass(frozen=True, eq=False)
class WeightedSample:
    """A weighted draw read back: design, schools, sampled students with their weights, zones and scores."""

    assessment: Assessment
    draw: SampleDrawPublic
    design: SamplingDesign
    schools: DrawnSchools
    student_ids: IntArray
    students: StudentRecords
    weights: SampleWeights
    zones: JackknifeZones
    scores: FloatArray


def weigh_assessment(*, session: Session, assessment_code: str) -> WeightedSample:
    """Weight the tested sample of an assessment and store the weights and zones (replacing earlier ones).

    Runs in the caller's transaction; the zones' halves are drawn with the draw's seed.

    Raises
    ------
    NotFound
        No such assessment, or no draw for it.
    SamplingError
        No sampled school took part (or no drawn school is registered in the people tree).
    """
    assessment, draw = find_draw(session=session, assessment_code=assessment_code)
    design, schools, rows = load_drawn_schools(session=session, draw=draw)
    sitters = _sitters(session, assessment, design, rows)
    if not sitters.records.assessed.any():
        raise SamplingError(f"测评 {assessment_code} 的抽样学校还没有学生完成测评：没有可计算权重的作答")
    w = compute_weights(schools, sitters.records, design)
    zones = form_zones(schools, w.used, sitters.records.school, seed=draw.seed)
    session.execute(delete(SampleWeight).where(col(SampleWeight.draw_id) == draw.id))
    for k, r in enumerate(rows):
        r.participated = bool(w.participated[k])
        r.used = bool(w.used[k])
        r.base_weight = float(w.school_base[k])
        r.nonresponse_factor = float(w.school_factor[k])
        r.zone = int(zones.school_zone[k]) if zones.school_zone[k] >= 0 else None
        r.half = int(zones.school_half[k]) if zones.school_half[k] >= 0 else None
        session.add(r)
    s = sitters.records.school
    for lo in range(0, sitters.records.n, 20_000):  # rows built per batch: a million at once would take 0.6 GB
        weight_rows = [
            {
                "draw_id": draw.id, "student_id": int(sitters.student_ids[j]), "school_id": rows[int(s[j])].id,
                "assessed": bool(sitters.records.assessed[j]), "final": float(w.final[j]), "base": float(w.base[j]),
                "school_adjustment": float(w.school_adjustment[j]), "within": float(w.within[j]),
                "student_adjustment": float(w.student_adjustment[j]), "trim": float(w.trim[j]),
                "zone": int(zones.zone[j]), "half": int(zones.half[j]),
            }
            for j in range(lo, min(lo + 20_000, sitters.records.n))
        ]  # fmt: skip
        bulk_rows(session, SampleWeight, weight_rows)
    draw.weighted_at = utcnow()
    session.add(draw)
    session.flush()
    return WeightedSample(
        assessment, SampleDrawPublic.model_validate(draw), design, schools, sitters.student_ids, sitters.records, w,
        zones, sitters.scores,
    )  # fmt: skip


def load_weighted(*, session: Session, assessment_id: int) -> WeightedSample | None:
    """The stored weights of an assessment's draw, or ``None`` (no draw, or not weighted yet)."""
    draw = session.exec(select(SampleDraw).where(SampleDraw.assessment_id == assessment_id)).first()
    if draw is None or draw.weighted_at is None:
        return None
    assessment = session.get(Assessment, assessment_id)
    assert assessment is not None
    design, schools, rows = load_drawn_schools(session=session, draw=draw)
    pos = {int(r.id or 0): k for k, r in enumerate(rows)}
    stored = session.exec(
        select(SampleWeight).where(SampleWeight.draw_id == draw.id).order_by(col(SampleWeight.student_id))
    ).all()
    wanted = [w.student_id for w in stored]
    grade_of: dict[int, int] = {}
    for i in range(0, len(wanted), 900):
        chunk = wanted[i : i + 900]
        for sid, grade in session.exec(select(Student.id, Student.grade).where(col(Student.id).in_(chunk))).all():
            grade_of[int(sid or 0)] = int(grade)
    ids = np.array([w.student_id for w in stored], dtype=np.int64)
    school = np.array([pos[w.school_id] for w in stored], dtype=np.int64)
    records = StudentRecords(
        school, np.array([int(grade_of[int(i)]) for i in ids.tolist()], dtype=np.int64),
        np.array([w.assessed for w in stored], dtype=bool),
    )  # fmt: skip

    def column(name: str) -> FloatArray:
        return np.array([getattr(w, name) for w in stored], dtype=np.float64)

    weights = SampleWeights(
        final=column("final"), base=column("base"), school_adjustment=column("school_adjustment"),
        within=column("within"), student_adjustment=column("student_adjustment"), trim=column("trim"),
        participated=np.array([bool(r.participated) for r in rows], dtype=bool),
        used=np.array([bool(r.used) for r in rows], dtype=bool),
        school_base=np.array([r.base_weight or 0.0 for r in rows]),
        school_factor=np.array([r.nonresponse_factor or 0.0 for r in rows]),
        cell=schools.stratum,
    )  # fmt: skip
    zones = JackknifeZones(
        np.array([r.zone if r.zone is not None else -1 for r in rows], dtype=np.int64),
        np.array([r.half if r.half is not None else -1 for r in rows], dtype=np.int64),
        np.array([w.zone for w in stored], dtype=np.int64),
        np.array([w.half for w in stored], dtype=np.int64),
    )
    scored = dict(
        session.exec(
            select(TestSession.student_id, TestSession.scale_score).where(
                TestSession.assessment_id == assessment_id,
                assessed_clause(),
                col(TestSession.scale_score).is_not(None),
            )
        ).all()
    )
    scores = np.array([float(scored.get(int(i)) or np.nan) for i in ids.tolist()])
    return WeightedSample(
        assessment, SampleDrawPublic.model_validate(draw), design, schools, ids, records, weights, zones, scores
    )
