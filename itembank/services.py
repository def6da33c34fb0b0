"""Item-bank queries and commands: keyword-only functions over a session.

The caller owns the transaction (``with session_scope() as session: ...``): these functions
flush but never commit, so an import, a framework load or a calibration either lands whole or,
when the caller's block raises, not at all. Imports validate everything before writing anything.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, delete, func
from sqlmodel import Session, col, select

from itembank.exceptions import (
    ConflictError,
    FrameworkInUseError,
    MissingParametersError,
    NotFoundError,
    Problem,
    ValidationReport,
)
from itembank.formats import merge_bundles, read_bundle
from itembank.framework import DEFAULT_FRAMEWORK, FrameworkSpec, parse_framework, read_framework
from itembank.models import (
    CALIBRATION_STATUSES,
    PROVISIONAL,
    Calibration,
    CalibrationPublic,
    Dimension,
    Framework,
    GradeBand,
    Indicator,
    Item,
    ItemCreate,
    ItemParameter,
    ItemPublic,
    ItemUpdate,
    ItemVersion,
    ItemVersionPublic,
    Literacy,
    Stimulus,
    StimulusVersion,
    utcnow,
)
from itembank.validate import (
    BankContext,
    Draft,
    ItemSpec,
    Origin,
    RawBundle,
    StimulusSpec,
    ValidatedBundle,
    item_max_score,
    validate_bundle,
)
from scoring.params import ItemParams, ItemParamsSE

__all__ = [
    "STARTER_BANK",
    "ExportBundle",
    "FrameworkLoad",
    "ImportSummary",
    "active_framework",
    "bank_params",
    "count_items",
    "create_item",
    "current_framework",
    "enemies_of",
    "export_items",
    "get_item",
    "get_item_version",
    "import_items",
    "import_starter_bank",
    "list_calibrations",
    "list_items",
    "load_framework",
    "lock_item_version",
    "natural_key",
    "publish_calibration",
    "starter_bank_files",
    "store_calibration",
    "update_item",
]

STARTER_BANK = Path(__file__).with_name("bank")
"""Folder of the starter bank: one canonical JSON file per dimension, ``d1.json`` .. ``d4.json``."""
_BANK_FILE = re.compile(r"^d\d+\.json$")


def natural_key(code: str) -> tuple[Any, ...]:
    """Sort key that puts ``D1.2-010`` after ``D1.2-009`` and ``D1.10`` after ``D1.9``."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", code) if t)


def _hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ============================================================================================ framework
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


def active_framework(*, session: Session) -> FrameworkSpec | None:
    """The framework loaded and active in the database, or ``None`` before the first load."""
    row = session.exec(select(Framework).where(col(Framework.active).is_(True))).first()
    if row is None:
        return None
    return parse_framework(row.document, source=row.source or f"{row.code} {row.version}")


def current_framework(*, session: Session) -> FrameworkSpec:
    """The active framework, or the built-in default when none has been loaded yet."""
    return active_framework(session=session) or read_framework(DEFAULT_FRAMEWORK)


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
    document = spec.to_document()
    digest = _hash(document)
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


# ============================================================================================ import
@dataclass(frozen=True)
class ImportSummary:
    """What an import did, by item and stimulus code."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    new_versions: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    stimuli_created: tuple[str, ...] = ()
    stimuli_updated: tuple[str, ...] = ()
    stimuli_new_versions: tuple[str, ...] = ()
    stimuli_unchanged: tuple[str, ...] = ()
    framework_loaded: str | None = None

    @property
    def changed(self) -> bool:
        """Whether anything was written."""
        return bool(
            self.created
            or self.updated
            or self.new_versions
            or self.stimuli_created
            or self.stimuli_updated
            or self.stimuli_new_versions
            or self.framework_loaded
        )

    def __str__(self) -> str:
        lines = [
            f"items: {len(self.created)} created, {len(self.updated)} updated, {len(self.new_versions)} new "
            f"versions, {len(self.unchanged)} unchanged",
            f"stimuli: {len(self.stimuli_created)} created, {len(self.stimuli_updated)} updated, "
            f"{len(self.stimuli_new_versions)} new versions, {len(self.stimuli_unchanged)} unchanged",
        ]
        if self.framework_loaded:
            lines.insert(0, f"framework {self.framework_loaded} loaded (the database had none)")
        return "\n".join(lines)


@dataclass
class _Tally:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    new_versions: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def import_items(*, session: Session, bundle: RawBundle) -> ImportSummary:
    """Validate ``bundle`` completely, then create or update its stimuli and items.

    Codes are keys: an item already in the bank is updated (metadata in place; content in place
    while no response points at its current version, otherwise as a new version). Re-importing
    the same file changes nothing and reports every item unchanged. The provisional parameters
    go into the built-in ``provisional`` calibration. When the database has no framework yet, the
    built-in default is validated against and stored.

    Raises
    ------
    ValidationReport
        With every problem of the file; nothing has been written.
    """
    stored = active_framework(session=session)
    framework = stored or read_framework(DEFAULT_FRAMEWORK)
    context = BankContext(
        framework=framework,
        stimuli=frozenset(session.exec(select(Stimulus.code)).all()),
        items=frozenset(session.exec(select(Item.code)).all()),
    )
    valid = validate_bundle(bundle, context)
    loaded = None
    if stored is None:
        loaded = load_framework(session=session, spec=framework).framework
    return _write(session, valid, loaded)


def _write(session: Session, valid: ValidatedBundle, loaded: FrameworkSpec | None) -> ImportSummary:
    session.info["itembank.stimulus_refs"] = {}
    provisional = _provisional(session)
    stim_tally = _Tally()
    stim_versions, replaced = _write_stimuli(session, valid.stimuli, stim_tally)
    tally = _Tally()
    codes = [i.code for i in valid.items]
    rows: dict[str, tuple[Item, ItemVersion]] = {}
    params: dict[int, ItemParameter] = {}
    if codes:
        for item, version in session.exec(
            select(Item, ItemVersion)
            .join(
                ItemVersion,
                and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.number) == Item.current_version),
            )
            .where(col(Item.code).in_(codes))
        ).all():
            rows[item.code] = (item, version)
        version_ids = [v.id for _, v in rows.values()]
        if version_ids:
            for p in session.exec(
                select(ItemParameter).where(
                    ItemParameter.calibration_id == provisional.id,
                    col(ItemParameter.item_version_id).in_(version_ids),
                )
            ).all():
                params[p.item_version_id] = p
    for spec in valid.items:
        sv_id = stim_versions[spec.stimulus] if spec.stimulus else None
        _write_item(session, spec, rows.get(spec.code), sv_id, provisional, params, tally)
    if replaced:
        _follow_stimuli(session, replaced, set(codes), provisional, tally)
    session.flush()
    return ImportSummary(
        created=tuple(tally.created),
        updated=tuple(tally.updated),
        new_versions=tuple(tally.new_versions),
        unchanged=tuple(tally.unchanged),
        stimuli_created=tuple(stim_tally.created),
        stimuli_updated=tuple(stim_tally.updated),
        stimuli_new_versions=tuple(stim_tally.new_versions),
        stimuli_unchanged=tuple(stim_tally.unchanged),
        framework_loaded=f"{loaded.code} {loaded.version}" if loaded else None,
    )


def _provisional(session: Session) -> Calibration:
    row = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).first()
    if row is None:
        row = Calibration(
            name=PROVISIONAL,
            status="draft",
            source="provisional generating parameters from the item files (not estimated)",
        )
        session.add(row)
        session.flush()
    return row


def _stimulus_locked(session: Session, version: StimulusVersion) -> bool:
    if version.locked:
        return True
    hit = session.exec(
        select(ItemVersion.id).where(ItemVersion.stimulus_version_id == version.id, col(ItemVersion.locked).is_(True))
    ).first()
    return hit is not None


def _write_stimuli(
    session: Session, specs: Sequence[StimulusSpec], tally: _Tally
) -> tuple[dict[str, int], dict[int, int]]:
    """Upsert stimuli; return the current version id by code and ``old id -> new id`` of new versions."""
    current: dict[str, int] = {}
    replaced: dict[int, int] = {}
    by_code = {s.code: s for s in session.exec(select(Stimulus)).all()}
    versions = {
        (v.stimulus_id, v.number): v
        for v in session.exec(
            select(StimulusVersion).join(
                Stimulus,
                and_(
                    col(Stimulus.id) == StimulusVersion.stimulus_id,
                    col(Stimulus.current_version) == StimulusVersion.number,
                ),
            )
        ).all()
    }
    for stim in by_code.values():
        v = versions.get((stim.id or 0, stim.current_version))
        if v is not None and v.id is not None:
            current[stim.code] = v.id
    now = utcnow()
    for spec in specs:
        digest = _hash(spec.content())
        row = by_code.get(spec.code)
        if row is None:
            row = Stimulus(code=spec.code, current_version=1, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            assert row.id is not None
            version = StimulusVersion(
                stimulus_id=row.id, number=1, content_hash=digest, created_at=now, **spec.content()
            )
            session.add(version)
            session.flush()
            tally.created.append(spec.code)
        else:
            cur = versions[(row.id or 0, row.current_version)]
            if cur.content_hash == digest:
                tally.unchanged.append(spec.code)
                continue
            if _stimulus_locked(session, cur):
                assert row.id is not None and cur.id is not None
                version = StimulusVersion(
                    stimulus_id=row.id,
                    number=row.current_version + 1,
                    content_hash=digest,
                    created_at=now,
                    **spec.content(),
                )
                session.add(version)
                row.current_version = version.number
                session.flush()
                assert version.id is not None
                replaced[cur.id] = version.id
                tally.new_versions.append(spec.code)
            else:
                version = cur
                version.kind, version.title, version.body = spec.kind, spec.title, spec.body
                version.content_hash = digest
                session.add(version)
                tally.updated.append(spec.code)
            row.updated_at = now
            session.add(row)
        assert version.id is not None
        current[spec.code] = version.id
    session.flush()
    return current, replaced


def _stimulus_ref(session: Session, stimulus_version_id: int | None) -> str | None:
    """``CODE@N`` of a stimulus version (cached for the import: a version's code and number never change)."""
    if stimulus_version_id is None:
        return None
    cache: dict[int, str] = session.info.setdefault("itembank.stimulus_refs", {})
    if stimulus_version_id not in cache:
        row = session.exec(
            select(Stimulus.code, StimulusVersion.number)
            .join(StimulusVersion, col(StimulusVersion.stimulus_id) == Stimulus.id)
            .where(StimulusVersion.id == stimulus_version_id)
        ).first()
        if row is None:
            return None
        cache[stimulus_version_id] = f"{row[0]}@{row[1]}"
    return cache[stimulus_version_id]


def _content_hash(content: dict[str, Any], stimulus_ref: str | None) -> str:
    return _hash({**content, "stimulus": stimulus_ref})


def _version_content(version: ItemVersion) -> dict[str, Any]:
    return {
        "type": version.type,
        "stem": version.stem,
        "options": version.options,
        "key": version.key,
        "scoring": version.scoring,
        "parts": version.parts,
        "score_map": version.score_map,
        "rubric": version.rubric,
    }


def _new_version(
    session: Session, item_id: int, number: int, content: dict[str, Any], sv_id: int | None
) -> ItemVersion:
    version = ItemVersion(
        item_id=item_id,
        number=number,
        stimulus_version_id=sv_id,
        content_hash=_content_hash(content, _stimulus_ref(session, sv_id)),
        max_score=item_max_score(content["type"], content["scoring"], content["score_map"]),
        **content,
    )
    session.add(version)
    session.flush()
    return version


def _params_of(spec_params: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": spec_params["model"],
        "a": float(spec_params["a"]),
        "b": [float(x) for x in spec_params["b"]],
        "c": float(spec_params["c"]),
    }


def _set_params(
    session: Session,
    calibration: Calibration,
    version_id: int,
    params: dict[str, Any],
    known: dict[int, ItemParameter] | None = None,
) -> bool:
    """Store provisional parameters for a version; return whether anything changed.

    ``known`` holds the rows already fetched by version id (a version not in it has none).
    """
    if known is not None:
        row = known.get(version_id)
    else:
        row = session.exec(
            select(ItemParameter).where(
                ItemParameter.calibration_id == calibration.id, ItemParameter.item_version_id == version_id
            )
        ).first()
    wanted = _params_of(params)
    if row is not None and {"model": row.model, "a": row.a, "b": row.b, "c": row.c} == wanted:
        return False
    assert calibration.id is not None
    row = row or ItemParameter(calibration_id=calibration.id, item_version_id=version_id, model="", a=1.0)
    row.model, row.a, row.b, row.c = wanted["model"], wanted["a"], wanted["b"], wanted["c"]
    session.add(row)
    return True


def _write_item(
    session: Session,
    spec: ItemSpec,
    existing: tuple[Item, ItemVersion] | None,
    sv_id: int | None,
    provisional: Calibration,
    params: dict[int, ItemParameter],
    tally: _Tally,
) -> None:
    now = utcnow()
    content = spec.content()
    meta = spec.metadata()
    if existing is None:
        row = Item(code=spec.code, current_version=1, created_at=now, updated_at=now, **meta)
        session.add(row)
        session.flush()
        assert row.id is not None
        version = _new_version(session, row.id, 1, content, sv_id)
        assert version.id is not None
        _set_params(session, provisional, version.id, spec.params, params)
        tally.created.append(spec.code)
        return
    row, cur = existing
    assert row.id is not None and cur.id is not None
    changed = False
    for name, value in meta.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    outcome = "updated"
    if _version_content(cur) != content or cur.stimulus_version_id != sv_id:
        if cur.locked:
            version = _new_version(session, row.id, row.current_version + 1, content, sv_id)
            row.current_version = version.number
            cur = version
            outcome = "new_version"
        else:
            for name, value in content.items():
                setattr(cur, name, value)
            cur.stimulus_version_id = sv_id
            cur.max_score = item_max_score(spec.type, spec.scoring, spec.score_map)
            cur.content_hash = _content_hash(content, _stimulus_ref(session, sv_id))
            session.add(cur)
        changed = True
    assert cur.id is not None
    if _set_params(session, provisional, cur.id, spec.params, params):
        changed = True
    if not changed:
        tally.unchanged.append(spec.code)
        return
    row.updated_at = now
    session.add(row)
    (tally.new_versions if outcome == "new_version" else tally.updated).append(spec.code)


def _follow_stimuli(
    session: Session, replaced: dict[int, int], skip: set[str], provisional: Calibration, tally: _Tally
) -> None:
    """Move items not in the file onto the new version of a stimulus they show."""
    rows = session.exec(
        select(Item, ItemVersion)
        .join(
            ItemVersion,
            and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.number) == Item.current_version),
        )
        .where(col(ItemVersion.stimulus_version_id).in_(list(replaced)))
    ).all()
    for item, cur in rows:
        if item.code in skip or cur.stimulus_version_id is None:
            continue
        assert item.id is not None and cur.id is not None
        new_sv = replaced[cur.stimulus_version_id]
        if cur.locked:
            version = _new_version(session, item.id, item.current_version + 1, _version_content(cur), new_sv)
            assert version.id is not None
            old = session.exec(
                select(ItemParameter).where(
                    ItemParameter.calibration_id == provisional.id, ItemParameter.item_version_id == cur.id
                )
            ).first()
            if old is not None:
                _set_params(session, provisional, version.id, {"model": old.model, "a": old.a, "b": old.b, "c": old.c})
            item.current_version = version.number
            tally.new_versions.append(item.code)
        else:
            cur.stimulus_version_id = new_sv
            cur.content_hash = _content_hash(_version_content(cur), _stimulus_ref(session, new_sv))
            session.add(cur)
            tally.updated.append(item.code)
        item.updated_at = utcnow()
        session.add(item)


def starter_bank_files() -> list[Path]:
    """The starter bank's files (``itembank/bank/d1.json`` ...), in order; other files there are ignored."""
    if not STARTER_BANK.is_dir():
        return []
    return sorted((p for p in STARTER_BANK.iterdir() if _BANK_FILE.match(p.name)), key=lambda p: natural_key(p.name))


def import_starter_bank(*, session: Session) -> ImportSummary:
    """Import the starter bank shipped with InfoLit (all its files in one transaction)."""
    files = starter_bank_files()
    if not files:
        raise NotFoundError(f"no starter bank files (d1.json ...) in {STARTER_BANK}")
    return import_items(session=session, bundle=merge_bundles([read_bundle(p) for p in files]))


# ============================================================================================ queries
def _current_rows(session: Session, *codes_filter: Any) -> list[tuple[Item, ItemVersion, str | None]]:
    query = (
        select(Item, ItemVersion, Stimulus.code)
        .join(
            ItemVersion,
            and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.number) == Item.current_version),
        )
        .outerjoin(StimulusVersion, col(StimulusVersion.id) == ItemVersion.stimulus_version_id)
        .outerjoin(Stimulus, col(Stimulus.id) == StimulusVersion.stimulus_id)
    )
    for condition in codes_filter:
        query = query.where(condition)
    rows: list[tuple[Item, ItemVersion, str | None]] = [(i, v, s) for i, v, s in session.exec(query).all()]
    rows.sort(key=lambda r: natural_key(r[0].code))
    return rows


def _public(item: Item, version: ItemVersion, stimulus: str | None) -> ItemPublic:
    assert item.id is not None
    return ItemPublic(
        id=item.id,
        code=item.code,
        indicator=item.indicator,
        dimension=item.dimension,
        grade_bands=list(item.grade_bands),
        status=item.status,
        author=item.author,
        rationale=item.rationale,
        enemies=list(item.enemies),
        type=version.type,
        stimulus=stimulus,
        stem=version.stem,
        current_version=item.current_version,
        locked=version.locked,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _filters(
    *,
    dimension: str | None,
    status: str | None,
    type: str | None,
    indicator: str | None,
    codes: Sequence[str] | None,
) -> list[Any]:
    conditions: list[Any] = []
    if dimension:
        conditions.append(col(Item.dimension) == dimension)
    if indicator:
        conditions.append(col(Item.indicator) == indicator)
    if status:
        conditions.append(col(Item.status) == status)
    if type:
        conditions.append(col(ItemVersion.type) == type)
    if codes is not None:
        conditions.append(col(Item.code).in_(list(codes)))
    return conditions


def list_items(
    *,
    session: Session,
    dimension: str | None = None,
    band: str | None = None,
    status: str | None = None,
    type: str | None = None,
    indicator: str | None = None,
) -> list[ItemPublic]:
    """Items in code order (natural sort), optionally filtered; every filter given must hold."""
    rows = _current_rows(
        session, *_filters(dimension=dimension, status=status, type=type, indicator=indicator, codes=None)
    )
    return [_public(i, v, s) for i, v, s in rows if band is None or band in i.grade_bands]


def count_items(*, session: Session) -> int:
    """Number of items in the bank (every status)."""
    return int(session.exec(select(func.count()).select_from(Item)).one())


def get_item(*, session: Session, code: str) -> ItemPublic:
    """The item with ``code``; :class:`NotFoundError` if there is none."""
    rows = _current_rows(session, col(Item.code) == code)
    if not rows:
        raise NotFoundError(f"no item with code {code!r}")
    return _public(*rows[0])


def get_item_version(
    *, session: Session, code: str | None = None, number: int | None = None, version_id: int | None = None
) -> ItemVersionPublic:
    """An item version by ``version_id``, or by ``code`` and ``number`` (default: the current one)."""
    query = (
        select(ItemVersion, Item, Stimulus.code)
        .join(Item, col(Item.id) == ItemVersion.item_id)
        .outerjoin(StimulusVersion, col(StimulusVersion.id) == ItemVersion.stimulus_version_id)
        .outerjoin(Stimulus, col(Stimulus.id) == StimulusVersion.stimulus_id)
    )
    if version_id is not None:
        query = query.where(ItemVersion.id == version_id)
    elif code is not None:
        query = query.where(Item.code == code)
        query = query.where(
            ItemVersion.number == number if number is not None else col(ItemVersion.number) == Item.current_version
        )
    else:
        raise ValueError("give version_id, or code (and optionally number)")
    row = session.exec(query).first()
    if row is None:
        raise NotFoundError(f"no item version {version_id if version_id is not None else f'{code}@{number}'}")
    version, item, stimulus = row
    assert version.id is not None
    return ItemVersionPublic(
        id=version.id,
        item_id=version.item_id,
        code=item.code,
        number=version.number,
        stimulus=stimulus,
        content_hash=version.content_hash,
        locked=version.locked,
        created_at=version.created_at,
        **_version_content(version),
        max_score=version.max_score,
    )


def lock_item_version(*, session: Session, version_id: int) -> None:
    """Mark an item version (and the stimulus version it shows) as answered: its content is frozen.

    ``assess`` calls this when it stores the first response to the version. Afterwards a content
    edit to the item makes a new version instead of changing this one.
    """
    version = session.get(ItemVersion, version_id)
    if version is None:
        raise NotFoundError(f"no item version with id {version_id}")
    if not version.locked:
        version.locked = True
        session.add(version)
    if version.stimulus_version_id is not None:
        sv = session.get(StimulusVersion, version.stimulus_version_id)
        if sv is not None and not sv.locked:
            sv.locked = True
            session.add(sv)
    session.flush()


def enemies_of(*, session: Session, codes: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
    """Enemy sets, made symmetric (if A lists B, B also avoids A), for ``codes`` or every item."""
    pairs: dict[str, set[str]] = {}
    for code, enemies in session.exec(select(Item.code, Item.enemies)).all():
        pairs.setdefault(code, set())
        for enemy in enemies:
            pairs[code].add(enemy)
            pairs.setdefault(enemy, set()).add(code)
    wanted = list(codes) if codes is not None else list(pairs)
    return {c: frozenset(pairs.get(c, set())) for c in wanted}


# ============================================================================================ export
@dataclass(frozen=True)
class ExportBundle:
    """Stimuli and items ready to write with :func:`itembank.formats.write_bundle`."""

    stimuli: tuple[StimulusSpec, ...]
    items: tuple[ItemSpec, ...]


def export_items(
    *,
    session: Session,
    dimension: str | None = None,
    band: str | None = None,
    status: str | None = None,
    type: str | None = None,
    indicator: str | None = None,
    codes: Sequence[str] | None = None,
) -> ExportBundle:
    """The current version of every item (or the filtered ones) with its provisional parameters.

    Without filters every stimulus is included; with filters, the stimuli the items use.
    """
    rows = _current_rows(
        session, *_filters(dimension=dimension, status=status, type=type, indicator=indicator, codes=codes)
    )
    rows = [r for r in rows if band is None or band in r[0].grade_bands]
    provisional = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).first()
    params: dict[int, ItemParameter] = {}
    if provisional is not None and rows:
        ids = [v.id for _, v, _ in rows]
        for p in session.exec(
            select(ItemParameter).where(
                ItemParameter.calibration_id == provisional.id, col(ItemParameter.item_version_id).in_(ids)
            )
        ).all():
            params[p.item_version_id] = p
    items: list[ItemSpec] = []
    for item, version, stimulus in rows:
        assert version.id is not None
        par = params.get(version.id)
        items.append(
            ItemSpec(
                code=item.code,
                type=version.type,
                indicator=item.indicator,
                dimension=item.dimension,
                grade_bands=list(item.grade_bands),
                status=item.status,
                author=item.author,
                stem=version.stem,
                rationale=item.rationale,
                params=({"model": par.model, "a": par.a, "b": list(par.b), "c": par.c} if par is not None else {}),
                stimulus=stimulus,
                options=version.options,
                key=version.key,
                scoring=version.scoring,
                parts=version.parts,
                score_map=version.score_map,
                rubric=version.rubric,
                enemies=list(item.enemies),
            )
        )
    filtered = any(x is not None for x in (dimension, band, status, type, indicator, codes))
    used = {i.stimulus for i in items if i.stimulus}
    stimuli = [
        StimulusSpec(code=code, kind=v.kind, title=v.title, body=v.body)
        for code, v in session.exec(
            select(Stimulus.code, StimulusVersion).join(
                StimulusVersion,
                and_(
                    col(StimulusVersion.stimulus_id) == Stimulus.id,
                    col(StimulusVersion.number) == Stimulus.current_version,
                ),
            )
        ).all()
        if not filtered or code in used
    ]
    stimuli.sort(key=lambda s: natural_key(s.code))
    return ExportBundle(stimuli=tuple(stimuli), items=tuple(items))


# ============================================================================================ edits
def create_item(*, session: Session, item_in: ItemCreate) -> ItemPublic:
    """Create one item from the canonical fields (validated like an imported item).

    Raises
    ------
    ConflictError
        If the code is taken.
    ValidationReport
        If the item breaks a rule.
    """
    if session.exec(select(Item.id).where(Item.code == item_in.code)).first() is not None:
        raise ConflictError(f"an item with code {item_in.code!r} already exists")
    data = {k: v for k, v in item_in.model_dump().items() if v is not None}
    import_items(session=session, bundle=RawBundle(f"item {item_in.code}", items=(Draft(data, Origin("item")),)))
    return get_item(session=session, code=item_in.code)


def update_item(*, session: Session, code: str, item_in: ItemUpdate) -> ItemPublic:
    """Change the fields set in ``item_in``; a content change of an answered version makes a new version."""
    current = export_items(session=session, codes=[code]).items
    if not current:
        raise NotFoundError(f"no item with code {code!r}")
    data = current[0].to_document()
    data.update(item_in.model_dump(exclude_unset=True))
    data = {k: v for k, v in data.items() if v is not None}
    import_items(session=session, bundle=RawBundle(f"item {code}", items=(Draft(data, Origin("item")),)))
    return get_item(session=session, code=code)


# ============================================================================================ calibrations
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
    """Mark a calibration operational: it becomes the default of :func:`bank_params` if it is the newest."""
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
        rows = _current_rows(session, col(Item.status) != "retired")
        wanted = [r[0].code for r in rows]
    else:
        wanted = list(codes)
        rows = _current_rows(session, col(Item.code).in_(wanted))
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
    chosen = [by_version[version_of[c]] for c in wanted]
    kmax = max((len(p.b) for p in chosen), default=1)
    b = np.full((len(chosen), kmax), np.nan)
    for j, p in enumerate(chosen):
        b[j, : len(p.b)] = p.b
    return ItemParams(
        ids=tuple(wanted),
        models=tuple(p.model for p in chosen),
        a=np.array([p.a for p in chosen], dtype=np.float64),
        b=b,
        c=np.array([p.c for p in chosen], dtype=np.float64),
    )
