"""Validation rules for stimuli and items, shared by the JSON and the CSV import.

A reader (:mod:`itembank.formats`) turns a file into :class:`Draft` records: plain dictionaries
in the shape of the canonical JSON format (docs/item-format.md), each with the :class:`Origin` it
came from. :func:`validate_bundle` checks every record against the rules and the loaded
framework, and either returns normalised :class:`ItemSpec` / :class:`StimulusSpec` records or
raises :class:`~itembank.exceptions.ValidationReport` with every problem found, each located by
JSON path (``items[3].key``) or CSV row and column (``row 5, key``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itembank.exceptions import Problem, ValidationReport
from itembank.framework import FrameworkSpec
from itembank.models import ITEM_TYPES, STATUSES
from itembank.tabular import DEFAULT_LIMITS
from itembank.types import REGISTRY

__all__ = [
    "BankContext",
    "Draft",
    "ItemSpec",
    "Origin",
    "RawBundle",
    "StimulusSpec",
    "ValidatedBundle",
    "item_max_score",
    "validate_bundle",
]

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
OPTION_KEYS = "ABCDEF"
TF_KEYS = ("T", "F")

ITEM_FIELDS: tuple[str, ...] = (
    "code", "type", "indicator", "grade_bands", "status", "author", "stimulus", "stem", "options",
    "interaction", "key", "rule", "scoring", "parts", "score_map", "rubric", "rationale", "enemies", "params",
)  # fmt: skip
"""Fields of an item in the canonical JSON format, in canonical order."""
STIMULUS_FIELDS: tuple[str, ...] = ("code", "kind", "title", "body")
"""Fields of a stimulus in the canonical JSON format."""
CONTENT_FIELDS: tuple[str, ...] = (
    "type",
    "stem",
    "options",
    "key",
    "scoring",
    "parts",
    "score_map",
    "rubric",
    "interaction",
    "rule",
)
"""Fields that belong to an item version (a change makes a new version of a locked item)."""
METADATA_FIELDS: tuple[str, ...] = ("indicator", "dimension", "grade_bands", "status", "author", "rationale", "enemies")
"""Fields of an item that change without a new version."""

_REQUIRED = ("code", "type", "indicator", "grade_bands", "status", "author", "stem", "rationale", "params")
_TYPED_FIELDS = ("options", "interaction", "key", "rule", "scoring", "parts", "score_map", "rubric")
_PARAM_LIMITS = {"a": (0.0, 4.0), "b": (-5.0, 5.0), "c": (0.0, 0.3)}
_DICHOTOMOUS_MODELS = ("rasch", "2pl", "3pl")
MAX_TEXT = 100_000
"""Characters a single text of an item or stimulus may hold."""
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_POLYTOMOUS_MODELS = ("rasch", "gpcm", "grm")


# ============================================================================================ records
@dataclass(frozen=True)
class Origin:
    """Where a record came from: a JSON path (``items[3]``) or a CSV row (1 = the header).

    ``file`` is set when several files are imported together; ``stimulus`` marks a stimulus read
    from the ``stimulus_*`` columns of a CSV row.
    """

    path: str = ""
    row: int | None = None
    file: str = ""
    stimulus: bool = False

    def at(self, fieldpath: str = "") -> str:
        """Location of ``fieldpath`` (``options[1].text``) of this record, for a problem message."""
        prefix = f"{self.file}: " if self.file else ""
        if self.row is None:
            return prefix + (f"{self.path}.{fieldpath}" if fieldpath else self.path)
        if self.stimulus:
            column = "stimulus" if fieldpath == "code" else f"stimulus_{fieldpath}" if fieldpath else ""
        else:
            column = csv_column(fieldpath)
        return prefix + (f"row {self.row}, {column}" if column else f"row {self.row}")


def csv_column(fieldpath: str) -> str:
    """The CSV column holding ``fieldpath`` of the canonical format (``options[2].text`` -> ``option_C``)."""
    if not fieldpath:
        return ""
    head = re.split(r"[.\[]", fieldpath, maxsplit=1)[0]
    rest = fieldpath[len(head) :]
    if head == "options":
        m = re.match(r"\[(\d+)\]", rest)
        if m and int(m.group(1)) < len(OPTION_KEYS):
            return f"option_{OPTION_KEYS[int(m.group(1))]}"
        return "option_A..option_F"
    if head == "params":
        m = re.match(r"\.(\w+)", rest)
        return m.group(1) if m else "model"
    if head in {"parts", "rubric", "interaction", "rule"}:
        return f"{head}_json{rest}"
    if head.startswith("stimulus_"):
        return head
    return head


@dataclass(frozen=True)
class Draft:
    """A record as read from a file, not validated yet (the shape of the canonical JSON format)."""

    data: Mapping[str, Any]
    origin: Origin
    reported: frozenset[str] = frozenset()
    """Fields the reader already reported a problem for (validation stays silent about them)."""


@dataclass(frozen=True)
class RawBundle:
    """What a reader made of a file: stimulus and item drafts, and the problems it met reading them."""

    source: str
    stimuli: tuple[Draft, ...] = ()
    items: tuple[Draft, ...] = ()
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class BankContext:
    """What validation checks references against: the framework and the codes already in the bank."""

    framework: FrameworkSpec
    stimuli: frozenset[str] = frozenset()
    items: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StimulusSpec:
    """A validated, normalised stimulus."""

    code: str
    kind: str
    title: str
    body: str

    def content(self) -> dict[str, Any]:
        """The versioned content."""
        return {"kind": self.kind, "title": self.title, "body": self.body}

    def to_document(self) -> dict[str, Any]:
        """The stimulus in the canonical JSON format."""
        return {"code": self.code, **self.content()}


@dataclass(frozen=True)
class ItemSpec:
    """A validated, normalised item: metadata, content and provisional parameters."""

    code: str
    type: str
    indicator: str
    dimension: str
    grade_bands: list[str]
    status: str
    author: str
    stem: str
    rationale: str
    params: dict[str, Any]
    stimulus: str | None = None
    options: list[dict[str, str]] | None = None
    key: list[str] | None = None
    scoring: str | None = None
    parts: list[dict[str, Any]] | None = None
    score_map: list[int] | None = None
    rubric: list[dict[str, Any]] | None = None
    enemies: list[str] = field(default_factory=list)
    interaction: dict[str, Any] | None = None
    rule: dict[str, Any] | None = None

    @property
    def max_score(self) -> int:
        """Highest score K (1 for a dichotomous item)."""
        return item_max_score(self.type, self.scoring, self.score_map)

    def content(self) -> dict[str, Any]:
        """The versioned content (stimulus excluded: it is compared by version)."""
        return {name: getattr(self, name) for name in CONTENT_FIELDS}

    def metadata(self) -> dict[str, Any]:
        """The fields that change without a new version."""
        return {name: getattr(self, name) for name in METADATA_FIELDS}

    def to_document(self) -> dict[str, Any]:
        """The item in the canonical JSON format (fields in canonical order, unset ones left out)."""
        doc: dict[str, Any] = {}
        for name in ITEM_FIELDS:
            value = getattr(self, name)
            if value is None:
                continue
            doc[name] = value
        return doc


@dataclass(frozen=True)
class ValidatedBundle:
    """Stimuli and items that passed validation, in file order."""

    source: str
    stimuli: tuple[StimulusSpec, ...]
    items: tuple[ItemSpec, ...]


def item_max_score(type_: str, scoring: str | None, score_map: Sequence[int] | None) -> int:
    """Highest score of an item by its type (1; 2 for multiple response scored partial; ``score_map[-1]``)."""
    kind = REGISTRY.get(type_)
    return 1 if kind is None else kind.max_score(scoring, score_map)


# ============================================================================================ validation
def validate_bundle(
    raw: RawBundle, context: BankContext, *, max_problems: int = DEFAULT_LIMITS.max_problems
) -> ValidatedBundle:
    """Check every stimulus and item of ``raw``; return them normalised or raise with the problems.

    Raises
    ------
    ValidationReport
        With the first ``max_problems`` problems of the file in file order (reading problems
        included), each with its location, and the count of the rest.
    """
    problems: list[Problem] = list(raw.problems)
    stimuli: list[StimulusSpec] = []
    seen_stimuli: dict[str, str] = {}
    for draft in raw.stimuli:
        checker = _Record(draft.origin, problems, draft.reported)
        spec = checker.stimulus(draft.data)
        if spec is None:
            continue
        if spec.code in seen_stimuli:
            problems.append(
                Problem(
                    draft.origin.at("code"),
                    f"duplicate stimulus code {spec.code!r} (first at {seen_stimuli[spec.code]})",
                )
            )
            continue
        seen_stimuli[spec.code] = draft.origin.at()
        stimuli.append(spec)

    item_codes = {_code_of(d) for d in raw.items} | set(context.items)
    stimulus_codes = set(seen_stimuli) | set(context.stimuli)
    items: list[ItemSpec] = []
    seen_items: dict[str, str] = {}
    for draft in raw.items:
        checker = _Record(draft.origin, problems, draft.reported)
        item = checker.item(draft.data, context.framework, stimulus_codes, item_codes)
        code = _code_of(draft)
        if code:
            if code in seen_items:
                problems.append(
                    Problem(draft.origin.at("code"), f"duplicate item code {code!r} (first at {seen_items[code]})")
                )
                continue
            seen_items[code] = draft.origin.at()
        if item is not None:
            items.append(item)
    if not raw.stimuli and not raw.items and not raw.problems:
        problems.append(Problem("", "the file holds no items"))
    if problems:
        raise ValidationReport(raw.source, problems[:max_problems], more=max(0, len(problems) - max_problems))
    return ValidatedBundle(source=raw.source, stimuli=tuple(stimuli), items=tuple(items))


def _code_of(draft: Draft) -> str:
    code = draft.data.get("code") if isinstance(draft.data, Mapping) else None
    return code.strip() if isinstance(code, str) else ""


class _Record:
    """Checks one record, adding problems located by its origin."""

    def __init__(self, origin: Origin, problems: list[Problem], reported: frozenset[str] = frozenset()) -> None:
        self.origin = origin
        self.problems = problems
        self.reported = reported
        self.ok = True

    def add(self, fieldpath: str, message: str) -> None:
        self.ok = False
        if re.split(r"[.\[]", fieldpath, maxsplit=1)[0] not in self.reported:
            self.problems.append(Problem(self.origin.at(fieldpath), message))

    # -- primitives ---------------------------------------------------------------------------
    def characters(self, data: Any) -> None:
        """Report every text of ``data`` (at any depth) with a control character or over :data:`MAX_TEXT`.

        Tab and line ends are text; NUL and the other C0 controls, DEL and lone surrogates are not
        (PostgreSQL cannot store NUL, and no page should show any of them).
        """
        todo: list[tuple[Any, str]] = [(data, "")]
        while todo:
            value, path = todo.pop()
            if isinstance(value, Mapping):
                todo.extend((v, _join(path, str(k))) for k, v in value.items())
            elif isinstance(value, list):
                todo.extend((v, f"{path}[{i}]") for i, v in enumerate(value))
            elif isinstance(value, str):
                bad = _CONTROL.search(value)
                if bad is not None:
                    self.add(path, f"contains the control character U+{ord(bad.group()):04X}; remove it")
                elif len(value) > MAX_TEXT:
                    self.add(path, f"{len(value):,} characters, at most {MAX_TEXT:,}")

    def text(self, data: Mapping[str, Any], name: str, path: str | None = None) -> str:
        path = path or name
        value = data.get(name)
        if value is None:
            self.add(path, "missing required field")
            return ""
        if not isinstance(value, str):
            self.add(path, f"must be text, got {_kind(value)}")
            return ""
        if not value.strip():
            self.add(path, "must not be empty")
        return value.strip()

    def number(self, value: Any, path: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(path, f"must be a number, got {_show(value)}")
            return None
        if not math.isfinite(value):
            self.add(path, f"must be a finite number, got {value}")
            return None
        return float(value)

    def integer(self, value: Any, path: str) -> int | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(path, f"must be a whole number, got {_show(value)}")
            return None
        return value

    def listof(self, value: Any, path: str) -> list[Any] | None:
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {_kind(value)}")
            return None
        return value

    def fields(self, data: Mapping[str, Any], path: str, allowed: Sequence[str]) -> bool:
        if not isinstance(data, Mapping):
            self.add(path, f"must be an object, got {_kind(data)}")
            return False
        for name in data:
            if name not in allowed:
                self.add(_join(path, str(name)), f"unknown field (expected: {', '.join(allowed)})")
        return True

    def code(self, data: Mapping[str, Any]) -> str:
        code = self.text(data, "code")
        if code and not CODE_RE.match(code):
            self.add("code", f"{code!r} is not a valid code (letters, digits, '.', '-', '_'; at most 64)")
        return code

    # -- stimulus -----------------------------------------------------------------------------
    def stimulus(self, data: Mapping[str, Any]) -> StimulusSpec | None:
        if not self.fields(data, "", STIMULUS_FIELDS):
            return None
        self.characters(data)
        code = self.code(data)
        kind = self.text(data, "kind")
        if kind and not KIND_RE.match(kind):
            self.add("kind", f"{kind!r} is not a valid kind (lower-case letters, digits, '_', e.g. email, table)")
        spec = StimulusSpec(code=code, kind=kind, title=self.text(data, "title"), body=self.text(data, "body"))
        return spec if self.ok else None

    # -- item ---------------------------------------------------------------------------------
    def item(
        self,
        data: Mapping[str, Any],
        framework: FrameworkSpec,
        stimulus_codes: set[str],
        item_codes: set[str],
    ) -> ItemSpec | None:
        allowed = ITEM_FIELDS + (("dimension",) if self.origin.row is not None else ())
        if not self.fields(data, "", allowed):
            return None
        self.characters(data)
        for name in _REQUIRED:
            if name not in data or data[name] is None:
                self.add(name, "missing required field")
        code = self.code(data) if "code" in data else ""
        type_ = data.get("type")
        if type_ is not None and type_ not in ITEM_TYPES:
            self.add("type", f"unknown type {_show(type_)} (expected: {', '.join(ITEM_TYPES)})")
            type_ = None
        indicator, dimension = self.indicator(data, framework)
        bands = self.grade_bands(data, framework)
        status = data.get("status")
        if status is not None and status not in STATUSES:
            self.add("status", f"unknown status {_show(status)} (expected: {', '.join(STATUSES)})")
        author = self.text(data, "author") if "author" in data else ""
        stem = self.text(data, "stem") if "stem" in data else ""
        rationale = self.text(data, "rationale") if "rationale" in data else ""
        stimulus = None
        if data.get("stimulus") is not None:
            stimulus = self.text(data, "stimulus")
            if stimulus and stimulus not in stimulus_codes:
                self.add("stimulus", f"unknown stimulus {stimulus!r} (not in this file nor in the bank)")
        enemies = self.enemies(data, code, item_codes)

        content: dict[str, Any] = {}
        if isinstance(type_, str):
            kind = REGISTRY[type_]
            for name in sorted(kind.needs):
                if data.get(name) is None:
                    self.add(name, f"missing: {type_} items need {name!r}")
            for name in sorted(set(_TYPED_FIELDS) - kind.needs - kind.allows):
                if data.get(name) is not None:
                    self.add(name, f"{type_} items have no {name!r}")
            content, max_score = kind.validate(self, data)
            params = self.params(data.get("params"), max_score)
        else:
            params = None
        if not self.ok:
            return None
        assert isinstance(type_, str) and params is not None
        return ItemSpec(
            code=code,
            type=type_,
            indicator=indicator,
            dimension=dimension,
            grade_bands=bands,
            status=str(status),
            author=author,
            stem=stem,
            rationale=rationale,
            params=params,
            stimulus=stimulus,
            enemies=enemies,
            **{name: content.get(name) for name in _TYPED_FIELDS},
        )

    def indicator(self, data: Mapping[str, Any], framework: FrameworkSpec) -> tuple[str, str]:
        if data.get("indicator") is None:
            return "", ""
        code = self.text(data, "indicator")
        ind = framework.indicator(code)
        dims = ", ".join(d.code for d in framework.dimensions)
        dimension = data.get("dimension")
        if dimension is not None and (not isinstance(dimension, str) or framework.dimension(dimension) is None):
            self.add("dimension", f"unknown dimension {_show(dimension)} (framework {framework.code} has {dims})")
            dimension = None
        if ind is None:
            if not code:
                return "", ""
            prefix = code.split(".")[0]
            owner = framework.dimension(prefix)
            if owner is None:
                self.add(
                    "indicator",
                    f"unknown indicator {code!r}: no dimension {prefix!r} (framework {framework.code} has {dims})",
                )
            else:
                known = ", ".join(i.code for i in owner.indicators)
                self.add("indicator", f"unknown indicator {code!r} (dimension {owner.code} has {known})")
            return "", ""
        if isinstance(dimension, str) and dimension and dimension != ind.dimension:
            self.add(
                "dimension",
                f"dimension {dimension!r} does not match indicator {code} (which belongs to {ind.dimension})",
            )
        return ind.code, ind.dimension

    def grade_bands(self, data: Mapping[str, Any], framework: FrameworkSpec) -> list[str]:
        if data.get("grade_bands") is None:
            return []
        raw = self.listof(data["grade_bands"], "grade_bands")
        if raw is None:
            return []
        if not raw:
            self.add("grade_bands", "must name at least one grade band")
        known = framework.band_codes
        out: list[str] = []
        for i, band in enumerate(raw):
            if band not in known:
                self.add(f"grade_bands[{i}]", f"unknown grade band {_show(band)} (expected: {', '.join(known)})")
            elif band in out:
                self.add(f"grade_bands[{i}]", f"grade band {band!r} is listed twice")
            else:
                out.append(band)
        return sorted(out, key=known.index)

    def enemies(self, data: Mapping[str, Any], code: str, item_codes: set[str]) -> list[str]:
        if data.get("enemies") is None:
            return []
        raw = self.listof(data["enemies"], "enemies")
        out: list[str] = []
        for i, enemy in enumerate(raw or []):
            path = f"enemies[{i}]"
            if not isinstance(enemy, str) or not enemy.strip():
                self.add(path, f"must be an item code, got {_show(enemy)}")
            elif enemy == code:
                self.add(path, "an item cannot be its own enemy")
            elif enemy not in item_codes:
                self.add(path, f"enemy {enemy!r} is not an item in this file nor in the bank")
            elif enemy in out:
                self.add(path, f"enemy {enemy!r} is listed twice")
            else:
                out.append(enemy)
        return out

    def options(
        self, value: Any, path: str, *, minimum: int, maximum: int = 6, keys: str = OPTION_KEYS
    ) -> list[dict[str, str]] | None:
        """Entries ``{"key", "text"}`` keyed ``keys[0]``, ``keys[1]`` ... in order (options, targets)."""
        if value is None:
            return None
        raw = self.listof(value, path)
        if raw is None:
            return None
        if not minimum <= len(raw) <= maximum:
            self.add(path, f"needs {minimum} to {maximum} options, got {len(raw)}")
        out: list[dict[str, str]] = []
        for i, opt in enumerate(raw):
            opath = f"{path}[{i}]"
            if not self.fields(opt, opath, ("key", "text")):
                continue
            expected = keys[i] if i < len(keys) else "?"
            okey = opt.get("key")
            if okey != expected:
                self.add(
                    f"{opath}.key",
                    f"keys must be {', '.join(keys[:3])} ... in order: expected {expected!r}, got {_show(okey)}",
                )
            text = self.text(opt, "text", f"{opath}.text")
            out.append({"key": str(okey), "text": text})
        seen: dict[str, str] = {}
        for o in out:
            if o["text"] in seen:
                self.add(path, f"options {seen[o['text']]} and {o['key']} have the same text")
            elif o["text"]:
                seen[o["text"]] = o["key"]
        return out

    def key(self, value: Any, type_: str, options: list[dict[str, str]] | None) -> list[str] | None:
        raw = self.listof(value, "key")
        if raw is None:
            return None
        keys: list[str] = []
        for i, k in enumerate(raw):
            if not isinstance(k, str):
                self.add(f"key[{i}]", f"must be an option key, got {_show(k)}")
            elif k in keys:
                self.add(f"key[{i}]", f"key {k!r} is listed twice")
            else:
                keys.append(k)
        if type_ == "true_false":
            if len(raw) != 1 or keys[:1] not in (["T"], ["F"]):
                self.add("key", f'a true_false key is ["T"] or ["F"], got {_show(value)}')
            return keys
        if type_ == "single_choice" and len(raw) != 1:
            self.add("key", f"a single_choice item has exactly one key, got {len(raw)}")
        if type_ == "multiple_response" and len(raw) < 2:
            self.add("key", f"a multiple_response item has two or more keys, got {len(raw)}")
        if options is not None:
            valid = [o["key"] for o in options]
            for i, k in enumerate(keys):
                if k not in valid:
                    self.add(f"key[{i}]", f"key {k!r} is not among the options {', '.join(valid)}")
            keys.sort(key=lambda k: valid.index(k) if k in valid else len(valid))
        return keys

    def parts(self, value: Any) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        raw = self.listof(value, "parts")
        if raw is None:
            return None
        if not 2 <= len(raw) <= 5:
            self.add("parts", f"a partial_credit task has 2 to 5 parts, got {len(raw)}")
        out: list[dict[str, Any]] = []
        for i, part in enumerate(raw):
            path = f"parts[{i}]"
            if not self.fields(part, path, ("prompt", "options", "key")):
                continue
            prompt = self.text(part, "prompt", f"{path}.prompt")
            if part.get("options") is None:
                self.add(f"{path}.options", "missing required field")
            options = self.options(part.get("options"), f"{path}.options", minimum=2)
            key = part.get("key")
            if key is None:
                self.add(f"{path}.key", "missing required field")
            elif not isinstance(key, str):
                self.add(f"{path}.key", f"must be one option key (text), got {_show(key)}")
            elif options is not None and key not in [o["key"] for o in options]:
                valid = ", ".join(o["key"] for o in options)
                self.add(f"{path}.key", f"key {key!r} is not among the options {valid}")
            out.append({"prompt": prompt, "options": options or [], "key": key})
        return out

    def score_map(
        self, value: Any, units: int | None, what: str = "parts", *, minimum_top: int = 2
    ) -> list[int] | None:
        """A score per 0..``units`` units correct: starts at 0, steps of 0 or 1, ends at ``minimum_top`` or more."""
        if value is None:
            return None
        raw = self.listof(value, "score_map")
        if raw is None:
            return None
        scores = [self.integer(s, f"score_map[{i}]") for i, s in enumerate(raw)]
        if any(s is None for s in scores):
            return None
        out = [int(s) for s in scores if s is not None]
        if units is not None and len(out) != units + 1:
            name = "len(parts)+1" if what == "parts" else "n+1"
            self.add(
                "score_map",
                f"needs {name} = {units + 1} entries (a score for 0..{units} {what}"
                f"{' correct' if what == 'parts' else ''}), got {len(out)}",
            )
        if not out:
            return None
        if out[0] != 0:
            self.add("score_map[0]", f"must start at 0, got {out[0]}")
        for i in range(1, len(out)):
            if out[i] - out[i - 1] not in (0, 1):
                self.add(f"score_map[{i}]", f"steps must be 0 or 1: {out[i - 1]} -> {out[i]}")
        if out[-1] < minimum_top:
            self.add("score_map", f"the highest score must be at least {minimum_top}, got {out[-1]}")
        return out

    def string_list(self, value: Any, path: str, *, minimum: int, maximum: int) -> list[str] | None:
        """A list of ``minimum``..``maximum`` distinct non-empty texts (stripped)."""
        raw = self.listof(value, path) if value is not None else None
        if value is None:
            self.add(path, "missing required field")
        if raw is None:
            return None
        if not minimum <= len(raw) <= maximum:
            self.add(path, f"needs {minimum} to {maximum} entries, got {len(raw)}")
        out: list[str] = []
        for i, text in enumerate(raw):
            if not isinstance(text, str) or not text.strip():
                self.add(f"{path}[{i}]", f"must be non-empty text, got {_show(text)}")
            elif text.strip() in out:
                self.add(f"{path}[{i}]", f"{text.strip()!r} is listed twice")
            else:
                out.append(text.strip())
        return out

    def rubric(self, value: Any, max_score: int | None) -> list[dict[str, Any]] | None:
        raw = self.listof(value, "rubric")
        if raw is None:
            return None
        if max_score is not None and len(raw) != max_score + 1:
            self.add("rubric", f"needs one entry per score 0..{max_score} ({max_score + 1}), got {len(raw)}")
        out: list[dict[str, Any]] = []
        for i, entry in enumerate(raw):
            path = f"rubric[{i}]"
            if not self.fields(entry, path, ("score", "description")):
                continue
            score = self.integer(entry.get("score"), f"{path}.score") if "score" in entry else None
            if "score" not in entry:
                self.add(f"{path}.score", "missing required field")
            elif score is not None and score != i:
                self.add(f"{path}.score", f"rubric entries go 0, 1, 2 ... in order: expected {i}, got {score}")
            out.append(
                {
                    "score": score if score is not None else i,
                    "description": self.text(entry, "description", f"{path}.description"),
                }
            )
        return out

    def params(self, value: Any, max_score: int | None) -> dict[str, Any] | None:
        """Check provisional parameters; ``max_score`` is ``None`` when the item's own rules failed."""
        if value is None:
            return None
        if not self.fields(value, "params", ("model", "a", "b", "c")):
            return None
        for name in ("model", "a", "b"):
            if value.get(name) is None:
                self.add(f"params.{name}", "missing required field")
        model = value.get("model")
        dichotomous = max_score == 1
        allowed: tuple[str, ...] = _DICHOTOMOUS_MODELS if dichotomous else _POLYTOMOUS_MODELS
        if max_score is None:
            allowed = tuple(dict.fromkeys(_DICHOTOMOUS_MODELS + _POLYTOMOUS_MODELS))
        if model is not None:
            if not isinstance(model, str) or model.lower() not in allowed:
                kind = (
                    "any" if max_score is None else "a dichotomous" if dichotomous else f"a polytomous (0..{max_score})"
                )
                self.add(
                    "params.model",
                    f"model {_show(model)} does not fit {kind} item (expected: {', '.join(allowed)})",
                )
                model = None
            else:
                model = model.lower()
        a = self.number(value["a"], "params.a") if value.get("a") is not None else None
        lo, hi = _PARAM_LIMITS["a"]
        if a is not None and not lo < a <= hi:
            self.add("params.a", f"slope a must lie in ({lo}, {hi}], got {a}")
        b: list[float] = []
        if value.get("b") is not None:
            raw_b = value["b"]
            if isinstance(raw_b, int | float) and not isinstance(raw_b, bool):
                raw_b = [raw_b]
            blist = self.listof(raw_b, "params.b")
            for i, x in enumerate(blist or []):
                bx = self.number(x, f"params.b[{i}]")
                lo, hi = _PARAM_LIMITS["b"]
                if bx is not None and not lo <= bx <= hi:
                    self.add(f"params.b[{i}]", f"difficulty must lie in [{lo}, {hi}], got {bx}")
                if bx is not None:
                    b.append(bx)
            if blist is not None and max_score is not None and len(blist) != max_score:
                what = "one difficulty" if dichotomous else f"{max_score} thresholds (max score {max_score})"
                self.add("params.b", f"needs {what}, got {len(blist)}")
            if model == "grm" and len(b) > 1 and any(y <= x for x, y in zip(b, b[1:], strict=False)):
                self.add("params.b", f"grm thresholds must be strictly increasing, got {b}")
        c = 0.0
        if value.get("c") is not None:
            cc = self.number(value["c"], "params.c")
            lo, hi = _PARAM_LIMITS["c"]
            if cc is not None and not lo <= cc <= hi:
                self.add("params.c", f"lower asymptote c must lie in [{lo}, {hi}], got {cc}")
            if cc is not None and cc != 0 and model is not None and model != "3pl":
                self.add("params.c", f"model {model} has no lower asymptote: c must be 0, got {cc}")
            c = cc if cc is not None else 0.0
        if not self.ok or model is None or a is None:
            return None
        return {"model": model, "a": a, "b": b, "c": c}


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return "text"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nothing"
    return _kind(value) if isinstance(value, Mapping | list) else repr(value)
