"""A vectorised scan of a RESPONSES.csv: every field classified and every integer cell read in numpy.

A response file is a large grid of tiny integers; read cell by cell in Python it takes over a
second for 30,000 persons x 48 items. Here the bytes are scanned once with numpy: line and field
boundaries, the non-blank lines (the csv module's notion: a line with some non-whitespace field),
and for every field whether it holds an integer of up to 15 digits between blanks (its value is
computed in numpy), a missing-value marker (empty, ``NA``, ``nan`` in any case), or anything else.
Only the "anything else" cells (weights, ``1.0``, typos) go through Python, with exactly the
rules of the general reader, so every message stays the same.

Files this scan does not model (quoted fields, bare carriage returns, NUL bytes) get ``None`` and
go through the csv module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FIELD_INTEGER", "FIELD_MISSING", "FIELD_OTHER", "CsvScan", "scan_csv", "scan_grid"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

FIELD_INTEGER = 0
"""A field of 1..15 ASCII digits, blanks (space, tab) around them allowed."""
FIELD_MISSING = 1
"""An empty or blank field, or ``NA`` / ``nan`` in any case."""
FIELD_OTHER = 2
"""Anything else: read in Python with the general reader's rules."""

GRID_BLOCK_LINES = 2048
"""Lines per block of :func:`scan_grid`."""
_POW10 = 10.0 ** np.arange(16)
_SEP, _DIGIT = 1, 2
_BYTE_KIND = np.zeros(256, dtype=np.uint8)  # 0: anything else
_BYTE_KIND[[10, 44]] = _SEP
_BYTE_KIND[48:58] = _DIGIT
_DIGIT_VALUE = np.full(256, np.nan)
_DIGIT_VALUE[48:58] = np.arange(10.0)


@dataclass(frozen=True)
class CsvScan:
    r"""The fields of a comma-separated file without quotes, as scanned by :func:`scan_csv`.

    Parameters
    ----------
    data
        The file's bytes (line ends normalised to ``\\n``, a final one added); fields index it.
    header
        The cells of the first non-blank line (``None`` when every line is blank).
    row_first_field, row_width
        For every further non-blank line (a row): its first field and its number of fields.
    field_start, field_end
        Byte range of every field of the file.
    kind
        ``FIELD_INTEGER``, ``FIELD_MISSING`` or ``FIELD_OTHER`` per field.
    value
        The value of every integer field (0 elsewhere).
    """

    data: bytes
    header: list[str] | None
    row_first_field: IntArray
    row_width: IntArray
    field_start: IntArray
    field_end: IntArray
    kind: npt.NDArray[np.int8]
    value: FloatArray

    def text(self, field: int) -> str:
        """The text of a field, as the csv module would give it."""
        return self.data[int(self.field_start[field]) : int(self.field_end[field])].decode("utf-8")

    def texts(self, fields: IntArray) -> list[str]:
        """The texts of many fields at once (gathered in numpy, decoded in one go)."""
        if fields.size == 0:
            return []
        start, end = self.field_start[fields], self.field_end[fields] + 1  # each with its separator
        length = end - start
        seg = np.concatenate([[0], np.cumsum(length)[:-1]])
        owner = np.repeat(np.arange(fields.size), length)
        gathered = np.frombuffer(self.data, dtype=np.uint8)[np.arange(int(length.sum())) - seg[owner] + start[owner]]
        gathered = gathered.copy()
        gathered[seg + length - 1] = 10  # separators become line ends; a field holds no line end
        text: str = gathered.tobytes().decode("utf-8")
        return text.split("\n")[:-1]


def scan_grid(data: bytes, start: int, width: int, skip: int) -> tuple[list[str] | None, FloatArray] | None:
    r"""The rows of a plain grid from byte ``start`` on: the first column's texts (if ``skip``) and the values.

    A plain grid: every line ends with ``\n`` (a missing final one is added) and has exactly
    ``width`` fields, every field after the first ``skip`` is empty (missing) or one ASCII digit,
    and no line is blank. That is the bulk of response files, and it needs no per-field
    classification: the byte before every field's separator is the cell's digit or, for an empty
    cell, the previous separator. ``None`` for anything else (the general scan reads it, with its
    messages); quotes, NULs and carriage returns are the caller's to exclude.

    The lines are scanned in blocks of :data:`GRID_BLOCK_LINES`: the positions of a whole file's
    separators (eight bytes per field) would be several times the file's size in fresh memory,
    and on a virtual machine fresh pages cost more than the arithmetic on them.
    """
    if start >= len(data):
        return None
    if not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8, offset=start)  # a view: the rows are not copied
    step = 64 * GRID_BLOCK_LINES  # the newlines found in byte blocks too: no file-sized mask
    line_end = np.concatenate([np.flatnonzero(buf[a : a + step] == 10) + a for a in range(0, buf.size, step)])
    n = line_end.size  # line r ends at line_end[r]
    if n == 0:
        return None
    x = np.empty((n, width - skip))
    texts: list[str] | None = [] if skip else None
    for r0 in range(0, n, GRID_BLOCK_LINES):
        r1 = min(n, r0 + GRID_BLOCK_LINES)
        stop = int(line_end[r1 - 1]) + 1
        if r0 == 0:  # two newlines before the first line serve its first field
            lo, part = -2, np.concatenate([np.full(2, 10, dtype=np.uint8), buf[:stop]])
        else:  # the two bytes before the block's first field
            lo = int(line_end[r0 - 1]) - 1
            part = buf[lo:stop]
        block = _grid_block(part, r1 - r0, width, skip)
        if block is None:
            return None
        x[r0:r1], first_ends = block
        if texts is not None:
            starts = np.concatenate([[2], line_end[r0 : r1 - 1] + 1 - lo])
            texts += _gather_texts(part, starts, first_ends)
    if skip == 0 and np.isnan(x).all(axis=1).any():
        return None  # an all-empty line is blank: the general scan skips it
    return texts, x


def _grid_block(part: npt.NDArray[np.uint8], n: int, width: int, skip: int) -> tuple[FloatArray, IntArray] | None:
    """The values of ``n`` lines of a plain grid, and the end of every line's first field (in ``part``).

    ``part`` holds the lines with the two bytes before them (see :func:`scan_grid`).
    """
    is_nl = part == 10
    sep = np.flatnonzero(is_nl[2:] | (part[2:] == 44))
    sep += 2
    if sep.size != n * width:
        return None
    ends = sep.reshape(n, width)
    if np.count_nonzero(is_nl[2:]) != n or not is_nl[ends[:, -1]].all():
        return None  # a line with another number of fields
    # The two bytes before every separator: a plain cell is empty (the first is a separator) or one
    # digit (the first a digit, the second a separator); the two bytes before the block serve its
    # first field.
    last = np.take(part, ends[:, skip:] - 1)
    kind = np.take(_BYTE_KIND, last)
    before = np.take(_BYTE_KIND, np.take(part, ends[:, skip:] - 2))
    if not ((kind == _SEP) | ((kind == _DIGIT) & (before == _SEP))).all():
        return None
    return np.take(_DIGIT_VALUE, last), ends[:, 0]  # the digit's value, nan for an empty cell


def _gather_texts(data: npt.NDArray[np.uint8], start: IntArray, end: IntArray) -> list[str]:
    """The texts ``data[start:end]`` (gathered in numpy, decoded in one go), each followed by its separator."""
    length = end - start + 1
    seg = np.concatenate([[0], np.cumsum(length)[:-1]])
    owner = np.repeat(np.arange(start.size), length)
    gathered = data[np.arange(int(length.sum())) - seg[owner] + start[owner]]
    gathered[seg + length - 1] = 10
    text: str = gathered.tobytes().decode("utf-8")
    return text.split("\n")[:-1]


def scan_csv(raw: bytes) -> CsvScan | None:
    """Scan UTF-8 bytes (no byte-order mark) of a comma-separated file; ``None`` if it needs the csv module."""
    if b'"' in raw or b"\x00" in raw:
        return None
    if b"\r" in raw:
        raw = raw.replace(b"\r\n", b"\n")
        if b"\r" in raw:
            return None
    if not raw.endswith(b"\n"):
        raw += b"\n"
    buf = np.frombuffer(raw, dtype=np.uint8)
    is_nl = buf == 10
    line_end = np.flatnonzero(is_nl)
    line_start = np.concatenate([[0], line_end[:-1] + 1])
    field_end = np.flatnonzero(is_nl | (buf == 44))
    field_start = np.concatenate([[0], field_end[:-1] + 1])
    last_field = np.flatnonzero(is_nl[field_end])  # of every line (each ends with a newline)
    line_first_field = np.concatenate([[0], last_field[:-1] + 1])
    fields_per_line = last_field - line_first_field + 1
    kind, value, sure, unsure = _classify_fields(buf, field_start, field_end)
    nonblank = _count_per_line(sure, line_first_field, last_field) > 0
    maybe = np.flatnonzero(~nonblank & (_count_per_line(unsure, line_first_field, last_field) > 0))
    for line in maybe.tolist():  # other whitespace or non-ASCII only: ask Python, as csv + strip would
        cells = raw[line_start[line] : line_end[line]].decode("utf-8").split(",")
        nonblank[line] = any(c.strip() for c in cells)
    kept = np.flatnonzero(nonblank)
    header = None
    if kept.size:
        h = int(kept[0])
        header = raw[line_start[h] : line_end[h]].decode("utf-8").split(",")
    rows = kept[1:]
    return CsvScan(
        data=raw,
        header=header,
        row_first_field=line_first_field[rows].astype(np.int64),
        row_width=fields_per_line[rows].astype(np.int64),
        field_start=field_start.astype(np.int64),
        field_end=field_end.astype(np.int64),
        kind=kind,
        value=value,
    )


def _count_per_line(flags: npt.NDArray[np.bool_], first: IntArray, last: IntArray) -> IntArray:
    """Number of flagged fields on every line (fields ``first..last`` of each)."""
    cum = np.concatenate([[0], np.cumsum(flags)])
    return np.asarray(cum[last + 1] - cum[first])


def _classify_fields(
    buf: npt.NDArray[np.uint8], field_start: IntArray, field_end: IntArray
) -> tuple[npt.NDArray[np.int8], FloatArray, npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Kind and integer value of every field, and whether it surely / possibly is not blank.

    "Surely" means a printable ASCII character; "possibly" any other byte that is not a space or
    a tab (str.strip removes some of them, so the line's blankness is left to Python). Fields of
    one byte, the bulk of a response file, are decided from that byte; longer ones byte by byte.
    """
    n_fields = field_end.size
    length = field_end - field_start
    kind = np.full(n_fields, FIELD_OTHER, dtype=np.int8)
    value = np.zeros(n_fields)
    sure = np.zeros(n_fields, dtype=bool)
    unsure = np.zeros(n_fields, dtype=bool)
    kind[length == 0] = FIELD_MISSING
    one = np.flatnonzero(length == 1)
    b = buf[field_start[one]]
    digit = (b >= 48) & (b <= 57)
    blank = (b == 32) | (b == 9)
    kind[one[digit]] = FIELD_INTEGER
    kind[one[blank]] = FIELD_MISSING
    value[one[digit]] = b[digit] - 48.0
    sure[one] = (b > 32) & (b < 127)
    unsure[one] = ~blank & ~sure[one]
    long = np.flatnonzero(length >= 2)
    if long.size:
        _classify_long(buf, field_start[long], length[long], long, kind, value, sure, unsure)
    return kind, value, sure, unsure


def _classify_long(
    buf: npt.NDArray[np.uint8],
    start: IntArray,
    length: IntArray,
    which: IntArray,
    kind: npt.NDArray[np.int8],
    value: FloatArray,
    sure: npt.NDArray[np.bool_],
    unsure: npt.NDArray[np.bool_],
) -> None:
    """The fields of two or more bytes: their bytes gathered into one array, segment by segment."""
    seg = np.concatenate([[0], np.cumsum(length)[:-1]])  # segment starts in the gathered bytes
    total = int(length.sum())
    owner = np.repeat(np.arange(which.size), length)
    pos = np.arange(total, dtype=np.int64)
    sub = buf[pos - seg[owner] + start[owner]]
    content = (sub != 32) & (sub != 9)
    digit = (sub >= 48) & (sub <= 57)
    printable = content & (sub > 32) & (sub < 127)
    n_content = np.add.reduceat(content.astype(np.int64), seg)
    n_digit = np.add.reduceat(digit.astype(np.int64), seg)
    sure[which] = np.add.reduceat(printable.astype(np.int64), seg) > 0
    unsure[which] = n_content > 0
    first = np.minimum.reduceat(np.where(content, pos, total), seg)
    last = np.maximum.reduceat(np.where(content, pos, -1), seg)
    span = last - first + 1
    integer = (n_content > 0) & (n_digit == n_content) & (span == n_content) & (n_content <= 15)
    lower = np.concatenate([sub | 0x20, np.zeros(3, dtype=np.uint8)])
    at = np.minimum(first, total)
    na = (lower[at] == 110) & (lower[at + 1] == 97)  # "na"
    missing = (n_content == 0) | (na & (n_content == 2) & (span == 2))
    missing |= na & (lower[at + 2] == 110) & (n_content == 3) & (span == 3)  # "nan"
    kind[which[integer]] = FIELD_INTEGER
    kind[which[missing]] = FIELD_MISSING
    use = digit & integer[owner]
    weights = (sub[use] - 48).astype(np.float64) * _POW10[last[owner[use]] - pos[use]]
    value[which] += np.bincount(owner[use], weights=weights, minlength=which.size)
