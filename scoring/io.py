"""Files of the command line: RESPONSES.csv in, ITEMS.csv and THETA.csv out (and back in).

* RESPONSES.csv: header = item ids, one row per person, integer scores; an empty cell or ``NA``
  means not administered; an optional leading ``person`` column carries person ids; an optional
  named weights column holds sampling weights. UTF-8, with or without byte-order mark.
* ITEMS.csv: ``item,model,a,b1..bK,c`` (``b1`` is the difficulty of a dichotomous item), then the
  standard errors ``se_a,se_b1..se_bK,se_c`` when known.
* THETA.csv: ``person,theta,se`` and ``pv1..pvM`` when plausible values are asked for.

Every problem raises a :class:`~scoring.exceptions.DataError` (or
:class:`~scoring.exceptions.ParameterError` for a parameter table) with a one-line message that
names the file, row and column.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from scoring.ability import AbilityEstimates
from scoring.exceptions import (
    DataError,
    EmptyItemError,
    EncodingError,
    NonNumericCellError,
    ParameterError,
    SingleCategoryError,
)
from scoring.params import ItemParams, ItemParamsSE

__all__ = [
    "ResponseTable",
    "read_items",
    "read_responses",
    "read_text",
    "write_items",
    "write_theta",
]

FloatArray = npt.NDArray[np.float64]
_MISSING = {"", "na", "nan"}


@dataclass(frozen=True)
class ResponseTable:
    """Contents of a RESPONSES.csv.

    Parameters
    ----------
    person_ids
        Person ids (the ``person`` column, else the 1-based row numbers).
    item_ids
        Item ids, in column order (the weights column excluded).
    responses
        Persons x items scores, ``nan`` where not administered.
    weights
        Sampling weights from the weights column, or ``None``.
    """

    person_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    responses: FloatArray
    weights: FloatArray | None = None


def read_text(path: str | Path) -> str:
    """Read a text file as UTF-8 (a byte-order mark is dropped).

    Raises
    ------
    EncodingError
        If the bytes are not valid UTF-8.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{p}: not a UTF-8 file (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None


def _rows(path: str | Path) -> list[list[str]]:
    text = read_text(path)
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    return rows


def read_responses(
    path: str | Path,
    *,
    weights_column: str | None = None,
    check_items: bool = True,
) -> ResponseTable:
    """Read a RESPONSES.csv.

    Parameters
    ----------
    path
        The file.
    weights_column
        Name of a column holding per-person sampling weights; it is not an item.
    check_items
        Reject an item without any response (:class:`EmptyItemError`) or whose responses all fall
        in one category (:class:`SingleCategoryError`); both make a calibration impossible.

    Raises
    ------
    EncodingError, NonNumericCellError, EmptyItemError, SingleCategoryError, DataError
    """
    rows = _rows(path)
    header = [h.strip() for h in rows[0]]
    has_person = bool(header) and header[0].lower() == "person"
    first = 1 if has_person else 0
    names = header[first:]
    for col, name in enumerate(names, start=first + 1):
        if not name:
            raise DataError(f"{path}: column {col} has an empty header")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{path}: duplicate column names: {', '.join(dupes)}")
    w_idx = None
    if weights_column is not None:
        if weights_column not in names:
            raise DataError(f"{path}: no weights column {weights_column!r} in the header")
        w_idx = names.index(weights_column)
    item_cols = [i for i in range(len(names)) if i != w_idx]
    item_ids = tuple(names[i] for i in item_cols)
    if not item_ids:
        raise DataError(f"{path}: no item columns")
    body = rows[1:]
    if not body:
        raise DataError(f"{path}: no response rows below the header")
    n, width = len(body), len(header)
    x = np.full((n, len(names)), np.nan)
    person_ids: list[str] = []
    for r, row in enumerate(body, start=2):
        if len(row) != width:
            raise DataError(f"{path}: row {r} has {len(row)} fields, the header has {width}")
        pid = row[0].strip() if has_person else str(r - 1)
        person_ids.append(pid)
        for c, cell in enumerate(row[first:]):
            text = cell.strip()
            if text.lower() in _MISSING:
                continue
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            is_weight = c == w_idx
            if (
                not math.isfinite(value)
                or (not is_weight and (value != int(value) or value < 0))
                or (is_weight and value < 0)
            ):
                what = "a non-negative weight" if is_weight else "an integer score (or empty / NA)"
                raise NonNumericCellError(
                    f"{path}: row {r} (person {pid}), column {names[c]!r}: {cell!r} is not {what}"
                )
            x[r - 2, c] = value
    weights = None
    if w_idx is not None:
        weights = x[:, w_idx].copy()
        if np.isnan(weights).any():
            bad_row = int(np.nonzero(np.isnan(weights))[0][0]) + 2
            raise DataError(f"{path}: row {bad_row}: the weights column {weights_column!r} is empty")
        x = x[:, item_cols]
    if len(set(person_ids)) != len(person_ids):
        dup = next(p for p in person_ids if person_ids.count(p) > 1)
        raise DataError(f"{path}: person id {dup!r} occurs more than once")
    if check_items:
        for j, item in enumerate(item_ids):
            column = x[:, j]
            seen = column[~np.isnan(column)]
            if seen.size == 0:
                raise EmptyItemError(f"{path}: item {item!r} has no responses")
            cats = np.unique(seen)
            if cats.size == 1:
                raise SingleCategoryError(
                    f"{path}: item {item!r} has one response category only (all {int(cats[0])}); "
                    "it cannot be calibrated"
                )
    return ResponseTable(tuple(person_ids), item_ids, x, weights)


def _fmt(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.10g}"


def write_items(path: str | Path, params: ItemParams, se: ItemParamsSE | None = None) -> None:
    """Write ITEMS.csv: ``item,model,a,b1..bK,c`` then ``se_a,se_b1..se_bK,se_c`` if ``se`` is given."""
    k = params.kmax
    header = ["item", "model", "a", *[f"b{i + 1}" for i in range(k)], "c"]
    if se is not None:
        if se.ids != params.ids:
            raise ParameterError("standard errors are for other items than the parameters")
        header += ["se_a", *[f"se_b{i + 1}" for i in range(k)], "se_c"]
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for j, item in enumerate(params.ids):
            row = [item, params.models[j], _fmt(params.a[j])]
            row += [_fmt(params.b[j, i]) for i in range(k)]
            row.append(_fmt(params.c[j]))
            if se is not None:
                row.append(_fmt(se.a[j]))
                row += [_fmt(se.b[j, i]) if i < se.b.shape[1] else "" for i in range(k)]
                row.append(_fmt(se.c[j]))
            w.writerow(row)


def read_items(path: str | Path) -> ItemParams:
    """Read an ITEMS.csv (standard-error columns are ignored).

    Raises
    ------
    ParameterError
        Missing ``item`` column, a malformed number or invalid parameters (the message names the
        file and the item).
    """
    rows = _rows(path)
    header = [h.strip().lower() for h in rows[0]]
    if "item" not in header:
        raise ParameterError(f"{path}: no 'item' column in the header")
    records = []
    for r, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ParameterError(f"{path}: row {r} has {len(row)} fields, the header has {len(header)}")
        records.append({h: v for h, v in zip(header, row, strict=True) if not h.startswith("se_")})
    if not records:
        raise ParameterError(f"{path}: no items")
    try:
        return ItemParams.from_rows(records)
    except ParameterError as exc:
        raise ParameterError(f"{path}: {exc}") from None


def write_theta(
    path: str | Path,
    person_ids: Sequence[str],
    estimates: AbilityEstimates,
    plausible_values: npt.ArrayLike | None = None,
) -> None:
    """Write THETA.csv: ``person,theta,se`` (+ ``pv1..pvM``)."""
    n = len(person_ids)
    if estimates.n_persons != n:
        raise DataError(f"{estimates.n_persons} estimates for {n} persons")
    pv = None if plausible_values is None else np.asarray(plausible_values, dtype=np.float64)
    if pv is not None and (pv.ndim != 2 or pv.shape[0] != n):
        raise DataError(f"plausible values must have shape ({n}, M)")
    header = ["person", "theta", "se"] + ([f"pv{i + 1}" for i in range(pv.shape[1])] if pv is not None else [])
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for p, pid in enumerate(person_ids):
            row = [pid, _fmt(float(estimates.theta[p])), _fmt(float(estimates.se[p]))]
            if pv is not None:
                row += [_fmt(float(v)) for v in pv[p]]
            w.writerow(row)
