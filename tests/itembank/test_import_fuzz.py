"""Fuzzing the item import: arbitrary bytes and mutated files never crash, and a refusal writes nothing.

Every reader returns problems instead of raising; validation raises only
:class:`~itembank.exceptions.ValidationReport`; an import raises only the package's own errors,
and when it refuses, the bank is exactly as it was.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from itembank import services
from itembank.db import session_scope
from itembank.exceptions import ItemBankError, ValidationReport
from itembank.formats import CSV_COLUMNS, csv_text, dump_json, parse_csv, parse_json
from itembank.framework import read_framework
from itembank.models import Item, ItemVersion, Stimulus
from itembank.validate import BankContext, validate_bundle
from tests.itembank import samples

CONTEXT = BankContext(framework=read_framework())
DB_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

NASTY = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "\ud800",
        "\u202e反转",
        "=1+1",
        "'=1+1",
        "@SUM(A1)",
        "-",
        "; DROP TABLE item; --",
        "<script>alert(1)</script>",
        "\r\n",
        '"',
        "x" * 5000,
        "1e999",
    ]
)
TEXT = st.text(max_size=40) | NASTY
SCALAR = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | TEXT
JSON_VALUE = st.recursive(SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4))


def _bank_state(engine: Engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return tuple(  # type: ignore[return-value]
            int(s.exec(select(func.count()).select_from(m)).one()) for m in (Item, ItemVersion, Stimulus)
        )


def _import_or_refuse(engine: Engine, bundle: Any) -> None:
    """Import ``bundle``; on a refusal (the package's own error) nothing may have changed."""
    before = _bank_state(engine)
    try:
        with session_scope(engine) as session:
            services.import_items(session=session, bundle=bundle)
    except ItemBankError:
        assert _bank_state(engine) == before
        return


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    """``doc`` with the value at the (wrapped) ``path`` replaced by ``value``."""
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        if isinstance(node, dict) and node:
            node = node[sorted(node)[step % len(node)]]
        elif isinstance(node, list) and node:
            node = node[step % len(node)]
        else:
            return doc
    if isinstance(node, dict) and node:
        node[sorted(node)[path[-1] % len(node)]] = value
    elif isinstance(node, list) and node:
        node[path[-1] % len(node)] = value
    return doc


# ------------------------------------------------------------------------------------ no database
@given(st.binary(max_size=2000))
def test_any_bytes_as_json_or_csv_give_problems_not_exceptions(raw: bytes) -> None:
    for bundle in (parse_json(raw), parse_csv(raw)):
        try:
            validate_bundle(bundle, CONTEXT)
        except ValidationReport:
            pass


@given(st.text(alphabet=st.sampled_from(list('[]{}",:0123456789 \\tnul\ud7ff\u4e2d')), max_size=300))
def test_json_shaped_text_never_crashes(text: str) -> None:
    try:
        validate_bundle(parse_json(text.encode("utf-8", "replace")), CONTEXT)
    except ValidationReport:
        pass


@given(st.lists(st.integers(0, 50), min_size=1, max_size=5), JSON_VALUE)
def test_a_sample_with_any_value_anywhere_validates_or_is_refused(path: list[int], value: Any) -> None:
    doc = _mutate(samples.bundle(), path, value)
    raw = json.dumps(doc, ensure_ascii=True, allow_nan=True).encode()
    try:
        validate_bundle(parse_json(raw), CONTEXT)
    except ValidationReport as report:
        assert report.problems and all(p.message for p in report.problems)


# ------------------------------------------------------------------------------------ with a database
@DB_SETTINGS
@given(path=st.lists(st.integers(0, 50), min_size=2, max_size=5), value=JSON_VALUE)
def test_mutated_json_imports_or_changes_nothing(engine: Engine, path: list[int], value: Any) -> None:
    doc = _mutate(samples.bundle(), path, value)
    _import_or_refuse(engine, parse_json(json.dumps(doc, ensure_ascii=True, allow_nan=True).encode()))


def _sample_csv_rows() -> list[dict[str, str]]:
    valid = validate_bundle(parse_json(dump_json(samples.bundle()).encode()), CONTEXT)
    return list(csv.DictReader(io.StringIO(csv_text(valid.stimuli, valid.items))))


SAMPLE_ROWS = _sample_csv_rows()


@DB_SETTINGS
@given(
    changes=st.lists(
        st.tuples(st.integers(0, len(SAMPLE_ROWS) - 1), st.sampled_from(CSV_COLUMNS), TEXT), min_size=1, max_size=6
    )
)
def test_mutated_csv_imports_or_changes_nothing(engine: Engine, changes: list[tuple[int, str, str]]) -> None:
    rows = copy.deepcopy(SAMPLE_ROWS)
    for index, column, text in changes:
        rows[index][column] = text.replace("\ud800", "\ufffd")
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    _import_or_refuse(engine, parse_csv(out.getvalue().encode("utf-8")))


@pytest.mark.parametrize("junk", [b"\x00" * 10, b"\xff\xfe\x00", b'{"items": [' * 20, b"code\r\n\x00,"])
def test_junk_files_are_refused_and_write_nothing(engine: Engine, junk: bytes) -> None:
    for bundle in (parse_json(junk), parse_csv(junk)):
        _import_or_refuse(engine, bundle)
    assert _bank_state(engine) == (0, 0, 0)
