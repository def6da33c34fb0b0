"""Item import: validate a whole bundle, then create or update its stimuli and items.

Codes are keys. :func:`import_items` validates everything first (:mod:`itembank.validate`) and
writes only a bundle without problems, in the caller's transaction; an item whose current version
was shown to a student (locked) gets a new version instead of an edit, and so does a locked
stimulus (the items that show it follow it onto the new version). The provisional parameters of
the files go into the built-in ``provisional`` calibration. :func:`import_starter_bank` imports
the bank InfoLit ships with.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_
from sqlmodel import Session, col, select

from itembank.exceptions import NotFoundError
from itembank.formats import merge_bundles, read_bundle
from itembank.framework import DEFAULT_FRAMEWORK, FrameworkSpec, read_framework
from itembank.framework_store import active_framework, load_framework
from itembank.keys import content_digest, natural_key
from itembank.models import (
    PROVISIONAL,
    Calibration,
    Item,
    ItemParameter,
    ItemVersion,
    Stimulus,
    StimulusVersion,
    utcnow,
)
from itembank.records import version_content
from itembank.validate import (
    BankContext,
    ItemSpec,
    RawBundle,
    StimulusSpec,
    ValidatedBundle,
    item_max_score,
    validate_bundle,
)

__all__ = ["STARTER_BANK", "ImportSummary", "import_items", "import_starter_bank", "starter_bank_files"]

STARTER_BANK = Path(__file__).with_name("bank")
"""Folder of the starter bank: one canonical JSON file per dimension, ``d1.json`` .. ``d4.json``."""
_BANK_FILE = re.compile(r"^d\d+\.json$")


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
        digest = content_digest(spec.content())
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
    # the interactive types' fields enter the hash only when set, so the hashes of the versions
    # stored before they existed stay what they were
    hashed = {k: v for k, v in content.items() if v is not None or k not in ("interaction", "rule")}
    return content_digest({**hashed, "stimulus": stimulus_ref})


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
    if version_content(cur) != content or cur.stimulus_version_id != sv_id:
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
            version = _new_version(session, item.id, item.current_version + 1, version_content(cur), new_sv)
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
            cur.content_hash = _content_hash(version_content(cur), _stimulus_ref(session, new_sv))
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
