"""Editing the bank from the console's services: save (create, edit, new version), status rules, framework edits."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.accounts.scope import Actor
from assess.exceptions import BankEditRefused
from assess.research.bankedit import (
    STATUS_STEPS,
    change_status,
    check_item,
    draft_snapshot,
    edit_framework,
    framework_document,
    item_document,
    next_version,
    save_item,
    status_refusal,
)
from itembank.exceptions import FrameworkInUseError, ValidationReport
from itembank.models import Calibration, Framework, Item, ItemParameter, ItemVersion
from itembank.services import import_items, lock_item_version
from itembank.validate import Draft, Origin, RawBundle
from tests.itembank.samples import ITEMS

CLI = Actor.command_line("tester")


def _new(code: str = "T9.9-001", **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(ITEMS[2])  # true_false T2.1-001
    doc.update({"code": code, "status": "operational", **changes})
    return doc


def _versions(s: Session, code: str) -> list[int]:
    item = s.exec(select(Item).where(Item.code == code)).one()
    return list(s.exec(select(ItemVersion.number).where(ItemVersion.item_id == item.id)).all())


def test_create_then_edit_in_place_then_a_new_version_once_answered(engine: Engine) -> None:
    with Session(engine) as s:
        made = save_item(session=s, actor=CLI, document=_new())
        assert (made.outcome, made.version) == ("created", 1)
        item = s.exec(select(Item).where(Item.code == "T9.9-001")).one()
        assert item.status == "draft"  # a new item is a draft whatever the document says
        edited = save_item(session=s, actor=CLI, document=_new(stem="改过的题干。"), code="T9.9-001")
        assert (edited.outcome, edited.version) == ("updated", 1) and _versions(s, "T9.9-001") == [1]
        version = s.exec(select(ItemVersion).where(ItemVersion.item_id == item.id)).one()
        lock_item_version(session=s, version_id=int(version.id or 0))  # a student was shown it
        again = save_item(session=s, actor=CLI, document=_new(stem="第二版题干。"), code="T9.9-001")
        assert (again.outcome, again.version) == ("new_version", 2) and _versions(s, "T9.9-001") == [1, 2]
        assert s.get(ItemVersion, version.id).stem == "改过的题干。"  # type: ignore[union-attr]
        same = save_item(session=s, actor=CLI, document=_new(stem="第二版题干。"), code="T9.9-001")
        assert same.outcome == "unchanged"
        assert item_document(session=s, code="T9.9-001")["stem"] == "第二版题干。"


def test_a_taken_code_and_a_broken_item_write_nothing(engine: Engine) -> None:
    with Session(engine) as s:
        save_item(session=s, actor=None, document=_new())
        with pytest.raises(BankEditRefused, match="已被占用"):
            save_item(session=s, actor=None, document=_new())
        with pytest.raises(ValidationReport) as info:
            save_item(session=s, actor=None, document=_new("T9.9-002", key=["X"], stem=""))
        wheres = {p.where for p in info.value.problems}
        assert {"item.key", "item.stem"} <= wheres
        assert s.exec(select(func.count()).select_from(Item).where(Item.code == "T9.9-002")).one() == 0


def test_a_draft_previews_as_the_student_sees_it_without_being_written(engine: Engine) -> None:
    with Session(engine) as s:
        spec = check_item(session=s, document=_new())
        snap = draft_snapshot(session=s, spec=spec)
        assert snap.type == "true_false" and snap.stem == ITEMS[2]["stem"] and snap.id == 0
        assert s.exec(select(func.count()).select_from(Item)).one() == 0


def _with_bank(s: Session) -> None:
    doc = {"format": "infolit-items", "version": 1, "stimuli": [], "items": [_new("T9.9-001")]}
    import_items(session=s, bundle=RawBundle("t", items=(Draft(doc["items"][0], Origin("items[0]")),)))
    s.exec(select(Item)).one().status = "draft"


def test_status_moves_one_step_forward_or_to_retired_and_says_why_not(engine: Engine) -> None:
    assert STATUS_STEPS["draft"] == ("pilot", "retired") and STATUS_STEPS["retired"] == ()
    assert status_refusal("draft", "pilot") is None and status_refusal("operational", "retired") is None
    assert "须先经过试测" in (status_refusal("draft", "operational") or "")
    assert "不能退回" in (status_refusal("operational", "pilot") or "")
    assert "不能再启用" in (status_refusal("retired", "draft") or "")
    assert "已经是" in (status_refusal("pilot", "pilot") or "")
    assert "没有" in (status_refusal("pilot", "gone") or "")
    with Session(engine) as s:
        _with_bank(s)
        assert change_status(session=s, actor=CLI, code="T9.9-001", status="pilot") == "draft"
        with pytest.raises(BankEditRefused, match="标定"):  # only provisional parameters so far
            change_status(session=s, actor=CLI, code="T9.9-001", status="operational")
        item = s.exec(select(Item)).one()
        version = s.exec(select(ItemVersion).where(ItemVersion.item_id == item.id)).one()
        cal = Calibration(name="trial-1", status="draft")
        s.add(cal)
        s.flush()
        s.add(ItemParameter(calibration_id=int(cal.id or 0), item_version_id=int(version.id or 0), model="2pl", a=1.0,
                            b=[0.1]))  # fmt: skip
        s.flush()
        change_status(session=s, actor=CLI, code="T9.9-001", status="operational")
        with pytest.raises(BankEditRefused, match="不能退回"):
            change_status(session=s, actor=CLI, code="T9.9-001", status="pilot")
        assert item.status == "operational"
        change_status(session=s, actor=CLI, code="T9.9-001", status="retired")
        assert item.status == "retired"


def test_a_framework_edit_is_a_new_version_and_may_not_orphan_items(engine: Engine) -> None:
    assert next_version("1.0") == "1.1" and next_version("2") == "3" and next_version("v") == "v.1"
    with Session(engine) as s:
        _with_bank(s)  # loads the default framework (version 1.0) and an item under D2.1
        doc = framework_document(session=s)
        old_version = doc["version"]
        doc["dimensions"][1]["name"] = "信息科学知识（修订）"
        doc["dimensions"][1]["indicators"][0]["description"] = "新的说明"
        doc["grade_bands"][0]["name"] = "三至四年级"
        loaded = edit_framework(session=s, actor=CLI, document=doc)
        assert loaded.framework.version == next_version(old_version)
        assert framework_document(session=s)["dimensions"][1]["name"] == "信息科学知识（修订）"
        rows = s.exec(select(Framework.version, Framework.active).order_by(col(Framework.id))).all()
        assert rows == [(old_version, False), (next_version(old_version), True)]
        with pytest.raises(BankEditRefused, match="没有改动"):
            edit_framework(session=s, actor=CLI, document=framework_document(session=s))
        orphaning = framework_document(session=s)
        orphaning["dimensions"][1]["indicators"] = orphaning["dimensions"][1]["indicators"][1:]  # drops D2.1
        with pytest.raises(FrameworkInUseError) as info:
            edit_framework(session=s, actor=CLI, document=orphaning)
        assert "D2.1" in str(info.value)
