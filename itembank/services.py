"""Item-bank queries and commands: keyword-only functions over a session (the public surface).

The caller owns the transaction (``with session_scope() as session: ...``): these functions
flush but never commit, so an import, a framework load or a calibration either lands whole or,
when the caller's block raises, not at all. Imports validate everything before writing anything.

The functions live in one module per concern and are collected here:

- :mod:`itembank.framework_store`: load the framework into the database, read the active one;
- :mod:`itembank.importing`: validate and import item bundles, the starter bank;
- :mod:`itembank.queries`: list, count and fetch items and versions, lock a version once shown;
- :mod:`itembank.export`: export items as specs, create and edit one item;
- :mod:`itembank.calibrations`: store, publish and read calibrations as parameter tables;
- :mod:`itembank.keys`, :mod:`itembank.records`: sort keys and digests, the row <-> spec field mapping.
"""

from __future__ import annotations

from itembank.calibrations import bank_params, item_params, list_calibrations, publish_calibration, store_calibration
from itembank.export import ExportBundle, create_item, export_items, update_item
from itembank.framework_store import FrameworkLoad, active_framework, current_framework, load_framework
from itembank.importing import STARTER_BANK, ImportSummary, import_items, import_starter_bank, starter_bank_files
from itembank.keys import natural_key
from itembank.queries import count_items, enemies_of, get_item, get_item_version, list_items, lock_item_version

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
    "item_params",
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
