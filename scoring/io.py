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

import codecs
import csv
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from scoring._csvscan import FIELD_INTEGER, FIELD_OTHER, CsvScan, scan_csv, scan_grid
from scoring.exceptions import (
    DataError,
    EmptyItemError,
    EncodingError,
    NonNumericCellError,
    ParameterError,
    SingleCategoryError,
)
from scoring.params import ItemParams, ItemParamsSE

if TYPE_CHECKING:
    from scoring.ability import AbilityEstimates

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
    return _read_utf8(path).decode("utf-8")


def _read_utf8(path: str | Path) -> bytes:
    """The bytes of a UTF-8 file without its byte-order mark (checked, not decoded)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p}: cannot read the file ({exc.strerror or exc})") from None
    try:
        if not raw.isascii():  # ASCII is UTF-8: no 2.5 MB string for the check of a plain response file
            raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EncodingError(
            f"{p}: not a UTF-8 file (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None
    return raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw


def _rows(path: str | Path, text: str | None = None) -> list[list[str]]:
    text = read_text(path) if text is None else text
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r and any(c.strip() for c in r)]
    if not rows:
        raise DataError(f"{path}: the file is empty")
    return rows


@dataclass(frozen=True)
class _Header:
    """The columns of a RESPONSES.csv: person column, names, weights column, item columns."""

    has_person: bool
    names: list[str]
    width: int
    w_idx: int | None
    item_cols: list[int]

    @property
    def first(self) -> int:
        return 1 if self.has_person else 0


def read_responses(
    path: str | Path,
    *,
    weights_column: str | None = None,
    check_items: bool = True,
) -> ResponseTable:
    """Read a RESPONSES.csv.

    A file without quoted fields (what spreadsheets and our own writers produce) is scanned
    with numpy (:mod:`scoring._csvscan`): only cells that are not plain integers or missing
    markers are read one by one. Any other file goes through the csv module. Both apply the same
    rules and give the same messages.

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
    raw = _read_utf8(path)
    grid = _read_grid(path, raw, weights_column)
    scan = None if grid is not None else scan_csv(raw)
    if grid is not None:
        header, person_ids, x = grid
    elif scan is None:
        rows = _rows(path, raw.decode("utf-8"))
        header = _read_header(path, rows[0], weights_column)
        person_ids, x = _convert_rows(path, rows[1:], header)
    else:
        if scan.header is None:
            raise DataError(f"{path}: the file is empty")
        header = _read_header(path, scan.header, weights_column)
        person_ids, x = _convert_scan(path, scan, header)
    weights = None
    if header.w_idx is not None:
        weights = x[:, header.w_idx].copy()
        if np.isnan(weights).any():
            bad_row = int(np.nonzero(np.isnan(weights))[0][0]) + 2
            raise DataError(f"{path}: row {bad_row}: the weights column {weights_column!r} is empty")
        x = x[:, header.item_cols]
    if len(set(person_ids)) != len(person_ids):
        counts = Counter(person_ids)
        dup = next(p for p in person_ids if counts[p] > 1)
        raise DataError(f"{path}: person id {dup!r} occurs more than once")
    item_ids = tuple(header.names[i] for i in header.item_cols)
    if check_items:
        _check_items(path, x, item_ids)
    return ResponseTable(tuple(person_ids), item_ids, x, weights)


def _read_header(path: str | Path, cells: list[str], weights_column: str | None) -> _Header:
    header = [h.strip() for h in cells]
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
    if not item_cols:
        raise DataError(f"{path}: no item columns")
    return _Header(has_person, names, len(header), w_idx, item_cols)


def _cell_value(path: str | Path, row: int, pid: str, header: _Header, col: int, cell: str) -> float:
    """The value of one cell (``nan`` when missing), by the reader's rules; ``col`` counts from the first item."""
    text = cell.strip()
    if text.lower() in _MISSING:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    is_weight = col == header.w_idx
    if not math.isfinite(value) or (not is_weight and (value != int(value) or value < 0)) or (is_weight and value < 0):
        what = "a non-negative weight" if is_weight else "an integer score (or empty / NA)"
        raise NonNumericCellError(
            f"{path}: row {row} (person {pid}), column {header.names[col]!r}: {cell!r} is not {what}"
        )
    return value


def _row_length_error(path: str | Path, row: int, n_fields: int, header: _Header) -> DataError:
    return DataError(f"{path}: row {row} has {n_fields} fields, the header has {header.width}")


def _convert_rows(path: str | Path, body: list[list[str]], header: _Header) -> tuple[list[str], FloatArray]:
    """Person ids and the values of the rows below the header (the csv module's rows)."""
    if not body:
        raise DataError(f"{path}: no response rows below the header")
    x = np.full((len(body), len(header.names)), np.nan)
    person_ids: list[str] = []
    for r, row in enumerate(body, start=2):
        if len(row) != header.width:
            raise _row_length_error(path, r, len(row), header)
        pid = row[0].strip() if header.has_person else str(r - 1)
        person_ids.append(pid)
        for c, cell in enumerate(row[header.first :]):
            x[r - 2, c] = _cell_value(path, r, pid, header, c, cell)
    return person_ids, x


def _read_grid(
    path: str | Path, raw: bytes, weights_column: str | None
) -> tuple[_Header, list[str], FloatArray] | None:
    """Header, person ids and values of a plain grid (:func:`scoring._csvscan.scan_grid`), else ``None``.

    A plain grid is what the general scan would read without a single cell of its own, so both
    give the same table; anything else (``None``) goes to the general scan and its messages.
    """
    nl = raw.find(b"\n")
    if nl < 0 or b"\r" in raw or b'"' in raw or b"\x00" in raw:
        return None
    cells = raw[:nl].decode("utf-8").split(",")
    if not any(c.strip() for c in cells):
        return None
    header = _read_header(path, cells, weights_column)
    grid = scan_grid(raw, nl + 1, header.width, header.first)
    if grid is None:
        return None
    first_texts, x = grid
    if first_texts is None:
        person_ids = [str(r) for r in range(1, x.shape[0] + 1)]
    else:
        person_ids = [p.strip() for p in first_texts]
        if not all(person_ids):  # a blank person cell: the general scan decides what the row is
            return None
    return header, person_ids, x


def _convert_scan(path: str | Path, scan: CsvScan, header: _Header) -> tuple[list[str], FloatArray]:
    """Person ids and values from a numpy scan; the same rules and messages as :func:`_convert_rows`.

    Rows are checked in order: the first row of the wrong length is reported unless a bad cell
    comes before it.
    """
    n = scan.row_width.size
    if n == 0:
        raise DataError(f"{path}: no response rows below the header")
    wrong = np.flatnonzero(scan.row_width != header.width)
    good = int(wrong[0]) if wrong.size else n
    first = scan.row_first_field[:good]
    fields = first[:, None] + np.arange(header.width)[None, :]
    if header.has_person:
        person_ids = [p.strip() for p in scan.texts(first)]
    else:
        person_ids = [str(r) for r in range(1, good + 1)]
    cells = fields[:, header.first :]
    if good and int(first[-1] - first[0]) == (good - 1) * header.width:  # no blank line between rows
        lo, hi = int(first[0]), int(first[0]) + good * header.width
        kind = scan.kind[lo:hi].reshape(good, header.width)[:, header.first :]
        value = scan.value[lo:hi].reshape(good, header.width)[:, header.first :]
    else:
        kind, value = scan.kind[cells], scan.value[cells]
    x = np.where(kind == FIELD_INTEGER, value, np.nan)
    for r, c in np.argwhere(kind == FIELD_OTHER).tolist():
        x[r, c] = _cell_value(path, r + 2, person_ids[r], header, c, scan.text(int(cells[r, c])))
    if good < n:
        raise _row_length_error(path, good + 2, int(scan.row_width[good]), header)
    return person_ids, x


def _check_items(path: str | Path, x: FloatArray, item_ids: tuple[str, ...]) -> None:
    n_seen = (~np.isnan(x)).sum(axis=0)
    low, high = np.fmin.reduce(x, axis=0), np.fmax.reduce(x, axis=0)  # nan for an empty column, no warning
    for j in np.flatnonzero((n_seen == 0) | (low == high)).tolist():
        if n_seen[j] == 0:
            raise EmptyItemError(f"{path}: item {item_ids[j]!r} has no responses")
        raise SingleCategoryError(
            f"{path}: item {item_ids[j]!r} has one response category only (all {int(low[j])}); it cannot be calibrated"
        )


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
