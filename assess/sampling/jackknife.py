r"""Jackknife zones and replicate weights: IEA's paired jackknife (JK2) from the sort order.

The schools that stand in the sample (:attr:`assess.sampling.weights.SampleWeights.used`) are
taken stratum by stratum in the sort order of the draw and paired as they come: schools 1 and 2
form zone 1, schools 3 and 4 zone 2, and so on; neighbours in the sort order were drawn from
neighbouring intervals of the systematic draw, so each pair is a stratum of two units. Within
each pair one school at random is half 1, the other half 0 (IEA's JKREP). A stratum with an odd
number of schools puts its last one in its last zone (a triple, its half drawn at random); a
stratum with a single school adds it to the zone before it (across the stratum boundary, as
collapsed strata are). A certainty school is a stratum of its own whose students are the
sampled units: it is one zone, its students split at random into the two halves.

A replicate doubles the weights of one half of one zone and zeroes the other (the "full" JK2 of
TIMSS 2015 onwards and ICILS makes both replicates of every zone; the variance is
:math:`\tfrac12 \sum_r (t_r - t)^2`). :func:`replicate_design` hands the zones to
:meth:`scoring.survey.ReplicateDesign.jk2`, the engine every report uses. Unlike TIMSS, the
zones are not capped at 75: the engine sums by unit, so 350 zones (700 replicates) cost little.

Reference: Foy, P. & LaRoche, S. (2020). Estimating standard errors in the TIMSS 2019 results,
ch. 14 of *Methods and Procedures: TIMSS 2019 Technical Report*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from assess.sampling.select import DrawnSchools
from scoring.survey import ReplicateDesign

__all__ = ["JackknifeZones", "form_zones", "replicate_design"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class JackknifeZones:
    """Zones and halves of the schools and of the students.

    Schools: ``-1`` where not used; a certainty school's half is ``-1`` (its students are split).
    Students: ``-1`` in no zone (a student of a school not used, whose weight is zero).
    """

    school_zone: IntArray
    school_half: IntArray
    zone: IntArray
    half: IntArray

    @property
    def n_zones(self) -> int:
        """Zones formed."""
        return int(self.zone.max()) + 1 if self.zone.size and self.zone.max() >= 0 else 0


def form_zones(schools: DrawnSchools, used: BoolArray, student_school: IntArray, *, seed: int = 0) -> JackknifeZones:
    """Pair the used schools into JK2 zones (see the module docstring); ``seed`` draws the halves."""
    rng = np.random.default_rng(seed)
    zone = np.full(schools.n, -1, dtype=np.int64)
    half = np.full(schools.n, -1, dtype=np.int64)
    groups: list[list[int]] = []
    carry: list[int] = []
    cert_zone: dict[int, int] = {}
    order = np.lexsort((schools.order, schools.stratum))
    strata = [str(s) for s in schools.stratum[order]]
    by_stratum: dict[str, list[int]] = {}
    for i, key in zip(order.tolist(), strata, strict=True):
        if used[i]:
            by_stratum.setdefault(key, []).append(int(i))
    for key in sorted(by_stratum):
        members = [i for i in by_stratum[key] if not schools.certainty[i]]
        for i in by_stratum[key]:
            if schools.certainty[i]:
                cert_zone[i] = len(groups)
                groups.append([i])
        members = carry + members
        carry = []
        if len(members) <= 1:
            carry = members
            continue
        for k in range(0, len(members) - 1, 2):
            groups.append(members[k : k + 2])
        if len(members) % 2:
            groups[-1].append(members[-1])
    if carry:
        last = next((g for g in reversed(groups) if g[0] not in cert_zone), None)
        if last is not None:
            last.append(carry[0])
    for z, members in enumerate(groups):
        if members[0] in cert_zone:
            zone[members[0]] = z
            continue
        halves = rng.permutation(2).tolist() + rng.integers(0, 2, size=len(members) - 2).tolist()
        for i, h in zip(members, halves, strict=True):
            zone[i], half[i] = z, int(h)
    s = np.asarray(student_school, dtype=np.int64)
    st_zone = zone[s].copy() if s.size else np.zeros(0, dtype=np.int64)
    st_half = half[s].copy() if s.size else np.zeros(0, dtype=np.int64)
    for i, z in cert_zone.items():
        mine = np.nonzero(s == i)[0]
        perm = rng.permutation(mine)
        st_half[perm] = np.arange(perm.size) % 2
        st_zone[mine] = z
    return JackknifeZones(zone, half, st_zone, st_half)


def replicate_design(
    weights: npt.ArrayLike,
    zones: JackknifeZones,
    student_school: npt.ArrayLike,
    *,
    variant: Literal["full", "half"] = "full",
) -> ReplicateDesign:
    """The JK2 replicate design of the students from their final weights, zones and halves.

    Students in no zone keep their weight in every replicate (it is zero: not in a used school).
    """
    return ReplicateDesign.jk2(
        zones.zone, np.maximum(zones.half, 0), weights=weights, schools=np.asarray(student_school), variant=variant
    )
