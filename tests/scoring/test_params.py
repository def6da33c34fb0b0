from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from scoring.exceptions import ModelError, ParameterError
from scoring.params import ItemParams, ItemParamsSE, normalize_model

NAN = np.nan


def bank() -> ItemParams:
    return ItemParams(
        ids=("d1", "d2", "d3", "p1", "p2"),
        models=("1pl", "2pl", "3pl", "grm", "gpcm"),
        a=np.array([1.0, 1.3, 0.9, 1.5, 0.8]),
        b=np.array([[-0.5, NAN, NAN], [0.2, NAN, NAN], [1.0, NAN, NAN], [-1.0, 0.0, 1.2], [0.3, -0.4, NAN]]),
        c=np.array([0.0, 0.0, 0.2, 0.0, 0.0]),
    )


def test_shapes_and_derived_counts() -> None:
    p = bank()
    assert p.n_items == 5 and len(p) == 5
    assert p.models == ("rasch", "2pl", "3pl", "grm", "gpcm")  # 1pl is stored as rasch
    assert_array_equal(p.max_scores, [1, 1, 1, 3, 2])
    assert_array_equal(p.n_categories, [2, 2, 2, 4, 3])
    assert_array_equal(p.is_dichotomous, [True, True, True, False, False])
    assert p.kmax == 3


def test_arrays_are_read_only_copies() -> None:
    a = np.array([1.0, 2.0])
    p = ItemParams(("x", "y"), ("2pl", "2pl"), a, np.array([0.0, 1.0]), np.zeros(2))
    a[0] = 99.0
    assert p.a[0] == 1.0
    with pytest.raises(ValueError):
        p.a[0] = 3.0
    with pytest.raises(ValueError):
        p.b[0, 0] = 3.0


def test_trailing_all_nan_columns_are_trimmed() -> None:
    p = ItemParams(("x",), ("2pl",), [1.0], np.array([[0.5, NAN, NAN]]), [0.0])
    assert p.b.shape == (1, 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"a": [0.0]}, "slope a must be a positive"),
        ({"a": [-1.0]}, "slope a must be a positive"),
        ({"a": [NAN]}, "slope a must be a positive"),
        ({"c": [1.0], "models": ("3pl",)}, r"c must lie in \[0, 1\)"),
        ({"c": [-0.1], "models": ("3pl",)}, r"c must lie in \[0, 1\)"),
        ({"c": [0.2]}, "no lower asymptote"),
        ({"b": [[NAN]]}, "no difficulty"),
        ({"b": [[0.1, 0.2]]}, "takes one difficulty"),
        ({"b": [[0.5, 0.1]], "models": ("grm",)}, "strictly increasing"),
        ({"b": [[0.5, NAN, 0.1]], "models": ("gpcm",)}, "without gaps"),
        ({"models": ("4pl",)}, "unknown IRT model"),
        ({"ids": ("x", "y")}, "models for 2 items|must have shape"),
    ],
)
def test_validation_errors_name_the_problem(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"ids": ("x",), "models": ("2pl",), "a": [1.0], "b": [[0.0]], "c": [0.0]}
    args.update(kwargs)
    with pytest.raises((ParameterError, ModelError), match=message):
        ItemParams(**args)  # type: ignore[arg-type]


def test_duplicate_ids_rejected() -> None:
    with pytest.raises(ParameterError, match="duplicate item ids: x"):
        ItemParams(("x", "x"), ("2pl", "2pl"), [1.0, 1.0], [[0.0], [0.0]], [0.0, 0.0])


def test_gpcm_thresholds_may_be_disordered_and_rasch_may_be_partial_credit() -> None:
    p = ItemParams(("g", "r"), ("gpcm", "rasch"), [1.0, 1.0], [[0.5, -0.5], [0.2, -0.1]], [0.0, 0.0])
    assert_array_equal(p.max_scores, [2, 2])


def test_normalize_model_aliases() -> None:
    assert normalize_model("1PL") == "rasch"
    assert normalize_model(" GRM ") == "grm"
    with pytest.raises(ModelError):
        normalize_model("nominal")


def test_subset_by_ids_positions_mask_and_slice() -> None:
    p = bank()
    s = p.subset(["p2", "d1"])
    assert s.ids == ("p2", "d1")
    assert s.kmax == 2  # trimmed to the subset's widest item
    assert_allclose(s.a, [0.8, 1.0])
    assert p.subset([4, 0]) == s
    assert p.subset(np.array([True, False, False, False, True])).ids == ("d1", "p2")
    assert p.subset(slice(1, 3)).ids == ("d2", "d3")
    with pytest.raises(ParameterError, match="unknown item id"):
        p.subset(["nope"])


def test_rows_round_trip_and_flat_columns() -> None:
    p = bank()
    rows = p.to_rows()
    assert list(rows[0]) == ["item", "model", "a", "b1", "b2", "b3", "c"]
    assert rows[0]["b2"] is None and rows[3]["b3"] == 1.2
    assert ItemParams.from_rows(rows) == p


def test_from_rows_accepts_strings_missing_markers_and_defaults() -> None:
    rows = [
        {"item": "x", "model": "1pl", "a": "", "b": "0.5", "c": "NA"},
        {"item": "y", "model": "GRM", "a": "1.2", "b1": "-1", "b2": "1", "b3": "", "c": ""},
        {"item": "z", "model": "3pl", "a": 1.1, "b1": 0.0, "c": 0.25, "se_a": 0.1},
    ]
    p = ItemParams.from_rows(rows)
    assert p.models == ("rasch", "grm", "3pl")
    assert_allclose(p.a, [1.0, 1.2, 1.1])
    assert_array_equal(p.max_scores, [1, 2, 1])
    assert_allclose(p.c, [0.0, 0.0, 0.25])
    with pytest.raises(ParameterError, match="item 'q': column 'a' is not a number"):
        ItemParams.from_rows([{"item": "q", "model": "2pl", "a": "one", "b1": "0"}])


def test_concatenate() -> None:
    p = bank()
    both = ItemParams.concatenate([p.subset(["d1", "d2"]), p.subset(["p1"])])
    assert both.ids == ("d1", "d2", "p1")
    assert both.kmax == 3
    with pytest.raises(ParameterError, match="duplicate"):
        ItemParams.concatenate([p, p])


def test_standard_error_table() -> None:
    se = ItemParamsSE(("x", "y"), np.array([0.1, NAN]), np.array([[0.2, NAN], [0.3, 0.4]]), np.array([NAN, NAN]))
    rows = se.to_rows()
    assert rows[0] == {"item": "x", "se_a": 0.1, "se_b1": 0.2, "se_b2": None, "se_c": None}
    with pytest.raises(ParameterError):
        ItemParamsSE(("x",), np.zeros(2), np.zeros((2, 1)), np.zeros(2))
