"""The design file: a full file reads and round-trips; a malformed one names every bad key."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assess.sampling.design import SamplingDesign, parse_design, read_design
from assess.sampling.exceptions import DesignError

FULL = """
name = "全国信息素养测评 2026"
grades = [8, 4]
seed = 7
[strata]
by = ["region", "province_code", "locale"]
allocation = "minimum"
schools = 700
minimum = 4
[implicit]
sort = ["city_code", "county_code", "-enrolment"]
[within]
mode = "students"
students = 30
[replacements]
count = 1
use = false
[weights]
min_measure = 20
trim = 3.5
[thresholds]
school = 0.9
student = 0.75
school_participation = 0.6
"""


def test_a_full_design_reads_and_round_trips(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = parse_design(FULL)
    assert d.grades == (4, 8) and d.strata_by == ("region", "province_code", "locale")
    assert d.allocation == "minimum" and d.schools == 700 and d.minimum == 4 and d.seed == 7
    assert d.sort == ("city_code", "county_code", "-enrolment") and d.within.mode == "students"
    assert d.within.take == 30 and d.measure_floor == 20 and d.replacements == 1 and not d.use_replacements
    assert (d.trim, d.school_threshold, d.student_threshold, d.school_participation) == (3.5, 0.9, 0.75, 0.6)
    assert parse_design(d.to_toml()) == d
    path = tmp_path / "d.toml"
    path.write_text(FULL, encoding="utf-8")
    assert read_design(path) == d


def test_defaults_and_the_small_school_floor() -> None:
    d = parse_design('name = "x"\ngrades = [4, 8]\n[strata]\nschools = 10\n')
    assert d.allocation == "proportional" and d.within.mode == "classes" and d.replacements == 2
    assert d.measure_floor == 80  # one class of 40 per target grade


def test_explicit_sizes() -> None:
    d = parse_design('name = "x"\ngrades = [4]\n[strata]\nby = ["region"]\nallocation = "explicit"\n'
                     'sizes = { "东部" = 4, "西部" = 0 }\n')  # fmt: skip
    assert dict(d.sizes) == {"东部": 4, "西部": 0}


def test_every_problem_is_named_by_its_key() -> None:
    bad = """
name = ""
grades = [2, 4, "x"]
colour = 1
[strata]
by = ["region", "planet", "region"]
allocation = "minimum"
schools = 1
minimum = 1
sizes = { a = 3 }
[implicit]
sort = ["-height"]
[within]
mode = "some"
classes = 0
[replacements]
count = 3
use = "yes"
[weights]
trim = 1.2
[thresholds]
school = 1.5
"""
    with pytest.raises(DesignError) as caught:
        parse_design(bad, source="d.toml")
    where = {p.where for p in caught.value.problems}
    assert {
        "name", "grades[0]", "grades[2]", "colour", "strata.by[1]", "strata.by[2]", "strata.schools",
        "strata.minimum", "strata.sizes", "implicit.sort[0]", "within.mode", "within.classes", "replacements.count",
        "replacements.use", "weights.trim", "thresholds.school",
    } <= where  # fmt: skip


def test_toml_and_encoding_errors_are_one_problem() -> None:
    with pytest.raises(DesignError, match="not valid TOML"):
        parse_design("name = ")
    with pytest.raises(DesignError, match="not UTF-8"):
        parse_design(b"name = '\xff'")
    with pytest.raises(DesignError, match="at least 2 schools"):
        parse_design('name="x"\ngrades=[4]\n[strata]\nallocation="explicit"\nsizes={ "东部" = 1 }\n')


SCALAR = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(-2, 2000) | st.text(max_size=6)


def _toml_value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if v == v and abs(v) != float("inf") else "0"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return '"' + str(v).replace("\\", "\\\\").replace('"', "'").replace("\n", " ") + '"'


KEYS = {
    "": ["name", "grades", "seed", "bogus"],
    "strata": ["by", "allocation", "schools", "minimum"],
    "implicit": ["sort"],
    "within": ["mode", "classes", "class_size", "students"],
    "replacements": ["count", "use"],
    "weights": ["min_measure", "trim"],
    "thresholds": ["school", "student", "school_participation"],
}
VALUE = (
    SCALAR.filter(lambda v: v is not None)
    | st.lists(st.sampled_from(["region", "locale", "-enrolment", "x", 4, 8, 13]), max_size=4)
    | st.sampled_from(["proportional", "minimum", "explicit", "classes", "students", "all"])
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([(t, k) for t, ks in KEYS.items() for k in ks]), VALUE, max_size=12))
def test_fuzzed_designs_parse_or_raise_design_error(entries: dict[tuple[str, str], object]) -> None:
    lines = [f"{k} = {_toml_value(v)}" for (t, k), v in entries.items() if t == ""]
    for table in KEYS:
        if table:
            lines.append(f"[{table}]")
            lines += [f"{k} = {_toml_value(v)}" for (t, k), v in entries.items() if t == table]
    try:
        d = parse_design("\n".join(lines))
    except DesignError as error:
        assert error.problems
    else:
        assert isinstance(d, SamplingDesign) and d.grades and parse_design(d.to_toml()) == d


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_design_or_a_design_error(text: str) -> None:
    try:
        parse_design(text)
    except DesignError as error:
        assert error.problems
