"""Importing an item file from the console: a preview that writes nothing, a confirm that does exactly that."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts.models import StagedUpload
from assess.accounts.scope import Actor
from assess.exceptions import BankEditRefused
from assess.research.bankimport import confirm_import, stage_import, staged_import
from itembank.formats import CSV_COLUMNS, csv_text
from itembank.models import Item, ItemVersion, utcnow
from itembank.services import export_items
from tests.itembank import samples

CLI = Actor.command_line("tester")


def _count(s: Session, table: type) -> int:
    return int(s.exec(select(func.count()).select_from(table)).one())


def _file() -> bytes:
    return json.dumps(samples.bundle(), ensure_ascii=False).encode()


def test_a_clean_file_previews_then_confirms_exactly_that(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        plan = stage_import(session=s, actor=CLI, filename="C:\\files\\bank.json", content=_file(), now=now)
        assert plan.filename == "bank.json" and not plan.problems and plan.token and plan.summary is not None
        assert sorted(plan.summary.created) == sorted(i["code"] for i in samples.ITEMS)
        assert plan.summary.stimuli_created == ("S-T-01",)
        s.commit()
        assert _count(s, Item) == 0 and _count(s, StagedUpload) == 1  # the preview wrote no item
        again = staged_import(session=s, actor=CLI, token=plan.token, now=now)
        assert again.plan == plan.plan
        summary = confirm_import(session=s, actor=CLI, token=plan.token, plan=plan.plan, now=now)
        assert summary.created == plan.summary.created
        s.commit()
        assert _count(s, Item) == len(samples.ITEMS) and _count(s, StagedUpload) == 0
        with pytest.raises(BankEditRefused, match="重新上传"):  # used up
            confirm_import(session=s, actor=CLI, token=plan.token, plan=plan.plan, now=now)


def test_a_preview_the_bank_has_moved_past_is_refused(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        plan = stage_import(session=s, actor=CLI, filename="bank.json", content=_file(), now=now)
        first = stage_import(session=s, actor=CLI, filename="other.json", content=_file(), now=now)
        confirm_import(session=s, actor=CLI, token=first.token, plan=first.plan, now=now)
        s.commit()
        with pytest.raises(BankEditRefused, match="重新预览"):  # the items exist now: "unchanged", not "created"
            confirm_import(session=s, actor=CLI, token=plan.token, plan=plan.plan, now=now)
        s.rollback()
        assert staged_import(session=s, actor=CLI, token=plan.token, now=now).summary.unchanged  # type: ignore[union-attr]
        with pytest.raises(BankEditRefused, match="过期"):
            staged_import(session=s, actor=CLI, token=plan.token, now=now + timedelta(hours=2))


def test_a_bad_file_gives_its_report_and_writes_nothing(engine: Engine) -> None:
    doc = samples.bundle()
    doc["items"][0]["key"] = ["Z"]
    doc["items"][2]["grade_bands"] = []
    with Session(engine) as s:
        plan = stage_import(session=s, actor=CLI, filename="bad.json", content=json.dumps(doc).encode(), now=utcnow())
        assert plan.summary is None and not plan.token and plan.total == len(plan.problems) >= 2
        assert {"items[0].key[0]", "items[2].grade_bands"} <= {p.where for p in plan.problems}
        with pytest.raises(BankEditRefused, match="不支持"):
            stage_import(session=s, actor=CLI, filename="bank.txt", content=b"x", now=utcnow())
        s.commit()
        assert _count(s, Item) == 0 and _count(s, ItemVersion) == 0 and _count(s, StagedUpload) == 0


def test_csv_and_xlsx_files_are_read_like_the_cli_reads_them(engine: Engine) -> None:
    now = utcnow()
    with Session(engine) as s:
        plan = stage_import(session=s, actor=CLI, filename="bank.json", content=_file(), now=now)
        confirm_import(session=s, actor=CLI, token=plan.token, plan=plan.plan, now=now)
        bundle = export_items(session=s)
        text = csv_text(bundle.stimuli, bundle.items).replace("计算机内部用二进制表示数据。", "计算机用二进制。")
        csv_plan = stage_import(session=s, actor=CLI, filename="bank.csv", content=text.encode(), now=now)
        assert csv_plan.summary is not None and csv_plan.summary.updated == ("T2.1-001",)
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(CSV_COLUMNS))
        sheet.append(["T2.1-001", "true_false"])  # most columns left empty: a report by row and column
        buf = io.BytesIO()
        book.save(buf)
        bad = stage_import(session=s, actor=CLI, filename="bank.xlsx", content=buf.getvalue(), now=now)
        assert bad.summary is None and all(p.where.startswith("row 2") for p in bad.problems)
