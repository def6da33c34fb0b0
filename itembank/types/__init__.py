"""Item types: one module per type, registered in one table (:data:`REGISTRY`).

Each module defines one :class:`~itembank.types.base.ItemType` (validation of its content
fields, scoring, highest score, a simulated answer for a score, form parsing and the public data
of its control). Adding a type is one module here, its entry below, and its template
``web/templates/items/<type>.html``.
"""

from __future__ import annotations

from itembank.types.base import ItemType, Scorable
from itembank.types.entry import ENTRY
from itembank.types.hotspot import HOTSPOT
from itembank.types.inbox_sim import INBOX_SIM
from itembank.types.inline_choice import INLINE_CHOICE
from itembank.types.matching import MATCHING
from itembank.types.multiple_response import MULTIPLE_RESPONSE
from itembank.types.ordering import ORDERING
from itembank.types.partial_credit import PARTIAL_CREDIT
from itembank.types.search_sim import SEARCH_SIM
from itembank.types.single_choice import SINGLE_CHOICE
from itembank.types.true_false import TRUE_FALSE

__all__ = ["REGISTRY", "ItemType", "Scorable", "item_type"]

REGISTRY: dict[str, ItemType] = {
    t.name: t
    for t in (
        SINGLE_CHOICE,
        MULTIPLE_RESPONSE,
        TRUE_FALSE,
        PARTIAL_CREDIT,
        ORDERING,
        MATCHING,
        INLINE_CHOICE,
        ENTRY,
        HOTSPOT,
        SEARCH_SIM,
        INBOX_SIM,
    )
}
"""Every item type by name, in the canonical order."""


def item_type(name: str) -> ItemType:
    """The type called ``name``; :class:`KeyError` when there is none."""
    return REGISTRY[name]
