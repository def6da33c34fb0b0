"""Importing an item file from the researcher console: check, preview, then confirm.

Nothing is written to the bank before the researcher has seen what a file does:

1. :func:`stage_import` reads the uploaded file (canonical JSON, the flat CSV or an XLSX workbook
   with the CSV's columns, as ``infolit items import`` reads them) and validates it completely. A
   file with problems gives its report (the first problems by row and column, and how many there
   are) and is not kept. A clean file is imported inside a savepoint that is rolled back at once,
   which gives the exact summary of what the import would create, update or version, and the file
   is kept as a :class:`~assess.accounts.models.StagedUpload` for an hour.
2. :func:`confirm_import` imports the staged bytes for real and checks that the import did exactly
   what the preview said (its ``plan``, a digest of the file and the summary): when the bank has
   changed in between, it refuses (the caller rolls back) and the researcher previews again.

Staged item files are marked by :data:`STAGED_SCOPE` (a registration file is staged under a
school's code), so the two uploads never mix.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from assess.accounts import audit
from assess.accounts.models import StagedUpload
from assess.accounts.scope import Actor
from assess.accounts.staged import find_staged, keep_staged
from assess.exceptions import BankEditRefused
from itembank.exceptions import Problem, ValidationReport
from itembank.formats import ITEM_LIMITS, parse_bytes
from itembank.importing import ImportSummary, import_items
from itembank.keys import content_digest
from itembank.validate import RawBundle

__all__ = ["STAGED_FOR", "STAGED_SCOPE", "ImportPlan", "confirm_import", "stage_import", "staged_import"]

STAGED_FOR = timedelta(hours=1)
"""How long a checked item file waits for its confirmation."""
STAGED_SCOPE = "itembank:import"
"""The ``scope_path`` that marks a staged upload as an item file."""
_FORMATS = {".json": "json", ".csv": "csv", ".xlsx": "xlsx"}


@dataclass(frozen=True)
class ImportPlan:
    """What a file would do: its problems (then nothing is staged), or its summary with a token to confirm it.

    ``problems`` holds the first problems in file order and ``total`` counts them all; ``plan`` is
    the digest the confirmation must reproduce.
    """

    filename: str
    problems: tuple[Problem, ...] = ()
    total: int = 0
    summary: ImportSummary | None = None
    token: str = ""
    plan: str = ""


def _name(filename: str) -> str:
    return (filename or "items.json").replace("\\", "/").rsplit("/", 1)[-1][:128]


def _bundle(filename: str, content: bytes) -> RawBundle:
    lower = filename.lower()
    fmt = next((f for ext, f in _FORMATS.items() if lower.endswith(ext)), None)
    if fmt is None and content[:4] == b"PK\x03\x04":
        fmt = "xlsx"
    if fmt is None:
        raise BankEditRefused(f"不支持的文件类型：{filename}（请上传 .json、.csv 或 .xlsx 题目文件）。")
    if not content:
        raise BankEditRefused("上传的文件是空的。")
    return parse_bytes(content, fmt, source=filename, limits=ITEM_LIMITS)


def _plan(content: bytes, summary: ImportSummary) -> str:
    return content_digest({"sha256": hashlib.sha256(content).hexdigest(), "summary": asdict(summary)})


def _dry_run(session: Session, bundle: RawBundle) -> ImportSummary:
    """The import's summary from a savepoint rolled back at once (nothing of it stays)."""
    savepoint = session.begin_nested()
    try:
        return import_items(session=session, bundle=bundle)
    finally:
        savepoint.rollback()
        session.info.pop("itembank.current_framework", None)  # a framework loaded in the savepoint is gone


def _checked(session: Session, filename: str, content: bytes) -> ImportPlan:
    try:
        summary = _dry_run(session, _bundle(filename, content))
    except ValidationReport as report:
        return ImportPlan(filename, report.problems, report.total)
    return ImportPlan(filename, summary=summary, plan=_plan(content, summary))


def stage_import(*, session: Session, actor: Actor, filename: str, content: bytes, now: datetime) -> ImportPlan:
    """Check an uploaded item file and, when it is clean, keep it for confirmation; write no item.

    Raises
    ------
    BankEditRefused
        Not a JSON, CSV or XLSX file, or an empty one.
    """
    actor.require("items.manage")
    filename = _name(filename)
    checked = _checked(session, filename, content)
    if checked.summary is None:
        return checked
    token = keep_staged(session=session, user_id=actor.user_id, scope_path=STAGED_SCOPE, filename=filename,
                        content=content, now=now, lifetime=STAGED_FOR)  # fmt: skip
    return ImportPlan(filename, summary=checked.summary, token=token, plan=checked.plan)


def _staged(session: Session, actor: Actor, token: str, now: datetime) -> StagedUpload:
    staged = find_staged(session=session, token=token, user_id=actor.user_id, scope_path=STAGED_SCOPE, now=now)
    if staged is None:
        raise BankEditRefused("没有找到待确认的题目文件（可能已过期），请重新上传。")
    return staged


def staged_import(*, session: Session, actor: Actor, token: str, now: datetime) -> ImportPlan:
    """The preview of a file the actor staged, as it stands now (:class:`BankEditRefused` if gone or expired)."""
    actor.require("items.manage")
    staged = _staged(session, actor, token, now)
    checked = _checked(session, staged.filename, staged.content)
    return ImportPlan(checked.filename, checked.problems, checked.total, checked.summary, token, checked.plan)


def confirm_import(*, session: Session, actor: Actor, token: str, plan: str, now: datetime) -> ImportSummary:
    """Import a staged file, exactly as previewed under ``plan``, and forget it.

    Raises
    ------
    BankEditRefused
        No such staged file of the actor (or it expired), or the import would now do something
        other than the preview showed (the caller must roll back; nothing is to be kept).
    ValidationReport
        The file no longer passes (the bank changed since it was staged); the caller rolls back.
    """
    actor.require("items.manage")
    staged = _staged(session, actor, token, now)
    summary = import_items(session=session, bundle=_bundle(staged.filename, staged.content))
    if _plan(staged.content, summary) != plan:
        raise BankEditRefused("题库在预览之后有了变化，这个文件现在的导入结果和预览不同：请重新预览后再确认。")
    session.delete(staged)
    audit.record(session, actor, "items.import", target=f"file:{staged.filename}",
                 detail={"sha256": staged.sha256, "created": len(summary.created), "updated": len(summary.updated),
                         "new_versions": len(summary.new_versions)})  # fmt: skip
    return summary
