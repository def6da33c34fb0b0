"""Editing the item bank from the researcher console: items, their status, the framework.

Every write goes through the item bank's own services, so the console keeps the bank's rules:

- :func:`save_item` creates or edits one item through :func:`itembank.services.import_items`
  (validated by :mod:`itembank.validate` exactly as a file is; an edit of a version students have
  answered makes a new version, an edit of an unanswered one changes it in place). New items
  start as drafts; the status changes only through :func:`change_status`.
- :func:`check_item` validates a form without writing and :func:`draft_snapshot` turns the result
  into the snapshot the student's page renders, so a draft can be previewed before it is saved.
- :func:`change_status` moves an item along draft -> pilot -> operational -> retired, one step at
  a time (retiring is allowed from any status); :data:`STATUS_STEPS` is the rule and
  :func:`status_refusal` says in Chinese why another move is refused. An item becomes operational
  only with parameters from a calibration of responses (not just the provisional ones of its file).
- :func:`edit_framework` stores an edited framework document as a new version through
  :func:`itembank.services.load_framework` (the old version stays stored, inactive); an edit
  that would leave items without their sub-indicator or grade band is refused by the store.

The caller owns the transaction; every function audits what it did when given an actor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_
from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.scope import Actor
from assess.exceptions import BankEditRefused, NotFound
from assess.position import VersionSnapshot
from itembank.framework import FrameworkSpec, default_framework, parse_framework
from itembank.framework_store import FrameworkLoad, active_framework, load_framework
from itembank.importing import ImportSummary, import_items
from itembank.keys import content_digest
from itembank.models import (
    PROVISIONAL,
    Calibration,
    Framework,
    Item,
    ItemParameter,
    ItemVersion,
    Stimulus,
    StimulusVersion,
)
from itembank.services import export_items
from itembank.validate import BankContext, Draft, ItemSpec, Origin, RawBundle, item_max_score, validate_bundle

__all__ = [
    "STATUS_STEPS",
    "ItemSaved",
    "change_status",
    "check_item",
    "draft_snapshot",
    "edit_framework",
    "framework_document",
    "item_document",
    "item_state",
    "next_version",
    "save_item",
    "status_refusal",
]

STATUS_STEPS: dict[str, tuple[str, ...]] = {
    "draft": ("pilot", "retired"),
    "pilot": ("operational", "retired"),
    "operational": ("retired",),
    "retired": (),
}
"""The statuses an item may move to from each status: one step forward, or retired."""
_NAMES = {"draft": "草稿", "pilot": "试测", "operational": "正式", "retired": "停用"}


@dataclass(frozen=True)
class ItemSaved:
    """What a save did: ``created``, ``updated`` (in place), ``new_version`` or ``unchanged``; the current version."""

    code: str
    outcome: str
    version: int


def _item(session: Session, code: str) -> Item:
    item = session.exec(select(Item).where(Item.code == code)).first()
    if item is None:
        raise NotFound("题库里没有这道题。")
    return item


def item_document(*, session: Session, code: str) -> dict[str, Any]:
    """The current version of item ``code`` in the canonical JSON shape (what the edit form starts from)."""
    found = export_items(session=session, codes=[code]).items
    if not found:
        raise NotFound("题库里没有这道题。")
    return found[0].to_document()


def item_state(*, session: Session, code: str) -> tuple[str, int]:
    """Item ``code``'s status and current version number (:class:`NotFound` if there is none)."""
    item = _item(session, code)
    return item.status, item.current_version


def _context(session: Session) -> BankContext:
    return BankContext(
        framework=active_framework(session=session) or default_framework(),
        stimuli=frozenset(session.exec(select(Stimulus.code)).all()),
        items=frozenset(session.exec(select(Item.code)).all()),
    )


def _bundle(document: Mapping[str, Any]) -> RawBundle:
    return RawBundle("item", items=(Draft(dict(document), Origin("item")),))


def check_item(*, session: Session, document: Mapping[str, Any]) -> ItemSpec:
    """Validate one item document against the bank, writing nothing (:class:`ValidationReport` with its problems)."""
    return validate_bundle(_bundle(document), _context(session)).items[0]


def draft_snapshot(*, session: Session, spec: ItemSpec) -> VersionSnapshot:
    """A validated draft as the student's page renders it (id 0: it is no stored version)."""
    title, body, sv_id, s_hash = "", "", None, None
    if spec.stimulus:
        current = and_(
            col(Stimulus.id) == StimulusVersion.stimulus_id, col(Stimulus.current_version) == StimulusVersion.number
        )
        stimulus = session.exec(
            select(StimulusVersion).join(Stimulus, current).where(Stimulus.code == spec.stimulus)
        ).first()
        if stimulus is not None:
            title, body, sv_id, s_hash = stimulus.title, stimulus.body, stimulus.id, stimulus.content_hash
    return VersionSnapshot(
        id=0,
        item_id=0,
        type=spec.type,
        stem=spec.stem,
        options=spec.options,
        key=spec.key,
        scoring=spec.scoring,
        parts=spec.parts,
        score_map=spec.score_map,
        max_score=item_max_score(spec.type, spec.scoring, spec.score_map),
        content_hash="draft:" + content_digest(spec.content()),
        locked=False,
        stimulus_version_id=sv_id,
        stimulus_title=title,
        stimulus_body=body,
        stimulus_hash=s_hash,
    )


def _outcome(summary: ImportSummary) -> str:
    for name in ("created", "new_versions", "updated"):
        if getattr(summary, name):
            return "new_version" if name == "new_versions" else name
    return "unchanged"


def save_item(
    *, session: Session, actor: Actor | None, document: Mapping[str, Any], code: str | None = None
) -> ItemSaved:
    """Create an item (``code`` ``None``) or edit item ``code`` from a whole item document.

    A new item is a draft whatever the document says; an edit keeps the item's code and status.

    Raises
    ------
    NotFound
        No item ``code``.
    BankEditRefused
        A new item's code is taken.
    ValidationReport
        The document breaks a rule of the bank (every problem, by field); nothing was written.
    """
    data = dict(document)
    if code is None:
        new_code = str(data.get("code") or "").strip()
        if new_code and session.exec(select(Item.id).where(Item.code == new_code)).first() is not None:
            raise BankEditRefused(f"题目编号 {new_code} 已被占用，请换一个编号。")
        data["status"] = "draft"
    else:
        item = _item(session, code)
        data["code"], data["status"] = item.code, item.status
    summary = import_items(session=session, bundle=_bundle(data))
    saved = _item(session, str(data["code"]))
    outcome = _outcome(summary)
    if actor is not None and outcome != "unchanged":
        audit.record(session, actor, "item.create" if code is None else "item.edit", target=f"item:{saved.code}",
                     detail={"outcome": outcome, "version": saved.current_version})  # fmt: skip
    return ItemSaved(saved.code, outcome, saved.current_version)


def _has_estimates(session: Session, item: Item) -> bool:
    """Whether the item's current version has parameters from a calibration other than the provisional one."""
    hit = session.exec(
        select(ItemParameter.id)
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .join(Calibration, col(Calibration.id) == col(ItemParameter.calibration_id))
        .where(
            ItemVersion.item_id == item.id,
            ItemVersion.number == item.current_version,
            Calibration.name != PROVISIONAL,
        )
    ).first()
    return hit is not None


def status_refusal(current: str, wanted: str) -> str | None:
    """Why the move ``current`` -> ``wanted`` is not allowed (Chinese), or ``None`` when the rule allows it."""
    if wanted not in STATUS_STEPS:
        return f"没有“{wanted}”这种状态（可选：草稿、试测、正式、停用）。"
    if wanted == current:
        return f"这道题已经是“{_NAMES[current]}”状态。"
    if wanted in STATUS_STEPS.get(current, ()):
        return None
    if current == "retired":
        return "停用的题目不能再启用：如需再用，请以新编号建一道新题，重新试测。"
    order = list(STATUS_STEPS)
    if order.index(wanted) < order.index(current):
        return (f"“{_NAMES[current]}”题不能退回“{_NAMES[wanted]}”：状态只能向前走（草稿 → 试测 → 正式 → 停用）；"
                "要修改内容，直接编辑即可（已有作答的版本会生成新版本）。")  # fmt: skip
    return f"不能从“{_NAMES[current]}”直接改为“{_NAMES[wanted]}”：须先经过试测（草稿 → 试测 → 正式）。"


def change_status(*, session: Session, actor: Actor | None, code: str, status: str) -> str:
    """Move item ``code`` to ``status`` by the rule of :data:`STATUS_STEPS`; return the status it had.

    Raises
    ------
    NotFound
        No item ``code``.
    BankEditRefused
        The move is not allowed (:func:`status_refusal` says why), or the item would become
        operational without parameters estimated from responses.
    """
    item = _item(session, code)
    old = item.status
    refusal = status_refusal(old, status)
    if refusal is None and status == "operational" and not _has_estimates(session, item):
        refusal = ("这道题的现行版本还没有从作答数据标定出的参数（只有题目文件里的预设参数）："
                   "请先用试测数据做一次参数标定，再把它改为正式题。")  # fmt: skip
    if refusal is not None:
        raise BankEditRefused(refusal)
    item.status = status
    session.add(item)
    session.flush()
    if actor is not None:
        audit.record(session, actor, "item.status", target=f"item:{code}", detail={"from": old, "to": status})
    return old


def framework_document(*, session: Session) -> dict[str, Any]:
    """The active framework as its document (the built-in default when none is stored yet)."""
    spec = active_framework(session=session) or default_framework()
    return spec.to_document()


def next_version(version: str) -> str:
    """The version an edit of ``version`` is stored under: the last number one up (``1.0`` -> ``1.1``)."""
    head, _, last = version.rpartition(".")
    if last.isdigit():
        return f"{head}.{int(last) + 1}" if head else str(int(last) + 1)
    return f"{version}.1"


def edit_framework(*, session: Session, actor: Actor | None, document: Mapping[str, Any]) -> FrameworkLoad:
    """Store an edited framework document as the active framework under the next version.

    Raises
    ------
    BankEditRefused
        The document changes nothing.
    FrameworkError
        The document breaks a rule of the framework format (every problem, by path).
    FrameworkInUseError
        Items use a sub-indicator or grade band the edit removes.
    """
    current: FrameworkSpec = active_framework(session=session) or default_framework()
    edited = {**dict(document), "code": current.code, "version": current.version}
    if content_digest(edited) == content_digest(current.to_document()):
        raise BankEditRefused("指标框架没有改动。")
    version = next_version(current.version)
    taken = set(session.exec(select(Framework.version).where(Framework.code == current.code)).all())
    while version in taken:
        version = next_version(version)
    edited["version"] = version
    spec = parse_framework(edited, source=f"{current.code} {edited['version']}")
    loaded = load_framework(session=session, spec=spec)
    if actor is not None:
        audit.record(session, actor, "framework.edit", target=f"framework:{spec.code}",
                     detail={"from": current.version, "to": spec.version})  # fmt: skip
    return loaded
