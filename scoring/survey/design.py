r"""Replicate-weight sample designs: IEA JK2 (full and half), JKn, Fay's BRR, school census, unweighted.

A :class:`ReplicateDesign` holds each student's final weight and its replicate weights. Every
design the large studies use perturbs weights at the level of a variance unit (a school, or the
half of a jackknife zone), so the replicate weights are stored as ``weights[i] * factors[units[i], r]``:
``units`` maps each student to a row of the (units x replicates) ``factors`` matrix. This is what
lets the engine (:mod:`scoring.survey.statistics`) sum once per (group, unit) and reach every
replicate with one small product instead of materialising a students x replicates matrix
(50,000 x 700 doubles would be 280 MB). Precomputed replicate weights (from a sampling frame) use
one unit per student.

The replicate variance of a statistic :math:`t` is

.. math:: v(t) = c \sum_{r=1}^{R} \rho_r\, (t_r - t)^2

with the overall factor :math:`c` (``scale``) and per-replicate factors :math:`\rho_r`
(``rscales``), centred on the full-sample estimate (``mse=True``, the IEA, PISA and EdSurvey
convention; R's ``svrepdesign(..., mse=TRUE)``) or on the mean of the replicates (``mse=False``).

References
----------
Foy, P. & LaRoche, S. (2020). Estimating standard errors in the TIMSS 2019 results. In *Methods
and Procedures: TIMSS 2019 Technical Report*, ch. 14 (JK2, full and half). Judkins, D. R. (1990).
Fay's method for variance estimation. *Journal of Official Statistics*, 6, 223-239. OECD (2009).
*PISA Data Analysis Manual*, ch. 4 (Fay's BRR, k = 0.5). Wolter, K. M. (2007). *Introduction to
Variance Estimation*, 2nd ed., ch. 4 (JKn). Lumley, T. (2010). *Complex Surveys*, sec. 2.8.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError, ParameterError

__all__ = ["ReplicateDesign"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DesignMethod = Literal["jk2-full", "jk2-half", "jkn", "fay-brr", "census", "replicates"]


def _codes(values: npt.ArrayLike, n: int, name: str) -> tuple[IntArray, npt.NDArray[np.generic]]:
    """Integer codes 0..k-1 of a label column, and the sorted distinct labels."""
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise DataError(f"{name} must have one value per student ({n}), got shape {arr.shape}")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise DataError(f"{name} has missing values (row {int(np.argmax(np.isnan(arr)))})")
    labels, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int64).reshape(-1), labels


def _weights(weights: npt.ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,):
        raise DataError(f"weights must have one value per student ({n}), got shape {w.shape}")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"weight of student {i} is {w[i]!r}; weights must be finite and non-negative")
    return w


def _length(*columns: npt.ArrayLike | None) -> int:
    for col in columns:
        if col is not None:
            return int(np.asarray(col).shape[0])
    raise DataError("a design needs at least one column (weights, schools, zones or strata)")


def _readonly(a: npt.NDArray[np.generic]) -> None:
    a.setflags(write=False)


@dataclass(frozen=True)
class ReplicateDesign:
    r"""Final weights and replicate weights of a sample, with the factors of the replicate variance.

    Build one with a class method (:meth:`jk2`, :meth:`jkn`, :meth:`fay_brr`, :meth:`census`,
    :meth:`from_replicate_weights`); the constructor takes the stored form.

    Parameters
    ----------
    weights
        Final (full-sample) weight of each student, shape ``(n,)``; all ones for an unweighted sample.
    units
        Variance unit of each student, shape ``(n,)``: a row index into ``factors``.
    factors
        Replicate factor of each unit in each replicate, shape ``(n_units, R)``; student ``i``'s
        weight in replicate ``r`` is ``weights[i] * factors[units[i], r]``.
    scale
        Overall factor :math:`c` of the replicate variance.
    rscales
        Per-replicate factors :math:`\rho_r`, shape ``(R,)``.
    method
        Which design this is (for the methods note): ``"jk2-full"``, ``"jk2-half"``, ``"jkn"``,
        ``"fay-brr"``, ``"census"`` or ``"replicates"`` (precomputed replicate weights).
    schools
        School code of each student (``-1`` = unknown), used to count schools per group and for the
        between-school variance.
    mse
        Centre the squared deviations on the full-sample estimate (True) or on the mean of the
        replicate estimates (False).
    """

    weights: FloatArray
    units: IntArray
    factors: FloatArray
    scale: float
    rscales: FloatArray
    method: DesignMethod
    schools: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    mse: bool = True

    def __post_init__(self) -> None:
        w = np.array(self.weights, dtype=np.float64)
        u = np.array(self.units, dtype=np.int64)
        f = np.array(self.factors, dtype=np.float64)
        rs = np.array(self.rscales, dtype=np.float64).reshape(-1)
        s = np.array(self.schools, dtype=np.int64)
        if s.size == 0:
            s = np.full(w.shape, -1, dtype=np.int64)
        if w.ndim != 1 or u.shape != w.shape or s.shape != w.shape:
            raise DataError("weights, units and schools must be 1-D arrays of one length")
        if f.ndim != 2 or rs.shape != (f.shape[1],):
            raise DataError(f"factors must be (units x replicates), rscales one per replicate: {f.shape}, {rs.shape}")
        if u.size and (u.min() < 0 or u.max() >= f.shape[0]):
            raise DataError("units must index rows of factors")
        if not np.all(np.isfinite(f)) or np.any(f < 0):
            raise DataError("replicate factors must be finite and non-negative")
        if not (np.isfinite(self.scale) and self.scale >= 0) or np.any(~np.isfinite(rs)) or np.any(rs < 0):
            raise ParameterError("scale and rscales must be finite and non-negative")
        for a in (w, u, f, rs, s):
            _readonly(a)
        object.__setattr__(self, "weights", w)
        object.__setattr__(self, "units", u)
        object.__setattr__(self, "factors", f)
        object.__setattr__(self, "rscales", rs)
        object.__setattr__(self, "schools", s)
        object.__setattr__(self, "scale", float(self.scale))

    # ------------------------------------------------------------------ shape
    @property
    def n_students(self) -> int:
        """Number of students (rows)."""
        return int(self.weights.size)

    @property
    def n_replicates(self) -> int:
        """Number of replicates R (0 in census mode)."""
        return int(self.factors.shape[1])

    def replicate_weights(self) -> FloatArray:
        """The replicate weights as a dense ``(n, R)`` matrix (for export and checks; the engine never needs it)."""
        return np.asarray(self.weights[:, None] * self.factors[self.units])

    def variance(self, estimate: npt.ArrayLike, replicates: npt.ArrayLike) -> FloatArray:
        r"""Replicate variance :math:`c \sum_r \rho_r (t_r - t)^2` of estimates ``(...)``, replicates ``(..., R)``."""
        t = np.asarray(estimate, dtype=np.float64)
        reps = np.asarray(replicates, dtype=np.float64)
        if reps.shape != (*t.shape, self.n_replicates):
            raise DataError(f"replicates have shape {reps.shape}; expected {(*t.shape, self.n_replicates)}")
        if self.n_replicates == 0:
            return np.zeros(t.shape)
        centre = t[..., None] if self.mse else reps.mean(axis=-1, keepdims=True)
        return np.asarray(self.scale * ((reps - centre) ** 2 * self.rscales).sum(axis=-1))

    def subset(self, keep: npt.ArrayLike) -> ReplicateDesign:
        """The design restricted to some students (a boolean mask or indices), replicate structure kept.

        Estimates for a domain are the same whether the domain is given as a group or as a subset,
        because replicate factors belong to units, not to rows (R's ``subset.svyrep.design``).
        """
        idx = np.arange(self.n_students)[np.asarray(keep)]
        return ReplicateDesign(
            self.weights[idx],
            self.units[idx],
            self.factors,
            self.scale,
            self.rscales,
            self.method,
            self.schools[idx],
            self.mse,
        )

    def without_sampling_variance(self) -> ReplicateDesign:
        """The same weights in census mode: no replicates, only the measurement (PV) variance remains."""
        return ReplicateDesign(
            self.weights, np.zeros(self.n_students, dtype=np.int64), np.ones((1, 0)), 0.0, np.zeros(0),
            "census", self.schools, self.mse,
        )  # fmt: skip

    # ------------------------------------------------------------------ constructors
    @classmethod
    def jk2(
        cls,
        zones: npt.ArrayLike,
        halves: npt.ArrayLike,
        *,
        weights: npt.ArrayLike | None = None,
        schools: npt.ArrayLike | None = None,
        variant: Literal["full", "half"] = "full",
        mse: bool = True,
    ) -> ReplicateDesign:
        r"""IEA's paired jackknife (JK2) from jackknife zones and replicate indicators.

        Parameters
        ----------
        zones
            Jackknife zone of each student (IEA's JKZONE); a negative zone means the student is in
            no zone (its weight is the same in every replicate).
        halves
            Replicate indicator of each student within its zone, 0 or 1 (IEA's JKREP).
        weights
            Final weights (ones when omitted: unweighted use).
        schools
            School code of each student (for school counts and the between-school share).
        variant
            ``"full"``: two replicates per zone, the first doubling the weights of half 1 and
            zeroing half 0, the second the reverse; :math:`v = \tfrac12 \sum_r (t_r - t)^2`
            (TIMSS and PIRLS since 2015, ICILS). ``"half"``: one replicate per zone (half 1
            doubled, half 0 zeroed); :math:`v = \sum_r (t_r - t)^2`.
        mse
            Centre on the full-sample estimate (default, as IEA does).
        """
        n = _length(zones, halves, weights, schools)
        w = _weights(weights, n)
        z = np.asarray(zones)
        h = np.asarray(halves)
        if z.shape != (n,) or h.shape != (n,):
            raise DataError(f"zones and halves must have one value per student ({n})")
        in_zone = z >= 0
        if not np.isin(h[in_zone], (0, 1)).all():
            raise DataError("halves (replicate indicators) must be 0 or 1 within a zone")
        zcode = np.full(n, -1, dtype=np.int64)
        zone_labels = np.unique(z[in_zone])
        zcode[in_zone] = np.searchsorted(zone_labels, z[in_zone])
        n_zones = int(zone_labels.size)
        if n_zones == 0:
            raise DataError("a JK2 design needs at least one jackknife zone")
        hv = np.where(in_zone, h, 0).astype(np.int64)
        units = np.where(in_zone, 2 * zcode + hv, 2 * n_zones)
        per_zone = 2 if variant == "full" else 1
        if variant not in ("full", "half"):
            raise ParameterError(f"variant must be 'full' or 'half', got {variant!r}")
        f = np.ones((2 * n_zones + 1, per_zone * n_zones))
        for zi in range(n_zones):
            r = per_zone * zi
            f[2 * zi + 1, r], f[2 * zi, r] = 2.0, 0.0
            if per_zone == 2:
                f[2 * zi, r + 1], f[2 * zi + 1, r + 1] = 2.0, 0.0
        s = _codes(schools, n, "schools")[0] if schools is not None else np.zeros(0, dtype=np.int64)
        return cls(
            w, units, f, 0.5 if variant == "full" else 1.0, np.ones(f.shape[1]),
            "jk2-full" if variant == "full" else "jk2-half", s, mse,
        )  # fmt: skip

    @classmethod
    def jkn(
        cls,
        schools: npt.ArrayLike,
        *,
        strata: npt.ArrayLike | None = None,
        weights: npt.ArrayLike | None = None,
        lonely: Literal["error", "certainty"] = "error",
        mse: bool = True,
    ) -> ReplicateDesign:
        r"""Delete-one-school jackknife within strata (JKn), for samples without jackknife zones.

        Replicate :math:`(h, j)` drops school :math:`j` of stratum :math:`h` and multiplies the
        weights of the other schools of :math:`h` by :math:`n_h / (n_h - 1)`; its factor is
        :math:`\rho = (n_h - 1) / n_h`, :math:`c = 1` (Wolter, 2007, sec. 4.5; R's ``JKn``).
        Replicates are ordered by stratum, then school code.

        Parameters
        ----------
        schools
            School (primary sampling unit) of each student. A school must lie in one stratum.
        strata
            Explicit stratum of each student; one stratum when omitted (delete-one-school JK1
            with factor (n - 1) / n).
        weights
            Final weights (ones when omitted).
        lonely
            A stratum with a single school has no within-stratum variance: ``"error"`` refuses the
            design, ``"certainty"`` treats that school as selected with certainty (no replicate).
        """
        n = _length(schools, strata, weights)
        w = _weights(weights, n)
        s_code, _ = _codes(schools, n, "schools")
        h_code = _codes(strata, n, "strata")[0] if strata is not None else np.zeros(n, dtype=np.int64)
        n_schools = int(s_code.max()) + 1 if n else 0
        school_stratum = np.full(n_schools, -1, dtype=np.int64)
        school_stratum[s_code] = h_code
        if np.any(school_stratum[s_code] != h_code):
            i = int(np.argmax(school_stratum[s_code] != h_code))
            raise DataError(f"school {np.asarray(schools)[i]!r} lies in more than one stratum")
        per_stratum = np.bincount(school_stratum, minlength=int(h_code.max()) + 1 if n else 0)
        lonely_strata = np.nonzero(per_stratum == 1)[0]
        if lonely_strata.size and lonely == "error":
            labels = np.unique(np.asarray(strata)) if strata is not None else np.array(["(all)"])
            raise DataError(
                f"stratum {labels[lonely_strata[0]]!r} has a single school; JKn needs two or more "
                "(pass lonely='certainty' to treat it as a certainty school)"
            )
        replicated = np.nonzero(per_stratum[school_stratum] > 1)[0]  # schools that get a replicate
        order = replicated[np.lexsort((replicated, school_stratum[replicated]))]
        f = np.ones((n_schools, order.size))
        rscales = np.empty(order.size)
        for r, j in enumerate(order.tolist()):
            h = school_stratum[j]
            nh = per_stratum[h]
            f[school_stratum == h, r] = nh / (nh - 1.0)
            f[j, r] = 0.0
            rscales[r] = (nh - 1.0) / nh
        return cls(w, s_code, f, 1.0, rscales, "jkn", s_code, mse)

    @classmethod
    def fay_brr(
        cls,
        strata: npt.ArrayLike,
        halves: npt.ArrayLike,
        *,
        weights: npt.ArrayLike | None = None,
        schools: npt.ArrayLike | None = None,
        k: float = 0.5,
        hadamard: npt.ArrayLike | None = None,
        mse: bool = True,
    ) -> ReplicateDesign:
        r"""Fay's balanced repeated replication (PISA: k = 0.5) for two variance units per stratum.

        In replicate :math:`r` the half selected by the Hadamard sign :math:`H_{r,h}` of stratum
        :math:`h` gets factor :math:`2 - k`, the other half :math:`k`;
        :math:`v = \frac{1}{R (1 - k)^2} \sum_r (t_r - t)^2` (Judkins, 1990). Half 0 of stratum
        ``h`` gets :math:`2 - k` where :math:`H_{r, h+1} = +1`.

        Parameters
        ----------
        strata
            Variance stratum (pseudo-stratum, zone) of each student.
        halves
            Variance unit of each student within its stratum, 0 or 1.
        weights
            Final weights (ones when omitted).
        schools
            School code of each student.
        k
            Fay's factor, ``0 <= k < 1`` (0 is classical BRR).
        hadamard
            A ``R x R`` Hadamard matrix (entries +-1, orthogonal rows) with ``R > number of
            strata``; column 0 is skipped. By default Sylvester's construction of the smallest
            power of two above the number of strata.
        """
        n = _length(strata, halves, weights, schools)
        w = _weights(weights, n)
        if not 0.0 <= k < 1.0:
            raise ParameterError(f"Fay's k must be in [0, 1), got {k}")
        h_code, _ = _codes(strata, n, "strata")
        half = np.asarray(halves)
        if half.shape != (n,) or not np.isin(half, (0, 1)).all():
            raise DataError("halves must be 0 or 1 for every student")
        n_strata = int(h_code.max()) + 1 if n else 0
        if hadamard is None:
            order = 4
            while order <= n_strata:
                order *= 2
            mat = np.ones((1, 1))
            while mat.shape[0] < order:
                mat = np.block([[mat, mat], [mat, -mat]])
        else:
            mat = np.asarray(hadamard, dtype=np.float64)
            rr = mat.shape[0]
            if mat.ndim != 2 or mat.shape[1] <= n_strata or not np.isin(mat, (-1.0, 1.0)).all():
                raise ParameterError(f"hadamard must be a +-1 matrix with more than {n_strata} columns")
            if not np.allclose(mat.T @ mat, rr * np.eye(mat.shape[1])):
                raise ParameterError("hadamard columns are not orthogonal")
        sign = mat[:, 1 : n_strata + 1].T  # (H, R)
        f = np.empty((2 * n_strata, mat.shape[0]))
        f[0::2] = np.where(sign > 0, 2.0 - k, k)
        f[1::2] = np.where(sign > 0, k, 2.0 - k)
        units = 2 * h_code + half.astype(np.int64)
        s = _codes(schools, n, "schools")[0] if schools is not None else np.zeros(0, dtype=np.int64)
        r = mat.shape[0]
        return cls(w, units, f, 1.0 / (r * (1.0 - k) ** 2), np.ones(r), "fay-brr", s, mse)

    @classmethod
    def census(
        cls, *, weights: npt.ArrayLike | None = None, schools: npt.ArrayLike | None = None, n: int | None = None
    ) -> ReplicateDesign:
        """School-census mode (every student of the population assessed): no sampling variance.

        Only the measurement (between-PV) variance enters the standard errors. With neither
        weights nor schools, ``n`` gives the number of students (unweighted).
        """
        if weights is None and schools is None:
            if n is None:
                raise DataError("census design needs weights, schools or n")
            size = int(n)
        else:
            size = _length(weights, schools)
        w = _weights(weights, size)
        s = _codes(schools, size, "schools")[0] if schools is not None else np.zeros(0, dtype=np.int64)
        return cls(w, np.zeros(size, dtype=np.int64), np.ones((1, 0)), 0.0, np.zeros(0), "census", s)

    @classmethod
    def from_replicate_weights(
        cls,
        weights: npt.ArrayLike,
        replicate_weights: npt.ArrayLike,
        *,
        scale: float,
        rscales: npt.ArrayLike | None = None,
        schools: npt.ArrayLike | None = None,
        mse: bool = True,
    ) -> ReplicateDesign:
        """A design from precomputed replicate weights ``(n, R)`` (e.g. a sample frame's, PISA's W_FSTR1-80).

        ``scale`` and ``rscales`` as in :class:`ReplicateDesign` (JK2 full: 0.5; JK2 half: 1;
        Fay k = 0.5 with R replicates: 4 / R). A student with weight 0 must have replicate weights 0.
        """
        w = _weights(weights, _length(weights))
        rw = np.asarray(replicate_weights, dtype=np.float64)
        if rw.ndim != 2 or rw.shape[0] != w.size:
            raise DataError(f"replicate_weights must be ({w.size}, R), got shape {rw.shape}")
        if not np.all(np.isfinite(rw)) or np.any(rw < 0):
            raise DataError("replicate weights must be finite and non-negative")
        if np.any((w == 0)[:, None] & (rw != 0)):
            raise DataError("a student with final weight 0 has a non-zero replicate weight")
        f = np.divide(rw, w[:, None], out=np.zeros_like(rw), where=w[:, None] > 0)
        rs = np.ones(rw.shape[1]) if rscales is None else np.asarray(rscales, dtype=np.float64)
        s = _codes(schools, w.size, "schools")[0] if schools is not None else np.zeros(0, dtype=np.int64)
        return cls(w, np.arange(w.size, dtype=np.int64), f, scale, rs, "replicates", s, mse)
