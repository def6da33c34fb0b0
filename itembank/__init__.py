"""InfoLit item bank: the indicator framework, stimuli, versioned items and stored calibrations.

The public surface is re-exported here; the modules behind it are:

- :mod:`itembank.framework`: read and validate a framework file (TOML/JSON).
- :mod:`itembank.models`: the SQLModel tables.
- :mod:`itembank.validate`: the item rules shared by the JSON and CSV import.
- :mod:`itembank.formats`: the canonical JSON format and the flat CSV.
- :mod:`itembank.services`: keyword-only queries and commands over a session, collected from
  :mod:`itembank.framework_store` (the stored framework), :mod:`itembank.importing` (item
  import, the starter bank), :mod:`itembank.queries`, :mod:`itembank.export` (export and
  single-item edits) and :mod:`itembank.calibrations`; :mod:`itembank.records` maps rows to
  specs and :mod:`itembank.keys` holds sort keys and digests.
- :mod:`itembank.scoring_rules`: score a response to an item version.
- :mod:`itembank.render`: safe Markdown to HTML.
- :mod:`itembank.exceptions`: the errors.
- :mod:`itembank.settings`, :mod:`itembank.db`: settings and database engines.
"""

from __future__ import annotations

from itembank.exceptions import (
    ConflictError,
    FrameworkError,
    FrameworkInUseError,
    InvalidResponseError,
    ItemBankError,
    MissingParametersError,
    NotFoundError,
    Problem,
    ValidationReport,
)
from itembank.formats import read_bundle, read_bundles, write_bundle
from itembank.framework import DEFAULT_FRAMEWORK, FrameworkSpec, read_framework
from itembank.models import (
    ITEM_TYPES,
    PROVISIONAL,
    STATUSES,
    Calibration,
    CalibrationPublic,
    Item,
    ItemCreate,
    ItemParameter,
    ItemPublic,
    ItemUpdate,
    ItemVersion,
    ItemVersionPublic,
    Stimulus,
    StimulusVersion,
)
from itembank.render import RenderedItem, render_inline, render_item, render_markdown
from itembank.scoring_rules import max_score, score_response
from itembank.services import (
    ExportBundle,
    FrameworkLoad,
    ImportSummary,
    active_framework,
    bank_params,
    count_items,
    create_item,
    current_framework,
    enemies_of,
    export_items,
    get_item,
    get_item_version,
    import_items,
    import_starter_bank,
    list_calibrations,
    list_items,
    load_framework,
    lock_item_version,
    publish_calibration,
    starter_bank_files,
    store_calibration,
    update_item,
)
from itembank.validate import ItemSpec, StimulusSpec

__all__ = [
    "DEFAULT_FRAMEWORK",
    "ITEM_TYPES",
    "PROVISIONAL",
    "STATUSES",
    "Calibration",
    "CalibrationPublic",
    "ConflictError",
    "ExportBundle",
    "FrameworkError",
    "FrameworkInUseError",
    "FrameworkLoad",
    "FrameworkSpec",
    "ImportSummary",
    "InvalidResponseError",
    "Item",
    "ItemBankError",
    "ItemCreate",
    "ItemParameter",
    "ItemPublic",
    "ItemSpec",
    "ItemUpdate",
    "ItemVersion",
    "ItemVersionPublic",
    "MissingParametersError",
    "NotFoundError",
    "Problem",
    "RenderedItem",
    "Stimulus",
    "StimulusSpec",
    "StimulusVersion",
    "ValidationReport",
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
    "max_score",
    "publish_calibration",
    "read_bundle",
    "read_bundles",
    "read_framework",
    "render_inline",
    "render_item",
    "render_markdown",
    "score_response",
    "starter_bank_files",
    "store_calibration",
    "update_item",
    "write_bundle",
]
