"""Item-bank tables: the framework, stimuli, items with immutable versions, and calibrations.

Each entity is layered the same way: ``XBase`` (shared fields) -> ``XCreate`` / ``XUpdate``
(input) -> ``X(table=True)`` (the row) -> ``XPublic`` (what is handed out). List-like fields are
JSON columns, which SQLAlchemy maps to ``JSON`` on both SQLite and PostgreSQL. Timestamps are
naive UTC (``datetime.now(UTC)`` without tzinfo), the same on both dialects.

Versioning
----------
An :class:`Item` carries the metadata a researcher may edit at any time (indicator, grade bands,
status, author, rationale, enemies) and points at its current :class:`ItemVersion` by number.
An :class:`ItemVersion` holds the content a student sees and the key it is scored with. Once
``assess`` stores the first response to a version it sets ``locked`` (see
:func:`itembank.services.lock_item_version`); from then on a content edit makes a new version and
the old one stays, so every response points at exactly the version the student saw. A version
without responses is edited in place. Stimuli are versioned the same way.

Item parameters live per calibration (:class:`Calibration`, :class:`ItemParameter`) and point at
an item version. The provisional generating parameters of the bank files live in the built-in
calibration named ``provisional``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from itembank.types import REGISTRY

__all__ = [
    "CALIBRATION_STATUSES",
    "DICHOTOMOUS_TYPES",
    "ITEM_TYPES",
    "PROVISIONAL",
    "SCORINGS",
    "STATUSES",
    "Calibration",
    "CalibrationBase",
    "CalibrationCreate",
    "CalibrationPublic",
    "Dimension",
    "DimensionBase",
    "Framework",
    "FrameworkBase",
    "FrameworkPublic",
    "GradeBand",
    "GradeBandBase",
    "Indicator",
    "IndicatorBase",
    "Item",
    "ItemBase",
    "ItemCreate",
    "ItemParameter",
    "ItemParameterBase",
    "ItemParameterPublic",
    "ItemPublic",
    "ItemUpdate",
    "ItemVersion",
    "ItemVersionBase",
    "ItemVersionPublic",
    "Literacy",
    "LiteracyBase",
    "Stimulus",
    "StimulusBase",
    "StimulusPublic",
    "StimulusVersion",
    "StimulusVersionBase",
    "utcnow",
]

# Named constraints, so Alembic can alter tables later (SQLite batch mode needs the names).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ITEM_TYPES: tuple[str, ...] = tuple(REGISTRY)
"""Item types of the canonical format (one module each in :mod:`itembank.types`)."""
DICHOTOMOUS_TYPES: frozenset[str] = frozenset({"single_choice", "multiple_response", "true_false", "entry"})
"""Types scored 0/1 (``multiple_response`` only when scored ``all_or_nothing``; others by their scoring)."""
STATUSES: tuple[str, ...] = ("draft", "pilot", "operational", "retired")
"""Life cycle of an item."""
SCORINGS: tuple[str, ...] = tuple(dict.fromkeys(s for t in REGISTRY.values() for s in t.scorings))
"""Scoring rules of the types that have several (``all_or_nothing``, ``partial``, ``per_match``...)."""
CALIBRATION_STATUSES: tuple[str, ...] = ("draft", "operational")
"""A calibration is drafted, then published as operational."""
PROVISIONAL = "provisional"
"""Name of the built-in calibration holding the bank files' provisional generating parameters."""


def utcnow() -> datetime:
    """The current time in UTC (what every timestamp column stores)."""
    return datetime.now(UTC)


# ============================================================================================ framework
# Framework, shared fields: identity and titles of a loaded framework file.
class FrameworkBase(SQLModel):
    """Identity and titles of an indicator framework."""

    code: str = Field(max_length=64, index=True)
    version: str = Field(max_length=32)
    name: str
    name_en: str
    description: str = ""
    source: str = ""


# Framework row: one per (code, version) ever loaded; exactly one is active.
class Framework(FrameworkBase, table=True):
    """A framework loaded into the database; ``document`` keeps the whole validated file."""

    __table_args__ = (UniqueConstraint("code", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    document: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    content_hash: str = Field(max_length=64)
    active: bool = Field(default=False, index=True)
    loaded_at: datetime = Field(default_factory=utcnow)


# Framework, handed out.
class FrameworkPublic(FrameworkBase):
    """A framework as handed out."""

    id: int
    active: bool
    loaded_at: datetime


# Literacy, shared fields.
class LiteracyBase(SQLModel):
    """A core literacy of the curriculum (信息意识, 计算思维, ...)."""

    code: str = Field(max_length=32)
    name: str
    name_en: str
    position: int = 0


# Literacy row, owned by a framework.
class Literacy(LiteracyBase, table=True):
    """A literacy of one framework."""

    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")


# Grade band, shared fields.
class GradeBandBase(SQLModel):
    """A grade band (``3-4``) and its grades."""

    code: str = Field(max_length=16)
    name: str
    grades: list[int] = Field(default_factory=list, sa_type=JSON)
    position: int = 0


# Grade band row, owned by a framework.
class GradeBand(GradeBandBase, table=True):
    """A grade band of one framework."""

    __tablename__ = "grade_band"
    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")


# Dimension, shared fields.
class DimensionBase(SQLModel):
    """A dimension (``D1`` 信息意识与认知)."""

    code: str = Field(max_length=32)
    name: str
    name_en: str
    description: str = ""
    position: int = 0


# Dimension row, owned by a framework.
class Dimension(DimensionBase, table=True):
    """A dimension of one framework."""

    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")


# Indicator, shared fields.
class IndicatorBase(SQLModel):
    """A sub-indicator (``D2.3`` 算法与计算思维) and its literacy tags."""

    code: str = Field(max_length=32)
    name: str
    name_en: str
    description: str = ""
    literacies: list[str] = Field(default_factory=list, sa_type=JSON)
    position: int = 0


# Indicator row, owned by a dimension of a framework.
class Indicator(IndicatorBase, table=True):
    """A sub-indicator of one framework."""

    __table_args__ = (UniqueConstraint("framework_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    framework_id: int = Field(foreign_key="framework.id", index=True, ondelete="CASCADE")
    dimension_id: int = Field(foreign_key="dimension.id", index=True, ondelete="CASCADE")


# ============================================================================================ stimuli
# Stimulus, shared fields: the stable code items refer to.
class StimulusBase(SQLModel):
    """A shared stimulus (scenario) several items refer to by code."""

    code: str = Field(max_length=64, unique=True, index=True)


# Stimulus row: the code and which version is current.
class Stimulus(StimulusBase, table=True):
    """A stimulus; its text lives in :class:`StimulusVersion`."""

    id: int | None = Field(default=None, primary_key=True)
    current_version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# Stimulus version, shared fields: the content (Markdown).
class StimulusVersionBase(SQLModel):
    """Content of a stimulus: kind (``email``, ``search_results``, ``chat``...), title, Markdown body."""

    kind: str = Field(max_length=32)
    title: str
    body: str = Field(sa_type=Text)


# Stimulus version row: immutable once an item version shown with it is locked.
class StimulusVersion(StimulusVersionBase, table=True):
    """One version of a stimulus."""

    __tablename__ = "stimulus_version"
    __table_args__ = (UniqueConstraint("stimulus_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    stimulus_id: int = Field(foreign_key="stimulus.id", index=True)
    number: int = 1
    content_hash: str = Field(max_length=64)
    locked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# Stimulus, handed out: the current version's content.
class StimulusPublic(StimulusVersionBase):
    """A stimulus with its current content."""

    code: str
    current_version: int


# ============================================================================================ items
# Item, shared fields: metadata that may change without making a new version.
class ItemBase(SQLModel):
    """Metadata of an item: where it sits in the framework, its life cycle, its enemies."""

    code: str = Field(max_length=64, unique=True, index=True)
    indicator: str = Field(max_length=32, index=True)
    grade_bands: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="draft", max_length=16, index=True)
    author: str = ""
    rationale: str = Field(default="", sa_type=Text)
    enemies: list[str] = Field(default_factory=list, sa_type=JSON)


# Item input: a whole item in the canonical format (docs/item-format.md).
class ItemCreate(ItemBase):
    """A new item: metadata, content and provisional parameters, as in the canonical JSON format."""

    type: str
    stimulus: str | None = None
    stem: str
    options: list[dict[str, str]] | None = None
    key: list[str] | None = None
    scoring: str | None = None
    parts: list[dict[str, Any]] | None = None
    score_map: list[int] | None = None
    rubric: list[dict[str, Any]] | None = None
    interaction: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None
    params: dict[str, Any]


# Item input: a partial edit; unset fields keep their value.
class ItemUpdate(SQLModel):
    """Fields to change on an item; content changes follow the versioning rule."""

    indicator: str | None = None
    grade_bands: list[str] | None = None
    status: str | None = None
    author: str | None = None
    rationale: str | None = None
    enemies: list[str] | None = None
    type: str | None = None
    stimulus: str | None = None
    stem: str | None = None
    options: list[dict[str, str]] | None = None
    key: list[str] | None = None
    scoring: str | None = None
    parts: list[dict[str, Any]] | None = None
    score_map: list[int] | None = None
    rubric: list[dict[str, Any]] | None = None
    interaction: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None
    params: dict[str, Any] | None = None


# Item row: a stable code, its metadata and the number of the current version.
class Item(ItemBase, table=True):
    """An item; its content lives in :class:`ItemVersion` (``current_version`` is the number shown now)."""

    id: int | None = Field(default=None, primary_key=True)
    dimension: str = Field(max_length=32, index=True)
    current_version: int = 1
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


# Item, handed out: metadata with the current version's type and stem.
class ItemPublic(ItemBase):
    """An item as listed: metadata plus the type, stimulus and stem of its current version."""

    id: int
    dimension: str
    type: str
    stimulus: str | None
    stem: str
    current_version: int
    locked: bool
    created_at: datetime
    updated_at: datetime


# Item version, shared fields: the content a student sees and the key it is scored with.
class ItemVersionBase(SQLModel):
    """Content of an item version (see docs/item-format.md for each field).

    ``key`` and ``rule`` are private (scoring data): never in a student-facing view or JSON.
    ``interaction`` is the public presentation data of the interactive types.
    """

    type: str = Field(max_length=32, index=True)
    stem: str = Field(sa_type=Text)
    options: list[dict[str, str]] | None = Field(default=None, sa_type=JSON)
    key: list[str] | None = Field(default=None, sa_type=JSON)
    scoring: str | None = Field(default=None, max_length=32)
    parts: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    score_map: list[int] | None = Field(default=None, sa_type=JSON)
    rubric: list[dict[str, Any]] | None = Field(default=None, sa_type=JSON)
    interaction: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    rule: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    max_score: int = 1


# Item version row: immutable once locked (a response points at it).
class ItemVersion(ItemVersionBase, table=True):
    """One version of an item; ``assess`` responses point at ``item_version.id``."""

    __tablename__ = "item_version"
    __table_args__ = (UniqueConstraint("item_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    number: int = 1
    stimulus_version_id: int | None = Field(default=None, foreign_key="stimulus_version.id", index=True)
    content_hash: str = Field(max_length=64)
    locked: bool = False
    created_at: datetime = Field(default_factory=utcnow)


# Item version, handed out (researchers only: it holds the key and the rule).
class ItemVersionPublic(ItemVersionBase):
    """An item version with its identifiers (holds the key and the rule: never send it to a student)."""

    id: int
    item_id: int
    code: str
    number: int
    stimulus: str | None
    content_hash: str
    locked: bool
    created_at: datetime


# ============================================================================================ calibrations
# Calibration, shared fields.
class CalibrationBase(SQLModel):
    """A set of item parameters estimated (or set) together, on one latent scale."""

    name: str = Field(max_length=64, unique=True, index=True)
    status: str = Field(default="draft", max_length=16)
    source: str = Field(default="", sa_type=Text)
    latent_mean: float = 0.0
    latent_sd: float = 1.0


# Calibration input.
class CalibrationCreate(CalibrationBase):
    """A new calibration."""


# Calibration row.
class Calibration(CalibrationBase, table=True):
    """A stored calibration; ``status`` goes from ``draft`` to ``operational`` when published."""

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = None


# Calibration, handed out.
class CalibrationPublic(CalibrationBase):
    """A calibration as handed out."""

    id: int
    created_at: datetime
    published_at: datetime | None
    n_items: int = 0


# Item parameter, shared fields (mirt's IRT parameterisation, logistic metric).
class ItemParameterBase(SQLModel):
    """Parameters of one item version in one calibration, with standard errors where estimated."""

    model: str = Field(max_length=16)
    a: float
    b: list[float] = Field(default_factory=list, sa_type=JSON)
    c: float = 0.0
    se_a: float | None = None
    se_b: list[float | None] | None = Field(default=None, sa_type=JSON)
    se_c: float | None = None


# Item parameter row.
class ItemParameter(ItemParameterBase, table=True):
    """The parameters of an item version in a calibration."""

    __tablename__ = "item_parameter"
    __table_args__ = (UniqueConstraint("calibration_id", "item_version_id"),)

    id: int | None = Field(default=None, primary_key=True)
    calibration_id: int = Field(foreign_key="calibration.id", index=True, ondelete="CASCADE")
    item_version_id: int = Field(foreign_key="item_version.id", index=True)


# Item parameter, handed out.
class ItemParameterPublic(ItemParameterBase):
    """Parameters with the item code, version number and calibration name."""

    code: str
    version: int
    calibration: str
