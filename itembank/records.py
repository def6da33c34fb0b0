"""Item and item-version rows as the canonical field sets: the one mapping between tables and specs.

:func:`item_metadata` gives an :class:`~itembank.models.Item`'s metadata under the names of
:meth:`itembank.validate.ItemSpec.metadata`, :func:`version_content` an
:class:`~itembank.models.ItemVersion`'s content under the names of
:meth:`~itembank.validate.ItemSpec.content`. The queries (:class:`~itembank.models.ItemPublic`,
:class:`~itembank.models.ItemVersionPublic`), the export (:class:`~itembank.validate.ItemSpec`) and
the import (comparing what a file says with what is stored) all go through these two.
"""

from __future__ import annotations

import copy
from typing import Any

from itembank.models import Item, ItemVersion
from itembank.validate import CONTENT_FIELDS, METADATA_FIELDS

__all__ = ["item_metadata", "version_content"]


def item_metadata(item: Item) -> dict[str, Any]:
    """The item's metadata (the fields that change without a new version), lists copied."""
    return {name: copy.copy(getattr(item, name)) for name in METADATA_FIELDS}


def version_content(version: ItemVersion) -> dict[str, Any]:
    """The version's content (the fields whose change makes a new version of a locked item)."""
    return {name: getattr(version, name) for name in CONTENT_FIELDS}
