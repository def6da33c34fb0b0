"""The indicator framework (评价指标体系): read and validate a framework file.

A framework is data, not code: dimensions with sub-indicators (each cross-tagged to the
curriculum's core literacies) and grade bands, in a TOML or JSON file. The default ships as
``itembank/frameworks/default.toml``; a province may ship its own in the same shape and load it
with ``infolit framework load FILE``.

This module is pure (no database): :func:`read_framework` turns a file into a validated
:class:`FrameworkSpec` or raises :class:`~itembank.exceptions.FrameworkError` listing every
problem with the path inside the file (``dimensions[2].indicators[0].literacies[1]``).
Storing a framework is :func:`itembank.services.load_framework`.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from itembank.exceptions import FrameworkError, Problem

__all__ = [
    "DEFAULT_FRAMEWORK",
    "DimensionSpec",
    "FrameworkSpec",
    "GradeBandSpec",
    "IndicatorSpec",
    "LiteracySpec",
    "default_framework",
    "parse_framework",
    "read_framework",
]

DEFAULT_FRAMEWORK = Path(__file__).with_name("frameworks") / "default.toml"
"""The framework InfoLit ships with (four dimensions, grade bands 3-4, 5-6, 7-9, 10-12 with their cut scores)."""

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# ---------------------------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class LiteracySpec:
    """A core literacy of the curriculum (e.g. ``L2`` 计算思维 computational thinking)."""

    code: str
    name: str
    name_en: str


@dataclass(frozen=True)
class GradeBandSpec:
    """A grade band (e.g. ``7-9``), the school grades it covers and its level cut scores.

    ``cuts`` are the three scale scores (500 + 100 z) between the four proficiency levels,
    ascending; ``None`` when the file gives none (:func:`assess.scales.cut_scores_for_band` then
    derives them from the default framework's bands).
    """

    code: str
    name: str
    grades: tuple[int, ...]
    cuts: tuple[float, float, float] | None = None


@dataclass(frozen=True)
class IndicatorSpec:
    """A sub-indicator (e.g. ``D2.3`` 算法与计算思维), tagged with literacy codes."""

    code: str
    name: str
    name_en: str
    description: str
    literacies: tuple[str, ...]
    dimension: str


@dataclass(frozen=True)
class DimensionSpec:
    """A dimension (e.g. ``D2`` 信息科学知识) and its sub-indicators, in order."""

    code: str
    name: str
    name_en: str
    description: str
    indicators: tuple[IndicatorSpec, ...]


@dataclass(frozen=True)
class FrameworkSpec:
    """A validated framework.

    Attributes
    ----------
    code, version
        Identify the framework (``infolit-default``, ``1.0``).
    name, name_en, description
        Title in Chinese, its English gloss, an optional description.
    literacies, grade_bands, dimensions
        The parts, in file order.
    source
        The file it was read from (for messages).
    """

    code: str
    version: str
    name: str
    name_en: str
    description: str
    literacies: tuple[LiteracySpec, ...]
    grade_bands: tuple[GradeBandSpec, ...]
    dimensions: tuple[DimensionSpec, ...]
    source: str = ""

    @property
    def indicators(self) -> tuple[IndicatorSpec, ...]:
        """Every sub-indicator, dimension by dimension."""
        return tuple(ind for dim in self.dimensions for ind in dim.indicators)

    @property
    def band_codes(self) -> tuple[str, ...]:
        """Grade-band codes in order."""
        return tuple(b.code for b in self.grade_bands)

    def band(self, code: str) -> GradeBandSpec | None:
        """The grade band with ``code``, or ``None``."""
        return next((b for b in self.grade_bands if b.code == code), None)

    def band_for_grade(self, grade: int) -> GradeBandSpec | None:
        """The grade band that covers school grade ``grade``, or ``None`` (a grade is in one band at most)."""
        return next((b for b in self.grade_bands if int(grade) in b.grades), None)

    def indicator(self, code: str) -> IndicatorSpec | None:
        """The sub-indicator with ``code``, or ``None``."""
        return next((i for i in self.indicators if i.code == code), None)

    def dimension(self, code: str) -> DimensionSpec | None:
        """The dimension with ``code``, or ``None``."""
        return next((d for d in self.dimensions if d.code == code), None)

    def literacy(self, code: str) -> LiteracySpec | None:
        """The literacy with ``code``, or ``None``."""
        return next((lit for lit in self.literacies if lit.code == code), None)

    def to_document(self) -> dict[str, Any]:
        """The framework as a JSON-ready document (the shape of the file; parses back unchanged)."""
        return {
            "code": self.code,
            "version": self.version,
            "name": self.name,
            "name_en": self.name_en,
            "description": self.description,
            "literacies": [{"code": x.code, "name": x.name, "name_en": x.name_en} for x in self.literacies],
            "grade_bands": [_band_document(b) for b in self.grade_bands],
            "dimensions": [
                {
                    "code": d.code,
                    "name": d.name,
                    "name_en": d.name_en,
                    "description": d.description,
                    "indicators": [
                        {
                            "code": i.code,
                            "name": i.name,
                            "name_en": i.name_en,
                            "description": i.description,
                            "literacies": list(i.literacies),
                        }
                        for i in d.indicators
                    ],
                }
                for d in self.dimensions
            ],
        }


def _band_document(band: GradeBandSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"code": band.code, "name": band.name, "grades": list(band.grades)}
    if band.cuts is not None:
        doc["cuts"] = list(band.cuts)
    return doc


# ---------------------------------------------------------------------------------------------- reading
def read_framework(path: str | Path = DEFAULT_FRAMEWORK) -> FrameworkSpec:
    """Read and validate a framework file (``.toml`` or ``.json``, UTF-8).

    Raises
    ------
    FrameworkError
        Listing every problem, each with its path inside the file.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        raise FrameworkError(source, [Problem("", "YAML is not supported: write the framework as TOML or JSON")])
    if suffix not in {".toml", ".json"}:
        raise FrameworkError(source, [Problem("", f"unknown file type {suffix or '(none)'!r}: use .toml or .json")])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FrameworkError(source, [Problem("", f"cannot read the file: {exc.strerror or exc}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise FrameworkError(
            source,
            [Problem(f"line {line}", f"not valid UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8")],
        ) from None
    if not text.strip():
        raise FrameworkError(source, [Problem("", "the file is empty")])
    data: Any
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise FrameworkError(source, [Problem("", f"not valid TOML: {exc}")]) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FrameworkError(
                source, [Problem(f"line {exc.lineno} column {exc.colno}", f"not valid JSON: {exc.msg}")]
            ) from None
    return parse_framework(data, source=source)


@lru_cache(maxsize=1)
def default_framework() -> FrameworkSpec:
    """The framework InfoLit ships with (:data:`DEFAULT_FRAMEWORK`), read once per process."""
    return read_framework(DEFAULT_FRAMEWORK)


def parse_framework(data: Any, *, source: str = "<framework>") -> FrameworkSpec:
    """Validate a framework document (the parsed file) and return the spec.

    Raises
    ------
    FrameworkError
        Listing every problem, each with its path (``dimensions[0].indicators[2].code``).
    """
    checker = _Checker()
    spec = checker.framework(data)
    if checker.problems or spec is None:
        raise FrameworkError(source, checker.problems)
    return FrameworkSpec(
        code=spec.code,
        version=spec.version,
        name=spec.name,
        name_en=spec.name_en,
        description=spec.description,
        literacies=spec.literacies,
        grade_bands=spec.grade_bands,
        dimensions=spec.dimensions,
        source=source,
    )


# ---------------------------------------------------------------------------------------------- checks
def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


class _Checker:
    """Walks a document, collecting every problem with its path."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(Problem(path or "(top level)", message))

    # -- primitives
    def table(self, value: Any, path: str, required: set[str], optional: set[str]) -> Mapping[str, Any] | None:
        if not isinstance(value, Mapping):
            self.add(path, f"must be a table/object, got {_kind(value)}")
            return None
        for key in sorted(required - set(value)):
            self.add(_join(path, key), "missing required field")
        for key in sorted(set(value) - required - optional):
            self.add(_join(path, str(key)), f"unknown field (expected: {', '.join(sorted(required | optional))})")
        return value

    def text(self, table: Mapping[str, Any], key: str, path: str, *, required: bool = True) -> str:
        if key not in table:
            return ""
        value = table[key]
        if not isinstance(value, str):
            self.add(_join(path, key), f"must be a string, got {_kind(value)}")
            return ""
        if required and not value.strip():
            self.add(_join(path, key), "must not be empty")
        return value.strip()

    def code(self, table: Mapping[str, Any], path: str, seen: dict[str, str], what: str) -> str:
        value = self.text(table, "code", path)
        if value and not _CODE.match(value):
            self.add(_join(path, "code"), f"{value!r} is not a valid code (letters, digits, '.', '-', '_')")
        elif value:
            if value in seen:
                self.add(_join(path, "code"), f"duplicate {what} code {value!r} (first at {seen[value]})")
            else:
                seen[value] = _join(path, "code")
        return value

    def array(self, table: Mapping[str, Any], key: str, path: str) -> list[Any]:
        if key not in table:
            return []
        value = table[key]
        if not isinstance(value, list):
            self.add(_join(path, key), f"must be a list, got {_kind(value)}")
            return []
        if not value:
            self.add(_join(path, key), "must not be empty")
        return value

    # -- the document
    def framework(self, data: Any) -> FrameworkSpec | None:
        top = self.table(
            data,
            "",
            {"code", "version", "name", "name_en", "literacies", "grade_bands", "dimensions"},
            {"description"},
        )
        if top is None:
            return None
        codes: dict[str, str] = {}
        code = self.code(top, "", {}, "framework")
        literacies = tuple(self._literacies(top, codes))
        lit_codes = {x.code for x in literacies}
        bands = tuple(self._bands(top))
        dims = tuple(self._dimensions(top, lit_codes, codes))
        return FrameworkSpec(
            code=code,
            version=self.text(top, "version", ""),
            name=self.text(top, "name", ""),
            name_en=self.text(top, "name_en", ""),
            description=self.text(top, "description", "", required=False),
            literacies=literacies,
            grade_bands=bands,
            dimensions=dims,
        )

    def _literacies(self, top: Mapping[str, Any], codes: dict[str, str]) -> Iterator[LiteracySpec]:
        seen: dict[str, str] = {}
        for i, raw in enumerate(self.array(top, "literacies", "")):
            path = _join("literacies", i)
            t = self.table(raw, path, {"code", "name", "name_en"}, set())
            if t is None:
                continue
            yield LiteracySpec(
                self.code(t, path, seen, "literacy"),
                self.text(t, "name", path),
                self.text(t, "name_en", path),
            )

    def _bands(self, top: Mapping[str, Any]) -> Iterator[GradeBandSpec]:
        seen: dict[str, str] = {}
        band_of: dict[int, str] = {}  # grade -> the band that has it (a grade is in one band only)
        for i, raw in enumerate(self.array(top, "grade_bands", "")):
            path = _join("grade_bands", i)
            t = self.table(raw, path, {"code", "name", "grades"}, {"name_en", "cuts"})
            if t is None:
                continue
            code = self.code(t, path, seen, "grade band")
            grades: list[int] = []
            for j, g in enumerate(self.array(t, "grades", path)):
                gpath = _join(_join(path, "grades"), j)
                if not isinstance(g, int) or isinstance(g, bool) or not 1 <= g <= 13:
                    self.add(gpath, f"must be a school grade 1..13, got {g!r}")
                elif g in grades:
                    self.add(gpath, f"grade {g} is listed twice")
                elif g in band_of:
                    self.add(gpath, f"grade {g} is already in grade band {band_of[g]!r}")
                else:
                    grades.append(g)
                    band_of[g] = code or path
            yield GradeBandSpec(code, self.text(t, "name", path), tuple(grades), self._cuts(t, path))

    def _cuts(self, table: Mapping[str, Any], path: str) -> tuple[float, float, float] | None:
        if "cuts" not in table:
            return None
        raw = table["cuts"]
        cpath = _join(path, "cuts")
        numbers = isinstance(raw, list) and all(isinstance(x, int | float) and not isinstance(x, bool) for x in raw)
        if not numbers or len(raw) != 3:
            self.add(cpath, "must be three scale scores (the cuts between the four levels), e.g. [420, 490, 560]")
            return None
        cuts = (float(raw[0]), float(raw[1]), float(raw[2]))
        if not cuts[0] < cuts[1] < cuts[2]:
            self.add(cpath, f"must be ascending, got {list(raw)}")
            return None
        return cuts

    def _dimensions(
        self, top: Mapping[str, Any], lit_codes: set[str], codes: dict[str, str]
    ) -> Iterator[DimensionSpec]:
        for i, raw in enumerate(self.array(top, "dimensions", "")):
            path = _join("dimensions", i)
            t = self.table(raw, path, {"code", "name", "name_en", "indicators"}, {"description"})
            if t is None:
                continue
            code = self.code(t, path, codes, "dimension/indicator")
            indicators = []
            for j, iraw in enumerate(self.array(t, "indicators", path)):
                ipath = _join(_join(path, "indicators"), j)
                it = self.table(iraw, ipath, {"code", "name", "name_en", "literacies"}, {"description"})
                if it is None:
                    continue
                icode = self.code(it, ipath, codes, "dimension/indicator")
                tags: list[str] = []
                for k, lit in enumerate(self.array(it, "literacies", ipath)):
                    lpath = _join(_join(ipath, "literacies"), k)
                    if not isinstance(lit, str):
                        self.add(lpath, f"must be a literacy code (string), got {_kind(lit)}")
                    elif lit not in lit_codes:
                        known = ", ".join(sorted(lit_codes)) or "none defined"
                        self.add(lpath, f"unknown literacy {lit!r} (known: {known})")
                    elif lit in tags:
                        self.add(lpath, f"literacy {lit!r} is listed twice")
                    else:
                        tags.append(lit)
                indicators.append(
                    IndicatorSpec(
                        code=icode,
                        name=self.text(it, "name", ipath),
                        name_en=self.text(it, "name_en", ipath),
                        description=self.text(it, "description", ipath, required=False),
                        literacies=tuple(tags),
                        dimension=code,
                    )
                )
            yield DimensionSpec(
                code=code,
                name=self.text(t, "name", path),
                name_en=self.text(t, "name_en", path),
                description=self.text(t, "description", path, required=False),
                indicators=tuple(indicators),
            )


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "nothing"
    return type(value).__name__
