"""Item export and single-item edits.

:func:`export_items` gives the current version of items with their provisional parameters as
specs ready for :func:`itembank.formats.write_bundle`; :func:`create_item` and
:func:`update_item` edit one item by going through the import (:mod:`itembank.importing`), so an
edit is validated and versioned exactly as a file is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_
from sqlmodel import Session, col, select

from itembank.exceptions import ConflictError, NotFoundError
from itembank.importing import import_items
from itembank.keys import natural_key
from itembank.models import (
    PROVISIONAL,
    Calibration,
    Item,
    ItemCreate,
    ItemParameter,
    ItemPublic,
    ItemUpdate,
    Stimulus,
    StimulusVersion,
)
from itembank.queries import ItemFilter, get_item
from itembank.records import item_metadata, version_content
from itembank.validate import Draft, ItemSpec, Origin, RawBundle, StimulusSpec

__all__ = ["ExportBundle", "create_item", "export_items", "update_item"]


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
    wanted = ItemFilter(dimension=dimension, band=band, status=status, type=type, indicator=indicator, codes=codes)
    rows = wanted.rows(session)
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
                **item_metadata(item),
                **version_content(version),
                params=({"model": par.model, "a": par.a, "b": list(par.b), "c": par.c} if par is not None else {}),
                stimulus=stimulus,
            )
        )
    filtered = wanted.filtering
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
