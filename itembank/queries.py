"""Item-bank queries: list, count and fetch items and versions; lock a version once shown.

Keyword-only functions over the caller's session (they never commit). An item is handed out as
:class:`~itembank.models.ItemPublic` (metadata and its current version's type and stem), a version
as :class:`~itembank.models.ItemVersionPublic` (which holds the key: researchers only).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func
from sqlmodel import Session, col, select

from itembank.exceptions import NotFoundError
from itembank.keys import natural_key
from itembank.models import Item, ItemPublic, ItemVersion, ItemVersionPublic, Stimulus, StimulusVersion
from itembank.records import item_metadata, version_content

__all__ = [
    "count_items",
    "current_rows",
    "enemies_of",
    "get_item",
    "get_item_version",
    "ItemFilter",
    "list_items",
    "lock_item_version",
]


def current_rows(session: Session, *conditions: Any) -> list[tuple[Item, ItemVersion, str | None]]:
    """Items with their current version and stimulus code, in natural code order, where ``conditions`` hold."""
    query = (
        select(Item, ItemVersion, Stimulus.code)
        .join(
            ItemVersion,
            and_(col(ItemVersion.item_id) == Item.id, col(ItemVersion.number) == Item.current_version),
        )
        .outerjoin(StimulusVersion, col(StimulusVersion.id) == ItemVersion.stimulus_version_id)
        .outerjoin(Stimulus, col(Stimulus.id) == StimulusVersion.stimulus_id)
    )
    for condition in conditions:
        query = query.where(condition)
    rows: list[tuple[Item, ItemVersion, str | None]] = [(i, v, s) for i, v, s in session.exec(query).all()]
    rows.sort(key=lambda r: natural_key(r[0].code))
    return rows


def _public(item: Item, version: ItemVersion, stimulus: str | None) -> ItemPublic:
    assert item.id is not None
    return ItemPublic(
        id=item.id,
        code=item.code,
        **item_metadata(item),
        type=version.type,
        stimulus=stimulus,
        stem=version.stem,
        current_version=item.current_version,
        locked=version.locked,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


@dataclass(frozen=True)
class ItemFilter:
    """Filters on items; every one given must hold (``None`` does not filter)."""

    dimension: str | None = None
    band: str | None = None
    status: str | None = None
    type: str | None = None
    indicator: str | None = None
    codes: Sequence[str] | None = None

    def rows(self, session: Session) -> list[tuple[Item, ItemVersion, str | None]]:
        """The items that pass, as :func:`current_rows` gives them."""
        conditions: list[Any] = []
        if self.dimension:
            conditions.append(col(Item.dimension) == self.dimension)
        if self.indicator:
            conditions.append(col(Item.indicator) == self.indicator)
        if self.status:
            conditions.append(col(Item.status) == self.status)
        if self.type:
            conditions.append(col(ItemVersion.type) == self.type)
        if self.codes is not None:
            conditions.append(col(Item.code).in_(list(self.codes)))
        rows = current_rows(session, *conditions)
        return [r for r in rows if self.band is None or self.band in r[0].grade_bands]

    @property
    def filtering(self) -> bool:
        """Whether any filter is given."""
        return any(
            x is not None for x in (self.dimension, self.band, self.status, self.type, self.indicator, self.codes)
        )


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
    wanted = ItemFilter(dimension=dimension, band=band, status=status, type=type, indicator=indicator)
    return [_public(i, v, s) for i, v, s in wanted.rows(session)]


def count_items(*, session: Session) -> int:
    """Number of items in the bank (every status)."""
    return int(session.exec(select(func.count()).select_from(Item)).one())


def get_item(*, session: Session, code: str) -> ItemPublic:
    """The item with ``code``; :class:`NotFoundError` if there is none."""
    rows = current_rows(session, col(Item.code) == code)
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
        **version_content(version),
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
