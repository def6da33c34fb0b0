"""The stored indicator framework: load a framework into the database, read the active one.

:func:`load_framework` validates a framework (file or spec) and makes it the active one, in the
caller's transaction; :func:`active_framework` and :func:`current_framework` read it back (its
grade bands decide which band a student sits, see :func:`assess.banks.band_of_grade`). Reading
and validating a framework file without a database is :mod:`itembank.framework`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete
from sqlmodel import Session, col, select

from itembank.exceptions import FrameworkInUseError, Problem
from itembank.framework import DEFAULT_FRAMEWORK, FrameworkSpec, default_framework, parse_framework, read_framework
from itembank.keys import content_digest, natural_key
from itembank.models import Dimension, Framework, GradeBand, Indicator, Item, Literacy, utcnow

__all__ = ["FrameworkLoad", "active_framework", "current_framework", "load_framework"]


@dataclass(frozen=True)
class FrameworkLoad:
    """What :func:`load_framework` did: ``created``, ``updated``, ``activated`` or ``unchanged``."""

    framework: FrameworkSpec
    outcome: str
    items_moved: int = 0

    def __str__(self) -> str:
        f = self.framework
        n_ind = len(f.indicators)
        text = (
            f"framework {f.code} {f.version} {self.outcome}: {len(f.dimensions)} dimensions, {n_ind} "
            f"sub-indicators, {len(f.grade_bands)} grade bands"
        )
        return text + (f"; {self.items_moved} items re-filed under a new dimension" if self.items_moved else "")


_PARSED: dict[tuple[str, str], FrameworkSpec] = {}


def active_framework(*, session: Session) -> FrameworkSpec | None:
    """The framework loaded and active in the database, or ``None`` before the first load.

    One indexed read of the active row's id and content hash; the document is read and parsed
    only for a hash this process has not parsed yet (a stored document never changes under its
    hash, so the parsed spec is kept).
    """
    head = session.exec(
        select(Framework.id, Framework.content_hash, Framework.source).where(col(Framework.active).is_(True))
    ).first()
    if head is None:
        return None
    framework_id, digest, source = head
    key = (digest, source or "")
    hit = _PARSED.get(key)
    if hit is not None:
        return hit
    row = session.get(Framework, framework_id)
    assert row is not None
    spec = parse_framework(row.document, source=row.source or f"{row.code} {row.version}")
    if len(_PARSED) > 16:
        _PARSED.clear()
    _PARSED[key] = spec
    return spec


_IN_SESSION = "itembank.current_framework"


def current_framework(*, session: Session) -> FrameworkSpec:
    """The active framework, or the built-in default when none has been loaded yet.

    Read once per session (kept in ``session.info``; :func:`load_framework` in the same session
    drops it), so code that asks for every student's grade band reads the database once.
    """
    found: FrameworkSpec | None = session.info.get(_IN_SESSION)
    if found is None:
        found = active_framework(session=session) or default_framework()
        session.info[_IN_SESSION] = found
    return found


def load_framework(
    *, session: Session, path: str | Path | None = None, spec: FrameworkSpec | None = None
) -> FrameworkLoad:
    """Validate a framework file (default: the built-in one) and make it the active framework.

    A framework is identified by its ``code`` and ``version``; loading one already stored updates
    it (or just re-activates it when nothing changed). Items keep their sub-indicator codes, so a
    different framework can replace the active one only if it has every sub-indicator and grade
    band the items use; their dimension is re-read from the new framework.

    Raises
    ------
    FrameworkError
        The file is malformed (every problem with its path inside the file).
    FrameworkInUseError
        Items use sub-indicators or grade bands the new framework lacks.
    """
    if spec is None:
        spec = read_framework(path if path is not None else DEFAULT_FRAMEWORK)
    _check_framework_fits_items(session, spec)
    session.info.pop(_IN_SESSION, None)
    document = spec.to_document()
    digest = content_digest(document)
    row = session.exec(select(Framework).where(Framework.code == spec.code, Framework.version == spec.version)).first()
    if row is not None and row.content_hash == digest:
        outcome = "unchanged" if row.active else "activated"
    else:
        outcome = "created" if row is None else "updated"
        if row is None:
            row = Framework(
                code=spec.code,
                version=spec.version,
                name=spec.name,
                name_en=spec.name_en,
                content_hash=digest,
            )
        else:
            for table in (Indicator, Dimension, GradeBand, Literacy):  # children first
                session.execute(delete(table).where(col(table.framework_id) == row.id))
            session.flush()
        row.name, row.name_en, row.description = spec.name, spec.name_en, spec.description
        row.source, row.document, row.content_hash, row.loaded_at = spec.source, document, digest, utcnow()
        session.add(row)
        session.flush()
        _store_framework_parts(session, row, spec)
    for other in session.exec(select(Framework).where(col(Framework.active).is_(True))).all():
        if other.id != row.id:
            other.active = False
            session.add(other)
    row.active = True
    session.add(row)
    moved = 0
    dimension_of = {i.code: i.dimension for i in spec.indicators}
    for item in session.exec(select(Item)).all():
        if item.dimension != dimension_of[item.indicator]:
            item.dimension = dimension_of[item.indicator]
            item.updated_at = utcnow()
            session.add(item)
            moved += 1
    session.flush()
    return FrameworkLoad(framework=spec, outcome=outcome, items_moved=moved)


def _store_framework_parts(session: Session, row: Framework, spec: FrameworkSpec) -> None:
    assert row.id is not None
    for pos, lit in enumerate(spec.literacies):
        session.add(Literacy(framework_id=row.id, code=lit.code, name=lit.name, name_en=lit.name_en, position=pos))
    for pos, band in enumerate(spec.grade_bands):
        session.add(
            GradeBand(framework_id=row.id, code=band.code, name=band.name, grades=list(band.grades), position=pos)
        )
    position = 0
    for dpos, dim in enumerate(spec.dimensions):
        drow = Dimension(
            framework_id=row.id,
            code=dim.code,
            name=dim.name,
            name_en=dim.name_en,
            description=dim.description,
            position=dpos,
        )
        session.add(drow)
        session.flush()
        assert drow.id is not None
        for ind in dim.indicators:
            session.add(
                Indicator(
                    framework_id=row.id,
                    dimension_id=drow.id,
                    code=ind.code,
                    name=ind.name,
                    name_en=ind.name_en,
                    description=ind.description,
                    literacies=list(ind.literacies),
                    position=position,
                )
            )
            position += 1
    session.flush()


def _check_framework_fits_items(session: Session, spec: FrameworkSpec) -> None:
    indicators = {i.code for i in spec.indicators}
    bands = set(spec.band_codes)
    missing_ind: dict[str, list[str]] = {}
    missing_band: dict[str, list[str]] = {}
    for code, indicator, item_bands in session.exec(select(Item.code, Item.indicator, Item.grade_bands)).all():
        if indicator not in indicators:
            missing_ind.setdefault(indicator, []).append(code)
        for band in item_bands:
            if band not in bands:
                missing_band.setdefault(band, []).append(code)
    problems = [
        Problem(f"sub-indicator {k}", f"used by {len(v)} item(s) ({_some(v)}) but not in framework {spec.code}")
        for k, v in sorted(missing_ind.items())
    ] + [
        Problem(f"grade band {k}", f"used by {len(v)} item(s) ({_some(v)}) but not in framework {spec.code}")
        for k, v in sorted(missing_band.items())
    ]
    if problems:
        raise FrameworkInUseError(spec.source or spec.code, problems)


def _some(codes: Sequence[str], n: int = 5) -> str:
    codes = sorted(codes, key=natural_key)
    return ", ".join(codes[:n]) + (", ..." if len(codes) > n else "")
