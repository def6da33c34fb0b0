"""The interactive item types: validation problems, scoring rules against hand-computed scores,
tampered answers refused, the simulator's answers scoring what they were built for."""

from __future__ import annotations

import copy
import dataclasses
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assess.simulate.answers import answer_for_score
from itembank.exceptions import InvalidResponseError, ValidationReport
from itembank.formats import csv_text, parse_csv, parse_json
from itembank.framework import read_framework
from itembank.scoring_rules import max_score, score_response
from itembank.types import REGISTRY
from itembank.types.entry import normalise, parse_number
from itembank.types.ordering import adjacent_pairs
from itembank.validate import BankContext, ItemSpec, validate_bundle
from tests.itembank import samples

CONTEXT = BankContext(framework=read_framework())


def _validate(doc: dict[str, Any]) -> dict[str, ItemSpec]:
    return {i.code: i for i in validate_bundle(parse_json(json.dumps(doc).encode()), CONTEXT).items}


ITEMS = _validate(samples.interactive_bundle())
ORD, MATCH, CLOZE, NUM, TEXT, HOT, INBOX, SEARCH = (
    ITEMS[c] for c in ("T3.2-010", "T1.3-010", "T4.1-010", "T2.2-010", "T2.2-011", "T4.3-010", "T4.3-011", "T3.1-010")
)


def _problems(change: dict[str, Any], code: str) -> list[str]:
    doc = samples.interactive_bundle()
    item = next(i for i in doc["items"] if i["code"] == code)
    for name, value in change.items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    with pytest.raises(ValidationReport) as info:
        _validate(doc)
    return [str(p) for p in info.value.problems]


def test_every_type_is_registered_once() -> None:
    assert list(REGISTRY) == [
        "single_choice", "multiple_response", "true_false", "partial_credit",
        "ordering", "matching", "inline_choice", "entry", "hotspot", "search_sim", "inbox_sim",
    ]  # fmt: skip


def test_max_scores() -> None:
    assert [max_score(i) for i in (ORD, MATCH, CLOZE, NUM, TEXT, HOT, INBOX)] == [2, 2, 1, 1, 1, 2, 2]


def test_the_samples_round_trip_through_csv() -> None:
    text = csv_text([], list(ITEMS.values()))
    again = {i.code: i for i in validate_bundle(parse_csv(text.encode()), CONTEXT).items}
    assert again == ITEMS


# ============================================================================================ ordering
def test_adjacent_pairs_by_hand() -> None:
    key = ["A", "B", "C", "D"]
    assert adjacent_pairs(key, key) == 3
    assert adjacent_pairs(["B", "C", "D", "A"], key) == 2  # BC, CD
    assert adjacent_pairs(["D", "C", "B", "A"], key) == 0
    assert adjacent_pairs(["A", "B", "D", "C"], key) == 1  # AB


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (["A", "B", "C", "D"], 2),
        (["B", "C", "D", "A"], 1),
        (["A", "B", "D", "C"], 0),
        (["D", "C", "B", "A"], 0),
        (None, 0),
    ],
)
def test_ordering_scores_adjacent_pairs_through_the_score_map(response: Any, score: int) -> None:
    assert score_response(ORD, response) == score


@pytest.mark.parametrize("response", [["A", "B", "C"], ["A", "A", "B", "C"], ["A", "B", "C", "E"], "ABCD", {"A": 1}])
def test_ordering_refuses_what_is_not_a_permutation(response: Any) -> None:
    with pytest.raises(InvalidResponseError):
        score_response(ORD, response)


def test_ordering_problems() -> None:
    assert "row" not in " ".join(_problems({"key": ["A", "B", "C"]}, "T3.2-010"))
    assert any("every option key once" in p for p in _problems({"key": ["A", "B", "C"]}, "T3.2-010"))
    assert any("score_map: needs n+1 = 4" in p for p in _problems({"score_map": [0, 1, 2]}, "T3.2-010"))
    assert any("needs a rubric" in p for p in _problems({"rubric": None}, "T3.2-010"))


# ============================================================================================ matching
@pytest.mark.parametrize(
    ("response", "score"),
    [
        ({"A": "1", "B": "2", "C": "1"}, 2),
        ({"A": "1", "B": "2", "C": "2"}, 1),
        ({"A": "1"}, 0),
        ({"A": "2", "B": "1"}, 0),
        (None, 0),
    ],
)
def test_matching_per_match(response: Any, score: int) -> None:
    assert score_response(MATCH, response) == score


@pytest.mark.parametrize("response", [{"D": "1"}, {"A": "3"}, {"A": 1}, ["A=1"], "A=1"])
def test_matching_refuses_unknown_premises_and_targets(response: Any) -> None:
    with pytest.raises(InvalidResponseError):
        score_response(MATCH, response)


def test_matching_problems() -> None:
    assert any("key[1]: '9' is not one of 1, 2" in p for p in _problems({"key": ["A=1", "B=9", "C=1"]}, "T1.3-010"))
    assert any("missing C" in p for p in _problems({"key": ["A=1", "B=2"]}, "T1.3-010"))
    bad_targets = {"interaction": {"targets": [{"key": "2", "text": "x"}, {"key": "1", "text": "y"}]}}
    assert any("interaction.targets[0].key" in p for p in _problems(bad_targets, "T1.3-010"))


# ============================================================================================ inline choice
@pytest.mark.parametrize(
    ("response", "score"), [({"1": "B", "2": "A"}, 1), ({"1": "B", "2": "B"}, 0), ({"1": "B"}, 0), (None, 0)]
)
def test_inline_choice_all_or_nothing(response: Any, score: int) -> None:
    assert score_response(CLOZE, response) == score


def test_inline_choice_per_gap() -> None:
    doc = samples.interactive_bundle()
    item = next(i for i in doc["items"] if i["code"] == "T4.1-010")
    item.update(scoring="per_gap", score_map=[0, 1, 2], rubric=samples._rubric("都不对", "对一个", "都对"))
    item["params"] = {"model": "gpcm", "a": 1.0, "b": [-0.5, 0.5], "c": 0.0}
    per_gap = _validate(doc)["T4.1-010"]
    assert [score_response(per_gap, r) for r in ({"1": "A", "2": "B"}, {"1": "B", "2": "B"}, {"1": "B", "2": "A"})] == [
        0,
        1,
        2,
    ]


@pytest.mark.parametrize("response", [{"3": "A"}, {"1": "C"}, {"1": ["B"]}])
def test_inline_choice_refuses_tampering(response: Any) -> None:
    with pytest.raises(InvalidResponseError):
        score_response(CLOZE, response)


def test_inline_choice_problems() -> None:
    text_without_gap = {"interaction": {**CLOZE.interaction, "text": "只有一个空{{1}}。"}}  # type: ignore[dict-item]
    assert any("interaction.text: must hold each gap once" in p for p in _problems(text_without_gap, "T4.1-010"))
    assert any("key[0]: 'C' is not one of A, B" in p for p in _problems({"key": ["1=C", "2=A"]}, "T4.1-010"))


# ============================================================================================ entry
@pytest.mark.parametrize(
    ("response", "score"),
    [
        ("20", 1), ("２０", 1), ("20元", 1), ("20 元", 1), ("+20.0", 1), ("２０．００", 1), ("20.01", 0),
        ("二十", 0), ("20元元", 0), ("2,0", 0), ("", 0), ("   ", 0), (None, 0), ("-20", 0),
    ],
)  # fmt: skip
def test_numeric_entry(response: Any, score: int) -> None:
    assert score_response(NUM, response) == score


def test_numeric_tolerance_and_thousands() -> None:
    spec = dataclasses.replace(NUM, rule={"value": 1250.5, "tolerance": 0.5})
    assert [score_response(spec, r) for r in ("1,250.5", "1250", "1251", "１，２５１", "1,25,0", "1249.9")] == [
        1,
        1,
        1,
        1,
        0,
        0,
    ]


@pytest.mark.parametrize(
    ("response", "score"), [("二维码", 1), ("二维码。", 1), ("二 维 码", 1), ("ＱＲ码", 1), ("qr 码", 1), ("条形码", 0)]
)
def test_text_entry_normalises(response: str, score: int) -> None:
    assert score_response(TEXT, response) == score


def test_entry_refuses_over_long_and_non_text() -> None:
    with pytest.raises(InvalidResponseError):
        score_response(NUM, "1" * 21)
    with pytest.raises(InvalidResponseError):
        score_response(NUM, 20)
    with pytest.raises(InvalidResponseError):
        score_response(TEXT, ["二维码"])


_FULL = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


@settings(max_examples=200, deadline=None)
@given(
    word=st.text(st.sampled_from("abcXYZ二维码信息"), min_size=1, max_size=8),
    spaces=st.lists(st.sampled_from([" ", "\u3000", "\t"]), max_size=3),
    punct=st.lists(st.sampled_from(list("。，！？、“”,.!?;")), max_size=3),
    upper=st.booleans(),
    wide=st.booleans(),
)
def test_normalisation_absorbs_what_it_declares(
    word: str, spaces: list[str], punct: list[str], upper: bool, wide: bool
) -> None:
    steps = {"width", "space", "case", "punct"}
    variant = word.upper() if upper else word
    variant = "".join(_FULL.get(ch, ch) for ch in variant) if wide else variant
    variant = "".join(spaces) + variant + "".join(punct) + "".join(spaces)
    assert normalise(variant, steps) == normalise(word, steps)
    # without "space", inner spaces matter (a normalisation only absorbs what it declares)
    if word.strip() and len(word) > 1:
        spaced = word[0] + " " + word[1:]
        assert normalise(spaced, steps - {"space"}) != normalise(word, steps - {"space"})


@settings(max_examples=200, deadline=None)
@given(value=st.integers(-(10**9), 10**9), cents=st.integers(0, 99), wide=st.booleans(), group=st.booleans())
def test_numbers_are_read_in_every_declared_spelling(value: int, cents: int, wide: bool, group: bool) -> None:
    text = f"{abs(value):,}" if group else str(abs(value))
    text = ("-" if value < 0 else "") + text + f".{cents:02d}"
    if wide:
        text = "".join(_FULL.get(ch, ch) for ch in text).replace("．", "．")
    expected = (abs(value) + cents / 100) * (-1 if value < 0 else 1)
    got = parse_number(text)
    assert got is not None and abs(got - expected) < 1e-6


def test_entry_problems() -> None:
    assert any(
        "rule.tolerance: must be 0 or more" in p for p in _problems({"rule": {"value": 1, "tolerance": -1}}, "T2.2-010")
    )
    bad = {"rule": {"accepted": ["x"], "normalise": ["width", "colour"]}}
    assert any("unknown normalisation 'colour'" in p for p in _problems(bad, "T2.2-011"))
    assert any("an entry item has no key" in p for p in _problems({"key": ["A"]}, "T2.2-010"))


# ============================================================================================ hotspot
@pytest.mark.parametrize(
    ("response", "score"),
    [(["R1", "R3"], 2), (["R3"], 1), (["R1", "R2"], 0), (["R1", "R3", "R2"], 1), (["R2", "R4"], 0), ([], 0), (None, 0)],
)
def test_hotspot_hits(response: Any, score: int) -> None:
    assert score_response(HOT, response) == score


def test_hotspot_refuses_regions_it_does_not_have() -> None:
    with pytest.raises(InvalidResponseError):
        score_response(HOT, ["R9"])
    with pytest.raises(InvalidResponseError):
        score_response(HOT, {"R1": True})


def test_hotspot_problems() -> None:
    region_outside = copy.deepcopy(HOT.interaction)
    assert region_outside is not None
    region_outside["regions"][0]["shape"] = {"x": 300, "y": 0, "w": 200, "h": 20}
    assert any("must lie inside the 400x300 image" in p for p in _problems({"interaction": region_outside}, "T4.3-010"))
    elsewhere = copy.deepcopy(HOT.interaction)
    assert elsewhere is not None
    elsewhere["image"]["src"] = "https://evil.example/x.svg"
    assert any("must be an SVG under /static/items/" in p for p in _problems({"interaction": elsewhere}, "T4.3-010"))
    assert any("'R7' is not a region" in p for p in _problems({"key": ["R7"]}, "T4.3-010"))


# ============================================================================================ inbox
@pytest.mark.parametrize(
    ("response", "score"),
    [
        ({"M1": "keep", "M2": "report", "M3": "reply"}, 2),
        ({"M1": "keep", "M2": "report", "M3": "delete"}, 1),
        ({"M1": "keep", "M2": "reply"}, 0),
        (None, 0),
    ],
)
def test_inbox_per_message(response: Any, score: int) -> None:
    assert score_response(INBOX, response) == score


@pytest.mark.parametrize("response", [{"M9": "keep"}, {"M1": "print"}, {"M1": ["keep"]}, ["keep"]])
def test_inbox_refuses_tampering(response: Any) -> None:
    with pytest.raises(InvalidResponseError):
        score_response(INBOX, response)


def test_inbox_problems() -> None:
    bad = {"rule": {"expected": {"M1": "keep", "M2": "burn"}}}
    problems = _problems(bad, "T4.3-011")
    assert any("rule.expected.M2: 'burn' is not an offered action" in p for p in problems)
    assert any("missing M3" in p for p in problems)


# ============================================================================================ search
@pytest.mark.parametrize(
    ("response", "score"),
    [
        ({"query": ["蚕", "吃什么"], "chosen": "R3"}, 2),
        ({"query": ["吃什么", "蚕", "桑叶"], "chosen": "R3", "opened": ["R3"]}, 2),
        ({"query": ["蚕", "吃什么", "游戏"], "chosen": "R3"}, 1),  # a forbidden word
        ({"query": ["蚕", "吃什么"], "chosen": "R4"}, 1),  # acceptable scores nothing by default
        ({"query": ["蚕"], "chosen": "R1"}, 0),
        ({"query": [], "chosen": "R3"}, 1),
        (None, 0),
    ],
)
def test_search_scores_the_query_and_the_choice(response: Any, score: int) -> None:
    assert score_response(SEARCH, response) == score


def test_search_acceptable_can_score() -> None:
    rule = {**(SEARCH.rule or {}), "acceptable_scores": 1}
    assert score_response(dataclasses.replace(SEARCH, rule=rule), {"query": ["蚕"], "chosen": "R4"}) == 1


def test_search_ranks_results_by_the_query() -> None:
    from itembank.types.search_sim import ranked

    assert ranked(SEARCH, ["蚕", "吃什么"])[0] == "R3"
    assert ranked(SEARCH, ["游戏"])[0] == "R1"
    assert ranked(SEARCH, []) == []


@pytest.mark.parametrize(
    "response",
    [
        {"query": ["病毒"]}, {"query": ["蚕", "蚕"]}, {"chosen": "R9"}, {"opened": ["R0"]}, {"searches": [["x"]]},
        {"query": "蚕"}, {"score": 2}, ["蚕"], {"opened": ["R1"] * 31},
    ],
)  # fmt: skip
def test_search_refuses_what_the_item_does_not_have(response: Any) -> None:
    with pytest.raises(InvalidResponseError):
        score_response(SEARCH, response)


def test_search_problems() -> None:
    bad = {"rule": {"query_required": ["蚕", "猫"], "query_forbidden": ["蚕"], "best": ["R9"], "acceptable": []}}
    problems = _problems(bad, "T3.1-010")
    assert any("rule.query_required[1]: '猫' is not one of" in p for p in problems)
    assert any("both required and forbidden" in p for p in problems)
    assert any("rule.best[0]: 'R9'" in p for p in problems)


# ============================================================================================ simulator
@pytest.mark.parametrize("code", sorted(ITEMS))
def test_the_simulators_answers_earn_the_score_they_were_built_for(code: str) -> None:
    item = ITEMS[code]
    rnd = random.Random(7)
    for score in range(max_score(item) + 1):
        for _ in range(20):
            assert score_response(item, answer_for_score(item, score, rnd)) == score
