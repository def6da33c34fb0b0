"""Publishing a calibration: it becomes the operational one, linked to the previous scale, and can be undone.

A researcher reviews a draft calibration (:func:`plan_publication`, reads only) and publishes it
(:func:`publish_calibration`), in the caller's transaction, all or nothing:

1. **Linking.** The previous operational calibration (the newest published one, not the bank
   files' ``provisional`` parameters) is the base scale. The item versions both calibrations hold
   are the common items; Stocking-Lord (:func:`scoring.linking.link_scales`) finds ``A, B`` with
   theta_base = A theta_new + B, and every parameter of the new calibration is moved to the base
   scale (a / A, A b + B; standard errors a-SE / A, A b-SE; the latent mean and SD too). The
   estimates as they were stay on the publication record (:class:`~assess.research.models.Publication`).
   The first publication has nothing to link to and is published on its own scale, which the page
   says.
2. **Status.** The new calibration is ``operational``; the calibrations operational before it are
   ``superseded`` (kept, with their parameters, for history and rescoring).
3. **Which sessions use it.** A sitting reads its parameters through its assessment
   (``assessment.calibration_id``, then :func:`assess.banks.load_band_bank`). Publishing moves to
   the new calibration every operational assessment that scored with the previous one, whose
   window has not closed and that **no student has started**: its sessions will all be new ones.
   An assessment with sittings keeps its calibration (its students are scored on one set of
   parameters; a sitting in progress never changes items mid-test), and so does one whose grade
   bands the new calibration cannot serve (too few calibrated items); the page lists both with the
   reason. Assessments made after publishing take the new calibration by default
   (:mod:`assess.assessment_file`).
4. **Exposure.** The Sympson-Hetter parameters of the moved assessments' adaptive blueprints that
   use exposure control depend on the item pool, so they are calibrated again on the new bank
   (:func:`assess.exposure.calibrate_blueprint_exposure`).
5. A record of all this (who, when, constants, what moved, the blueprints as they were) and an
   audit event.

Caches: an engine bank is cached per calibration, band and publication time, so publishing (and
undoing) makes every worker build a fresh one on the next sitting; a blueprint is cached a minute
per worker (:func:`assess.banks.spec_for`): this worker's cache is dropped at once, another worker
may start a sitting of a moved assessment with the previous exposure parameters for up to a
minute.

:func:`undo_publication` ("撤销发布") reverses the newest publication in force exactly: the
estimates as they were, the statuses and publication times, the assessments' calibrations and the
blueprints' exposure parameters. It is refused once a student has sat a moved assessment (those
sittings were given and scored with the new parameters) or a round was rescored under the new
calibration (rescore it under the previous one first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.scope import Actor
from assess.banks import band_of_grade, forget_blueprints, load_band_bank
from assess.blueprints import parse_blueprint
from assess.exceptions import AssessError, NotConfigured, NotFound
from assess.exposure import calibrate_blueprint_exposure
from assess.models import Assessment, BlueprintRow, TestSession
from assess.research.models import Publication
from itembank.calibrations import item_params
from itembank.db import aware_utc
from itembank.models import PROVISIONAL, Calibration, Item, ItemParameter, ItemVersion
from scoring.exceptions import DataError, ParameterError
from scoring.linking import LinkingConstants, LinkingMethod, link_scales, linking_criterion

__all__ = [
    "ExposureChange",
    "KeptAssessment",
    "PublicationView",
    "PublishPlan",
    "PublishRefused",
    "list_publications",
    "plan_publication",
    "publish_calibration",
    "undo_publication",
]

METHOD: LinkingMethod = "stocking_lord"
"""How a publication is linked to the previous scale (Stocking & Lord, 1983)."""


class PublishRefused(AssessError, ValueError):
    """A calibration cannot be published (or a publication undone) now; the message says why."""


@dataclass(frozen=True)
class KeptAssessment:
    """An open assessment that keeps its calibration, and why."""

    code: str
    reason: str


@dataclass(frozen=True)
class ExposureChange:
    """Sympson-Hetter parameters calibrated again for one grade band of a moved assessment."""

    assessment: str
    band: str
    items: int  # operational items in the band's new bank
    controlled: int  # items with K < 1
    lowest: float  # the smallest K (1.0 when none is controlled)


@dataclass(frozen=True)
class PublishPlan:
    """What publishing a calibration would do (nothing written): the review before the confirmation."""

    calibration: str
    calibration_id: int
    previous: str | None  # the operational calibration it replaces (None: only the provisional one)
    previous_id: int | None
    linked: bool
    slope: float | None
    intercept: float | None
    n_common: int
    criterion: float | None
    common: tuple[str, ...]
    moves: tuple[str, ...]  # assessment codes moved to the new calibration
    kept: tuple[KeptAssessment, ...]
    exposure: tuple[tuple[str, str], ...]  # (assessment, band) whose exposure is calibrated again

    @property
    def method(self) -> str:
        """The linking method (empty when not linked)."""
        return METHOD if self.linked else ""


@dataclass(frozen=True)
class PublicationView:
    """A publication as the history shows it."""

    id: int
    calibration: str
    previous: str | None
    status: str
    linked: bool
    method: str
    slope: float | None
    intercept: float | None
    n_common: int
    criterion: float | None
    moved: tuple[str, ...]
    kept: tuple[KeptAssessment, ...]
    exposure: tuple[ExposureChange, ...]
    published_by: str
    published_at: datetime
    undone_by: str
    undone_at: datetime | None
    can_undo: bool


# ============================================================================================ reading
def _calibration(session: Session, name: str) -> Calibration:
    row = session.exec(select(Calibration).where(Calibration.name == name)).first()
    if row is None:
        raise NotFound(f"没有名为 {name!r} 的参数标定")
    return row


def _operational(session: Session) -> list[Calibration]:
    """The published calibrations in force, newest first (the provisional one never counts)."""
    return list(
        session.exec(
            select(Calibration)
            .where(Calibration.status == "operational", Calibration.name != PROVISIONAL)
            .order_by(col(Calibration.published_at).desc(), col(Calibration.id).desc())
        ).all()
    )


def _stored(session: Session, calibration_id: int) -> dict[int, tuple[str, ItemParameter]]:
    """A calibration's rows by item version id, with the label ``CODE`` (``CODE@N`` for an old version)."""
    rows = session.exec(
        select(ItemParameter, Item.code, ItemVersion.number, Item.current_version)
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(ItemParameter.calibration_id == calibration_id)
        .order_by(col(Item.code), col(ItemVersion.number))
    ).all()
    return {
        p.item_version_id: (code if number == current else f"{code}@{number}", p) for p, code, number, current in rows
    }


def _link(session: Session, new_id: int, base_id: int) -> tuple[LinkingConstants, float, tuple[str, ...]]:
    """Stocking-Lord constants of the new calibration on the base one, the criterion, the common items."""
    new, base = _stored(session, new_id), _stored(session, base_id)
    common = [v for v in base if v in new]
    labels = [base[v][0] for v in common]
    if len(common) < 2:
        raise PublishRefused(
            f"与现用标定只有 {len(common)} 道共同题，Stocking-Lord 链接至少需要 2 道"
            "（共同题：同一题目版本在两个标定中都有参数）"
        )
    base_p = item_params(labels, [base[v][1] for v in common])
    new_p = item_params(labels, [new[v][1] for v in common])
    try:
        constants = link_scales(base_p, new_p, method=METHOD)
        criterion = linking_criterion(base_p, new_p, constants, method=METHOD)
    except (DataError, ParameterError) as exc:
        raise PublishRefused(f"无法链接到现用标定：{exc}") from None
    return constants, criterion, tuple(labels)


def _open_assessments(session: Session, old_ids: set[int], now: datetime) -> list[Assessment]:
    rows = session.exec(
        select(Assessment)
        .where(col(Assessment.calibration_id).in_(old_ids), Assessment.purpose == "operational")
        .order_by(col(Assessment.code))
    ).all()
    return [a for a in rows if aware_utc(a.closes_at) > aware_utc(now)]


def _adaptive_rows(session: Session, assessment: Assessment) -> list[BlueprintRow]:
    rows = session.exec(
        select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id, BlueprintRow.mode == "adaptive")
    ).all()
    return sorted(rows, key=lambda r: r.grade_band)


def _why_kept(session: Session, assessment: Assessment, calibration_id: int) -> str:
    """Why ``assessment`` cannot move to the calibration (empty: it can)."""
    sat = session.exec(select(TestSession.id).where(TestSession.assessment_id == assessment.id)).first()
    if sat is not None:
        return "已有学生作答，本批次继续使用原标定"
    for row in _adaptive_rows(session, assessment):
        spec = parse_blueprint(row.spec)
        try:
            bank = load_band_bank(session=session, calibration_id=calibration_id, band=row.grade_band)
        except NotConfigured:
            return f"新标定中没有年级段 {row.grade_band} 的已标定题目"
        operational = [d for d, pilot in zip(bank.dimensions, bank.engine.pilot, strict=True) if not pilot]
        if len(operational) < spec.max_items:
            return f"新标定中年级段 {row.grade_band} 只有 {len(operational)} 道已标定题目，不够每人 {spec.max_items} 道"
        for rule in spec.content:
            if operational.count(rule.area) < rule.min_items:
                return (
                    f"新标定中年级段 {row.grade_band} 的维度 {rule.area} 只有 {operational.count(rule.area)} 道"
                    f"已标定题目，少于最少 {rule.min_items} 道"
                )
    return ""


def plan_publication(*, session: Session, calibration: str, now: datetime) -> PublishPlan:
    """What publishing ``calibration`` would do; reads only.

    Raises
    ------
    NotFound
        No calibration of that name.
    PublishRefused
        It is not a draft (or it is the provisional one), or it cannot be linked to the
        operational calibration (fewer than two common items, a common item with another model).
    """
    cal = _calibration(session, calibration)
    if cal.name == PROVISIONAL:
        raise PublishRefused(f"{PROVISIONAL!r} 是题库文件自带的暂定参数，不能发布")
    if cal.status != "draft":
        raise PublishRefused(f"参数标定 {cal.name!r} 不是草稿（现为 {cal.status}），只能发布草稿标定")
    cid = int(cal.id or 0)
    in_force = _operational(session)
    previous = in_force[0] if in_force else None
    constants: LinkingConstants | None = None
    criterion: float | None = None
    common: tuple[str, ...] = ()
    if previous is not None:
        constants, criterion, common = _link(session, cid, int(previous.id or 0))
    old_ids = {int(c.id or 0) for c in in_force}
    if previous is None:
        old_ids |= {int(c.id or 0) for c in session.exec(select(Calibration).where(Calibration.name == PROVISIONAL))}
    moves: list[str] = []
    kept: list[KeptAssessment] = []
    exposure: list[tuple[str, str]] = []
    for a in _open_assessments(session, old_ids, now):
        reason = _why_kept(session, a, cid)
        if reason:
            kept.append(KeptAssessment(a.code, reason))
            continue
        moves.append(a.code)
        rows = _adaptive_rows(session, a)
        exposure += [(a.code, r.grade_band) for r in rows if parse_blueprint(r.spec).sympson_hetter]
    return PublishPlan(
        calibration=cal.name,
        calibration_id=cid,
        previous=previous.name if previous is not None else None,
        previous_id=int(previous.id or 0) if previous is not None else None,
        linked=constants is not None,
        slope=constants.A if constants is not None else None,
        intercept=constants.B if constants is not None else None,
        n_common=len(common),
        criterion=criterion,
        common=common,
        moves=tuple(moves),
        kept=tuple(kept),
        exposure=tuple(exposure),
    )


# ============================================================================================ publishing
def _serialize(session: Session) -> None:
    """Make publications and undos wait for each other (PostgreSQL: a row lock on the provisional calibration).

    Taken before anything is read, so the second of two concurrent publications reads what the
    first committed (each statement of a READ COMMITTED transaction sees the latest commits) instead
    of superseding the same calibration twice. SQLite serialises writers by itself.
    """
    session.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL).with_for_update()).first()


def _row_values(p: ItemParameter) -> dict[str, Any]:
    return {"a": p.a, "b": list(p.b), "c": p.c, "se_a": p.se_a, "se_b": p.se_b, "se_c": p.se_c}


def _transform_rows(session: Session, cal: Calibration, constants: LinkingConstants) -> None:
    """Move a calibration's stored estimates to the base scale (theta_base = A theta + B)."""
    big_a, big_b = constants.A, constants.B
    for p in session.exec(select(ItemParameter).where(ItemParameter.calibration_id == cal.id)).all():
        p.a = float(p.a / big_a)
        p.b = [float(big_a * x + big_b) for x in p.b]
        p.se_a = None if p.se_a is None else float(p.se_a / big_a)
        p.se_b = None if p.se_b is None else [None if x is None else float(big_a * x) for x in p.se_b]
        session.add(p)
    cal.latent_mean = float(big_a * cal.latent_mean + big_b)
    cal.latent_sd = float(big_a * cal.latent_sd)


def _recalibrate_exposure(
    session: Session, assessment: Assessment, calibration_id: int, seed: int, sessions: int, iterations: int
) -> tuple[dict[str, Any], list[ExposureChange]]:
    """Calibrate the Sympson-Hetter parameters of a moved assessment again; the specs as they were."""
    before: dict[str, Any] = {}
    changes: list[ExposureChange] = []
    for row in _adaptive_rows(session, assessment):
        spec = parse_blueprint(row.spec)
        if not spec.sympson_hetter:
            continue
        grades = [g for g in assessment.grades or [] if band_of_grade(g, session=session) == row.grade_band]
        if not grades:
            continue
        bank = load_band_bank(session=session, calibration_id=calibration_id, band=row.grade_band)
        rng = np.random.default_rng([seed, int(row.id or 0)])
        new_spec = calibrate_blueprint_exposure(bank, spec, grades, rng, sessions=sessions, iterations=iterations)
        before[str(row.id)] = dict(row.spec)
        row.spec = new_spec.to_json()
        session.add(row)
        n_items = int((~bank.engine.pilot).sum())
        lowest = min(new_spec.exposure.values(), default=1.0)
        changes.append(ExposureChange(assessment.code, row.grade_band, n_items, len(new_spec.exposure), lowest))
    return before, changes


def publish_calibration(
    *,
    session: Session,
    actor: Actor,
    calibration: str,
    now: datetime,
    seed: int = 0,
    sessions: int = 2_000,
    iterations: int = 8,
) -> PublicationView:
    """Publish a draft calibration (module docstring), in the caller's transaction (it commits).

    ``seed``, ``sessions`` and ``iterations`` drive the exposure recalibration's simulation
    (:func:`assess.exposure.calibrate_blueprint_exposure`).

    Raises
    ------
    NotFound, PublishRefused
        As :func:`plan_publication`; nothing is written.
    """
    actor.require("items.manage")
    _serialize(session)
    plan = plan_publication(session=session, calibration=calibration, now=now)
    cal = _calibration(session, calibration)
    raw = {
        "latent_mean": cal.latent_mean,
        "latent_sd": cal.latent_sd,
        "rows": {str(p.id): _row_values(p) for _, p in _stored(session, plan.calibration_id).values()},
    }
    if plan.linked:
        assert plan.slope is not None and plan.intercept is not None
        _transform_rows(session, cal, LinkingConstants(plan.slope, plan.intercept, METHOD))
    superseded: dict[str, Any] = {}
    for old in _operational(session):
        superseded[str(old.id)] = old.published_at.isoformat() if old.published_at is not None else None
        old.status = "superseded"
        session.add(old)
    cal.status, cal.published_at = "operational", now
    session.add(cal)
    session.flush()
    moved: dict[str, Any] = {}
    blueprints: dict[str, Any] = {}
    changes: list[ExposureChange] = []
    for code in plan.moves:
        assessment = session.exec(select(Assessment).where(Assessment.code == code)).one()
        moved[str(assessment.id)] = assessment.calibration_id
        assessment.calibration_id = plan.calibration_id
        session.add(assessment)
        before, done = _recalibrate_exposure(session, assessment, plan.calibration_id, seed, sessions, iterations)
        blueprints.update(before)
        changes += done
    record = Publication(
        calibration_id=plan.calibration_id,
        previous_id=plan.previous_id,
        linked=plan.linked,
        method=plan.method,
        slope=plan.slope,
        intercept=plan.intercept,
        n_common=plan.n_common,
        criterion=plan.criterion,
        raw=raw,
        superseded=superseded,
        moved=moved,
        blueprints=blueprints,
        report={
            "moved": list(plan.moves),
            "kept": [dataclasses.asdict(k) for k in plan.kept],
            "exposure": [dataclasses.asdict(c) for c in changes],
            "common": list(plan.common),
        },
        user_id=actor.user_id,
        published_by=actor.username[:64],
        published_at=now,
    )
    session.add(record)
    session.flush()
    audit.record(session, actor, "calibration.publish", target=f"calibration:{cal.name}"[:128], now=now,
                 detail={"publication": record.id, "previous": plan.previous, "linked": plan.linked,
                         "A": plan.slope, "B": plan.intercept, "n_common": plan.n_common,
                         "moved": list(plan.moves)})  # fmt: skip
    forget_blueprints(session)
    return _view(session, record, newest=True)


def undo_publication(*, session: Session, actor: Actor, now: datetime) -> PublicationView:
    """Undo the newest publication in force ("撤销发布"), in the caller's transaction.

    Raises
    ------
    PublishRefused
        No publication is in force, a student has sat a moved assessment since, or a round was
        rescored under the calibration (:mod:`assess.research.rescore`).
    """
    actor.require("items.manage")
    _serialize(session)
    record = _newest_in_force(session)
    if record is None:
        raise PublishRefused("没有可以撤销的发布")
    moved_ids = [int(k) for k in record.moved]
    if moved_ids:
        sat = session.exec(
            select(Assessment.code)
            .join(TestSession, col(TestSession.assessment_id) == col(Assessment.id))
            .where(col(Assessment.id).in_(moved_ids))
        ).first()
        if sat is not None:
            raise PublishRefused(f"测评批次 {sat} 已有学生用新标定作答，不能撤销这次发布（可用重新评分换回原标定）")
    other = session.exec(
        select(Assessment.code).where(
            Assessment.calibration_id == record.calibration_id, col(Assessment.id).not_in(moved_ids)
        )
    ).first()
    if other is not None:
        raise PublishRefused(f"测评批次 {other} 已按这个标定重新评分，先用原标定重新评分，再撤销这次发布")
    cal = session.get(Calibration, record.calibration_id)
    assert cal is not None
    for key, values in record.raw.get("rows", {}).items():
        p = session.get(ItemParameter, int(key))
        if p is None:
            continue
        p.a, p.b, p.c = values["a"], list(values["b"]), values["c"]
        p.se_a, p.se_b, p.se_c = values["se_a"], values["se_b"], values["se_c"]
        session.add(p)
    cal.latent_mean, cal.latent_sd = record.raw["latent_mean"], record.raw["latent_sd"]
    cal.status, cal.published_at = "draft", None
    session.add(cal)
    for key, published_at in record.superseded.items():
        old = session.get(Calibration, int(key))
        if old is not None:
            old.status = "operational"
            old.published_at = datetime.fromisoformat(published_at) if published_at else None
            session.add(old)
    for key, previous in record.moved.items():
        assessment = session.get(Assessment, int(key))
        if assessment is not None:
            assessment.calibration_id = previous
            session.add(assessment)
    for key, spec in record.blueprints.items():
        row = session.get(BlueprintRow, int(key))
        if row is not None:
            row.spec = dict(spec)
            session.add(row)
    record.status, record.undone_by, record.undone_at = "undone", actor.username[:64], now
    session.add(record)
    session.flush()
    audit.record(session, actor, "calibration.unpublish", target=f"calibration:{cal.name}"[:128], now=now,
                 detail={"publication": record.id, "restored": sorted(record.superseded)})  # fmt: skip
    forget_blueprints(session)
    return _view(session, record, newest=False)


# ============================================================================================ history
def _newest_in_force(session: Session) -> Publication | None:
    return session.exec(
        select(Publication).where(Publication.status == "published").order_by(col(Publication.id).desc())
    ).first()


def _view(session: Session, row: Publication, *, newest: bool, names: dict[int, str] | None = None) -> PublicationView:
    if names is None:
        ids = [i for i in (row.calibration_id, row.previous_id) if i is not None]
        names = {int(c.id or 0): c.name for c in session.exec(select(Calibration).where(col(Calibration.id).in_(ids)))}
    report = row.report or {}
    return PublicationView(
        id=int(row.id or 0),
        calibration=names.get(row.calibration_id, str(row.calibration_id)),
        previous=names.get(row.previous_id) if row.previous_id is not None else None,
        status=row.status,
        linked=row.linked,
        method=row.method,
        slope=row.slope,
        intercept=row.intercept,
        n_common=row.n_common,
        criterion=row.criterion,
        moved=tuple(report.get("moved", [])),
        kept=tuple(KeptAssessment(**k) for k in report.get("kept", [])),
        exposure=tuple(ExposureChange(**c) for c in report.get("exposure", [])),
        published_by=row.published_by,
        published_at=row.published_at,
        undone_by=row.undone_by,
        undone_at=row.undone_at,
        can_undo=newest and row.status == "published",
    )


def list_publications(*, session: Session, calibration: str | None = None) -> list[PublicationView]:
    """The publication history, newest first (``calibration``: only that calibration's)."""
    query = select(Publication).order_by(col(Publication.id).desc())
    if calibration is not None:
        query = query.where(Publication.calibration_id == _calibration(session, calibration).id)
    rows: Sequence[Publication] = session.exec(query).all()
    names = {int(c.id or 0): c.name for c in session.exec(select(Calibration))}
    newest = _newest_in_force(session)
    newest_id = newest.id if newest is not None else None
    return [_view(session, r, newest=r.id == newest_id, names=names) for r in rows]
