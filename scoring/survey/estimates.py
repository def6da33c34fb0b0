r"""Replicate estimates per plausible value, Rubin's rules, degrees of freedom, significance, suppression.

Every estimator of :mod:`scoring.survey.statistics` returns a :class:`ReplicateEstimates`: for each
row (a group and a statistic) the full-sample estimate under each of the M plausible values and the
R replicate estimates under each. Differences between rows are taken replicate by replicate and PV
by PV (:meth:`ReplicateEstimates.subtract`), so the covariance of overlapping groups (a school and
its county) is respected. :meth:`ReplicateEstimates.combine` applies Rubin's rules:

.. math::

    \hat t = \frac1M \sum_m t_m, \qquad U = \frac1M \sum_m v(t_m), \qquad
    B = \frac{1}{M-1} \sum_m (t_m - \hat t)^2, \qquad T = U + (1 + 1/M) B,

with :math:`v` the replicate variance of the design (Rubin, 1987, sec. 3.1; Mislevy, 1991). The
sampling SE is :math:`\sqrt U`, the measurement SE :math:`\sqrt{(1 + 1/M) B}`.

Degrees of freedom
------------------
* ``"rubin"``: :math:`\nu = (M - 1)(1 + 1/r)^2`, :math:`r = (1 + 1/M) B / U` (Rubin, 1987,
  eq. 3.1.6; mitools' ``MIcombine`` with ``df.complete = Inf``); infinite when B = 0.
* ``"johnson-rust"``: the sampling part only, as EdSurvey's ``DoFCorrection(method = "JR")``:
  :math:`\nu_{WS} = \frac1M (\sum_{r,m} a_{rm})^2 / \sum_{r,m} a_{rm}^2` with
  :math:`a_{rm} = \rho_r (t_{rm} - t_m)^2`, times :math:`3.16 - 2.77 / \sqrt R`
  (Johnson & Rust, 1992).
* ``"barnard-rubin"`` (default): Barnard & Rubin (1999) with the Johnson-Rust value as the
  complete-data df: :math:`\nu_{obs} = \frac{\nu_c + 1}{\nu_c + 3} \nu_c (1 - \gamma)`,
  :math:`\gamma = (1 + 1/M) B / T`, :math:`\nu = (1/\nu + 1/\nu_{obs})^{-1}`; Rubin's value in
  census mode and wherever the sampling variance is 0. (mitools uses :math:`U / (U + B)` for
  :math:`1 - \gamma`; we follow the paper.)

Intervals and significance use the normal critical value 1.96 by default (PISA, TIMSS and
NAEP's reports); ``critical="t"`` uses the t quantile with each row's df.

References
----------
Rubin, D. B. (1987). *Multiple imputation for nonresponse in surveys*. Wiley. Barnard, J. &
Rubin, D. B. (1999). Small-sample degrees of freedom with multiple imputation. *Biometrika*, 86,
948-955. Johnson, E. G. & Rust, K. F. (1992). Population inferences and variance estimation for
NAEP data. *Journal of Educational Statistics*, 17, 175-190.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import stdtrit

from scoring.exceptions import DataError, ParameterError

__all__ = [
    "REGION_SUPPRESSION",
    "SCHOOL_SUPPRESSION",
    "ReplicateEstimates",
    "SuppressionRule",
    "SurveyEstimate",
    "SurveyEstimates",
    "combine_plausible_values",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DfMethod = Literal["barnard-rubin", "rubin", "johnson-rust"]

Z_975 = 1.959963984540054
"""The 97.5% quantile of the standard normal (shown as 1.96 in reports)."""


def _frozen(a: npt.ArrayLike, dtype: type = np.float64) -> npt.NDArray[np.generic]:
    out: npt.NDArray[np.generic] = np.array(a, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class SuppressionRule:
    """Minimum numbers of students and schools below which a group is not reported.

    Parameters
    ----------
    min_students
        A group with fewer assessed students is suppressed.
    min_schools
        A group with fewer schools is suppressed (1 for a school's own profile).
    """

    min_students: int = 30
    min_schools: int = 5

    def __post_init__(self) -> None:
        if self.min_students < 1 or self.min_schools < 1:
            raise ParameterError("suppression minimums must be at least 1")

    def reasons(self, n_students: npt.ArrayLike, n_schools: npt.ArrayLike) -> tuple[str | None, ...]:
        """The reason each group is suppressed (Chinese, for the profile), or ``None`` where it is reported.

        Raises
        ------
        DataError
            If a school minimum above 1 applies but the design did not record schools (``-1``).
        """
        ns = np.asarray(n_students, dtype=np.int64).reshape(-1)
        nk = np.asarray(n_schools, dtype=np.int64).reshape(-1)
        if self.min_schools > 1 and np.any(nk < 0):
            raise DataError("the design carries no school codes, so the school minimum cannot be checked")
        out: list[str | None] = []
        for a, b in zip(ns.tolist(), nk.tolist(), strict=True):
            if a < self.min_students:
                out.append(f"学生不足{self.min_students}人（{a}人）")
            elif 0 <= b < self.min_schools:  # -1: unknown, allowed only with min_schools = 1
                out.append(f"学校不足{self.min_schools}所（{b}所）")
            else:
                out.append(None)
        return tuple(out)


SCHOOL_SUPPRESSION = SuppressionRule(min_students=10, min_schools=1)
"""Default rule for a school's own profile: fewer than 10 assessed students."""
REGION_SUPPRESSION = SuppressionRule(min_students=30, min_schools=5)
"""Default rule for a region or a subgroup: fewer than 30 students or fewer than 5 schools."""


@dataclass(frozen=True)
class SurveyEstimate:
    r"""One reported statistic with its standard errors (a row of :class:`SurveyEstimates`).

    Parameters
    ----------
    group, statistic
        What the row is: the group label and the statistic's name (``"mean"``, ``"p50"``, ...).
    estimate
        Mean over the plausible values of the full-sample estimates (``nan`` when suppressed).
    se, se_sampling, se_measurement
        Total SE :math:`\sqrt{U + (1 + 1/M)B}`, its sampling part :math:`\sqrt U` and its
        measurement part :math:`\sqrt{(1 + 1/M) B}`.
    df
        Degrees of freedom (method as combined).
    ci95
        The 95% interval ``estimate -/+ critical * se``.
    significant
        Whether ``|estimate| > critical * se``: for a difference, whether it is significant.
    n_students, n_schools
        Assessed students and schools behind the row (for a difference, the smaller side's).
    suppressed
        Why the row is not reported, or ``None``.
    """

    group: Hashable
    statistic: str
    estimate: float
    se: float
    se_sampling: float
    se_measurement: float
    df: float
    ci95: tuple[float, float]
    significant: bool
    n_students: int
    n_schools: int
    suppressed: str | None = None


@dataclass(frozen=True)
class SurveyEstimates:
    """Rubin-combined estimates of many rows at once, as arrays (see :class:`SurveyEstimate` per field).

    ``groups[k]`` and ``statistics[k]`` name row ``k``; :meth:`get` and :meth:`rows` give
    :class:`SurveyEstimate` objects.
    """

    groups: tuple[Hashable, ...]
    statistics: tuple[str, ...]
    estimate: FloatArray
    se: FloatArray
    se_sampling: FloatArray
    se_measurement: FloatArray
    df: FloatArray
    ci_low: FloatArray
    ci_high: FloatArray
    significant: npt.NDArray[np.bool_]
    n_students: IntArray
    n_schools: IntArray
    suppressed: tuple[str | None, ...]
    n_pv: int
    critical: str

    def __len__(self) -> int:
        return len(self.groups)

    @cached_property
    def _rows_of_group(self) -> dict[Hashable, list[int]]:
        out: dict[Hashable, list[int]] = {}
        for k, g in enumerate(self.groups):
            out.setdefault(g, []).append(k)
        return out

    def index(self, group: Hashable, statistic: str | None = None) -> int:
        """Row number of a group (and statistic, needed when the group has several)."""
        hits = [
            k for k in self._rows_of_group.get(group, []) if statistic is None or self.statistics[k] == statistic
        ]
        if not hits:
            raise KeyError(f"no row for group {group!r}" + (f" and statistic {statistic!r}" if statistic else ""))
        if len(hits) > 1:
            raise KeyError(f"group {group!r} has several statistics; name one of {[self.statistics[k] for k in hits]}")
        return hits[0]

    def row(self, k: int) -> SurveyEstimate:
        """Row ``k`` as a :class:`SurveyEstimate`."""
        return SurveyEstimate(
            group=self.groups[k],
            statistic=self.statistics[k],
            estimate=float(self.estimate[k]),
            se=float(self.se[k]),
            se_sampling=float(self.se_sampling[k]),
            se_measurement=float(self.se_measurement[k]),
            df=float(self.df[k]),
            ci95=(float(self.ci_low[k]), float(self.ci_high[k])),
            significant=bool(self.significant[k]),
            n_students=int(self.n_students[k]),
            n_schools=int(self.n_schools[k]),
            suppressed=self.suppressed[k],
        )

    def get(self, group: Hashable, statistic: str | None = None) -> SurveyEstimate:
        """The row of a group (and statistic) as a :class:`SurveyEstimate`."""
        return self.row(self.index(group, statistic))

    def rows(self) -> list[SurveyEstimate]:
        """Every row as a :class:`SurveyEstimate`."""
        return [self.row(k) for k in range(len(self))]

    def suppress(self, rule: SuppressionRule) -> SurveyEstimates:
        """A copy in which the rows below ``rule`` carry a reason and ``nan`` numbers (never a figure to print)."""
        reasons = tuple(
            old or new for old, new in zip(self.suppressed, rule.reasons(self.n_students, self.n_schools), strict=True)
        )
        hide = np.array([r is not None for r in reasons], dtype=bool)

        def blank(a: FloatArray) -> FloatArray:
            return np.asarray(_frozen(np.where(hide, np.nan, a)), dtype=np.float64)

        return SurveyEstimates(
            self.groups, self.statistics, blank(self.estimate), blank(self.se), blank(self.se_sampling),
            blank(self.se_measurement), blank(self.df), blank(self.ci_low), blank(self.ci_high),
            np.asarray(_frozen(self.significant & ~hide, bool), dtype=bool), self.n_students, self.n_schools,
            reasons, self.n_pv, self.critical,
        )  # fmt: skip


@dataclass(frozen=True)
class ReplicateEstimates:
    """Full-sample and replicate estimates of K rows under M plausible values, before combining.

    Parameters
    ----------
    groups, statistics
        Row labels, K each.
    estimates
        Full-sample estimate of each row under each PV, shape ``(K, M)``.
    replicates
        Replicate estimates, shape ``(K, M, R)``.
    scale, rscales, mse
        The design's variance factors (see :class:`~scoring.survey.design.ReplicateDesign`).
    n_students, n_schools
        Students and schools behind each row (``-1`` schools = unknown).
    """

    groups: tuple[Hashable, ...]
    statistics: tuple[str, ...]
    estimates: FloatArray
    replicates: FloatArray
    scale: float
    rscales: FloatArray
    mse: bool
    n_students: IntArray
    n_schools: IntArray

    def __post_init__(self) -> None:
        est = np.array(self.estimates, dtype=np.float64)
        reps = np.array(self.replicates, dtype=np.float64)
        rs = np.array(self.rscales, dtype=np.float64).reshape(-1)
        k = len(self.groups)
        if est.ndim != 2 or est.shape[0] != k or reps.shape != (*est.shape, rs.size) or len(self.statistics) != k:
            raise DataError(f"estimates {est.shape}, replicates {reps.shape} and {k} labels do not agree")
        for name, a in (("estimates", est), ("replicates", reps), ("rscales", rs)):
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "statistics", tuple(self.statistics))
        object.__setattr__(self, "n_students", _frozen(self.n_students, np.int64))
        object.__setattr__(self, "n_schools", _frozen(self.n_schools, np.int64))

    @property
    def n_pv(self) -> int:
        """Number of plausible values M."""
        return int(self.estimates.shape[1])

    @property
    def n_replicates(self) -> int:
        """Number of replicates R."""
        return int(self.rscales.size)

    def take(self, rows: Sequence[int] | npt.ArrayLike) -> ReplicateEstimates:
        """The rows at the given positions (repeats allowed: e.g. each school's county, aligned to the schools)."""
        idx = np.asarray(rows, dtype=np.int64).reshape(-1)
        return ReplicateEstimates(
            tuple(self.groups[i] for i in idx.tolist()), tuple(self.statistics[i] for i in idx.tolist()),
            self.estimates[idx], self.replicates[idx], self.scale, self.rscales, self.mse,
            self.n_students[idx], self.n_schools[idx],
        )  # fmt: skip

    def select(self, groups: Sequence[Hashable], statistic: str | None = None) -> ReplicateEstimates:
        """The rows of the given groups, in that order (one statistic, needed when a group has several)."""
        lookup: dict[tuple[Hashable, str], int] = {}
        for k, key in enumerate(zip(self.groups, self.statistics, strict=True)):
            lookup.setdefault(key, k)
        stats = set(self.statistics) if statistic is None else {statistic}
        if len(stats) != 1:
            raise KeyError(f"rows hold several statistics; name one of {sorted(stats)}")
        (stat,) = stats
        try:
            idx = [lookup[(g, stat)] for g in groups]
        except KeyError as exc:
            raise KeyError(f"no row for group {exc.args[0][0]!r} and statistic {stat!r}") from None
        return self.take(idx)

    def subtract(
        self, other: ReplicateEstimates, *, groups: Sequence[Hashable] | None = None, statistic: str | None = None
    ) -> ReplicateEstimates:
        """Row-by-row differences ``self - other``, per PV and per replicate (same design and PVs needed).

        Because every replicate of the difference is the difference of the replicates, the SE of
        the difference accounts for the covariance of the two estimates: overlapping groups (a
        school and its county, girls and all students) and groups sharing schools. Labels default
        to ``(group_a, group_b)`` and the statistic of ``self``; counts are the smaller side's.
        """
        if len(self.groups) != len(other.groups):
            raise DataError(f"cannot subtract {len(other.groups)} rows from {len(self.groups)}")
        if self.estimates.shape != other.estimates.shape or self.replicates.shape != other.replicates.shape:
            raise DataError("differences need estimates from the same design and the same plausible values")
        if self.scale != other.scale or not np.array_equal(self.rscales, other.rscales):
            raise DataError("differences need estimates from the same replicate design")
        labels = tuple(groups) if groups is not None else tuple(zip(self.groups, other.groups, strict=True))
        stats = tuple([statistic] * len(labels)) if statistic is not None else self.statistics
        return ReplicateEstimates(
            labels, stats, self.estimates - other.estimates, self.replicates - other.replicates,
            self.scale, self.rscales, self.mse,
            np.minimum(self.n_students, other.n_students), np.minimum(self.n_schools, other.n_schools),
        )  # fmt: skip

    def sampling_variance(self) -> FloatArray:
        """Replicate sampling variance of each row under each PV, shape ``(K, M)``."""
        if self.n_replicates == 0:
            return np.zeros(self.estimates.shape)
        centre = self.estimates[..., None] if self.mse else self.replicates.mean(axis=-1, keepdims=True)
        return np.asarray(self.scale * ((self.replicates - centre) ** 2 * self.rscales).sum(axis=-1))

    def johnson_rust_df(self) -> FloatArray:
        """Johnson-Rust degrees of freedom of the sampling variance of each row (EdSurvey's ``JR``)."""
        if self.n_replicates == 0:
            return np.full(len(self.groups), np.inf)
        a = (self.replicates - self.estimates[..., None]) ** 2 * self.rscales  # (K, M, R)
        num = a.sum(axis=(1, 2)) ** 2
        den = (a**2).sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            ws = np.where(den > 0, num / den / self.n_pv, 0.0)
        return np.asarray(ws * (3.16 - 2.77 / np.sqrt(self.n_replicates)))

    def combine(
        self, *, df_method: DfMethod = "barnard-rubin", critical: Literal["normal", "t"] = "normal"
    ) -> SurveyEstimates:
        """Rubin's rules over the PVs; SEs split into sampling and measurement parts; df; 95% intervals."""
        return combine_plausible_values(self, df_method=df_method, critical=critical)


def combine_plausible_values(
    est: ReplicateEstimates,
    *,
    df_method: DfMethod = "barnard-rubin",
    critical: Literal["normal", "t"] = "normal",
) -> SurveyEstimates:
    """Combine per-PV replicate estimates by Rubin's rules (see the module docstring for every formula).

    Parameters
    ----------
    est
        The per-PV full-sample and replicate estimates.
    df_method
        ``"barnard-rubin"`` (default), ``"rubin"`` or ``"johnson-rust"``.
    critical
        ``"normal"``: intervals and significance with 1.96; ``"t"``: with the t quantile at each
        row's df (normal where df is infinite).
    """
    m = est.n_pv
    t = est.estimates.mean(axis=1)
    u = est.sampling_variance().mean(axis=1)
    b = est.estimates.var(axis=1, ddof=1) if m > 1 else np.zeros(t.shape)
    meas = (1.0 + 1.0 / m) * b
    total = u + meas
    with np.errstate(divide="ignore", invalid="ignore"):
        df_rubin = np.where(b > 0, (m - 1) * (1.0 + np.divide(u, meas)) ** 2, np.inf)
        if df_method == "rubin":
            df = df_rubin
        elif df_method == "johnson-rust":
            df = est.johnson_rust_df()
        elif df_method == "barnard-rubin":
            nu_c = est.johnson_rust_df()
            frac = np.where(total > 0, u / total, 1.0)  # 1 - gamma
            usable = np.isfinite(nu_c) & (u > 0)  # no sampling variance: the sampling part adds no df limit
            nu_obs = np.where(usable, (nu_c + 1.0) / (nu_c + 3.0) * nu_c * frac, np.inf)
            df = np.where(np.isfinite(nu_obs), 1.0 / (1.0 / df_rubin + 1.0 / nu_obs), df_rubin)
        else:
            raise ParameterError(f"df_method must be 'barnard-rubin', 'rubin' or 'johnson-rust', got {df_method!r}")
    se = np.sqrt(total)
    if critical == "normal":
        crit = np.full(t.shape, Z_975)
    elif critical == "t":
        crit = np.where(np.isfinite(df) & (df > 0), stdtrit(np.where(df > 0, df, 1.0), 0.975), Z_975)
    else:
        raise ParameterError(f"critical must be 'normal' or 't', got {critical!r}")
    return SurveyEstimates(
        groups=est.groups,
        statistics=est.statistics,
        estimate=np.asarray(_frozen(t), dtype=np.float64),
        se=np.asarray(_frozen(se), dtype=np.float64),
        se_sampling=np.asarray(_frozen(np.sqrt(u)), dtype=np.float64),
        se_measurement=np.asarray(_frozen(np.sqrt(meas)), dtype=np.float64),
        df=np.asarray(_frozen(df), dtype=np.float64),
        ci_low=np.asarray(_frozen(t - crit * se), dtype=np.float64),
        ci_high=np.asarray(_frozen(t + crit * se), dtype=np.float64),
        significant=np.asarray(_frozen(np.abs(t) > crit * se, bool), dtype=bool),
        n_students=est.n_students,
        n_schools=est.n_schools,
        suppressed=tuple([None] * len(est.groups)),
        n_pv=m,
        critical=critical,
    )
