"""Stored calibrations: store a set of item parameters, publish it, read it back as a table.

A calibration is one parameter row per item version (:class:`~itembank.models.ItemParameter`),
so a response is always scored with the parameters of the version the student saw.
:func:`bank_params` and :func:`item_params` turn stored rows into an
:class:`~scoring.params.ItemParams`, the table type shared with :mod:`scoring` and the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from itembank.exceptions import ConflictError, MissingParametersError, NotFoundError, Problem, ValidationReport
from itembank.keys import natural_key
from itembank.models import (
    CALIBRATION_STATUSES,
    PROVISIONAL,
    Calibration,
    CalibrationPublic,
    Item,
    ItemParameter,
    ItemVersion,
    utcnow,
)
from itembank.queries import current_rows
from scoring.params import ItemParams, ItemParamsSE

__all__ = [
    "ParameterRow",
    "bank_params",
    "item_params",
    "list_calibrations",
    "publish_calibration",
    "store_calibration",
]


def _calibration_public(session: Session, row: Calibration) -> CalibrationPublic:
    assert row.id is not None
    n = session.exec(select(func.count()).select_from(ItemParameter).where(ItemParameter.calibration_id == row.id))
    return CalibrationPublic(
        id=row.id,
        name=row.name,
        status=row.status,
        source=row.source,
        latent_mean=row.latent_mean,
        latent_sd=row.latent_sd,
        created_at=row.created_at,
        published_at=row.published_at,
        n_items=int(n.one()),
    )


def list_calibrations(*, session: Session) -> list[CalibrationPublic]:
    """Every stored calibration, oldest first."""
    rows = session.exec(select(Calibration).order_by(col(Calibration.created_at), col(Calibration.id))).all()
    return [_calibration_public(session, r) for r in rows]


def _resolve_versions(session: Session, ids: Sequence[str]) -> tuple[dict[str, ItemVersion], list[Problem]]:
    """Map ``CODE`` (current version) or ``CODE@N`` (version N) to item versions."""
    found: dict[str, ItemVersion] = {}
    problems: list[Problem] = []
    for ident in ids:
        code, _, number = ident.partition("@")
        query = select(ItemVersion).join(Item, col(Item.id) == ItemVersion.item_id).where(Item.code == code)
        if number:
            if not number.isdigit():
                problems.append(Problem(f"item {ident}", "a version is written CODE@N with N a number"))
                continue
            query = query.where(ItemVersion.number == int(number))
        else:
            query = query.where(col(ItemVersion.number) == Item.current_version)
        version = session.exec(query).first()
        if version is None:
            problems.append(Problem(f"item {ident}", "no such item (version) in the bank"))
        else:
            found[ident] = version
    return found, problems


def store_calibration(
    *,
    session: Session,
    name: str,
    params: ItemParams,
    standard_errors: ItemParamsSE | None = None,
    status: str = "draft",
    source: str = "",
    latent_mean: float = 0.0,
    latent_sd: float = 1.0,
    replace: bool = False,
) -> CalibrationPublic:
    """Store a calibration: one parameter row per item version.

    Parameters
    ----------
    session
        The open session (the caller commits).
    name
        Unique name (``provisional`` is reserved for the bank files' parameters).
    params
        The estimates; ``params.ids`` are item codes (the current version) or ``CODE@N`` (version N).
    standard_errors
        Optional standard errors, ids in the same order.
    status
        ``draft`` or ``operational`` (see :func:`publish_calibration`).
    source, latent_mean, latent_sd
        Where it came from (data, date, method) and the latent scale it is on.
    replace
        Replace a calibration of the same name instead of refusing.

    Raises
    ------
    ConflictError
        The name is reserved or taken (and ``replace`` is false).
    ValidationReport
        Unknown items, or a model whose number of thresholds does not fit the item's max score.
    """
    if name == PROVISIONAL:
        raise ConflictError(f"{PROVISIONAL!r} is the built-in calibration of the item files; choose another name")
    if status not in CALIBRATION_STATUSES:
        raise ValueError(f"status must be one of {', '.join(CALIBRATION_STATUSES)}, got {status!r}")
    if standard_errors is not None and tuple(standard_errors.ids) != tuple(params.ids):
        raise ValueError("standard_errors must list the same items in the same order as params")
    versions, problems = _resolve_versions(session, params.ids)
    kmax = params.max_scores
    for j, ident in enumerate(params.ids):
        v = versions.get(ident)
        if v is not None and int(kmax[j]) != v.max_score:
            problems.append(
                Problem(
                    f"item {ident}",
                    f"{params.models[j]} with {int(kmax[j])} threshold(s) does not fit an item scored 0..{v.max_score}",
                )
            )
    if problems:
        raise ValidationReport(f"calibration {name}", problems)
    row = session.exec(select(Calibration).where(Calibration.name == name)).first()
    if row is not None:
        if not replace:
            raise ConflictError(f"a calibration named {name!r} exists; pass replace=True to overwrite it")
        session.execute(delete(ItemParameter).where(col(ItemParameter.calibration_id) == row.id))
        session.delete(row)
        session.flush()
    row = Calibration(
        name=name,
        status=status,
        source=source,
        latent_mean=float(latent_mean),
        latent_sd=float(latent_sd),
        published_at=utcnow() if status == "operational" else None,
    )
    session.add(row)
    session.flush()
    assert row.id is not None

    def _opt(x: float) -> float | None:
        return float(x) if np.isfinite(x) else None

    for j, ident in enumerate(params.ids):
        version = versions[ident]
        assert version.id is not None
        k = int(kmax[j])
        se_a = se_b = se_c = None
        if standard_errors is not None:
            se_a = _opt(standard_errors.a[j])
            se_b = [_opt(x) for x in standard_errors.b[j, :k]] if standard_errors.b.shape[1] >= k else None
            se_c = _opt(standard_errors.c[j])
        session.add(
            ItemParameter(
                calibration_id=row.id,
                item_version_id=version.id,
                model=params.models[j],
                a=float(params.a[j]),
                b=[float(x) for x in params.b[j, :k]],
                c=float(params.c[j]),
                se_a=se_a,
                se_b=se_b,
                se_c=se_c,
            )
        )
    session.flush()
    return _calibration_public(session, row)


def publish_calibration(*, session: Session, name: str) -> CalibrationPublic:
    """Mark a calibration operational: it becomes the default of :func:`bank_params` if it is the newest.

    Only the status flip, for the bank's own tools; a researcher's publication (linking to the
    operational scale, the rounds that move, their exposure, a record that can be undone) is
    :func:`assess.research.publish.publish_calibration`.
    """
    row = session.exec(select(Calibration).where(Calibration.name == name)).first()
    if row is None:
        raise NotFoundError(f"no calibration named {name!r}")
    if name == PROVISIONAL:
        raise ConflictError(f"{PROVISIONAL!r} holds provisional parameters and cannot be published")
    row.status = "operational"
    row.published_at = utcnow()
    session.add(row)
    session.flush()
    return _calibration_public(session, row)


def _default_calibration(session: Session) -> Calibration:
    row = session.exec(
        select(Calibration)
        .where(Calibration.status == "operational", Calibration.name != PROVISIONAL)
        .order_by(col(Calibration.published_at).desc(), col(Calibration.id).desc())
    ).first()
    if row is None:
        row = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).first()
    if row is None:
        raise NotFoundError("no calibration in the bank (import items first)")
    return row


def bank_params(*, session: Session, codes: Sequence[str] | None = None, calibration: str | None = None) -> ItemParams:
    """Parameters of the current versions of ``codes`` in ``calibration``, as an :class:`ItemParams`.

    Parameters
    ----------
    session
        The open session.
    codes
        Item codes, in the order wanted; default every item that is not retired, in code order.
    calibration
        Calibration name; default the most recently published operational calibration, or
        ``provisional`` while none is published.

    Raises
    ------
    NotFoundError
        An unknown calibration or item code.
    MissingParametersError
        Some items have no parameters in that calibration (their current version was not calibrated).
    """
    if calibration is None:
        cal = _default_calibration(session)
    else:
        found = session.exec(select(Calibration).where(Calibration.name == calibration)).first()
        if found is None:
            raise NotFoundError(f"no calibration named {calibration!r}")
        cal = found
    if codes is None:
        rows = current_rows(session, col(Item.status) != "retired")
        wanted = [r[0].code for r in rows]
    else:
        wanted = list(codes)
        rows = current_rows(session, col(Item.code).in_(wanted))
        unknown = sorted(set(wanted) - {r[0].code for r in rows}, key=natural_key)
        if unknown:
            raise NotFoundError(f"unknown item code(s): {', '.join(unknown[:10])}")
    version_of: dict[str, int] = {item.code: version.id for item, version, _ in rows if version.id is not None}
    ids = [v for v in version_of.values() if v is not None]
    by_version = (
        {
            p.item_version_id: p
            for p in session.exec(
                select(ItemParameter).where(
                    ItemParameter.calibration_id == cal.id, col(ItemParameter.item_version_id).in_(ids)
                )
            ).all()
        }
        if ids
        else {}
    )
    missing = [c for c in wanted if version_of[c] not in by_version]
    if missing:
        raise MissingParametersError(cal.name, missing)
    return item_params(wanted, [by_version[version_of[c]] for c in wanted])


class ParameterRow(Protocol):
    """What :func:`item_params` reads of a stored parameter row (an :class:`~itembank.models.ItemParameter`)."""

    @property
    def model(self) -> str:
        """``rasch``, ``1pl``, ``2pl``, ``3pl``, ``grm`` or ``gpcm``."""
        ...

    @property
    def a(self) -> float:
        """Slope."""
        ...

    @property
    def b(self) -> Sequence[float]:
        """Difficulty, or the thresholds ``b1..bK`` of a polytomous item."""
        ...

    @property
    def c(self) -> float:
        """Lower asymptote (0 unless 3PL)."""
        ...


def item_params(codes: Sequence[str], rows: Sequence[ParameterRow]) -> ItemParams:
    """The parameter table of stored rows: ``rows[j]`` holds item ``codes[j]``'s parameters.

    The one place stored parameters become an :class:`~scoring.params.ItemParams` (the bank's
    parameters for scoring, and a live session's band bank, :func:`assess.banks.load_band_bank`).
    """
    kmax = max((len(p.b) for p in rows), default=1)
    b = np.full((len(rows), kmax), np.nan)
    for j, p in enumerate(rows):
        b[j, : len(p.b)] = p.b
    return ItemParams(
        ids=tuple(codes),
        models=tuple(p.model for p in rows),
        a=np.array([p.a for p in rows], dtype=np.float64),
        b=b,
        c=np.array([p.c for p in rows], dtype=np.float64),
    )
