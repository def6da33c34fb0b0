"""Rescoring finished sittings under a chosen calibration (the new one after publishing, or the previous one).

A sitting is scored when it ends (:func:`assess.full_path.finish_session` and the fast path):
its operational answers (``response.pilot`` false, as recorded when they were given) go through
:func:`assess.adaptive.final_result` with the band's engine bank of the round's calibration, the
blueprint's final estimator and start ability, and the band's cut scores; the verdict follows
:func:`assess.scoring_rule.reported_result`. :func:`rescore_sittings` does exactly that again
under another calibration for every finished (or timed-out) sitting of a round, a chunk of
sittings at a time, and stores theta, SE, scale score, level, 达标, subscores and the verdict.

The round then scores with that calibration (``assessment.calibration_id``), so everything the
reports compute afterwards (plausible values, profiles: rebuild the stored ones) is on the same
parameters as the sittings' scores. A round with a sitting in progress is refused (its students
would be scored on two sets of parameters), and so is a calibration without parameters for an
answered item version in its band's bank: nothing is written then. It all happens in the caller's
transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.scope import Actor, Scope
from assess.adaptive import final_result
from assess.banks import BandBank, blueprint_for, grade_band, load_band_bank
from assess.blueprints import BlueprintSpec
from assess.exceptions import AssessError, NotConfigured, NotFound
from assess.models import Assessment, Response, Student, TestSession
from assess.position import FINISHED
from assess.research.queue import JobContext, JobFailed, create_job, job_kind
from assess.scales import CutScores, cut_scores_for_band
from assess.scoring_rule import reported_result
from itembank.db import session_scope
from itembank.models import PROVISIONAL, Calibration, utcnow

__all__ = [
    "RESCORE",
    "RescoreRefused",
    "RescoreResult",
    "RescoredRound",
    "execute_rescore",
    "rescore_sittings",
    "start_rescore",
]

RESCORE = "rescore"
"""The job kind of a rescoring (the console and the API run it in the background; the CLI in place)."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called after each chunk of sittings."""


class RescoreRefused(AssessError, ValueError):
    """Sittings cannot be rescored under that calibration now; the message says why."""


@dataclass(frozen=True)
class RescoredRound:
    """One round rescored: how many sittings, and what changed."""

    assessment: str
    previous: str  # the calibration it scored with before
    sittings: int
    assessed: int
    levels_changed: int
    mean_shift: float | None  # mean change of the scale score over sittings assessed before and after


@dataclass(frozen=True)
class RescoreResult:
    """Rounds rescored under one calibration."""

    calibration: str
    rounds: tuple[RescoredRound, ...]


@dataclass(frozen=True)
class _Band:
    bank: BandBank
    spec: BlueprintSpec
    cuts: CutScores


def _rounds(session: Session, assessment: str | None) -> list[Assessment]:
    if assessment is not None:
        row = session.exec(select(Assessment).where(Assessment.code == assessment)).first()
        if row is None:
            raise NotFound(f"没有编号为 {assessment} 的测评批次")
        return [row]
    ended = select(TestSession.assessment_id).where(col(TestSession.status).in_(FINISHED)).distinct()
    running = select(TestSession.assessment_id).where(TestSession.status == "in_progress").distinct()
    query = select(Assessment).where(col(Assessment.id).in_(ended), col(Assessment.id).not_in(running))
    return list(session.exec(query.order_by(col(Assessment.code))).all())


def _check(session: Session, assessment: Assessment) -> None:
    running = session.exec(
        select(TestSession.id).where(TestSession.assessment_id == assessment.id, TestSession.status == "in_progress")
    ).first()
    if running is not None:
        raise RescoreRefused(f"测评批次 {assessment.code} 还有学生正在作答，结束后才能重新评分")


def _band(session: Session, cache: dict[int, _Band], assessment: Assessment, calibration_id: int, grade: int) -> _Band:
    if grade not in cache:
        band = grade_band(grade, session=session)
        try:
            bank = load_band_bank(session=session, calibration_id=calibration_id, band=band.code)
            spec = blueprint_for(session=session, assessment_id=int(assessment.id or 0), band=band.code)
        except NotConfigured as exc:
            raise RescoreRefused(f"测评批次 {assessment.code}：{exc}") from None
        cache[grade] = _Band(bank, spec, cut_scores_for_band(band))
    return cache[grade]


def _rescore_round(
    session: Session, assessment: Assessment, cal: Calibration, chunk: int, progress: Progress | None
) -> RescoredRound:
    """Score every ended sitting of ``assessment`` again under ``cal`` (the caller's transaction)."""
    _check(session, assessment)
    ids = list(
        session.exec(
            select(TestSession.id)
            .where(TestSession.assessment_id == assessment.id, col(TestSession.status).in_(FINISHED))
            .order_by(col(TestSession.id))
        ).all()
    )
    bands: dict[int, _Band] = {}
    assessed = changed = 0
    shifts: list[float] = []
    for lo in range(0, len(ids), chunk):
        part = [int(i or 0) for i in ids[lo : lo + chunk]]
        rows = session.exec(
            select(TestSession, Student.grade)
            .join(Student, col(Student.id) == col(TestSession.student_id))
            .where(col(TestSession.id).in_(part))
        ).all()
        answers: dict[int, list[tuple[int, int]]] = defaultdict(list)
        for sid, version, score in session.exec(
            select(Response.session_id, Response.item_version_id, Response.score)
            .where(col(Response.session_id).in_(part), col(Response.pilot).is_(False), col(Response.score).is_not(None))
            .order_by(col(Response.session_id), col(Response.position))
        ).all():
            answers[int(sid)].append((int(version), int(score or 0)))
        for ts, grade in rows:
            b = _band(session, bands, assessment, int(cal.id or 0), int(grade))
            try:
                scored = [(b.bank.index_of(v), s) for v, s in answers[int(ts.id or 0)]]
            except KeyError as exc:
                raise RescoreRefused(
                    f"参数标定 {cal.name!r} 的年级段 {b.bank.band} 题库中没有学生作答过的题目版本 {exc.args[0]}，"
                    "不能重新评分"
                ) from None
            result = final_result(
                b.bank, b.spec, int(grade), [j for j, _ in scored], [s for _, s in scored], cuts=b.cuts
            )
            reported = reported_result(result, n_scored=len(scored), min_items=b.spec.min_items)
            if ts.scale_score is not None and reported.scale_score is not None:
                shifts.append(reported.scale_score - ts.scale_score)
            changed += ts.level != reported.level
            assessed += reported.assessed
            ts.n_scored, ts.theta, ts.se = len(scored), result.theta, result.se
            ts.assessed, ts.scale_score, ts.level, ts.passed = (
                reported.assessed,
                reported.scale_score,
                reported.level,
                reported.passed,
            )
            ts.subscores = result.subscores
            session.add(ts)
        session.flush()
        if progress is not None:
            progress(min(lo + chunk, len(ids)), len(ids))
    previous = session.get(Calibration, assessment.calibration_id) if assessment.calibration_id is not None else None
    assessment.calibration_id = cal.id
    session.add(assessment)
    session.flush()
    return RescoredRound(
        assessment=assessment.code,
        previous=previous.name if previous is not None else "",
        sittings=len(ids),
        assessed=assessed,
        levels_changed=changed,
        mean_shift=sum(shifts) / len(shifts) if shifts else None,
    )


def _published(session: Session, calibration: str) -> Calibration:
    cal = session.exec(select(Calibration).where(Calibration.name == calibration)).first()
    if cal is None:
        raise NotFound(f"没有名为 {calibration!r} 的参数标定")
    if cal.name == PROVISIONAL or cal.status == "draft":
        raise RescoreRefused(f"参数标定 {cal.name!r} 没有发布过，只能用已发布（现用或已被取代）的标定重新评分")
    return cal


def rescore_sittings(
    *,
    session: Session,
    actor: Actor,
    calibration: str,
    now: datetime,
    assessment: str | None = None,
    chunk: int = 500,
    progress: Progress | None = None,
) -> RescoreResult:
    """Rescore the ended sittings of ``assessment`` under ``calibration``.

    Without ``assessment``, every round that has ended sittings and none in progress.

    Raises
    ------
    NotFound
        No such calibration or round.
    RescoreRefused
        The calibration is a draft or the provisional one, a round has a sitting in progress, or
        an answered item version has no parameters in the calibration's band bank.
    """
    actor.require("items.manage")
    cal = _published(session, calibration)
    rounds = _rounds(session, assessment)
    for r in rounds:
        _check(session, r)
    done = tuple(_rescore_round(session, r, cal, max(1, chunk), progress) for r in rounds)
    detail = {"rounds": [r.assessment for r in done], "sittings": sum(r.sittings for r in done)}
    audit.record(session, actor, "calibration.rescore", target=f"calibration:{cal.name}"[:128], now=now, detail=detail)
    return RescoreResult(cal.name, done)


def start_rescore(*, session: Session, actor: Actor, calibration: str, assessment: str | None = None) -> int:
    """Check a rescoring can start and record it as a background job (the caller commits, then enqueues); its id.

    Raises
    ------
    NotFound, RescoreRefused
        As :func:`rescore_sittings` (checked again when the job runs).
    """
    actor.require("items.manage")
    _published(session, calibration)
    for r in _rounds(session, assessment):
        _check(session, r)
    params = {"calibration": calibration, "assessment": assessment, "user": actor.username, "role": actor.role}
    return int(create_job(session=session, kind=RESCORE, params=params, user_id=actor.user_id).id or 0)


@job_kind(RESCORE)
def execute_rescore(job: JobContext) -> None:
    """The rescoring job: one transaction, progress after every chunk; a refusal fails the job with its reason."""
    p = job.params
    actor = Actor(None, str(p.get("user", "job"))[:64], str(p.get("role", "researcher")), Scope.everything(), "job")
    job.progress(0, total=1, message="读取作答")
    try:
        with session_scope(job.engine) as session:
            done = rescore_sittings(
                session=session,
                actor=actor,
                calibration=str(p["calibration"]),
                assessment=p.get("assessment"),
                now=utcnow(),
                progress=lambda d, t: job.progress(d, total=max(t, 1), message=f"已重新评分 {d} / {t} 场作答"),
            )
    except AssessError as exc:
        raise JobFailed(str(exc)) from None
    for r in done.rounds:
        shift = "—" if r.mean_shift is None else f"{r.mean_shift:+.1f}"
        job.log(
            f"{r.assessment}: {r.sittings} 场作答（原标定 {r.previous}），"
            f"{r.levels_changed} 人等级变化，量表分平均变化 {shift}"
        )
    n = sum(r.sittings for r in done.rounds)
    job.log(f"完成：{len(done.rounds)} 个测评批次、{n} 场作答按 {done.calibration} 重新评分")
