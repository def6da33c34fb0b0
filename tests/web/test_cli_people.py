from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pypdf import PdfReader
from sqlalchemy import func
from sqlmodel import select

from assess.models import Area, School, SchoolClass, Student
from assess.registration import COLUMNS, ticket_is_well_formed, verify_pin
from itembank.db import session_scope
from web.commands.people import people_group

ROW = {
    "province_code": "62", "province": "甘肃省", "region": "西部", "city_code": "6201", "city": "兰州市",
    "county_code": "620102", "county": "城关区", "school_code": "S620102001", "school": "城关第一小学",
    "locale": "城区", "sector": "公办", "grade": "4", "class": "1班", "student_code": "X001", "gender": "女",
}  # fmt: skip


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([r[c] for c in COLUMNS])
    path.write_bytes(("\ufeff" + out.getvalue()).encode("utf-8"))
    return path


def roster(n: int = 4, **changes: Any) -> list[dict[str, Any]]:
    return [{**ROW, "student_code": f"X{k:03d}", "class": f"{k % 2 + 1}班", **changes} for k in range(1, n + 1)]


def invoke(*args: str) -> Result:
    result = CliRunner().invoke(people_group, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def counts() -> dict[str, int]:
    with session_scope() as s:
        return {
            m.__name__: int(s.exec(select(func.count()).select_from(m)).one())
            for m in (Area, School, SchoolClass, Student)
        }


def stored() -> dict[str, Student]:
    with session_scope() as s:
        return {st.code: st for st in s.exec(select(Student)).all()}


def pdf_text(path: Path) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(path).pages)


def test_import_registers_and_prints_tickets_with_pins(env_db: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "school.csv", roster(4))
    result = invoke("import", str(source), "--csv-out", str(tmp_path / "pins.csv"), "--login-url", "https://t.cn/")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "areas: 1 province, 1 city, 1 county created; 0 already registered" in out
    assert "schools: 1 created" in out and "classes: 2 created" in out
    assert "students: 4 created, 0 unchanged" in out
    pdf = tmp_path / "school-tickets.pdf"
    assert f"written to {pdf}" in out and "cannot be printed again" in out
    assert counts() == {"Area": 3, "School": 1, "SchoolClass": 2, "Student": 4}
    text = pdf_text(pdf)
    with (tmp_path / "pins.csv").open(encoding="utf-8-sig", newline="") as fh:
        pins = {r["student_code"]: r for r in csv.DictReader(fh)}
    students = stored()
    assert sorted(pins) == sorted(students) == ["X001", "X002", "X003", "X004"]
    for code, st in students.items():
        assert ticket_is_well_formed(st.ticket)
        assert st.ticket in text and pins[code]["pin"] in text and pins[code]["ticket"] == st.ticket
        assert verify_pin(st.pin_hash, pins[code]["pin"])
    assert "https://t.cn/" in text and "城关第一小学" in text


def test_reimport_changes_nothing_and_never_overwrites_tickets(env_db: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "school.csv", roster(3))
    assert invoke("import", str(source)).exit_code == 0
    first_pdf = (tmp_path / "school-tickets.pdf").read_bytes()
    before = {c: (s.ticket, s.pin_hash) for c, s in stored().items()}
    again = invoke("import", str(source))
    assert again.exit_code == 0, again.output
    assert "students: 0 created, 3 unchanged" in again.stdout and "no new students" in again.stdout
    assert {c: (s.ticket, s.pin_hash) for c, s in stored().items()} == before
    assert (tmp_path / "school-tickets.pdf").read_bytes() == first_pdf
    write_csv(source, roster(5))
    more = invoke("import", str(source))
    assert "students: 2 created, 3 unchanged" in more.stdout
    second = tmp_path / "school-tickets-2.pdf"
    text = pdf_text(second)
    new = {c: s for c, s in stored().items() if c not in before}
    assert sorted(new) == ["X004", "X005"] and all(s.ticket in text for s in new.values())
    assert all(t not in text for t, _ in before.values())
    assert (tmp_path / "school-tickets.pdf").read_bytes() == first_pdf


def test_a_bad_file_lists_every_problem_and_changes_nothing(env_db: str, tmp_path: Path) -> None:
    assert invoke("import", str(write_csv(tmp_path / "ok.csv", roster(2)))).exit_code == 0
    before = counts()
    bad_rows = roster(4)
    bad_rows[0]["locale"] = "郊区"
    bad_rows[1]["grade"] = "15"
    bad_rows[2]["student_code"] = "X004"
    bad_rows.append({**ROW, "student_code": "X010", "school_code": "S620102001", "county_code": "620103",
                     "county": "七里河区"})  # fmt: skip
    bad = write_csv(tmp_path / "bad.csv", bad_rows)
    result = invoke("import", str(bad))
    assert result.exit_code != 0
    assert result.stderr.splitlines()[:4] == [
        f"{bad}: row 2, locale: unknown locale '郊区' (use urban, town, rural or 城区, 县镇, 农村)",
        f"{bad}: row 3, grade: grade 15 is out of range (3-12)",
        f"{bad}: row 5, student_code: student X004 appears again (first at row 4)",
        f"{bad}: row 6, school_code: school S620102001 is in county 620102 at row 2, here in county 620103; "
        "a school code names one school",
    ]
    assert "4 problems in" in result.stderr and "nothing was changed" in result.stderr
    assert counts() == before
    assert not (tmp_path / "bad-tickets.pdf").exists()


def test_an_encoding_problem_and_an_empty_file(env_db: str, tmp_path: Path) -> None:
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(write_csv(tmp_path / "x.csv", roster(1)).read_bytes()[3:].decode("utf-8").encode("gbk"))
    result = invoke("import", str(gbk))
    assert result.exit_code != 0 and "not valid UTF-8 text" in result.stderr and "CSV UTF-8" in result.stderr
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    result = invoke("import", str(empty))
    assert result.exit_code != 0 and f"{empty}: the file is empty" in result.stderr
    assert counts()["Student"] == 0


def test_an_existing_tickets_file_is_refused_before_anything_happens(env_db: str, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "school.csv", roster(2))
    taken = tmp_path / "taken.pdf"
    taken.write_bytes(b"precious")
    result = invoke("import", str(source), "--tickets-out", str(taken))
    assert result.exit_code == 2 and "exists" in result.stderr
    assert counts()["Student"] == 0 and taken.read_bytes() == b"precious"


def test_template_then_import_xlsx(env_db: str, tmp_path: Path) -> None:
    template = tmp_path / "roster.xlsx"
    result = invoke("template", str(template), "--example")
    assert result.exit_code == 0 and "with example rows" in result.stdout
    assert invoke("template", str(template)).exit_code == 2  # never overwritten without --force
    out = tmp_path / "cards" / "t.pdf"
    result = invoke("import", str(template), "--tickets-out", str(out))
    assert result.exit_code == 0, result.output
    assert "students: 3 created" in result.stdout and out.exists()
    assert invoke("template", str(tmp_path / "x.txt")).exit_code == 2


@pytest.mark.parametrize("new_pins", [False, True])
def test_tickets_reprint_with_or_without_new_pins(env_db: str, tmp_path: Path, new_pins: bool) -> None:
    invoke("import", str(write_csv(tmp_path / "school.csv", roster(4))))
    old = {c: s.pin_hash for c, s in stored().items()}
    out = tmp_path / "again.pdf"
    args = [
        "tickets",
        "--school",
        "S620102001",
        "--out",
        str(out),
        "--class",
        "1班",
        "--csv-out",
        str(tmp_path / "a.csv"),
    ]
    result = invoke(*args, *(["--new-pins"] if new_pins else []))
    assert result.exit_code == 0, result.output
    assert "wrote 2 ticket cards" in result.stdout
    text = pdf_text(out)
    now = stored()
    with (tmp_path / "a.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = {r["student_code"]: r for r in csv.DictReader(fh)}
    assert sorted(rows) == ["X002", "X004"]  # class 1班
    for code, r in rows.items():
        assert now[code].ticket in text
        if new_pins:
            assert r["pin"] in text and verify_pin(now[code].pin_hash, r["pin"]) and now[code].pin_hash != old[code]
        else:
            assert r["pin"] == "" and now[code].pin_hash == old[code]
    if not new_pins:
        assert "未保存" in text
    assert all(now[c].pin_hash == old[c] for c in ("X001", "X003"))


def test_tickets_and_list_for_an_unknown_school(env_db: str, tmp_path: Path) -> None:
    result = invoke("tickets", "--school", "NOPE", "--out", str(tmp_path / "x.pdf"))
    assert result.exit_code == 1 and "school 'NOPE' is not registered" in result.stderr
    assert not (tmp_path / "x.pdf").exists()
    assert "not registered" in invoke("list", "--school", "NOPE").stderr


def test_list_shows_students_without_pins(env_db: str, tmp_path: Path) -> None:
    invoke("import", str(write_csv(tmp_path / "school.csv", roster(3))))
    result = invoke("list", "--school", "S620102001")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["student_code", "grade", "class", "gender", "ticket", "pin"]
    assert [line.split()[0] for line in lines[1:4]] == ["X002", "X001", "X003"]  # 1班 before 2班
    assert lines[1].split()[1:4] == ["4", "1班", "F"] and lines[1].split()[5] == "set"
    assert lines[-1] == "3 students"
    assert invoke("list", "--school", "S620102001", "--class", "9班").stdout.strip() == "no students match"


def test_import_checks_grades_against_an_assessment(env_db: str, tmp_path: Path) -> None:
    result = invoke("import", str(write_csv(tmp_path / "s.csv", roster(1))), "--assessment", "NONE")
    assert result.exit_code == 1 and "assessment 'NONE' does not exist" in result.stderr
    assert counts()["Student"] == 0


def test_ticket_files_are_private_and_a_long_list_of_problems_is_cut(env_db: str, tmp_path: Path) -> None:
    import stat

    source = write_csv(tmp_path / "school.csv", roster(2))
    assert invoke("import", str(source), "--csv-out", str(tmp_path / "pins.csv")).exit_code == 0
    for name in ("school-tickets.pdf", "pins.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    bad = write_csv(tmp_path / "bad.csv", roster(120, grade="2"))
    result = invoke("import", str(bad))
    lines = result.stderr.splitlines()
    assert result.exit_code != 0 and len(lines) == 52
    assert lines[0] == f"{bad}: row 2, grade: grade 2 is out of range (3-12)"
    assert lines[50] == f"{bad}: ...and 70 more"
    assert "120 problems in" in lines[51] and "nothing was changed" in lines[51]
