r"""School selection: systematic PPS within explicit strata, certainty schools, replacements.

Within each explicit stratum :math:`h` the eligible schools (some enrolment in a target grade)
are sorted by the design's implicit order, and :math:`n_h` are drawn with probability
proportional to their measure of size (MOS) by systematic sampling from a random start
(Cochran 1977, sec. 9A; the IEA and PISA procedure):

1. **Measure of size.** :math:`\mathrm{MOS}_i = \max(E_i, F_i)` with :math:`E_i` the enrolment of
   the target grades and :math:`F_i` the design's floor (by default the within-school take of
   the target grades the school has, e.g. one class of 40 per grade). A school smaller than the
   take is selected as though it had :math:`F_i` students, so its inclusion probability is never
   below :math:`n_h F_i / M_h` and its base weight never above :math:`M_h / (n_h F_i)`; its
   within-school weight is 1 (all its students). This bounds small schools' weights (PISA's rule
   for schools below the target cluster size) instead of grouping them.
2. **Certainty schools.** A school with :math:`n_h \mathrm{MOS}_i / M_h \ge 1` is taken with
   certainty and removed, :math:`n_h` and :math:`M_h` reduced, and the rule applied again until
   no school remains at or above one (iteratively, as WinW3S does).
3. **Systematic draw.** With :math:`k` schools left to draw from a total :math:`M'`, the interval
   is :math:`I = M'/k`, the start :math:`u \sim U(0, I)`, and the schools drawn are those whose
   cumulative-MOS range holds :math:`u, u + I, \ldots, u + (k-1) I`. Each school's inclusion
   probability is :math:`\pi_i = k\,\mathrm{MOS}_i / M'` exactly.
4. **Replacements.** The first replacement of a sampled school is the next school in the sort
   order, the second the one before, each only if it is neither sampled nor already a
   replacement (TIMSS's rule). A replacement's probability is computed as if it had been drawn.

A seed makes the draw reproducible: one ``numpy.random.default_rng(seed)`` stream, strata in the
order of their keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.sampling.design import SamplingDesign
from assess.sampling.exceptions import DesignError
from assess.sampling.frame import SchoolFrame
from itembank.exceptions import Problem

__all__ = [
    "ROLES",
    "SAMPLE_COLUMNS",
    "DrawnSample",
    "DrawnSchools",
    "allocate",
    "draw_sample",
    "measure_floors",
    "sample_rows",
    "sort_order",
    "stratum_keys",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
StrArray = npt.NDArray[np.str_]
ROLES: tuple[str, ...] = ("sampled", "replacement1", "replacement2")
"""A drawn school's role: sampled, or its first or second replacement."""


@dataclass(frozen=True, eq=False)
class DrawnSchools:
    """What the weights need of the drawn schools (one entry each): from a draw, or read back from the database.

    ``enrolment`` is (schools x target grades), the frame's enrolment of each target grade;
    ``stratum_enrolment`` the frame's target-grade enrolment of each stratum.
    """

    code: StrArray
    stratum: StrArray
    role: IntArray
    replaces: IntArray
    order: IntArray
    probability: FloatArray
    certainty: BoolArray
    enrolment: IntArray
    stratum_enrolment: Mapping[str, int]

    @property
    def n(self) -> int:
        """Schools drawn."""
        return int(self.code.size)


@dataclass(frozen=True, eq=False)
class DrawnSample:
    """The schools drawn (sampled and their replacements), one entry each, by stratum and sort order.

    ``index`` is the school's row in ``frame``'s columns; ``role`` indexes :data:`ROLES`;
    ``replaces`` the position (in this sample) of the school a replacement stands in for (``-1``);
    ``order`` the school's place in its stratum's sort order; ``probability`` its inclusion
    probability; ``allocation`` the schools sampled per stratum and ``stratum_enrolment`` the
    frame's target-grade enrolment per stratum (eligible schools).
    """

    design: SamplingDesign
    frame: SchoolFrame
    seed: int
    index: IntArray
    stratum: StrArray
    role: IntArray
    replaces: IntArray
    order: IntArray
    enrolment: IntArray
    measure: FloatArray
    probability: FloatArray
    certainty: BoolArray
    allocation: Mapping[str, int]
    stratum_enrolment: Mapping[str, int]

    @property
    def n(self) -> int:
        """Schools drawn (sampled and replacements)."""
        return int(self.index.size)

    @property
    def sampled(self) -> BoolArray:
        """Which drawn schools are sampled (not replacements)."""
        return np.asarray(self.role == 0, dtype=bool)

    def codes(self) -> StrArray:
        """The drawn schools' codes."""
        return self.frame.column("school_code")[self.index]

    def schools(self) -> DrawnSchools:
        """The drawn schools as the weights need them."""
        by_grade = np.stack([self.frame.enrolment[g][self.index] for g in self.design.grades], axis=1)
        return DrawnSchools(
            code=self.codes(), stratum=self.stratum, role=self.role, replaces=self.replaces, order=self.order,
            probability=self.probability, certainty=self.certainty, enrolment=by_grade.astype(np.int64),
            stratum_enrolment=self.stratum_enrolment,
        )  # fmt: skip


def stratum_keys(frame: SchoolFrame, by: tuple[str, ...]) -> StrArray:
    """Each school's explicit stratum: the values of ``by`` joined with ``/``."""
    parts = [frame.column(v) for v in by]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + "/" + p.astype(object)
    return np.asarray(out, dtype=np.str_)


def sort_order(frame: SchoolFrame, design: SamplingDesign, rows: IntArray) -> IntArray:
    """``rows`` (frame rows) in the design's implicit order; ties by school code."""
    enrol = frame.enrolled(design.grades)[rows]
    keys: list[npt.NDArray[np.generic]] = [frame.column("school_code")[rows]]
    for key in reversed(design.sort):
        name = key.lstrip("-")
        if name == "enrolment":
            values: IntArray = enrol.astype(np.int64)
        else:
            values = np.unique(frame.column(name)[rows], return_inverse=True)[1].astype(np.int64)
        keys.append(np.negative(values) if key.startswith("-") else values)
    return rows[np.lexsort(keys)]


def measure_floors(frame: SchoolFrame, design: SamplingDesign) -> IntArray:
    """Each school's measure-of-size floor: ``weights.min_measure``, else the take of its target grades."""
    if design.min_measure:
        return np.full(frame.n_schools, design.min_measure, dtype=np.int64)
    present = sum(((frame.enrolment[g] > 0).astype(np.int64) for g in design.grades if g in frame.enrolment),
                  np.zeros(frame.n_schools, dtype=np.int64))  # fmt: skip
    return np.asarray(design.within.take * present, dtype=np.int64)


def _largest_remainder(total: int, weight: FloatArray, cap: IntArray) -> IntArray:
    """Whole numbers summing to ``total`` (or to ``cap.sum()`` if smaller), proportional to ``weight``, each <= cap."""
    alloc = np.zeros(weight.size, dtype=np.int64)
    remaining = int(total)
    active = (cap > 0) & (weight > 0)
    while remaining > 0 and active.any():
        share = remaining * weight[active] / weight[active].sum()
        give = np.floor(share).astype(np.int64)
        left = remaining - int(give.sum())
        give[np.argsort(-(share - give), kind="stable")[:left]] += 1
        new = np.minimum(alloc[active] + give, cap[active])
        remaining -= int((new - alloc[active]).sum())
        alloc[active] = new
        active &= alloc < cap
    return alloc


def allocate(design: SamplingDesign, keys: list[str], measure: FloatArray, counts: IntArray) -> dict[str, int]:
    """Schools per stratum by the design's rule (see :mod:`assess.sampling.design`).

    ``keys`` are the strata, ``measure`` their total MOS, ``counts`` their eligible schools.

    Raises
    ------
    DesignError
        The design asks for more schools than a stratum or the frame has, names a stratum the
        frame lacks, or leaves out one it has.
    """
    problems: list[Problem] = []
    if design.allocation == "explicit":
        out: dict[str, int] = {}
        for k, c in zip(keys, counts.tolist(), strict=True):
            if k not in design.sizes:
                problems.append(
                    Problem(f"strata.sizes.{k}", f"the frame has this stratum ({c} schools); give its size")
                )
                continue
            n = design.sizes[k]
            if n > c:
                problems.append(Problem(f"strata.sizes.{k}", f"{n} schools asked, the frame has {c} eligible"))
            out[k] = min(n, c)
        for k in design.sizes:
            if k not in keys:
                problems.append(Problem(f"strata.sizes.{k}", "no eligible school of the frame is in this stratum"))
        if problems:
            raise DesignError("design", problems)
        return out
    total = design.schools
    if total > int(counts.sum()):
        raise DesignError(
            "design",
            (Problem("strata.schools", f"{total:,} schools asked, the frame has {int(counts.sum()):,} eligible"),),
        )
    floor = 2 if design.allocation == "proportional" else design.minimum
    low = np.minimum(floor, counts)
    if int(low.sum()) > total:
        raise DesignError(
            "design",
            (Problem("strata.schools", f"{len(keys)} strata x at least {floor} schools = {int(low.sum())} > {total}"),),
        )
    if design.allocation == "minimum":
        alloc = low + _largest_remainder(total - int(low.sum()), measure, counts - low)
    else:
        fixed = np.zeros(len(keys), dtype=bool)
        while True:
            alloc = np.where(fixed, low, 0)
            alloc[~fixed] = _largest_remainder(total - int(alloc[fixed].sum()), measure[~fixed], counts[~fixed])
            small = ~fixed & (alloc < low)
            if not small.any():
                break
            fixed |= small
        alloc = np.where(fixed, low, alloc)
    return {k: int(a) for k, a in zip(keys, alloc.tolist(), strict=True)}


def _draw_stratum(rng: np.random.Generator, mos: FloatArray, n: int) -> tuple[BoolArray, BoolArray, FloatArray]:
    """Systematic PPS of ``n`` of the schools (in sort order): sampled, certainty, probabilities."""
    size = mos.size
    certain = np.zeros(size, dtype=bool)
    if n >= size:
        return np.ones(size, dtype=bool), np.ones(size, dtype=bool), np.ones(size)
    while True:
        k = n - int(certain.sum())
        total = float(mos[~certain].sum())
        new = ~certain & (k * mos >= total)
        if k <= 0 or not new.any():
            break
        certain |= new
    k = n - int(certain.sum())
    prob = np.ones(size)
    rest = np.nonzero(~certain)[0]
    picked = certain.copy()
    if k > 0 and rest.size:
        total = float(mos[rest].sum())
        prob[rest] = k * mos[rest] / total
        interval = total / k
        points = rng.uniform(0.0, interval) + interval * np.arange(k)
        cum = np.cumsum(mos[rest])
        hit = np.minimum(np.searchsorted(cum, points, side="right"), rest.size - 1)
        picked[rest[hit]] = True
    return picked, certain, prob


def draw_sample(frame: SchoolFrame, design: SamplingDesign, *, seed: int | None = None) -> DrawnSample:
    """Draw the schools of ``design`` from ``frame`` (see the module docstring).

    ``seed`` (else the design's, else 0) starts the one random stream.

    Raises
    ------
    DesignError
        The design does not fit the frame (a stratum variable or grade it lacks, an allocation
        it cannot meet); every problem is listed.
    """
    problems = [
        Problem("grades", f"the frame has no enrolment column grade_{g}")
        for g in design.grades
        if g not in frame.enrolment
    ]
    if problems:
        raise DesignError("design", problems)
    seed = int(seed if seed is not None else (design.seed or 0))
    rng = np.random.default_rng(seed)
    enrol = frame.enrolled(design.grades)
    eligible = np.nonzero(enrol > 0)[0]
    if eligible.size == 0:
        raise DesignError("design", (Problem("grades", "no school of the frame enrols a target grade"),))
    strata = stratum_keys(frame, design.strata_by)
    mos_all = np.maximum(enrol, measure_floors(frame, design)).astype(np.float64)
    keys, inv = np.unique(strata[eligible], return_inverse=True)
    key_list = [str(k) for k in keys]
    totals: FloatArray = np.bincount(inv, weights=mos_all[eligible], minlength=keys.size).astype(np.float64)
    counts: IntArray = np.bincount(inv, minlength=keys.size).astype(np.int64)
    alloc = allocate(design, key_list, totals, counts)
    cols: dict[str, list[object]] = {k: [] for k in ("index", "stratum", "role", "replaces", "order", "prob", "cert")}
    stratum_enrol: dict[str, int] = {}
    for h, key in enumerate(key_list):
        rows = sort_order(frame, design, eligible[inv == h])
        stratum_enrol[key] = int(enrol[rows].sum())
        n = alloc.get(key, 0)
        if n == 0:
            continue
        mos = mos_all[rows]
        picked, certain, prob = _draw_stratum(rng, mos, n)
        taken = picked.copy()
        roles: dict[int, tuple[int, int]] = {int(p): (0, -1) for p in np.nonzero(picked)[0]}
        for p in np.nonzero(picked)[0].tolist():
            for r, step in ((1, 1), (2, -1))[: design.replacements]:
                q = p + step
                if 0 <= q < rows.size and not taken[q]:
                    taken[q] = True
                    roles[q] = (r, p)
        k = n - int(certain.sum())
        total_rest = float(mos[~certain].sum())
        base = len(cols["index"])
        pos_of = {q: base + i for i, q in enumerate(sorted(roles))}
        for q in sorted(roles):
            role, of = roles[q]
            cols["index"].append(int(rows[q]))
            cols["stratum"].append(key)
            cols["role"].append(role)
            cols["replaces"].append(pos_of[of] if of >= 0 else -1)
            cols["order"].append(q)
            cols["prob"].append(float(prob[q]) if role == 0 else min(1.0, k * float(mos[q]) / total_rest) if k else 1.0)
            cols["cert"].append(bool(certain[q]) and role == 0)
    index = np.asarray(cols["index"], dtype=np.int64)
    return DrawnSample(
        design=design,
        frame=frame,
        seed=seed,
        index=index,
        stratum=np.asarray(cols["stratum"], dtype=np.str_),
        role=np.asarray(cols["role"], dtype=np.int64),
        replaces=np.asarray(cols["replaces"], dtype=np.int64),
        order=np.asarray(cols["order"], dtype=np.int64),
        enrolment=enrol[index],
        measure=mos_all[index],
        probability=np.asarray(cols["prob"], dtype=np.float64),
        certainty=np.asarray(cols["cert"], dtype=bool),
        allocation=alloc,
        stratum_enrolment=stratum_enrol,
    )


SAMPLE_COLUMNS: tuple[str, ...] = (
    "stratum", "sort_position", "school_code", "school", "province_code", "city_code", "county_code", "region",
    "locale", "sector", "role", "replaces", "enrolment", "measure", "probability", "certainty", "base_weight",
    "instructions",
)  # fmt: skip
"""Columns of the sample list (``infolit sample draw --out``)."""


def sample_rows(sample: DrawnSample) -> list[tuple[object, ...]]:
    """The sample list: one row per drawn school (:data:`SAMPLE_COLUMNS`), by stratum and sort order."""
    f = sample.frame
    codes = sample.codes()
    text = sample.design.within.instructions()
    out: list[tuple[object, ...]] = []
    for i, row in enumerate(sample.index.tolist()):
        rep = int(sample.replaces[i])
        out.append(
            (
                str(sample.stratum[i]), int(sample.order[i]) + 1, str(codes[i]), str(f.column("school")[row]),
                str(f.column("province_code")[row]), str(f.column("city_code")[row]),
                str(f.column("county_code")[row]), str(f.column("region")[row]), str(f.column("locale")[row]),
                str(f.column("sector")[row]), ROLES[int(sample.role[i])], str(codes[rep]) if rep >= 0 else "",
                int(sample.enrolment[i]), round(float(sample.measure[i]), 3), round(float(sample.probability[i]), 8),
                "yes" if sample.certainty[i] else "", round(1.0 / float(sample.probability[i]), 6),
                text if sample.role[i] == 0 else f"仅在 {codes[rep]} 不参加时启用；{text}",
            )
        )  # fmt: skip
    return out
