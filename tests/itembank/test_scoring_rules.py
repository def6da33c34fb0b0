from __future__ import annotations

import json
from typing import Any

import pytest

from itembank.exceptions import InvalidResponseError
from itembank.formats import parse_json
from itembank.framework import read_framework
from itembank.scoring_rules import max_score, score_response
from itembank.validate import BankContext, ItemSpec, validate_bundle
from tests.itembank import samples

ITEMS = {
    i.code: i
    for i in validate_bundle(
        parse_json(json.dumps(samples.bundle()).encode()), BankContext(framework=read_framework())
    ).items
}
SC, MR_PARTIAL, TF, MR_ALL, PC = (ITEMS[c] for c in ("T4.3-001", "T4.3-002", "T2.1-001", "T3.1-001", "T1.2-001"))


def test_max_scores() -> None:
    assert [max_score(i) for i in (SC, MR_PARTIAL, TF, MR_ALL, PC)] == [1, 2, 1, 1, 2]


@pytest.mark.parametrize(
    ("response", "score"),
    [("C", 1), (["C"], 1), ("A", 0), (["B"], 0), (None, 0), ([], 0), ("", 0), ([""], None)],
)
def test_single_choice(response: Any, score: int | None) -> None:
    if score is None:
        with pytest.raises(InvalidResponseError):
            score_response(SC, response)
    else:
        assert score_response(SC, response) == score


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (["A", "B", "D"], 2),
        (["D", "B", "A"], 2),  # order does not matter
        (["A", "B"], 1),  # a proper subset, nothing wrong
        (["D"], 1),
        (["A", "B", "C"], 0),  # a wrong option
        (["A", "B", "C", "D"], 0),
        (["C"], 0),
        ([], 0),
        (None, 0),
    ],
)
def test_multiple_response_partial(response: Any, score: int) -> None:
    assert score_response(MR_PARTIAL, response) == score


@pytest.mark.parametrize(
    ("response", "score"), [(["A", "B"], 1), (["B", "A"], 1), (["A"], 0), (["A", "B", "C"], 0), ([], 0)]
)
def test_multiple_response_all_or_nothing(response: Any, score: int) -> None:
    assert score_response(MR_ALL, response) == score


@pytest.mark.parametrize(
    ("response", "score"), [("T", 1), (True, 1), (["T"], 1), ("F", 0), (False, 0), (None, 0), ([], 0), ("", 0)]
)
def test_true_false(response: Any, score: int) -> None:
    assert score_response(TF, response) == score


@pytest.mark.parametrize(
    ("response", "score"),
    [
        (["B", "A", "C"], 2),  # all three parts right
        (["B", "A", "A"], 1),  # two right -> score_map[2] = 1
        (["B", None, "C"], 1),
        (["A", "B", "C"], 0),  # one right -> score_map[1] = 0
        ([None, None, None], 0),
        (None, 0),
    ],
)
def test_partial_credit_uses_the_score_map(response: Any, score: int) -> None:
    assert score_response(PC, response) == score


@pytest.mark.parametrize(
    ("item", "response", "message"),
    [
        (SC, "E", "'E' is not an option"),
        (SC, ["A", "B"], "takes one answer"),
        (SC, 3, "list of option keys"),
        (MR_PARTIAL, ["A", "Z"], "'Z' is not an option"),
        (TF, "maybe", "'T' or 'F'"),
        (TF, ["T", "F"], "one answer"),
        (PC, ["A", "B"], "list of 3 answers"),
        (PC, "ABC", "list of 3 answers"),
        (PC, ["A", "B", "D"], "part 3: 'D' is not an option"),
    ],
)
def test_responses_that_do_not_fit_are_refused(item: ItemSpec, response: Any, message: str) -> None:
    with pytest.raises(InvalidResponseError, match=message):
        score_response(item, response)


def test_unknown_type_is_refused() -> None:
    class Odd:
        type = "essay"
        options = None
        key = None
        scoring = None
        parts = None
        score_map = None

    with pytest.raises(InvalidResponseError, match="unknown item type"):
        score_response(Odd(), "x")
