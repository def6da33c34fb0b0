"""Item files: the canonical JSON format and a flat CSV (or XLSX workbook) for spreadsheets.

Reading turns a file into a :class:`~itembank.validate.RawBundle` of drafts (validation is
:func:`itembank.validate.validate_bundle`, shared by both formats); writing turns validated specs
back into a file. Both accept UTF-8 with or without a byte-order mark, as Excel writes it; any
other encoding is one clear problem.

The canonical JSON format is described in ``docs/item-format.md`` and round-trips losslessly:
export, import into an empty bank, export again gives the same bytes.

The CSV has one row per item and these columns (:data:`CSV_COLUMNS`):

============================ ================================================================
column                       content
============================ ================================================================
code, type                   as in JSON
dimension                    optional on import; when filled it must be the indicator's dimension
indicator, status, author    as in JSON
grade_bands                  band codes separated by ``;`` (``5-6;7-9``)
stimulus                     stimulus code (or empty)
stimulus_kind/_title/_body   the stimulus itself; repeated on every row that uses it, or left
                             empty on all but one (rows that fill them must agree); empty
                             everywhere when the stimulus is already in the bank
stem                         Markdown
option_A .. option_F         option texts (consecutive from A; empty for true_false)
key                          option keys separated by ``;`` (``A;C``); ``T`` / ``F`` for true_false
                             (``TRUE``, ``FALSE``, ``对``, ``错`` are read too); the steps in order
                             for ordering (``C;A;B``); ``A=1;B=2`` for matching and inline_choice;
                             region keys for hotspot (``R1;R3``)
scoring                      the type's scoring rule (``all_or_nothing``, ``partial``, ``per_match``...)
parts_json                   partial_credit: the ``parts`` list as JSON
score_map                    scores separated by ``;`` (``0;1;1;2``)
rubric_json                  the ``rubric`` list as JSON
interaction_json             the interactive types' ``interaction`` object as JSON
rule_json                    entry, search_sim, inbox_sim: the private ``rule`` object as JSON
rationale                    as in JSON
enemies                      item codes separated by ``;``
model, a, b, c               provisional parameters; ``b`` holds the thresholds separated by ``;``
============================ ================================================================

Problems are reported by spreadsheet row (row 1 is the header) and column. An XLSX workbook
(``.xlsx``) is read the same way from its first sheet: the CSV's columns, one item per row.

Both readers keep to :data:`ITEM_LIMITS` (:class:`itembank.tabular.ReadLimits`: 16 MiB a file,
20,000 items, JSON nested at most 32 levels), each breach one clear problem. The CSV export
neutralises cells a spreadsheet could take for a formula (a stem starting with ``=`` is written
``'=...``, :func:`itembank.tabular.neutralise_cell`) and the CSV import removes exactly that quote
again (:func:`itembank.tabular.restore_cell`), so an exported bank imports back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from itembank.exceptions import Problem
from itembank.qti import package_bytes
from itembank.qti_read import parse_qti
from itembank.tabular import (
    ReadLimits,
    Table,
    format_csv,
    json_depth_problem,
    load_json,
    parse_csv_table,
    parse_xlsx_table,
)
from itembank.validate import OPTION_KEYS, Draft, ItemSpec, Origin, RawBundle, StimulusSpec

__all__ = [
    "CSV_COLUMNS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ITEM_LIMITS",
    "bundle_document",
    "csv_text",
    "detect_format",
    "dump_json",
    "merge_bundles",
    "parse_bytes",
    "parse_csv",
    "parse_json",
    "parse_xlsx",
    "read_bundle",
    "read_bundles",
    "write_bundle",
]

FORMAT_NAME = "infolit-items"
FORMAT_VERSION = 1
ITEM_LIMITS = ReadLimits(max_bytes=16 * 2**20, max_rows=20_000)
"""Limits of an item file: 16 MiB, 20,000 items (CSV rows or JSON items), JSON 32 levels deep."""

CSV_COLUMNS: tuple[str, ...] = (
    "code", "type", "dimension", "indicator", "grade_bands", "status", "author",
    "stimulus", "stimulus_kind", "stimulus_title", "stimulus_body", "stem",
    *(f"option_{k}" for k in OPTION_KEYS),
    "key", "scoring", "parts_json", "score_map", "rubric_json", "interaction_json", "rule_json",
    "rationale", "enemies", "model", "a", "b", "c",
)  # fmt: skip
"""Columns of the CSV format, in the order the export writes them."""
_JSON_COLUMNS = (
    ("parts", "parts_json"),
    ("rubric", "rubric_json"),
    ("interaction", "interaction_json"),
    ("rule", "rule_json"),
)
"""Fields of the canonical format held as JSON in a CSV cell, and their columns."""
_CSV_REQUIRED = (
    "code",
    "type",
    "indicator",
    "grade_bands",
    "status",
    "author",
    "stem",
    "rationale",
    "model",
    "a",
    "b",
)
_SPLIT = re.compile(r"[;,|\s]+")
_TRUE = {"t", "true", "1", "y", "yes", "对", "正确", "是", "√"}
_FALSE = {"f", "false", "0", "n", "no", "错", "错误", "否", "×"}


# ============================================================================================ reading
def detect_format(path: str | Path) -> str:
    """``"json"``, ``"csv"``, ``"xlsx"`` or ``"qti"`` (``.zip``) from the extension; ``ValueError`` otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix in {".json", ".csv", ".xlsx"}:
        return suffix[1:]
    if suffix == ".zip":
        return "qti"
    raise ValueError(f"{path}: unknown file type {suffix or '(none)'!r}; use .json, .csv, .xlsx or .zip (QTI 3.0)")


def read_bundle(path: str | Path, *, limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read an item file (JSON or CSV by extension) into drafts, with any reading problems."""
    path = Path(path)
    source = str(path)
    try:
        fmt = detect_format(path)
    except ValueError:
        return RawBundle(
            source,
            problems=(
                Problem("", f"unknown file type {path.suffix or '(none)'!r}: use .json, .csv, .xlsx or .zip (QTI 3.0)"),
            ),
        )
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:  # refused before it is read
            mib = f"{size / 2**20:,.1f} MiB, more than the limit of {limits.max_bytes / 2**20:,.0f} MiB"
            return RawBundle(source, problems=(Problem("", f"the file is {mib}: split it"),))
        raw = path.read_bytes()
    except OSError as exc:
        return RawBundle(source, problems=(Problem("", f"cannot read the file: {exc.strerror or exc}"),))
    return parse_bytes(raw, fmt, source=source, limits=limits)


def parse_bytes(raw: bytes, fmt: str, *, source: str, limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read an item file's bytes in format ``fmt`` (``json``, ``csv``, ``xlsx`` or ``qti``) into drafts."""
    if fmt == "json":
        return parse_json(raw, source=source, limits=limits)
    if fmt == "xlsx":
        return parse_xlsx(raw, source=source, limits=limits)
    if fmt == "qti":
        return parse_qti(raw, source=source, limits=limits)
    return parse_csv(raw, source=source, limits=limits)


def read_bundles(paths: Sequence[str | Path], *, limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read several item files as one bundle (imported in one transaction)."""
    return merge_bundles([read_bundle(p, limits=limits) for p in paths])


def merge_bundles(bundles: Sequence[RawBundle]) -> RawBundle:
    """Join bundles into one; with more than one, every location is prefixed with its file name."""
    if len(bundles) == 1:
        return bundles[0]
    stimuli: list[Draft] = []
    items: list[Draft] = []
    problems: list[Problem] = []
    for b in bundles:
        name = Path(b.source).name
        stimuli += [Draft(d.data, _with_file(d.origin, name)) for d in b.stimuli]
        items += [Draft(d.data, _with_file(d.origin, name)) for d in b.items]
        problems += [Problem(f"{name}: {p.where}" if p.where else name, p.message) for p in b.problems]
    return RawBundle(", ".join(b.source for b in bundles), tuple(stimuli), tuple(items), tuple(problems))


def _with_file(origin: Origin, name: str) -> Origin:
    return Origin(path=origin.path, row=origin.row, file=name, stimulus=origin.stimulus)


def _short(value: object, width: int = 60) -> str:
    """``repr(value)`` cut to ``width`` characters: a problem quotes a value, never a whole novel."""
    shown = repr(value)
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def parse_json(raw: bytes, *, source: str = "<json>", limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read the canonical JSON format into drafts located by JSON path."""
    doc, reading = load_json(raw, limits=limits)
    if reading:
        return RawBundle(source, problems=reading)
    if not isinstance(doc, dict):
        return RawBundle(
            source,
            problems=(Problem("(top level)", "must be an object with 'format', 'version', 'stimuli' and 'items'"),),
        )
    problems: list[Problem] = []
    if doc.get("format") != FORMAT_NAME:
        problems.append(Problem("format", f"must be {FORMAT_NAME!r}, got {_short(doc.get('format'))}"))
    if doc.get("version") != FORMAT_VERSION:
        problems.append(Problem("version", f"must be {FORMAT_VERSION}, got {_short(doc.get('version'))}"))
    for name in doc:
        if name not in {"format", "version", "stimuli", "items"}:
            where = name if len(name) <= 40 else name[:37] + "..."
            problems.append(Problem(where, "unknown field (expected: format, version, stimuli, items)"))
    drafts: dict[str, list[Draft]] = {"stimuli": [], "items": []}
    for part in ("stimuli", "items"):
        value = doc.get(part, [])
        if part == "items" and "items" not in doc:
            problems.append(Problem("items", "missing required field"))
        if not isinstance(value, list):
            problems.append(Problem(part, "must be a list"))
            continue
        if len(value) > limits.max_rows:
            problems.append(Problem(part, f"{len(value):,} entries, more than the limit of {limits.max_rows:,}"))
            continue
        drafts[part] = [Draft(v, Origin(path=f"{part}[{i}]")) for i, v in enumerate(value)]
    if "items" in doc and not drafts["items"] and not drafts["stimuli"] and not problems:
        problems.append(Problem("items", "the file holds no items"))
    return RawBundle(source, tuple(drafts["stimuli"]), tuple(drafts["items"]), tuple(problems))


def parse_csv(raw: bytes, *, source: str = "<csv>", limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read the flat CSV format into drafts located by row and column."""
    return _parse_table(parse_csv_table(raw, source=source, limits=limits), source, limits)


def parse_xlsx(raw: bytes, *, source: str = "<xlsx>", limits: ReadLimits = ITEM_LIMITS) -> RawBundle:
    """Read the flat format from the first sheet of an XLSX workbook (the CSV's columns), located by row and column."""
    return _parse_table(parse_xlsx_table(raw, source=source, limits=limits), source, limits)


def _parse_table(table: Table, source: str, limits: ReadLimits) -> RawBundle:
    if table.problems or not table.rows:
        return RawBundle(source, problems=table.problems)
    header = [h.strip() for h in table.rows[0].cells]
    problems: list[Problem] = [
        Problem(f"row {c.row}, {header[c.column] if c.column < len(header) else f'column {c.column + 1}'}", c.message)
        for c in table.cell_problems
    ]
    for i, name in enumerate(header):
        if name not in CSV_COLUMNS:
            problems.append(Problem("row 1", f"unknown column {_short(name)} (column {i + 1})"))
        elif header.index(name) != i:
            problems.append(Problem("row 1", f"column {name!r} appears twice"))
    missing = [c for c in _CSV_REQUIRED if c not in header]
    for name in missing:
        problems.append(Problem("row 1", f"missing column {name!r}"))
    if missing:
        return RawBundle(source, problems=tuple(problems))

    items: list[Draft] = []
    stimuli: dict[str, tuple[int, dict[str, str]]] = {}
    stimulus_drafts: list[Draft] = []
    for record in table.rows[1:]:
        index, values = record.number, record.cells
        if len(values) > len(header) and any(c.strip() for c in values[len(header) :]):
            problems.append(Problem(f"row {index}", f"{len(values)} cells but only {len(header)} columns"))
        cells = {name: (values[i] if i < len(values) else "") for i, name in enumerate(header)}
        reported: set[str] = set()
        data = _row_to_draft(cells, index, problems, reported, limits)
        items.append(Draft(data, Origin(row=index), frozenset(reported)))
        _collect_stimulus(cells, index, stimuli, stimulus_drafts, problems)
    if not items:
        problems.append(Problem("", "the file has a header but no item rows"))
    return RawBundle(source, tuple(stimulus_drafts), tuple(items), tuple(problems))


def _cell(cells: dict[str, str], name: str) -> str | None:
    value = cells.get(name, "")
    return value if value.strip() else None


def _split(value: str) -> list[str]:
    return [v for v in _SPLIT.split(value.strip()) if v]


def _number(text: str) -> float | str:
    try:
        return float(text.strip())
    except ValueError:
        return text.strip()


def _row_to_draft(
    cells: dict[str, str], row: int, problems: list[Problem], reported: set[str], limits: ReadLimits
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name in (
        "code",
        "type",
        "dimension",
        "indicator",
        "status",
        "author",
        "stimulus",
        "stem",
        "scoring",
        "rationale",
    ):
        value = _cell(cells, name)
        if value is not None:
            data[name] = value
    for name in ("grade_bands", "enemies"):
        value = _cell(cells, name)
        if value is not None:
            data[name] = _split(value)
    texts = [(k, _cell(cells, f"option_{k}")) for k in OPTION_KEYS]
    filled = [k for k, t in texts if t is not None]
    if filled:
        last = OPTION_KEYS.index(filled[-1])
        gaps = [k for k, t in texts[:last] if t is None]
        for k in gaps:
            problems.append(
                Problem(
                    f"row {row}, option_{k}",
                    f"empty, but option_{filled[-1]} is filled (options must be consecutive from option_A)",
                )
            )
        if gaps:
            reported.add("options")
        else:
            data["options"] = [{"key": k, "text": t} for k, t in texts if t is not None]
    key = _cell(cells, "key")
    if key is not None:
        tokens = _split(key)
        if data.get("type") == "true_false" and len(tokens) == 1:
            low = tokens[0].lower()
            tokens = ["T"] if low in _TRUE else ["F"] if low in _FALSE else tokens
        elif len(tokens) == 1 and len(tokens[0]) > 1 and all(ch in OPTION_KEYS for ch in tokens[0].upper()):
            tokens = list(tokens[0].upper())
        else:
            tokens = [t.upper() if len(t) == 1 else t for t in tokens]
        data["key"] = tokens
    for name, column in _JSON_COLUMNS:
        value = _cell(cells, column)
        if value is None:
            continue
        parsed, problem = _cell_json(value, f"row {row}, {column}", limits)
        if problem is not None:
            problems.append(problem)
            reported.add(name)
        else:
            data[name] = parsed
    score_map = _cell(cells, "score_map")
    if score_map is not None:
        data["score_map"] = [int(v) if re.fullmatch(r"-?\d+", v) else v for v in _split(score_map)]
    model, a, b, c = (_cell(cells, n) for n in ("model", "a", "b", "c"))
    if any(v is not None for v in (model, a, b, c)):
        params: dict[str, Any] = {}
        if model is not None:
            params["model"] = model.strip()
        if a is not None:
            params["a"] = _number(a)
        if b is not None:
            params["b"] = [_number(x) for x in _split(b)]
        if c is not None:
            params["c"] = _number(c)
        data["params"] = params
    return data


def _cell_json(value: str, where: str, limits: ReadLimits) -> tuple[Any, Problem | None]:
    """A ``*_json`` cell parsed, or the problem with it (bad JSON, nested too deeply)."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        return None, Problem(where, f"not valid JSON: {exc.msg} (position {exc.pos})")
    except RecursionError:
        return None, Problem(where, f"nested more than {limits.max_depth} levels deep (the limit)")
    except ValueError as exc:
        return None, Problem(where, f"not usable JSON: {exc}")
    deep = json_depth_problem(parsed, limits.max_depth)
    return (None, Problem(where, deep.message)) if deep is not None else (parsed, None)


def _collect_stimulus(
    cells: dict[str, str],
    row: int,
    seen: dict[str, tuple[int, dict[str, str]]],
    drafts: list[Draft],
    problems: list[Problem],
) -> None:
    code = _cell(cells, "stimulus")
    content = {k: (cells.get(f"stimulus_{k}") or "").strip() for k in ("kind", "title", "body")}
    if not any(content.values()):
        return
    if code is None:
        problems.append(
            Problem(f"row {row}, stimulus", "stimulus_kind/_title/_body are filled but the stimulus code is empty")
        )
        return
    code = code.strip()
    if code in seen:
        first_row, first = seen[code]
        for k in ("kind", "title", "body"):
            if content[k] != first[k]:
                problems.append(
                    Problem(
                        f"row {row}, stimulus_{k}",
                        f"differs from stimulus {code!r} at row "
                        f"{first_row} (rows sharing a stimulus carry "
                        "the same text or leave it empty)",
                    )
                )
        return
    seen[code] = (row, content)
    data: dict[str, Any] = {"code": code, **{k: v for k, v in content.items() if v}}
    drafts.append(Draft(data, Origin(row=row, stimulus=True)))


# ============================================================================================ writing
def bundle_document(stimuli: Iterable[StimulusSpec], items: Iterable[ItemSpec]) -> dict[str, Any]:
    """The canonical JSON document for ``stimuli`` and ``items`` (in the order given)."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "stimuli": [s.to_document() for s in stimuli],
        "items": [i.to_document() for i in items],
    }


def dump_json(document: Any) -> str:
    """JSON text as the export writes it: UTF-8 characters kept, two-space indent, final newline."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def _num(x: float) -> str:
    return repr(float(x))


def csv_text(stimuli: Iterable[StimulusSpec], items: Iterable[ItemSpec]) -> str:
    """The items as CSV text (header first, one row per item, CRLF line ends, no BOM).

    Cells a spreadsheet could take for a formula are neutralised (:func:`itembank.tabular.format_csv`).
    """
    by_code = {s.code: s for s in stimuli}
    return format_csv([CSV_COLUMNS, *(_csv_row(item, by_code) for item in items)])


def _csv_row(item: ItemSpec, by_code: dict[str, StimulusSpec]) -> list[str]:
    """One item as the cells of a CSV row, in :data:`CSV_COLUMNS` order."""
    stim = by_code.get(item.stimulus) if item.stimulus else None
    options = {o["key"]: o["text"] for o in item.options or []}
    row: dict[str, str] = {
        "code": item.code,
        "type": item.type,
        "dimension": item.dimension,
        "indicator": item.indicator,
        "grade_bands": ";".join(item.grade_bands),
        "status": item.status,
        "author": item.author,
        "stimulus": item.stimulus or "",
        "stimulus_kind": stim.kind if stim else "",
        "stimulus_title": stim.title if stim else "",
        "stimulus_body": stim.body if stim else "",
        "stem": item.stem,
        **{f"option_{k}": options.get(k, "") for k in OPTION_KEYS},
        "key": ";".join(item.key or []),
        "scoring": item.scoring or "",
        "parts_json": _compact(item.parts) if item.parts is not None else "",
        "score_map": ";".join(str(s) for s in item.score_map) if item.score_map is not None else "",
        "rubric_json": _compact(item.rubric) if item.rubric is not None else "",
        "interaction_json": _compact(item.interaction) if item.interaction is not None else "",
        "rule_json": _compact(item.rule) if item.rule is not None else "",
        "rationale": item.rationale,
        "enemies": ";".join(item.enemies),
        "model": str(item.params["model"]),
        "a": _num(item.params["a"]),
        "b": ";".join(_num(x) for x in item.params["b"]),
        "c": _num(item.params["c"]),
    }
    return [row[c] for c in CSV_COLUMNS]


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_bundle(
    path: str | Path,
    stimuli: Sequence[StimulusSpec],
    items: Sequence[ItemSpec],
    *,
    fmt: str | None = None,
    bom: bool = True,
) -> None:
    """Write ``items`` (and ``stimuli``) to ``path`` as JSON, CSV or a QTI 3.0 package (by ``fmt`` or the extension).

    The CSV starts with a UTF-8 byte-order mark by default so Excel shows the Chinese text
    correctly; the reader accepts it with or without.
    """
    fmt = fmt or detect_format(path)
    if fmt == "json":
        data = dump_json(bundle_document(stimuli, items)).encode("utf-8")
    elif fmt == "csv":
        data = ("\ufeff" if bom else "").encode("utf-8") + csv_text(stimuli, items).encode("utf-8")
    elif fmt == "qti":
        data = package_bytes(stimuli, items)
    else:
        raise ValueError(f"unknown format {fmt!r}: use json, csv or qti")
    Path(path).write_bytes(data)
