from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.exceptions import RegistrationError
from assess.keys import ServerKeys, new_key_text, parse_keys
from assess.models import Area, Assessment, School, SchoolClass, Student
from assess.pins import LEGACY_PIN_HASH_PARAMETERS, hash_pin, needs_rehash
from assess.registration import (
    COLUMNS,
    RegistrationFile,
    list_students,
    new_pin,
    new_ticket,
    parse_csv,
    parse_xlsx,
    read_registration,
    register_students,
    reissue_pins,
    school_tickets,
    ticket_is_well_formed,
    verify_pin,
    write_template,
)
from itembank.db import session_scope

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # a cheap argon2 (PINs of before the keyed hash)

BASE = {
    "province_code": "44", "province": "广东省", "region": "东部",
    "city_code": "4403", "city": "深圳市", "county_code": "440305", "county": "南山区",
    "school_code": "S001", "school": "南山第一小学", "locale": "urban", "sector": "public",
    "grade": "4", "class": "1班", "student_code": "P001", "gender": "F",
}  # fmt: skip


def row(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def sample_rows() -> list[dict[str, Any]]:
    """Two provinces, three counties, three schools, four classes, seven students."""
    return [
        row(student_code="P001"),
        row(student_code="P002", gender="M"),
        row(student_code="P003", **{"class": "2班"}),
        row(student_code="P004", grade="8", school_code="S002", school="南山中学", county_code="440306",
            county="宝安区"),
        row(student_code="P005", grade="8", school_code="S002", school="南山中学", county_code="440306",
            county="宝安区", gender="M"),
        row(student_code="P006", province_code="51", province="四川省", region="西部", city_code="5101",
            city="成都市", county_code="510112", county="龙泉驿区", school_code="S003", school="龙泉乡小学",
            locale="rural", sector="private"),
        row(student_code="P007", province_code="51", province="四川省", region="西部", city_code="5101",
            city="成都市", county_code="510112", county="龙泉驿区", school_code="S003", school="龙泉乡小学",
            locale="rural", sector="private", gender="M"),
    ]  # fmt: skip


def csv_bytes(rows: list[dict[str, Any]], *, bom: bool = True, columns: tuple[str, ...] = COLUMNS) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for r in rows:
        writer.writerow([r.get(c, "") for c in columns])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__name__: int(s.exec(select(func.count()).select_from(m)).one())
            for m in (Area, School, SchoolClass, Student)
        }


def register(engine: Engine, rows: Any, **kwargs: Any) -> Any:
    with session_scope(engine) as session:
        return register_students(session=session, rows=rows, hasher=kwargs.pop("hasher", None), **kwargs)


def problems_of(engine: Engine, rows: Any, **kwargs: Any) -> list[str]:
    with pytest.raises(RegistrationError) as info:
        register(engine, rows, **kwargs)
    return info.value.problems


@pytest.fixture
def students(engine: Engine) -> Iterator[list[Student]]:
    register(engine, sample_rows())
    with Session(engine) as s:
        yield list(s.exec(select(Student).order_by(Student.code)).all())


# ============================================================================================ writing
def test_registration_creates_the_tree(engine: Engine) -> None:
    summary = register(engine, sample_rows())
    assert counts(engine) == {"Area": 7, "School": 3, "SchoolClass": 4, "Student": 7}
    assert summary.areas_created == {"province": 2, "city": 2, "county": 3}
    assert (summary.schools_created, summary.classes_created, summary.students_created) == (3, 4, 7)
    assert (summary.areas_reused, summary.schools_reused, summary.students_unchanged) == (0, 0, 0)
    assert "areas: 2 provinces, 2 cities, 3 counties created" in str(summary)
    with Session(engine) as s:
        areas = {a.code: a for a in s.exec(select(Area)).all()}
        assert areas["440305"].path == "/44/4403/440305/"
        assert areas["440305"].level == "county" and areas["4403"].level == "city"
        assert areas["440305"].parent_id == areas["4403"].id and areas["4403"].parent_id == areas["44"].id
        assert {areas[c].region for c in ("44", "4403", "440306")} == {"东部"}
        assert areas["510112"].region == "西部"
        school = s.exec(select(School).where(School.code == "S003")).one()
        assert (school.locale, school.sector, school.path) == ("rural", "private", "/51/5101/510112/S003/")
        student = s.exec(select(Student).where(Student.code == "P003")).one()
        klass = s.get(SchoolClass, student.class_id)
        assert klass is not None and (klass.grade, klass.name) == (4, "2班")
        assert (student.grade, student.gender, student.path) == (4, "F", "/44/4403/440305/S001/")


def test_tickets_are_random_ten_digits_with_a_check_digit(engine: Engine, students: list[Student]) -> None:
    tickets = [s.ticket for s in students]
    assert len(set(tickets)) == len(tickets)
    assert all(ticket_is_well_formed(t) and t[0] != "0" for t in tickets)
    numbers = sorted(int(t) for t in tickets)
    assert any(b - a > 1000 for a, b in zip(numbers, numbers[1:], strict=False))  # not a sequence
    many = {new_ticket() for _ in range(2000)}
    assert len(many) > 1990 and all(ticket_is_well_formed(t) for t in many)
    t = tickets[0]
    typo = t[:3] + str((int(t[3]) + 1) % 10) + t[4:]
    swapped = t[:4] + t[5] + t[4] + t[6:]
    assert not ticket_is_well_formed(typo)
    assert t[4] == t[5] or {t[4], t[5]} == {"0", "9"} or not ticket_is_well_formed(swapped)
    assert not ticket_is_well_formed(t[:-1]) and not ticket_is_well_formed("abcdefghij")


def test_pins_are_returned_once_and_stored_only_as_keyed_hashes(engine: Engine) -> None:
    summary = register(engine, sample_rows())
    pins = {t.student_code: t.pin for t in summary.tickets}
    assert len(pins) == 7 and all(p is not None and len(p) == 6 and p.isdigit() and p[0] != "0" for p in pins.values())
    with Session(engine) as s:
        stored = {st.code: st for st in s.exec(select(Student)).all()}
    for code, pin in pins.items():
        assert pin is not None
        st = stored[code]
        assert st.pin_hash.startswith("hs1$t1$") and len(st.pin_hash) < 100
        assert verify_pin(st.pin_hash, pin)
        assert not verify_pin(st.pin_hash, str(int(pin) % 999_999 + 1).zfill(6))
        assert all(pin not in str(v) for v in st.model_dump().values())  # never in clear
    ticket_of = {t.student_code: t.ticket for t in summary.tickets}
    assert ticket_of == {c: st.ticket for c, st in stored.items()}
    first = summary.tickets[0]
    assert (first.school_code, first.school_name, first.grade, first.class_name) == ("S001", "南山第一小学", 4, "1班")
    assert not verify_pin("", "123456") and not verify_pin("not a hash", "123456")


def test_the_default_hash_is_keyed_and_argon2_hashes_of_before_still_verify(engine: Engine) -> None:
    with session_scope(engine) as session:
        summary = register_students(session=session, rows=sample_rows()[:2])
    with Session(engine) as s:
        hashes = {st.code: st.pin_hash for st in s.exec(select(Student)).all()}
    assert all(h.startswith("hs1$t1$") for h in hashes.values())
    assert all(verify_pin(hashes[t.student_code], t.pin or "") for t in summary.tickets)
    assert len(set(hashes.values())) == 2 and len({new_pin() for _ in range(200)}) > 150
    # a PIN hashed with argon2id at the old parameters verifies, and asks to be re-hashed
    legacy = PasswordHasher(**LEGACY_PIN_HASH_PARAMETERS).hash("135790")
    assert legacy.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_pin(legacy, "135790") and not verify_pin(legacy, "135791") and needs_rehash(legacy)
    assert not any(needs_rehash(h) for h in hashes.values())


def test_a_keyed_hash_needs_its_key(engine: Engine) -> None:
    old, new = parse_keys(f"{new_key_text('k1')}", source="test"), parse_keys(new_key_text("k2"), source="test")
    stored = hash_pin("246810", keys=old)
    assert verify_pin(stored, "246810", keys=old) and not verify_pin(stored, "246811", keys=old)
    assert not verify_pin(stored, "246810", keys=new)  # without key k1 a stolen hash tests nothing
    # rotated: k2 is current and k1 still verifies, and the hash under k1 asks to be replaced
    rotated = parse_keys(f"{new_key_text('k2')},{old.keys[0][0]}:{_key_text(old)}", source="test")
    assert verify_pin(stored, "246810", keys=rotated) and needs_rehash(stored, keys=rotated)
    assert not needs_rehash(hash_pin("246810", keys=rotated), keys=rotated)
    same_key_other_id = parse_keys(f"zz:{_key_text(old)}", source="test")
    assert not verify_pin(stored, "246810", keys=same_key_other_id)
    for damaged in ("hs1$k1$x", "hs1$k1$!!$!!", "hs2$k1$AAAA$AAAA", stored[:-4]):
        assert not verify_pin(damaged, "246810", keys=old)


def _key_text(keys: ServerKeys) -> str:
    return base64.urlsafe_b64encode(keys.keys[0][1]).decode().rstrip("=")


def test_reimporting_the_same_file_changes_nothing(engine: Engine) -> None:
    register(engine, sample_rows())
    with Session(engine) as s:
        before = {st.code: (st.ticket, st.pin_hash, st.class_id) for st in s.exec(select(Student)).all()}
    again = register(engine, sample_rows())
    assert counts(engine) == {"Area": 7, "School": 3, "SchoolClass": 4, "Student": 7}
    assert (again.students_created, again.students_unchanged, again.tickets) == (0, 7, ())
    assert (again.schools_created, again.schools_reused, again.classes_reused, again.areas_reused) == (0, 3, 4, 7)
    assert sorted(again.unchanged) == sorted(before)
    with Session(engine) as s:
        after = {st.code: (st.ticket, st.pin_hash, st.class_id) for st in s.exec(select(Student)).all()}
    assert after == before


def test_a_new_row_adds_only_that_student_and_its_class(engine: Engine) -> None:
    register(engine, sample_rows())
    more = register(engine, [*sample_rows(), row(student_code="P100", **{"class": "3班"})])
    assert (more.students_created, more.students_unchanged, more.classes_created) == (1, 7, 1)
    assert [t.student_code for t in more.tickets] == ["P100"]
    assert counts(engine)["Student"] == 8


def test_chinese_spellings_and_excel_numbers_are_read(engine: Engine) -> None:
    rows = [
        row(locale="城区", sector="公办", gender="女", grade="4年级"),
        row(student_code="P002", school_code="S009", school="镇中学", locale="县镇", sector="民办", gender="男",
            grade=8.0, region="east"),
        row(student_code="P003", school_code="S010", school="村小", locale="农村", sector="", grade=4),
    ]  # fmt: skip
    register(engine, rows)
    with Session(engine) as s:
        schools = {sc.code: (sc.locale, sc.sector) for sc in s.exec(select(School)).all()}
        genders = {st.code: (st.gender, st.grade) for st in s.exec(select(Student)).all()}
    assert schools == {"S001": ("urban", "public"), "S009": ("town", "private"), "S010": ("rural", "public")}
    assert genders == {"P001": ("F", 4), "P002": ("M", 8), "P003": ("F", 4)}


# ============================================================================================ problems
def test_every_problem_is_reported_with_row_and_column_and_nothing_is_written(engine: Engine) -> None:
    rows = [
        row(),
        row(student_code="P002", locale="downtown"),
        row(student_code="P003", grade="13"),
        row(student_code="P004", grade="abc"),
        row(student_code="P001"),  # duplicate of row 2
        row(student_code="P006", county_code="440306", county="宝安区"),  # S001 under a second county
        row(student_code="P007", gender=""),
        row(student_code="P008", region="北部"),
        row(student_code="P009", school="南山一小"),
        row(student_code="P 10"),
        row(student_code="P011", province="广东"),
        row(student_code="P012", sector="公立"),
    ]
    problems = problems_of(engine, rows)
    expected = [
        "row 3, locale: unknown locale 'downtown' (use urban, town, rural or 城区, 县镇, 农村)",
        "row 4, grade: grade 13 is out of range (3-12)",
        "row 5, grade: 'abc' is not a grade (use a number 3-12)",
        "row 6, student_code: student P001 appears again (first at row 2)",
        "row 7, school_code: school S001 is in county 440305 at row 2, here in county 440306; "
        "a school code names one school",
        "row 8, gender: empty (use F, M or 女, 男)",
        "row 9, region: unknown region '北部' (use 东部, 中部 or 西部)",
        "row 10, school: school S001 is named '南山第一小学' at row 2, here '南山一小'",
        "row 11, student_code: 'P 10' is not a code (letters, digits, '.', '_', '-')",
        "row 12, province: province 44 is named '广东省' at row 2, here '广东'",
        "row 13, sector: unknown sector '公立' (use public, private or 公办, 民办)",
    ]
    assert problems == expected
    assert counts(engine) == {"Area": 0, "School": 0, "SchoolClass": 0, "Student": 0}


def test_a_code_names_one_area(engine: Engine) -> None:
    problems = problems_of(
        engine,
        [row(), row(student_code="P002", county_code="4403", school_code="S002"),
         row(student_code="P003", city_code="4404", city="深圳市")],
    )  # fmt: skip
    assert problems == [
        "row 3, county_code: '4403' is already the city code at row 2; a code names one area",
        "row 4, county_code: county 440305 lies in city 4403 at row 2, here in 4404",
    ]


def test_a_student_registered_at_another_school_is_refused(engine: Engine) -> None:
    register(engine, sample_rows())
    before = counts(engine)
    problems = problems_of(
        engine, [row(student_code="P900", school_code="S777", school="新学校"), row(student_code="P004")]
    )
    assert problems == [
        "row 3, student_code: student P004 is already registered at another school; student codes are unique nationwide"
    ]
    assert counts(engine) == before


def test_registration_never_edits_a_registered_student(engine: Engine) -> None:
    register(engine, sample_rows())
    rows = sample_rows()
    rows[0] = row(student_code="P001", grade="5", gender="M")
    problems = problems_of(engine, rows)
    assert problems == [
        "row 2, grade: student P001 is registered with grade 4, here 5 (registration never changes a registered "
        "student)",
        "row 2, gender: student P001 is registered with gender 'F', here 'M' (registration never changes a "
        "registered student)",
    ]


def test_the_file_must_agree_with_registered_areas_and_schools(engine: Engine) -> None:
    register(engine, sample_rows())
    before = counts(engine)
    sichuan = {"province_code": "51", "province": "四川省", "city_code": "5101", "city": "成都市",
               "county_code": "510112", "county": "龙泉驿区", "school_code": "S003", "school": "龙泉乡小学",
               "locale": "rural", "sector": "private"}  # fmt: skip
    cases = [
        (row(student_code="P201", school_code="S002", school="南山中学", grade="8"),  # S002 is in 440306
         "row 2, school_code: school S002 is registered in county 440306, here in county 440305"),
        (row(student_code="P202", county="南山", school_code="S300", school="新学校"),
         "row 2, county: county 440305 is registered as '南山区', here '南山'"),
        (row(student_code="P203", locale="rural"),
         "row 2, locale: school S001 is registered with locale 'urban', here 'rural'"),
        (row(student_code="P204", school="南山一小"),
         "row 2, school: school S001 is registered as '南山第一小学', here '南山一小'"),
        (row(student_code="P205", region="东部", **sichuan),
         "row 2, region: province 51 is registered in 西部, here 东部"),
        (row(student_code="P206", county_code="5101", school_code="S301"),
         "row 2, county_code: '5101' is already registered as a city, not a county"),
        (row(student_code="P207", city_code="4404", city="新市", school_code="S302"),
         "row 2, county_code: county 440305 is registered in city 4403, here in 4404"),
    ]  # fmt: skip
    for bad, expected in cases:
        problems = problems_of(engine, [bad])
        assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert problems_of(engine, [cases[0][0]]) == [
        "row 2, school_code: school S002 is registered in county 440306, here in county 440305; a school code "
        "names one school"
    ]
    assert counts(engine) == before


def test_grades_are_checked_against_the_assessment(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(
            Assessment(code="A2025", name="2025年信息素养测评", opens_at=datetime(2025, 5, 1, tzinfo=UTC),
                       closes_at=datetime(2025, 6, 1, tzinfo=UTC), grades=[4, 8])
        )  # fmt: skip
    problems = problems_of(engine, [row(), row(student_code="P002", grade="5")], assessment="A2025")
    assert problems == ["row 3, grade: grade 5 is not tested in assessment A2025 (grades 4, 8)"]
    assert problems_of(engine, [row()], assessment="NOPE") == ["assessment 'NOPE' does not exist"]
    summary = register(engine, [row()], assessment="A2025")
    assert summary.assessment == "2025年信息素养测评" and summary.students_created == 1


# ============================================================================================ reading
def test_csv_with_or_without_bom_and_any_separator(engine: Engine) -> None:
    for raw in (
        csv_bytes(sample_rows()),
        csv_bytes(sample_rows(), bom=False),
        csv_bytes(sample_rows()).replace(b",", b";"),
        csv_bytes(sample_rows()).replace(b",", b"\t"),
    ):
        parsed = parse_csv(raw, source="x.csv")
        assert parsed.problems == ()
        assert parsed.columns == COLUMNS
        assert [r.row for r in parsed.rows] == list(range(2, 9))
        assert parsed.rows[5].cells["county"] == "龙泉驿区"
    summary = register(engine, parse_csv(csv_bytes(sample_rows()), source="x.csv"))
    assert summary.students_created == 7 and summary.source == "x.csv"


def test_columns_in_any_order_and_case_and_blank_rows(engine: Engine) -> None:
    header, rest = csv_bytes(sample_rows()[:2], columns=tuple(reversed(COLUMNS))).split(b"\r\n", 1)
    raw = header.replace(b"gender", b" Gender ") + b"\r\n,,,\r\n" + rest + b" , ,\r\n"
    parsed = parse_csv(raw)
    assert parsed.problems == () and [r.row for r in parsed.rows] == [3, 4]
    assert register(engine, parsed).students_created == 2


def test_a_gbk_file_is_one_clear_problem(engine: Engine) -> None:
    raw = csv_bytes(sample_rows(), bom=False).decode("utf-8").encode("gbk")
    parsed = parse_csv(raw, source="gbk.csv")
    assert len(parsed.problems) == 1
    assert "not valid UTF-8 text" in str(parsed.problems[0]) and "GBK" in str(parsed.problems[0])
    assert str(parsed.problems[0]).startswith("row 2: ")
    problems = problems_of(engine, parsed)
    assert len(problems) == 1 and counts(engine)["Student"] == 0


def test_empty_and_header_only_files(engine: Engine) -> None:
    assert problems_of(engine, parse_csv(b"")) == ["the file is empty"]
    assert problems_of(engine, parse_csv(b"\xef\xbb\xbf \r\n")) == ["the file is empty"]
    assert problems_of(engine, parse_csv(csv_bytes([]))) == ["the file has a header but no student rows"]
    assert problems_of(engine, [])[0] == "row 1: missing column 'province_code'"


def test_missing_unknown_and_name_columns(engine: Engine) -> None:
    columns = tuple(c for c in COLUMNS if c not in {"locale", "gender", "sector"}) + ("姓名", "notes")
    parsed = parse_csv(csv_bytes([row()], columns=columns))
    assert [str(p) for p in parsed.problems] == [
        "row 1: column '姓名': student names are not registered; remove the column",
        "row 1: unknown column 'notes' (column 14)",
        "row 1: missing column 'locale'",
        "row 1: missing column 'gender'",
    ]
    assert problems_of(engine, parsed) == [str(p) for p in parsed.problems]
    # sector may be left out: schools are then public
    no_sector = parse_csv(csv_bytes([row()], columns=tuple(c for c in COLUMNS if c != "sector")))
    assert no_sector.problems == ()
    register(engine, no_sector)
    with Session(engine) as s:
        assert s.exec(select(School.sector)).one() == "public"


def test_unknown_column_is_reported_with_the_row_problems(engine: Engine) -> None:
    parsed = parse_csv(csv_bytes([row(grade="2")], columns=(*COLUMNS, "remark")))
    assert problems_of(engine, parsed) == [
        "row 1: unknown column 'remark' (column 16)",
        "row 2, grade: grade 2 is out of range (3-12)",
    ]


def test_records_missing_a_column(engine: Engine) -> None:
    records = [{k: v for k, v in row().items() if k != "grade"}]
    assert problems_of(engine, records) == ["row 1: missing column 'grade'"]
    assert RegistrationFile.from_records([row()]).rows[0].row == 2


def test_too_many_cells_and_long_values(engine: Engine) -> None:
    raw = csv_bytes([row(), row(student_code="P002", school="校" * 129)]) + b"44,a,b,c,d,e,f,g,h,i,j,k,l,m,n,extra\r\n"
    problems = problems_of(engine, parse_csv(raw))
    assert "row 3, school: 129 characters, at most 128" in problems
    assert "row 4: 16 cells but only 15 columns" in problems


def test_xlsx_template_round_trip(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "students.xlsx"
    write_template(path, example=True)
    parsed = read_registration(path)
    assert parsed.problems == () and parsed.columns == COLUMNS and len(parsed.rows) == 3
    assert parsed.rows[0].cells["grade"] == "4" and parsed.rows[0].cells["school_code"] == "4403050001"
    summary = register(engine, parsed)
    assert summary.students_created == 3 and summary.classes_created == 2
    empty = tmp_path / "empty.xlsx"
    write_template(empty)
    assert problems_of(engine, read_registration(empty)) == ["the file has a header but no student rows"]


def test_xlsx_with_numbers_in_cells(engine: Engine, tmp_path: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    place = [44, "广东省", "东部", 4403, "深圳市", 440305, "南山区", 1001, "一小", "城区", "公办"]
    sheet.append([*place, 4, "1班", 20160001, "女"])
    sheet.append([*place, 4.0, "1班", 20160002, "男"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = parse_xlsx(buffer.getvalue(), source="n.xlsx")
    assert parsed.problems == ()
    assert parsed.rows[1].cells["student_code"] == "20160002" and parsed.rows[1].cells["grade"] == "4"
    assert register(engine, parsed).students_created == 2


def test_damaged_or_unknown_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert "not a valid .xlsx workbook" in str(read_registration(bad).problems[0])
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert "save the old .xls workbook as .xlsx" in str(read_registration(old).problems[0])
    assert "cannot read the file" in str(read_registration(tmp_path / "missing.csv").problems[0])
    with pytest.raises(ValueError, match="use .csv or .xlsx"):
        write_template(tmp_path / "t.txt")


def test_csv_template_has_a_bom_and_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_template(path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw.decode("utf-8-sig").strip() == ",".join(COLUMNS)


# ============================================================================================ queries
def test_list_tickets_and_new_pins(engine: Engine, students: list[Student]) -> None:
    with session_scope(engine) as s:
        listed = list_students(session=s, school_code="S001")
        cards = school_tickets(session=s, school_code="S001", grade=4, class_name="1班")
    assert [(x.student_code, x.grade, x.class_name, x.gender, x.has_pin) for x in listed] == [
        ("P001", 4, "1班", "F", True),
        ("P002", 4, "1班", "M", True),
        ("P003", 4, "2班", "F", True),
    ]
    assert [c.student_code for c in cards] == ["P001", "P002"] and all(c.pin is None for c in cards)
    old = {s.code: s.pin_hash for s in students}
    with session_scope(engine) as s:
        fresh = reissue_pins(session=s, school_code="S001", class_name="2班")
    assert [c.student_code for c in fresh] == ["P003"]
    with Session(engine) as s:
        now = {st.code: (st.pin_hash, st.ticket) for st in s.exec(select(Student)).all()}
    assert now["P003"][0] != old["P003"] and verify_pin(now["P003"][0], fresh[0].pin or "")
    assert now["P003"][1] == fresh[0].ticket == next(s.ticket for s in students if s.code == "P003")
    assert all(now[c][0] == old[c] for c in old if c != "P003")
    with session_scope(engine) as s, pytest.raises(LookupError, match="not registered"):
        list_students(session=s, school_code="NOPE")


# ============================================================================================ hardening
def test_only_the_first_50_problems_are_listed_in_file_order_and_the_rest_counted(engine: Engine) -> None:
    rows = [row(student_code=f"Q{k:04d}", grade="13", gender="X") for k in range(300)]
    with pytest.raises(RegistrationError) as info:
        register(engine, rows)
    error = info.value
    assert len(error.problems) == 50 and error.more == 550 and error.total == 600
    assert error.problems[:3] == [
        "row 2, grade: grade 13 is out of range (3-12)",
        "row 2, gender: unknown gender 'X' (use F, M or 女, 男)",
        "row 3, grade: grade 13 is out of range (3-12)",
    ]
    assert error.problems[-1] == "row 26, gender: unknown gender 'X' (use F, M or 女, 男)"
    assert counts(engine)["Student"] == 0


def test_a_file_over_the_row_limit_is_one_problem(engine: Engine) -> None:
    from itembank.tabular import ReadLimits

    raw = csv_bytes([row(student_code=f"Q{k:04d}") for k in range(6)])
    parsed = parse_csv(raw, limits=ReadLimits(max_rows=5))
    assert problems_of(engine, parsed) == ["more than 5 data rows (the limit): split the file and import the parts"]
    assert len(parse_csv(raw, limits=ReadLimits(max_rows=6)).rows) == 6


def test_a_cut_csv_says_it_is_cut_not_gbk(engine: Engine) -> None:
    raw = csv_bytes([row()])
    cut = raw[: raw.rindex("南山第一小学".encode()) + 2]
    problems = problems_of(engine, parse_csv(cut))
    assert len(problems) == 1 and "ends in the middle of a character" in problems[0] and "GBK" not in problems[0]


def test_an_xlsx_formula_without_a_saved_value_is_named(engine: Engine) -> None:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(COLUMNS))
    sheet.append([BASE[c] for c in COLUMNS])
    sheet.append([BASE[c] if c != "class" else '=L2&"(2)"' for c in COLUMNS])  # never calculated: no value
    buffer = io.BytesIO()
    workbook.save(buffer)
    problems = problems_of(engine, parse_xlsx(buffer.getvalue(), source="f.xlsx"))
    assert problems[0] == (
        'row 3, class: a formula (=L2&"(2)") without a saved value: type the value in, or open the file in '
        "Excel and save it again"
    )
    assert counts(engine)["Student"] == 0


def test_control_characters_in_names_are_refused(engine: Engine) -> None:
    problems = problems_of(engine, [row(school="一小\x00"), row(student_code="P2", **{"class": "1\x1b班"})])
    assert problems == [
        "row 2, school: contains the control character U+0000; remove it",
        "row 3, class: contains the control character U+001B; remove it",
    ]
