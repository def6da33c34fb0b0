"""Diagnostics of a calibration run: S-X2 item fit, distractors, not-reached rates, drift, dimensionality.

:func:`compute_diagnostics` is a step of the calibration job (:func:`assess.research.runs.execute_run`),
after the EM: it reads what the statistics need beyond the score matrix and returns, per item, the
entries stored in the run's ``item_stats`` and, for the run, those stored in its ``summary`` (the
run's JSON results; no table of its own). The numbers come from :mod:`scoring`:

* **S-X2** (:func:`scoring.fit.compute_sx2_by_form`): computed on the forms of the design, i.e.
  the persons given exactly the same items (the booklets of a field trial), form by form within
  each grade group under its latent distribution, summed per item; forms of fewer than
  :data:`SX2_MIN_PERSONS` persons are left out. In an adaptive test or a random matrix sample no
  form is that large, and S-X2 is "not computed (sparse)": the summed score it rests on is not
  comparable across persons given different items. Flag: p < :data:`SX2_ALPHA`.
* **Distractors** (:func:`scoring.distractors.compute_option_shares`): for every selected-response
  item (single choice, multiple response, true/false), the share choosing each option in five
  groups by the person's EAP ability under the run's calibration. The answers are read for at most
  :data:`DISTRACTOR_SESSIONS` sittings (every k-th sitting by id, k as small as that allows), which
  keeps the read of a 50,000-student assessment short; the shares' sampling error stays below
  two points.
* **Not reached**: in a booklet (linear) sitting that ended (finished or expired), the booklet's
  items after the last position the student answered (``Response.position`` is the index in the
  booklet); its rate is over the ended sittings whose booklet holds the item. An adaptive sitting
  has no fixed list: an item is administered only when it is shown, so an adaptive item is never
  "not reached" (an item shown and skipped is an omission, the omit rate). ``None`` for an item
  that no booklet holds.
* **Drift** (:func:`scoring.drift.compute_drift`): the items the run estimated (anchors excluded)
  against the same item versions in the base calibration: the operational calibration now
  published, else the calibration of the assessment's previous finished run.
* **Dimensionality** (:func:`scoring.dimensionality.compute_dimensionality`): the framework's
  dimensions (each item's ``dimension``), each calibrated alone with the run's models, groups and
  anchors; reliabilities, latent correlations, one dimension against several.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlmodel import Session, col, func, select

from assess.models import Booklet, Response, TestSession
from assess.research.models import CalibrationRun
from itembank.calibrations import item_params
from itembank.models import Calibration, ItemParameter, ItemVersion
from scoring.params import ItemParams, ItemParamsSE

__all__ = [
    "DISTRACTOR_SESSIONS",
    "SELECTED_RESPONSE",
    "SX2_ALPHA",
    "SX2_MIN_PERSONS",
    "Diagnostics",
    "ItemColumn",
    "compute_diagnostics",
    "option_labels",
]

FloatArray = npt.NDArray[np.float64]
SX2_ALPHA = 0.01
"""An item whose S-X2 p-value is below this is flagged as misfitting."""
SX2_MIN_PERSONS = 100
"""The smallest form (x grade group) whose persons enter S-X2."""
DISTRACTOR_SESSIONS = 20_000
"""At most this many sittings' answers are read for the distractor analysis."""
DISTRACTOR_GROUPS = 5
"""Ability groups of the distractor analysis."""
SELECTED_RESPONSE = ("single_choice", "multiple_response", "true_false")
TRUE_FALSE = {"T": "正确", "F": "错误"}
ENDED = ("finished", "expired")


@dataclass(frozen=True)
class ItemColumn:
    """One item of the run's matrix: its version id, identity, model, dimension, and whether it was anchored."""

    version_id: int
    ident: str
    model: str
    dimension: str
    anchored: bool


@dataclass(frozen=True)
class Diagnostics:
    """What the job stores: per item (in the matrix's column order) and for the run."""

    items: tuple[dict[str, Any], ...]
    summary: dict[str, Any]


def _num(x: float) -> float | None:
    return round(float(x), 6) if math.isfinite(x) else None


def option_labels(options: list[str], kind: str) -> list[str]:
    """How an option is named on a page (``T``/``F`` of a true/false item as 正确/错误)."""
    return [TRUE_FALSE.get(o, o) for o in options] if kind == "true_false" else list(options)


# ============================================================================================ S-X2
def _sx2(matrix: FloatArray, result: Any, groups: npt.NDArray[Any] | None) -> tuple[list[dict[str, Any]], int, str]:
    from scoring.fit import compute_sx2_by_form

    latent = {d.group: (d.mean, d.sd) for d in result.latent} if groups is not None else None
    res = compute_sx2_by_form(matrix, result.params, groups=groups, latent=latent, min_persons=SX2_MIN_PERSONS)
    entries = [
        {"sx2": _num(res.s_x2[j]), "sx2_df": int(res.df[j]), "sx2_p": _num(res.p_value[j]),
         "sx2_forms": int(res.n_forms[j]),
         "sx2_misfit": bool(math.isfinite(res.p_value[j]) and res.p_value[j] < SX2_ALPHA)}
        for j in range(matrix.shape[1])
    ]  # fmt: skip
    done = int(np.isfinite(res.s_x2).sum())
    if done == 0:
        note = "not computed (sparse)"
    else:
        note = f"{done} of {matrix.shape[1]} items on forms of at least {SX2_MIN_PERSONS} persons"
    return entries, done, note


# ============================================================================================ distractors
def _chosen(answer: Any) -> set[str]:
    value = answer.get("value") if isinstance(answer, dict) else answer
    if isinstance(value, str):
        return {value} if value else set()
    if isinstance(value, list):
        return {str(v) for v in value if v not in (None, "")}
    return set()


def _distractors(
    session: Session, assessment_id: int, columns: list[ItemColumn], students: npt.NDArray[np.int64], theta: FloatArray
) -> list[dict[str, Any] | None]:
    from scoring.distractors import compute_option_shares
    from scoring.exceptions import DataError

    ids = [c.version_id for c in columns]
    versions = {
        int(v.id or 0): v
        for v in session.exec(select(ItemVersion).where(col(ItemVersion.id).in_(ids))).all()
        if v.type in SELECTED_RESPONSE
    }
    out: list[dict[str, Any] | None] = [None] * len(columns)
    if not versions:
        return out
    n_sessions = session.exec(
        select(func.count()).select_from(TestSession).where(TestSession.assessment_id == assessment_id)
    ).one()
    step = max(1, math.ceil(int(n_sessions) / DISTRACTOR_SESSIONS))
    query = (
        select(TestSession.student_id, Response.item_version_id, Response.answer)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .where(TestSession.assessment_id == assessment_id, col(Response.item_version_id).in_(list(versions)))
    )
    if step > 1:
        query = query.where(col(TestSession.id) % step == 0)
    row_of = {int(s): k for k, s in enumerate(students.tolist())}
    by_version: dict[int, list[tuple[int, set[str]]]] = {}
    for sid, vid, answer in session.exec(query).all():
        if int(sid) in row_of:
            by_version.setdefault(int(vid), []).append((row_of[int(sid)], _chosen(answer)))
    for j, column in enumerate(columns):
        v = versions.get(column.version_id)
        answers = by_version.get(column.version_id, [])
        if v is None or not answers:
            continue
        options = [str(o.get("key", "")) for o in v.options] if v.options else ["T", "F"]
        rows = np.array([r for r, _ in answers], dtype=np.int64)
        chosen = np.array([[o in a for o in options] for _, a in answers], dtype=bool).reshape(rows.size, len(options))
        blank = np.array([not a for _, a in answers], dtype=bool)
        try:
            res = compute_option_shares(chosen, theta[rows], options=options, key=list(v.key or ()), omitted=blank,
                                        n_groups=DISTRACTOR_GROUPS)  # fmt: skip
        except DataError:
            continue
        out[j] = {
            "type": v.type, "options": options, "labels": option_labels(options, v.type), "key": list(res.key),
            "n": res.n.tolist(), "mean_ability": [round(float(t), 4) for t in res.mean_ability],
            "shares": [[round(float(s), 4) for s in row] for row in res.shares],
            "omitted": [round(float(s), 4) for s in res.omitted],
            "discrimination": [round(float(s), 4) for s in res.discrimination], "suspect": list(res.suspect),
            "sampled": step > 1,
        }  # fmt: skip
    return out


# ============================================================================================ not reached
def _not_reached(session: Session, assessment_id: int, codes: list[str]) -> list[float | None]:
    """Per item: the share of the ended booklet sittings holding it that stopped before it (``None``: in no booklet)."""
    booklets = {int(b.id or 0): list(b.item_codes) for b in
                session.exec(select(Booklet).where(Booklet.assessment_id == assessment_id)).all()}  # fmt: skip
    if not booklets:
        return [None] * len(codes)
    last = session.exec(
        select(TestSession.booklet_id, func.max(Response.position))
        .join(Response, col(Response.session_id) == col(TestSession.id), isouter=True)
        .where(
            TestSession.assessment_id == assessment_id,
            col(TestSession.booklet_id).is_not(None),
            col(TestSession.status).in_(ENDED),
        )  # fmt: skip
        .group_by(col(TestSession.id), col(TestSession.booklet_id))
    ).all()
    held: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for booklet_id, position in last:
        items = booklets.get(int(booklet_id or 0), [])
        held.update(items)
        missed.update(items[(-1 if position is None else int(position)) + 1 :])
    return [missed[c] / held[c] if held[c] else None for c in codes]


# ============================================================================================ drift
def _base_calibration(session: Session, run: CalibrationRun) -> Calibration | None:
    """The operational calibration now published, else the calibration of the assessment's previous run."""
    operational = session.exec(
        select(Calibration)
        .where(Calibration.status == "operational")
        .order_by(col(Calibration.published_at).desc(), col(Calibration.id).desc())
    ).first()
    if operational is not None:
        return operational
    previous = session.exec(
        select(CalibrationRun.calibration_id)
        .where(
            CalibrationRun.assessment_id == run.assessment_id,
            col(CalibrationRun.id) < run.id,
            col(CalibrationRun.calibration_id).is_not(None),
        )  # fmt: skip
        .order_by(col(CalibrationRun.id).desc())
    ).first()
    return session.get(Calibration, previous) if previous is not None else None


def _drift(
    session: Session, run: CalibrationRun, columns: list[ItemColumn], result: Any
) -> tuple[dict[str, Any] | None, dict[int, bool]]:
    from scoring.drift import compute_drift
    from scoring.exceptions import DataError, ParameterError

    base = _base_calibration(session, run)
    free = [c for c in columns if not c.anchored]
    if base is None:
        return None, {}
    rows = session.exec(
        select(ItemParameter).where(
            ItemParameter.calibration_id == base.id,
            col(ItemParameter.item_version_id).in_([c.version_id for c in free]),
        )  # fmt: skip
    ).all()
    by_version = {p.item_version_id: p for p in rows}
    common = [c for c in free if c.version_id in by_version and by_version[c.version_id].model == c.model]
    if len(common) < 4:
        return {"base": base.name, "error": f"与“{base.name}”共有的待估题目不足 4 道，无法比较。"}, {}
    old = [by_version[c.version_id] for c in common]
    ids = [c.ident for c in common]
    base_params = item_params(ids, old)
    kmax = base_params.b.shape[1]
    se_b = np.full((len(old), kmax), np.nan)
    for j, p in enumerate(old):
        se_b[j, : len(p.se_b or ())] = [np.nan if v is None else v for v in (p.se_b or ())]
    has_se = any(p.se_a is not None for p in old)
    base_se = ItemParamsSE(tuple(ids), np.array([np.nan if p.se_a is None else p.se_a for p in old]), se_b,
                           np.full(len(old), np.nan)) if has_se else None  # fmt: skip
    index = [result.params.index(i) for i in ids]
    new = result.params.subset(index)
    new_se = ItemParamsSE(tuple(ids), result.se.a[index], result.se.b[index], result.se.c[index])
    try:
        res = compute_drift(base_params, new, base_se=base_se, new_se=new_se)
    except (DataError, ParameterError) as exc:
        return {"base": base.name, "error": f"无法比较：{exc}"}, {}
    items = [
        {"ident": i, "a_base": _num(res.a_base[k]), "a_new": _num(res.a_new[k]), "b_base": _num(res.b_base[k]),
         "b_new": _num(res.b_new[k]), "d_a": _num(res.d_a[k]), "d_b": _num(res.d_b[k]), "z_a": _num(res.z_a[k]),
         "z_b": _num(res.z_b[k]), "robust_z_a": _num(res.robust_z_a[k]), "robust_z_b": _num(res.robust_z_b[k]),
         "drifted": bool(res.drifted[k])}
        for k, i in enumerate(res.item_ids)
    ]  # fmt: skip
    summary = {"base": base.name, "method": res.constants.method, "A": _num(res.constants.A),
               "B": _num(res.constants.B), "n_common": len(ids), "n_drifted": int(res.drifted.sum()),
               "items": items}  # fmt: skip
    return summary, {c.version_id: bool(res.drifted[k]) for k, c in enumerate(common)}


# ============================================================================================ dimensionality
def _dimensionality(
    matrix: FloatArray, columns: list[ItemColumn], result: Any, groups: npt.NDArray[Any] | None,
    reference: Any, anchors: ItemParams | None,
) -> dict[str, Any]:  # fmt: skip
    from scoring.dimensionality import compute_dimensionality
    from scoring.exceptions import DataError

    try:
        res = compute_dimensionality(
            matrix, [c.model for c in columns], [c.dimension for c in columns],
            log_likelihood_1d=result.log_likelihood, n_parameters_1d=result.n_parameters,
            item_ids=[c.ident for c in columns], groups=groups, reference_group=reference, fixed=anchors,
        )  # fmt: skip
    except DataError as exc:
        return {"error": str(exc)}
    return {
        "dimensions": list(res.dimensions),
        "n_items": res.n_items.tolist(),
        "reliability": [_num(r) for r in res.reliability],
        "observed_correlation": [[_num(r) for r in row] for row in res.observed_correlation],
        "correlation": [[_num(r) for r in row] for row in res.correlation],
        "log_likelihood_1d": _num(res.log_likelihood_1d), "n_parameters_1d": res.n_parameters_1d,
        "log_likelihood_md": _num(res.log_likelihood_md), "n_parameters_md": res.n_parameters_md,
        "aic_1d": _num(res.aic("1d")), "aic_md": _num(res.aic("md")),
        "bic_1d": _num(res.bic("1d")), "bic_md": _num(res.bic("md")),
        "lr": _num(res.lr), "df": res.df, "p_value": _num(res.p_value),
    }  # fmt: skip


def compute_diagnostics(
    *,
    session: Session,
    run: CalibrationRun,
    columns: list[ItemColumn],
    matrix: FloatArray,
    students: npt.NDArray[np.int64],
    theta: FloatArray,
    result: Any,
    groups: npt.NDArray[Any] | None,
    reference: Any,
    anchors: ItemParams | None,
    progress: Any = None,
) -> Diagnostics:
    """The diagnostics of the module docstring for a run's matrix (persons ``students`` x ``columns``).

    ``theta`` are the persons' EAP abilities under the run's calibration; ``groups`` their grade
    groups when the run calibrated by grade; ``progress(percent, message)`` is told of each step.
    """

    def step(percent: int, message: str) -> None:
        if progress is not None:
            progress(percent, message)

    step(91, "S-X2 项目拟合")
    sx2, sx2_computed, sx2_note = _sx2(matrix, result, groups)
    step(92, "干扰项分析与未作答率")
    distractors = _distractors(session, run.assessment_id, columns, students, theta)
    codes = [c.ident.rsplit("@", 1)[0] for c in columns]
    reached = _not_reached(session, run.assessment_id, codes)
    drift, drifted = _drift(session, run, columns, result)
    step(93, "维度检验：分维度标定")
    dims = _dimensionality(matrix, columns, result, groups, reference, anchors)
    items = tuple(
        {**sx2[j], "distractors": distractors[j], "not_reached": None if nr is None else _num(nr),
         "drift": drifted.get(c.version_id)}
        for j, (c, nr) in enumerate(zip(columns, reached, strict=True))
    )  # fmt: skip
    summary = {"sx2_note": sx2_note, "sx2_computed": sx2_computed, "drift": drift, "dimensionality": dims}
    return Diagnostics(items, summary)
