r"""Item-level parts of a profile: strengths and weaknesses by sub-indicator, and described proficiency levels.

Strengths and weaknesses
------------------------
For a group and a sub-indicator :math:`k`, the observed score share on the sub-indicator's items
is set against the share the calibrated model expects for these students' abilities,

.. math::

    d_k = \frac{\sum_i w_i \sum_{j \in k} (x_{ij} - E[X_j \mid \theta_i^{(m)}])}{\sum_i w_i \sum_{j \in k} K_j},

computed for each plausible value :math:`\theta^{(m)}` and replicate and combined by Rubin's rules
(:math:`K_j` an item's maximum score, sums over the items each student answered). Over the whole
calibration sample :math:`d_k` is near zero by construction; for one school or county a positive
:math:`d_k` means its students do better on that sub-indicator than their overall ability predicts
(a relative strength), a negative one a relative weakness: what the group's teaching emphasises
or misses, beyond its overall level. This is the logic of PISA's and TIMSS's "relative strengths"
(performance on a content area relative to the overall scale) on the item level.

Described proficiency levels
----------------------------
An item maps to the scale score at which a student has a 0.67 chance of success (RP67, as ICILS
and PISA describe their scales); for a partial-credit item, where the expected score reaches 67%
of its maximum. Each item answered in a grade band falls into one of the band's levels by the
band's cut scores; a level is described by the sub-indicators most of its items measure, so the
text follows the calibrated bank, not a fixed paragraph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from reports.level_stats import stat_of
from reports.profile import LevelDescription, Stat
from scoring.irt import expected_score, quadrature_grid
from scoring.params import ItemParams
from scoring.survey import ReplicateDesign, ReplicateEstimates, SuppressionRule, estimate_mean

__all__ = [
    "RP",
    "IndicatorScores",
    "SubIndicatorStats",
    "describe_levels",
    "indicator_scores",
    "item_locations",
    "sub_indicator_stats",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RP = 0.67
"""Response probability at which an item maps onto the scale."""
_GRID = quadrature_grid(481, 6.0)  # spacing 0.025 on the theta scale


@dataclass(frozen=True, eq=False)
class IndicatorScores:
    """Per student and sub-indicator: observed score, maximum, and expected score under each PV.

    ``observed (n, K)``, ``maximum (n, K)`` (0 where the student answered no item of the
    sub-indicator), ``expected (n, K, M)``, ``responses (n, K)`` answered items; ``codes[k]`` the
    sub-indicators.
    """

    codes: tuple[str, ...]
    observed: FloatArray
    maximum: FloatArray
    expected: FloatArray
    responses: IntArray


def _expected_on_grid(params: ItemParams) -> FloatArray:
    """Expected score of every item on a fine theta grid, ``(Q, J)``."""
    return np.asarray(expected_score(params, _GRID))


def indicator_scores(
    matrix: sp.csr_matrix, params: ItemParams, indicators: tuple[str, ...], theta: FloatArray
) -> IndicatorScores:
    """Observed and model-expected scores per student and sub-indicator (expected at each PV, interpolated).

    ``matrix`` holds the scores (students x items, explicit zeros kept); ``theta (n, M)`` the PVs on
    the theta scale.
    """
    csr = sp.csr_matrix(matrix)
    n, j = csr.shape
    codes = tuple(sorted(set(indicators)))
    k_of = np.searchsorted(np.asarray(codes), np.asarray(indicators))
    to_k = sp.csr_matrix((np.ones(j), (np.arange(j), k_of)), shape=(j, len(codes)))
    rows = np.repeat(np.arange(n), np.diff(csr.indptr))
    cols = csr.indices

    def per_k(data: FloatArray) -> FloatArray:
        return np.asarray((sp.csr_matrix((data, cols, csr.indptr), shape=(n, j)) @ to_k).toarray())

    observed = per_k(np.asarray(csr.data, dtype=np.float64))
    maximum = per_k(params.max_scores[cols].astype(np.float64))
    responses = per_k(np.ones(cols.size)).astype(np.int64)
    grid = _expected_on_grid(params)
    step = float(_GRID[1] - _GRID[0])
    m = theta.shape[1]
    expected = np.empty((n, len(codes), m))
    for pv in range(m):
        pos = np.clip((theta[rows, pv] - _GRID[0]) / step, 0.0, _GRID.size - 1.000001)
        lo = pos.astype(np.int64)
        frac = pos - lo
        e = grid[lo, cols] * (1.0 - frac) + grid[lo + 1, cols] * frac
        expected[:, :, pv] = per_k(e)
    return IndicatorScores(codes, observed, maximum, expected, responses)


@dataclass(frozen=True, eq=False)
class SubIndicatorStats:
    """For every group of a level and every sub-indicator: observed and expected shares and their difference.

    ``difference[k][g]`` is a :class:`Stat`; ``observed`` and ``expected`` ``(K, G)`` arrays of shares;
    ``responses (K, G)`` answered items behind them.
    """

    codes: tuple[str, ...]
    difference: list[list[Stat]]
    observed: FloatArray
    expected: FloatArray
    responses: IntArray


def _columns(est: ReplicateEstimates, lo: int, hi: int) -> ReplicateEstimates:
    """Columns ``lo:hi`` of a many-column mean (the engine treats columns as PVs) as their own estimate."""
    return ReplicateEstimates(
        est.groups, est.statistics, est.estimates[:, lo:hi], est.replicates[:, lo:hi], est.scale, est.rscales,
        est.mse, est.n_students, est.n_schools,
    )  # fmt: skip


def sub_indicator_stats(
    scores: IndicatorScores,
    design: ReplicateDesign,
    codes: IntArray,
    n_groups: int,
    rule: SuppressionRule,
) -> SubIndicatorStats:
    """Observed minus expected score share per group and sub-indicator, with replicate and PV standard errors."""
    n, k = scores.observed.shape
    m = scores.expected.shape[2]
    # zeros, not nan, where a student answered no item of a sub-indicator: they add nothing to either
    # sum, so the ratio of the two weighted means is the same, and one shared denominator serves all
    num = (scores.observed[:, :, None] - scores.expected).reshape(n, k * m)
    labels = np.where(codes >= 0, codes, -1)
    both = estimate_mean(np.hstack([num, scores.maximum, scores.observed]), design, groups=labels)
    e_num = _columns(both, 0, k * m)
    e_den = _columns(both, k * m, k * m + 2 * k)
    present = np.asarray([int(g) for g in e_num.groups], dtype=np.int64)  # type: ignore[call-overload]
    rows = np.nonzero(present >= 0)[0]
    groups = present[rows]
    resp = np.zeros((k, n_groups), dtype=np.int64)
    live = codes >= 0
    for kk in range(k):
        resp[kk] = np.bincount(codes[live], weights=scores.responses[live, kk], minlength=n_groups)[:n_groups]
    diff_out: list[list[Stat]] = []
    observed = np.full((k, n_groups), np.nan)
    expected = np.full((k, n_groups), np.nan)
    for kk in range(k):
        d_est = e_den.estimates[rows, kk][:, None]
        d_rep = e_den.replicates[rows, kk][:, None, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            est = e_num.estimates[rows, kk * m : (kk + 1) * m] / d_est
            rep = e_num.replicates[rows, kk * m : (kk + 1) * m] / d_rep
            share = e_den.estimates[rows, k + kk] / e_den.estimates[rows, kk]
        ok = np.isfinite(est).all(axis=1)
        est = np.where(ok[:, None], est, 0.0)
        rep = np.where(np.isfinite(rep), rep, est[:, :, None])
        r = ReplicateEstimates(
            tuple(int(g) for g in groups), tuple("difference" for _ in groups), est, rep, e_num.scale,
            e_num.rscales, e_num.mse, e_num.n_students[rows], e_num.n_schools[rows],
        )  # fmt: skip
        comb = r.combine().suppress(rule)
        col = [Stat.withheld("没有作答该指标的题目") for _ in range(n_groups)]
        for pos, g in enumerate(groups.tolist()):
            col[g] = stat_of(comb, pos) if ok[pos] else Stat.withheld("没有作答该指标的题目")
            observed[kk, g] = share[pos]
            expected[kk, g] = share[pos] - float(est[pos].mean())
        diff_out.append(col)
    return SubIndicatorStats(scores.codes, diff_out, observed, expected, resp)


def item_locations(params: ItemParams, *, rp: float = RP) -> FloatArray:
    """Theta at which each item's expected score reaches ``rp`` of its maximum (``nan`` if it never does on [-6, 6])."""
    share = _expected_on_grid(params) / params.max_scores[None, :]
    out = np.full(params.n_items, np.nan)
    for j in range(params.n_items):
        above = np.nonzero(share[:, j] >= rp)[0]
        if above.size == 0:
            continue
        q = int(above[0])
        if q == 0:
            out[j] = _GRID[0]
            continue
        s0, s1 = share[q - 1, j], share[q, j]
        out[j] = _GRID[q - 1] + (rp - s0) / (s1 - s0) * (_GRID[q] - _GRID[q - 1])
    return out


def describe_levels(
    scale_locations: FloatArray,
    indicators: tuple[str, ...],
    band: str,
    cuts: tuple[float, ...],
    levels: tuple[str, ...],
    descriptions: dict[str, str],
    *,
    max_statements: int = 3,
) -> tuple[LevelDescription, ...]:
    """What students at each level of a band can do, from the items (of that band) mapping into each level.

    ``scale_locations[j]`` is item ``j``'s RP67 location on the reporting scale (``nan``: skipped),
    ``indicators[j]`` its sub-indicator, ``descriptions`` the sub-indicators' descriptions.
    """
    loc = np.asarray(scale_locations, dtype=np.float64)
    ok = np.isfinite(loc)
    which = np.searchsorted(np.asarray(cuts), loc[ok], side="right")
    inds = [indicators[j] for j in np.nonzero(ok)[0].tolist()]
    bounds = [-np.inf, *cuts, np.inf]
    out: list[LevelDescription] = []
    for lv, name in enumerate(levels):
        mine = [inds[t] for t in range(len(inds)) if which[t] == lv]
        counts: dict[str, int] = {}
        for code in mine:
            counts[code] = counts.get(code, 0) + 1
        top = sorted(counts, key=lambda c: (-counts[c], c))[:max_statements]
        out.append(
            LevelDescription(
                level=name,
                band=band,
                lower=float(bounds[lv]),
                upper=float(bounds[lv + 1]),
                n_items=len(mine),
                statements=tuple(descriptions.get(c, c) for c in top),
                indicator_codes=tuple(top),
            )
        )
    return tuple(out)


def items_answered(matrix: sp.csr_matrix, indicators: tuple[str, ...], codes: IntArray, n_groups: int) -> IntArray:
    """Distinct items of each sub-indicator (sorted codes) answered by each group's students, ``(K, G)``."""
    csr = sp.csr_matrix(matrix)
    n, j = csr.shape
    live = codes >= 0
    onehot = sp.csr_matrix((np.ones(int(live.sum())), (codes[live], np.nonzero(live)[0])), shape=(n_groups, n))
    pattern = sp.csr_matrix((np.ones(csr.indices.size), csr.indices, csr.indptr), shape=(n, j))
    seen = (onehot @ pattern).tocsr()
    seen.data = np.ones_like(seen.data)
    names = tuple(sorted(set(indicators)))
    k_of = np.searchsorted(np.asarray(names), np.asarray(indicators))
    to_k = sp.csr_matrix((np.ones(j), (np.arange(j), k_of)), shape=(j, len(names)))
    return np.asarray((seen @ to_k).toarray().T, dtype=np.int64)
