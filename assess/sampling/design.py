"""The design file (TOML): target grades, strata and their sample sizes, sort order, within-school step.

An example (every key shown; ``docs``-style defaults in the comments)::

    name = "全国信息素养测评 2026"
    grades = [4, 8]                      # target grades
    seed = 20260901                      # optional; the CLI's --seed wins

    [strata]                             # explicit stratification
    by = ["region", "province_code", "locale"]
    allocation = "minimum"               # "proportional" | "minimum" | "explicit"
    schools = 700                        # total schools (proportional, minimum)
    minimum = 4                          # per stratum (minimum; at least 2 for the jackknife pairs)
    # sizes = { "东部/32/urban" = 12 }   # allocation = "explicit": one entry per stratum

    [implicit]
    sort = ["city_code", "county_code", "-enrolment"]   # implicit stratification

    [within]                             # the within-school step, per target grade
    mode = "classes"                     # "classes" | "students" | "all"
    classes = 1                          # intact classes per grade (mode = "classes")
    class_size = 40                      # expected class size (the small-school bound)
    students = 35                        # students per grade (mode = "students")

    [replacements]
    count = 2                            # 0, 1 or 2: neighbours in the sort order
    use = true                           # a participating replacement takes its school's place

    [weights]
    min_measure = 0                      # measure of size floor; 0: the within-school take
    trim = 4.0                           # cap on a final weight: trim x the stratum's median (0: none)

    [thresholds]
    school = 0.85                        # response rates below these are flagged
    student = 0.80
    school_participation = 0.50          # a school with fewer of its students assessed counts as not taking part

Allocation (the schools of a stratum are never more than its eligible schools):
``proportional`` gives each stratum its share of ``schools`` by measure of size (largest
remainders), with at least 2 per stratum; ``minimum`` gives every stratum ``minimum`` schools
first and shares the rest proportionally, so small western provinces still get usable estimates;
``explicit`` takes ``sizes`` as given.

Strata keys are the values of ``by`` joined with ``/`` (``东部/32/urban``); the sort keys are
frame columns, or ``enrolment`` (the target grades' total), ``-`` in front for descending.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from assess.sampling.exceptions import DesignError
from itembank.exceptions import Problem

__all__ = [
    "SORT_KEYS",
    "STRATUM_VARIABLES",
    "SamplingDesign",
    "WithinSchool",
    "parse_design",
    "read_design",
]

STRATUM_VARIABLES: tuple[str, ...] = ("region", "province_code", "city_code", "county_code", "locale", "sector")
"""Frame columns a design may stratify by."""
SORT_KEYS: tuple[str, ...] = (*STRATUM_VARIABLES, "school_code", "enrolment")
"""Keys of the implicit sort order (``-`` in front: descending)."""
MAX_DESIGN_BYTES = 1024 * 1024
Allocation = Literal["proportional", "minimum", "explicit"]
WithinMode = Literal["classes", "students", "all"]


@dataclass(frozen=True)
class WithinSchool:
    """The within-school step per target grade: intact classes, a number of students, or all."""

    mode: WithinMode = "classes"
    classes: int = 1
    class_size: int = 40
    students: int = 35

    @property
    def take(self) -> int:
        """Expected students per grade (``all``: 0, no bound)."""
        return {"classes": self.classes * self.class_size, "students": self.students, "all": 0}[self.mode]

    def instructions(self) -> str:
        """What a school does, in the words of the sample list."""
        if self.mode == "classes":
            return f"每个目标年级随机抽取 {self.classes} 个完整班级，班内学生全部参测"
        if self.mode == "students":
            return f"每个目标年级随机抽取 {self.students} 名学生（不足则全部参测）"
        return "目标年级全体学生参测"


@dataclass(frozen=True)
class SamplingDesign:
    """A checked design file (see the module docstring for every field)."""

    name: str
    grades: tuple[int, ...]
    strata_by: tuple[str, ...] = ("region",)
    allocation: Allocation = "proportional"
    schools: int = 0
    minimum: int = 2
    sizes: Mapping[str, int] = field(default_factory=dict)
    sort: tuple[str, ...] = ("county_code", "-enrolment")
    within: WithinSchool = field(default_factory=WithinSchool)
    replacements: int = 2
    use_replacements: bool = True
    min_measure: int = 0
    trim: float = 4.0
    school_threshold: float = 0.85
    student_threshold: float = 0.80
    school_participation: float = 0.50
    seed: int | None = None

    @property
    def measure_floor(self) -> int:
        """The measure-of-size floor of a school with every target grade.

        A school with fewer target grades gets the take of those it has
        (:func:`assess.sampling.select.measure_floors`).
        """
        return self.min_measure or self.within.take * len(self.grades)

    def to_toml(self) -> str:
        """The design as a TOML file :func:`parse_design` reads back to the same design."""

        def q(v: object) -> str:
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            if isinstance(v, list | tuple):
                return "[" + ", ".join(q(x) for x in v) + "]"
            return repr(v)

        lines = [f"name = {q(self.name)}", f"grades = {q(list(self.grades))}"]
        if self.seed is not None:
            lines.append(f"seed = {self.seed}")
        lines += ["", "[strata]", f"by = {q(list(self.strata_by))}", f"allocation = {q(self.allocation)}"]
        if self.allocation != "explicit":
            lines.append(f"schools = {self.schools}")
        if self.allocation == "minimum":
            lines.append(f"minimum = {self.minimum}")
        if self.allocation == "explicit":
            lines.append("sizes = { " + ", ".join(f"{q(k)} = {v}" for k, v in self.sizes.items()) + " }")
        w = self.within
        lines += ["", "[implicit]", f"sort = {q(list(self.sort))}", "", "[within]", f"mode = {q(w.mode)}"]
        lines += [f"classes = {w.classes}", f"class_size = {w.class_size}", f"students = {w.students}"]
        lines += ["", "[replacements]", f"count = {self.replacements}", f"use = {q(self.use_replacements)}"]
        lines += ["", "[weights]", f"min_measure = {self.min_measure}", f"trim = {self.trim!r}", "", "[thresholds]"]
        lines += [f"school = {self.school_threshold!r}", f"student = {self.student_threshold!r}"]
        lines.append(f"school_participation = {self.school_participation!r}")
        return "\n".join(lines) + "\n"


# ============================================================================================ parsing
def read_design(path: str | Path) -> SamplingDesign:
    """Read and check a design file.

    Raises
    ------
    DesignError
        Every problem of the file, each named by its key (``strata.minimum``).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_DESIGN_BYTES:
            raise DesignError(str(path), (Problem("", f"the file is {size:,} bytes; a design file is at most 1 MiB"),))
        raw = path.read_bytes()
    except OSError as exc:
        raise DesignError(str(path), (Problem("", f"cannot read the file: {exc.strerror or exc}"),)) from None
    return parse_design(raw, source=str(path))


class _Reader:
    """Typed look-ups in a TOML table that note every problem and every key it does not know."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def table(self, doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = doc.get(key, {})
        if not isinstance(value, dict):
            self.problems.append(Problem(key, "must be a table ([" + key + "])"))
            return {}
        return value

    def unknown(self, doc: Mapping[str, Any], prefix: str, known: set[str]) -> None:
        for k in doc:
            if k not in known:
                where = f"{prefix}.{k}" if prefix else k
                self.problems.append(Problem(where, f"unknown key (known: {', '.join(sorted(known))})"))

    def integer(self, doc: Mapping[str, Any], key: str, where: str, default: int, low: int, high: int) -> int:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.problems.append(Problem(where, f"must be a whole number, got {value!r}"))
            return default
        if not low <= value <= high:
            self.problems.append(Problem(where, f"must lie between {low:,} and {high:,}, got {value:,}"))
            return default
        return value

    def number(self, doc: Mapping[str, Any], key: str, where: str, default: float, low: float, high: float) -> float:
        value = doc.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            self.problems.append(Problem(where, f"must be a number, got {value!r}"))
            return default
        if not low <= value <= high:
            self.problems.append(Problem(where, f"must lie between {low} and {high}, got {value}"))
            return default
        return float(value)

    def choice(self, doc: Mapping[str, Any], key: str, where: str, default: str, choices: tuple[str, ...]) -> str:
        value = doc.get(key, default)
        if value not in choices:
            self.problems.append(Problem(where, f"must be one of {', '.join(choices)}, got {value!r}"))
            return default
        return str(value)

    def names(self, doc: Mapping[str, Any], key: str, where: str, default: tuple[str, ...], allowed: tuple[str, ...],
              *, signed: bool = False) -> tuple[str, ...]:  # fmt: skip
        value = doc.get(key, list(default))
        if not isinstance(value, list) or not value:
            self.problems.append(Problem(where, f"must be a non-empty list of names ({', '.join(allowed)})"))
            return default
        out: list[str] = []
        for i, v in enumerate(value):
            name = v[1:] if signed and isinstance(v, str) and v.startswith("-") else v
            if not isinstance(v, str) or name not in allowed:
                self.problems.append(Problem(f"{where}[{i}]", f"{v!r} is not one of {', '.join(allowed)}"))
            elif name in {x.lstrip("-") for x in out}:
                self.problems.append(Problem(f"{where}[{i}]", f"{name!r} appears twice"))
            else:
                out.append(v)
        return tuple(out) if out else default


def _load_toml(raw: bytes | str, source: str) -> dict[str, Any]:
    """The design's TOML as a table (at most 1 MiB of UTF-8), or a :class:`DesignError` naming why not."""
    if isinstance(raw, bytes):
        if len(raw) > MAX_DESIGN_BYTES:
            raise DesignError(source, (Problem("", "a design file is at most 1 MiB"),))
        try:
            raw = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DesignError(
                source, (Problem("", f"not UTF-8 text (byte offset {exc.start}): save it as UTF-8"),)
            ) from None
    try:
        doc = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise DesignError(source, (Problem("", f"not valid TOML: {exc}"),)) from None
    except RecursionError:
        raise DesignError(source, (Problem("", "not valid TOML: nested too deeply"),)) from None
    return doc


def _read_grades(rd: _Reader, doc: dict[str, Any]) -> tuple[int, ...]:
    """``grades``: target grades 3 to 12, each once, sorted (grade 4 when the list is unusable)."""
    grades_raw = doc.get("grades")
    grades: tuple[int, ...] = (4,)
    if not isinstance(grades_raw, list) or not grades_raw:
        rd.problems.append(Problem("grades", "must be a non-empty list of target grades (3 to 12)"))
    else:
        ok = [g for g in grades_raw if isinstance(g, int) and not isinstance(g, bool) and 3 <= g <= 12]
        for i, g in enumerate(grades_raw):
            if g not in ok:
                rd.problems.append(Problem(f"grades[{i}]", f"{g!r} is not a grade from 3 to 12"))
        if len(set(ok)) != len(ok):
            rd.problems.append(Problem("grades", "a grade appears twice"))
        grades = tuple(sorted(set(ok))) or grades
    return grades


def _read_strata(rd: _Reader, doc: dict[str, Any]) -> tuple[tuple[str, ...], str, int, int, dict[str, int]]:
    """``[strata]``: the stratum variables, the allocation and its total, minimum or explicit sizes."""
    strata = rd.table(doc, "strata")
    rd.unknown(strata, "strata", {"by", "allocation", "schools", "minimum", "sizes"})
    by = rd.names(strata, "by", "strata.by", ("region",), STRATUM_VARIABLES)
    allocation = rd.choice(strata, "allocation", "strata.allocation", "proportional",
                           ("proportional", "minimum", "explicit"))  # fmt: skip
    schools = minimum = 0
    sizes: dict[str, int] = {}
    if allocation in ("proportional", "minimum"):
        if "schools" not in strata:
            rd.problems.append(
                Problem("strata.schools", f"allocation {allocation!r} needs the total number of schools")
            )
        schools = rd.integer(strata, "schools", "strata.schools", 2, 2, 1_000_000)
        if "sizes" in strata:
            rd.problems.append(Problem("strata.sizes", 'sizes are for allocation = "explicit"'))
    if allocation == "minimum":
        minimum = rd.integer(strata, "minimum", "strata.minimum", 2, 2, 10_000)
    elif "minimum" in strata:
        rd.problems.append(Problem("strata.minimum", 'minimum is for allocation = "minimum"'))
    if allocation == "explicit":
        given = strata.get("sizes")
        if not isinstance(given, dict) or not given:
            rd.problems.append(Problem("strata.sizes", 'allocation "explicit" needs a table of stratum = schools'))
        else:
            for key in given:
                n = rd.integer(given, key, f"strata.sizes.{key}", 0, 0, 100_000)
                if n == 1:
                    rd.problems.append(
                        Problem(f"strata.sizes.{key}", "a stratum needs 0 or at least 2 schools (pairs)")
                    )
                if key.count("/") != len(by) - 1:
                    rd.problems.append(
                        Problem(f"strata.sizes.{key}", f"a stratum key has {len(by)} parts ({'/'.join(by)})")
                    )
                sizes[key] = n
        if "schools" in strata:
            rd.problems.append(Problem("strata.schools", "with explicit sizes the total is their sum; leave it out"))
    return by, allocation, schools, minimum, sizes


def parse_design(raw: bytes | str, *, source: str = "<design>") -> SamplingDesign:
    """Check a design given as TOML text (see the module docstring).

    Raises
    ------
    DesignError
        Every problem, each named by its key.
    """
    doc = _load_toml(raw, source)
    rd = _Reader()
    rd.unknown(
        doc, "", {"name", "grades", "seed", "strata", "implicit", "within", "replacements", "weights", "thresholds"}
    )
    name = doc.get("name", "")
    if not isinstance(name, str) or not name.strip() or len(name) > 128:
        rd.problems.append(Problem("name", "must be a name of 1 to 128 characters"))
        name = "design"
    grades = _read_grades(rd, doc)
    seed: int | None = None
    if "seed" in doc:
        seed = rd.integer(doc, "seed", "seed", 0, 0, 2**63 - 1)
    by, allocation, schools, minimum, sizes = _read_strata(rd, doc)
    implicit = rd.table(doc, "implicit")
    rd.unknown(implicit, "implicit", {"sort"})
    sort = rd.names(implicit, "sort", "implicit.sort", ("county_code", "-enrolment"), SORT_KEYS, signed=True)
    within_doc = rd.table(doc, "within")
    rd.unknown(within_doc, "within", {"mode", "classes", "class_size", "students"})
    within = WithinSchool(
        mode=rd.choice(within_doc, "mode", "within.mode", "classes", ("classes", "students", "all")),  # type: ignore[arg-type]
        classes=rd.integer(within_doc, "classes", "within.classes", 1, 1, 20),
        class_size=rd.integer(within_doc, "class_size", "within.class_size", 40, 1, 200),
        students=rd.integer(within_doc, "students", "within.students", 35, 1, 5_000),
    )
    repl = rd.table(doc, "replacements")
    rd.unknown(repl, "replacements", {"count", "use"})
    count = rd.integer(repl, "count", "replacements.count", 2, 0, 2)
    use = repl.get("use", True)
    if not isinstance(use, bool):
        rd.problems.append(Problem("replacements.use", f"must be true or false, got {use!r}"))
        use = True
    wt = rd.table(doc, "weights")
    rd.unknown(wt, "weights", {"min_measure", "trim"})
    min_measure = rd.integer(wt, "min_measure", "weights.min_measure", 0, 0, 100_000)
    trim = rd.number(wt, "trim", "weights.trim", 4.0, 0.0, 1000.0)
    if 0 < trim < 1.5:
        rd.problems.append(
            Problem("weights.trim", "a cap below 1.5 x the median would trim ordinary weights; use 0 for none")
        )
    th = rd.table(doc, "thresholds")
    rd.unknown(th, "thresholds", {"school", "student", "school_participation"})
    design = SamplingDesign(
        name=name.strip(),
        grades=grades,
        strata_by=by,
        allocation=allocation,  # type: ignore[arg-type]
        schools=schools,
        minimum=minimum or 2,
        sizes=sizes,
        sort=sort,
        within=within,
        replacements=count,
        use_replacements=use,
        min_measure=min_measure,
        trim=trim,
        school_threshold=rd.number(th, "school", "thresholds.school", 0.85, 0.0, 1.0),
        student_threshold=rd.number(th, "student", "thresholds.student", 0.80, 0.0, 1.0),
        school_participation=rd.number(th, "school_participation", "thresholds.school_participation", 0.5, 0.0, 1.0),
        seed=seed,
    )
    if rd.problems:
        raise DesignError(source, rd.problems)
    return design
