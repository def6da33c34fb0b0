"""The replicate engine: group statistics under every replicate and every plausible value at once.

Each estimator takes ``values`` (one column, or M plausible values as an ``(n, M)`` matrix; ``nan``
= not available, left out), a :class:`~scoring.survey.design.ReplicateDesign` and optional
``groups`` (one label per student: every distinct label is a group; omitted = everybody, label
``"all"``), and returns :class:`~scoring.survey.estimates.ReplicateEstimates`: the statistic with
the full weights and with each replicate's weights, under each PV. Combine them with
:meth:`~scoring.survey.estimates.ReplicateEstimates.combine`.

How it is fast: weighted sums are formed once per (group, variance unit) pair with one sparse
product, and the replicate sums follow from those by one product with the unit x replicate factor
matrix; no students x replicates matrix is built (except for percentiles, a chunk at a time, and
for :func:`estimate_statistic`, which takes an arbitrary function of the weights).

A group with no weight left in some replicate (a group inside one school, when the design drops
that school) keeps its full-sample estimate in that replicate: it has no between-unit sampling
variance, being a census of itself. R's ``survey`` returns ``NA`` there instead.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from scoring.exceptions import DataError, ParameterError
from scoring.survey.design import ReplicateDesign
from scoring.survey.estimates import ReplicateEstimates

__all__ = [
    "compare_groups",
    "estimate_between_school_share",
    "estimate_level_shares",
    "estimate_mean",
    "estimate_percentiles",
    "estimate_regression",
    "estimate_share_at_or_above",
    "estimate_statistic",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _Grouping:
    codes: IntArray
    labels: tuple[Hashable, ...]

    @property
    def n_groups(self) -> int:
        return len(self.labels)


def _grouping(groups: npt.ArrayLike | None, n: int) -> _Grouping:
    if groups is None:
        return _Grouping(np.zeros(n, dtype=np.int64), ("all",))
    g = np.asarray(groups)
    if g.shape != (n,):
        raise DataError(f"groups must have one label per student ({n}), got shape {g.shape}")
    if g.dtype.kind == "f" and np.isnan(g).any():
        raise DataError(f"groups has a missing label (row {int(np.argmax(np.isnan(g)))})")
    labels, inv = np.unique(g, return_inverse=True)
    return _Grouping(inv.astype(np.int64).reshape(-1), tuple(labels.tolist()))


def _values(values: npt.ArrayLike, n: int) -> FloatArray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != n:
        raise DataError(f"values must be (n,) or (n, M) with n = {n} students, got shape {np.shape(values)}")
    if y.shape[1] == 0:
        raise DataError("values have no columns (no plausible values)")
    if np.isinf(y).any():
        raise DataError("values must be finite (nan marks a missing value)")
    return y


def _counts(design: ReplicateDesign, grp: _Grouping, present: BoolArray) -> tuple[IntArray, IntArray]:
    """Students (positive weight, value present) and distinct schools among them, per group."""
    use = present & (design.weights > 0)
    n_students = np.bincount(grp.codes[use], minlength=grp.n_groups).astype(np.int64)
    if np.any(design.schools < 0):
        return n_students, np.full(grp.n_groups, -1, dtype=np.int64)
    pairs = np.unique(grp.codes[use] * (int(design.schools.max()) + 1) + design.schools[use])
    n_schools = np.bincount(pairs // (int(design.schools.max()) + 1), minlength=grp.n_groups).astype(np.int64)
    return n_students, n_schools


def _sums(
    design: ReplicateDesign, codes: IntArray, n_groups: int, contrib: FloatArray, *, positive: bool = False
) -> tuple[FloatArray, FloatArray]:
    r"""Weighted sums per group, full sample ``(G, q)`` and replicates ``(G, q, R)``.

    :math:`S_{gj} = \sum_{i \in g} w_i C_{ij}` and :math:`S_{gjr} = \sum_u f_{ur} \sum_{i \in g, u_i = u}
    w_i C_{ij}`. With ``positive=True`` the sums are unweighted counts of the students whose weight
    is positive in each replicate (:math:`[w_i > 0][f_{ur} > 0]`).
    """
    n, q = contrib.shape
    r = design.n_replicates
    w = (design.weights > 0).astype(np.float64) if positive else design.weights
    wc = contrib * w[:, None]
    cols = np.arange(n)
    full = np.asarray(sp.csr_matrix((np.ones(n), (codes, cols)), shape=(n_groups, n)) @ wc)
    if r == 0:
        return full, np.zeros((n_groups, q, 0))
    n_units = design.factors.shape[0]
    pair = codes * n_units + design.units
    uniq, inv = np.unique(pair, return_inverse=True)
    p = uniq.size
    pg, pu = uniq // n_units, uniq % n_units
    per_pair = np.asarray(sp.csr_matrix((np.ones(n), (inv.reshape(-1), cols)), shape=(p, n)) @ wc)  # (P, q)
    rows = (pg[:, None] * q + np.arange(q)[None, :]).ravel()
    spread = sp.csr_matrix((per_pair.ravel(), (rows, np.repeat(np.arange(p), q))), shape=(n_groups * q, p))
    f = design.factors[pu]
    if positive:
        f = (f > 0).astype(np.float64)
    reps = np.asarray(spread @ f).reshape(n_groups, q, r)
    return full, reps


def _means(
    design: ReplicateDesign, grp: _Grouping, y: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Weighted means of each column of ``y`` per group, full ``(G, q)`` and replicates ``(G, q, R)``."""
    ok = ~np.isnan(y)
    y0 = np.where(ok, y, 0.0)
    shared = bool(np.all(ok == ok[:, :1]))
    den_cols = ok[:, :1] if shared else ok
    full, reps = _sums(design, grp.codes, grp.n_groups, np.hstack([den_cols.astype(np.float64), y0]))
    k = den_cols.shape[1]
    den, num = full[:, :k], full[:, k:]
    rden, rnum = reps[:, :k], reps[:, k:]
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(den > 0, num / den, np.nan)
        rep = np.where(rden > 0, rnum / rden, est[:, :, None])
    return est, rep, np.asarray(ok.any(axis=1), dtype=bool)


def _wrap(
    design: ReplicateDesign,
    grp: _Grouping,
    present: BoolArray,
    stat_names: Sequence[str],
    est: FloatArray,
    rep: FloatArray,
) -> ReplicateEstimates:
    """Rows ordered group by group, statistic by statistic, from ``est (G, S, M)`` and ``rep (G, S, M, R)``."""
    g, s, m = est.shape
    n_students, n_schools = _counts(design, grp, present)
    return ReplicateEstimates(
        groups=tuple(lab for lab in grp.labels for _ in range(s)),
        statistics=tuple(stat_names) * g,
        estimates=est.reshape(g * s, m),
        replicates=rep.reshape(g * s, m, design.n_replicates),
        scale=design.scale,
        rscales=design.rscales,
        mse=design.mse,
        n_students=np.repeat(n_students, s),
        n_schools=np.repeat(n_schools, s),
    )


def estimate_mean(
    values: npt.ArrayLike, design: ReplicateDesign, *, groups: npt.ArrayLike | None = None
) -> ReplicateEstimates:
    r"""Weighted mean per group, :math:`\bar y_g = \sum_{i \in g} w_i y_i / \sum_{i \in g} w_i` (``"mean"``)."""
    y = _values(values, design.n_students)
    grp = _grouping(groups, design.n_students)
    est, rep, present = _means(design, grp, y)
    return _wrap(design, grp, present, ("mean",), est[:, None, :], rep[:, None, :, :])


def estimate_share_at_or_above(
    values: npt.ArrayLike, design: ReplicateDesign, cut: float, *, groups: npt.ArrayLike | None = None
) -> ReplicateEstimates:
    """Weighted share (0..1) of students with a value at or above ``cut`` (the 达标率 at the pass line).

    The statistic is named ``"share_at_or_above"``.
    """
    y = _values(values, design.n_students)
    ind = np.where(np.isnan(y), np.nan, (y >= float(cut)).astype(np.float64))
    grp = _grouping(groups, design.n_students)
    est, rep, present = _means(design, grp, ind)
    return _wrap(design, grp, present, ("share_at_or_above",), est[:, None, :], rep[:, None, :, :])


def estimate_level_shares(
    values: npt.ArrayLike,
    design: ReplicateDesign,
    cuts: Sequence[float],
    *,
    groups: npt.ArrayLike | None = None,
    labels: Sequence[str] | None = None,
) -> ReplicateEstimates:
    """Weighted share (0..1) of students in each level cut by ``cuts`` (a value equal to a cut is in the higher level).

    Statistics are named by ``labels`` (``len(cuts) + 1`` of them; default ``"level0"`` ...), lowest first,
    the same rule as :meth:`scoring.ProficiencyLevels.classify`.
    """
    c = np.asarray(cuts, dtype=np.float64).reshape(-1)
    if c.size == 0 or np.any(np.diff(c) <= 0) or not np.all(np.isfinite(c)):
        raise ParameterError(f"cuts must be finite and strictly increasing, got {c.tolist()}")
    names = [f"level{k}" for k in range(c.size + 1)] if labels is None else [str(x) for x in labels]
    if len(names) != c.size + 1:
        raise ParameterError(f"{c.size} cuts need {c.size + 1} labels, got {len(names)}")
    y = _values(values, design.n_students)
    n, m = y.shape
    level = np.searchsorted(c, y, side="right")  # (n, M)
    ind = (level[:, None, :] == np.arange(c.size + 1)[None, :, None]).astype(np.float64)  # (n, L, M)
    ind = np.where(np.isnan(y)[:, None, :], np.nan, ind)
    grp = _grouping(groups, n)
    est, rep, present = _means(design, grp, ind.reshape(n, -1))
    nl = c.size + 1
    return _wrap(
        design, grp, present, names, est.reshape(grp.n_groups, nl, m), rep.reshape(grp.n_groups, nl, m, -1)
    )


def _weighted_quantiles(
    sorted_y: FloatArray, cum: FloatArray, starts: IntArray, ends: IntArray, probs: FloatArray
) -> FloatArray:
    """R's ``qrule_math`` per segment: the smallest value whose cumulative weight share reaches p, ``(G, P)``.

    ``cum`` is the running sum of the weights in sorted order; a segment with no weight gives ``nan``.
    """
    base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    total = np.where(ends > starts, cum[np.maximum(ends - 1, 0)] - base, 0.0)
    target = base[:, None] + probs[None, :] * total[:, None]
    idx = np.minimum(np.searchsorted(cum, target, side="left"), (ends - 1)[:, None])
    return np.where(total[:, None] > 0, sorted_y[np.maximum(idx, 0)], np.nan)


def _changed_per_replicate(design: ReplicateDesign, units: IntArray) -> FloatArray:
    """How many of the given students' weights each replicate changes (factor other than 1)."""
    per_unit = np.bincount(units, minlength=design.factors.shape[0]).astype(np.float64)
    return np.asarray((design.factors != 1.0).T.astype(np.float64) @ per_unit)


def _replicate_chunks(per_rep: FloatArray, budget: float) -> list[tuple[int, int]]:
    """Consecutive replicate ranges whose summed cost stays within ``budget`` (at least one replicate each)."""
    out: list[tuple[int, int]] = []
    r0, acc = 0, 0.0
    for r in range(per_rep.size):
        if acc + per_rep[r] > budget and r > r0:
            out.append((r0, r))
            r0, acc = r, 0.0
        acc += per_rep[r]
    out.append((r0, per_rep.size))
    return out


def _dense_replicate_quantiles(
    design: ReplicateDesign,
    sy: FloatArray,
    sw: FloatArray,
    su: IntArray,
    bounds: tuple[IntArray, IntArray],
    probs: FloatArray,
    full: FloatArray,
) -> FloatArray:
    """Quantiles under every replicate from the full replicate weights, a chunk of replicates at a time."""
    starts, ends = bounds
    n_rep = design.n_replicates
    out = np.empty((starts.size, probs.size, n_rep))
    for r0, r1 in _replicate_chunks(np.full(n_rep, float(sy.size)), 4_000_000.0):
        cum = np.cumsum(sw[:, None] * design.factors[su, r0:r1], axis=0)
        for k in range(r1 - r0):
            q = _weighted_quantiles(sy, cum[:, k], starts, ends, probs)
            out[:, :, r0 + k] = np.where(np.isnan(q), full, q)
    return out


def _replicate_quantiles(
    design: ReplicateDesign,
    sy: FloatArray,
    sw: FloatArray,
    su: IntArray,
    cs: IntArray,
    bounds: tuple[IntArray, IntArray],
    probs: FloatArray,
    full: FloatArray,
) -> FloatArray:
    r"""Quantiles of every group under every replicate, ``(G, P, R)``, touching only the changed weights.

    In sorted order the replicate's running weight is :math:`C(k) + D_r(k)`, where :math:`D_r` sums
    :math:`(f_{ur} - 1) w_j` over the students :math:`j \le k` whose unit's factor is not 1. Between
    two such students :math:`D_r` is constant, so the first :math:`k` reaching the target
    :math:`\tau = p W_r` is found by one binary search of :math:`C` per interval; the answer is the
    first interval's hit. A jackknife replicate changes one or two schools, so this costs
    :math:`O(\text{changed} \cdot \log n)` instead of :math:`O(n)` per replicate and group. Where
    most weights change in most replicates (BRR; JKn with large strata) the replicate weights are
    formed densely instead, a chunk of replicates at a time.
    """
    starts, ends = bounds
    n_rep = design.n_replicates
    ks = np.nonzero(sw > 0)[0]
    per_rep = _changed_per_replicate(design, su[ks])
    if per_rep.sum() * 16 > ks.size * n_rep:  # most weights change (BRR, large JKn strata): dense is cheaper
        return _dense_replicate_quantiles(design, sy, sw, su, bounds, probs, full)
    out = np.repeat(full[:, :, None], n_rep, axis=2)
    cum = np.cumsum(sw)
    base = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    total = np.where(ends > starts, cum[np.maximum(ends - 1, 0)] - base, 0.0)
    for r0, r1 in _replicate_chunks(per_rep, 4_000_000.0):
        uu, rr = np.nonzero(design.factors[:, r0:r1] != 1.0)
        uptr = np.concatenate([[0], np.cumsum(np.bincount(uu, minlength=design.factors.shape[0]))])
        cnt = uptr[su[ks] + 1] - uptr[su[ks]]
        pk = np.repeat(ks, cnt)
        if pk.size == 0:
            continue
        within = np.arange(pk.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        pr = rr[np.repeat(uptr[su[ks]], cnt) + within]
        pg = cs[pk]
        order = np.lexsort((pk, pr, pg))
        pk, pr, pg = pk[order], pr[order], pg[order]
        delta = (design.factors[su[pk], r0 + pr] - 1.0) * sw[pk]
        seg = pg * (r1 - r0) + pr
        new = np.concatenate([[True], seg[1:] != seg[:-1]])
        first = np.nonzero(new)[0]
        seg_id = np.cumsum(new) - 1
        dcum = np.cumsum(delta)
        d_i = dcum - (dcum[first] - delta[first])[seg_id]
        sg, sr = pg[first], pr[first]
        w_r = total[sg] + np.add.reduceat(delta, first)
        last = np.concatenate([seg[1:] != seg[:-1], [True]])
        end_e = np.where(last, ends[pg] - 1, np.concatenate([pk[1:], [0]]) - 1)
        big = np.iinfo(np.int64).max
        for pi, p in enumerate(probs.tolist()):
            tau = base[sg] + p * w_r
            cand = np.maximum(np.searchsorted(cum, tau[seg_id] - d_i, side="left"), pk)
            best = np.minimum.reduceat(np.where(cand <= end_e, cand, big), first)
            cand0 = np.maximum(np.searchsorted(cum, tau, side="left"), starts[sg])
            best = np.minimum(best, np.where(cand0 <= pk[first] - 1, cand0, big))
            best = np.where(best == big, ends[sg] - 1, best)
            keep = w_r > 1e-12 * np.maximum(total[sg], 1e-300)
            out[sg, pi, r0 + sr] = np.where(keep, sy[best], full[sg, pi])
    return out


def _percentile_replicates(
    design: ReplicateDesign,
    sy: FloatArray,
    sw: FloatArray,
    su: IntArray,
    cs: IntArray,
    probs: FloatArray,
    full: FloatArray,
) -> FloatArray:
    """Replicate quantiles ``(G, P, R)``; a group inside one variance unit keeps its full-sample value.

    Every replicate scales such a group's weights by one factor, which leaves its quantiles as they
    are (or empties it: then the full-sample value stands, as for any statistic), so only groups
    spanning several units are computed, on their own students.
    """
    n_groups = full.shape[0]
    out = np.repeat(full[:, :, None], design.n_replicates, axis=2)
    live = sw > 0
    n_units = design.factors.shape[0]
    pairs = np.unique(cs[live] * n_units + su[live])
    spans = np.bincount(pairs // n_units, minlength=n_groups) > 1
    if not spans.any():
        return out
    rows = np.nonzero(spans[cs])[0]
    new_code = np.cumsum(spans) - 1
    sub_cs = new_code[cs[rows]]
    n_sub = int(spans.sum())
    bounds = (np.searchsorted(sub_cs, np.arange(n_sub), "left"), np.searchsorted(sub_cs, np.arange(n_sub), "right"))
    out[spans] = _replicate_quantiles(design, sy[rows], sw[rows], su[rows], sub_cs, bounds, probs, full[spans])
    return out


def estimate_percentiles(
    values: npt.ArrayLike,
    design: ReplicateDesign,
    probs: Sequence[float] = (0.10, 0.25, 0.50, 0.75, 0.90),
    *,
    groups: npt.ArrayLike | None = None,
) -> ReplicateEstimates:
    r"""Weighted percentiles per group: :math:`Q(p) = \min\{y : F_w(y) \ge p\}`, statistics ``"p10"``, ``"p25"``, ...

    :math:`F_w` is the weighted empirical distribution function (cumulative weight share), so with
    unit weights this is the inverse ECDF (Hyndman & Fan type 1). It is R's ``survey::svyquantile``
    default ``qrule = "math"``; replicate estimates are the same rule under the replicate weights
    (``interval.type = "quantile"``), as IEA and OECD compute replicate SEs of percentiles.
    """
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    if p.size == 0 or np.any((p <= 0) | (p >= 1)):
        raise ParameterError(f"probabilities must lie strictly between 0 and 1, got {p.tolist()}")
    y = _values(values, design.n_students)
    n, m = y.shape
    grp = _grouping(groups, n)
    r = design.n_replicates
    est = np.empty((grp.n_groups, p.size, m))
    rep = np.empty((grp.n_groups, p.size, m, r))
    for j in range(m):
        col = y[:, j]
        miss = np.isnan(col)
        order = np.lexsort((np.where(miss, np.inf, col), grp.codes))
        cs = grp.codes[order]
        starts = np.searchsorted(cs, np.arange(grp.n_groups), side="left")
        ends = np.searchsorted(cs, np.arange(grp.n_groups), side="right")
        sy = col[order]
        sw = np.where(miss[order], 0.0, design.weights[order])
        est[:, :, j] = _weighted_quantiles(sy, np.cumsum(sw), starts, ends, p)
        if r:
            rep[:, :, j] = _percentile_replicates(design, sy, sw, design.units[order], cs, p, est[:, :, j])
    names = [f"p{100 * v:g}" for v in p]
    return _wrap(design, grp, np.asarray(~np.isnan(y).all(axis=1), dtype=bool), names, est, rep)


def _solve(a: FloatArray, b: FloatArray) -> FloatArray:
    """Batched ``solve(a, b)`` with ``nan`` for singular systems, ``a (..., p, p)``, ``b (..., p, k)``."""
    try:
        return np.asarray(np.linalg.solve(a, b))
    except np.linalg.LinAlgError:
        out = np.full(b.shape, np.nan)
        flat_a, flat_b = a.reshape(-1, *a.shape[-2:]), b.reshape(-1, *b.shape[-2:])
        flat_o = out.reshape(-1, *b.shape[-2:])
        for i in range(flat_a.shape[0]):
            try:
                flat_o[i] = np.linalg.solve(flat_a[i], flat_b[i])
            except np.linalg.LinAlgError:
                continue
        return out


def estimate_regression(
    values: npt.ArrayLike,
    design: ReplicateDesign,
    covariates: npt.ArrayLike,
    *,
    names: Sequence[str] | None = None,
    intercept: bool = True,
    groups: npt.ArrayLike | None = None,
) -> ReplicateEstimates:
    r"""Weighted least-squares coefficients :math:`\hat\beta = (X' W X)^{-1} X' W y` per group.

    ``covariates`` is ``(n, p)`` (or ``(n,)``); ``intercept`` prepends a column of ones (statistic
    ``"intercept"``). Other statistics are named by ``names`` (default ``"x1"``, ``"x2"``, ...).
    Students with a missing value in any PV column or covariate are left out. The coefficient under
    each replicate is the regression under its weights (R's ``svyglm`` on a replicate design).
    """
    y = _values(values, design.n_students)
    n, m = y.shape
    x = np.asarray(covariates, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise DataError(f"covariates must be (n, p) with n = {n}, got shape {np.shape(covariates)}")
    given = [f"x{k + 1}" for k in range(x.shape[1])] if names is None else [str(v) for v in names]
    if len(given) != x.shape[1]:
        raise ParameterError(f"{len(given)} names for {x.shape[1]} covariates")
    if intercept:
        x = np.hstack([np.ones((n, 1)), x])
        given = ["intercept", *given]
    p = x.shape[1]
    ok = np.asarray(~np.isnan(y).any(axis=1) & ~np.isnan(x).any(axis=1), dtype=bool)
    x0 = np.where(ok[:, None], np.nan_to_num(x), 0.0)
    y0 = np.where(ok[:, None], np.nan_to_num(y), 0.0)
    xx = (x0[:, :, None] * x0[:, None, :]).reshape(n, p * p)
    contrib = np.hstack([xx, (x0[:, :, None] * y0[:, None, :]).reshape(n, p * m)])
    grp = _grouping(groups, n)
    full, reps = _sums(design, grp.codes, grp.n_groups, contrib)
    g, r = grp.n_groups, design.n_replicates
    xtx, xty = full[:, : p * p].reshape(g, p, p), full[:, p * p :].reshape(g, p, m)
    est = _solve(xtx, xty)  # (G, p, M)
    rxtx = reps[:, : p * p].reshape(g, p, p, r).transpose(0, 3, 1, 2)
    rxty = reps[:, p * p :].reshape(g, p, m, r).transpose(0, 3, 1, 2)
    rep = _solve(rxtx, rxty).transpose(0, 2, 3, 1)  # (G, p, M, R)
    rep = np.where(np.isnan(rep), est[..., None], rep)
    return _wrap(design, grp, ok, given, est, rep)


def _anova_share(w: FloatArray, s1: FloatArray, s2: FloatArray, cnt: FloatArray, to_group: sp.csr_matrix) -> FloatArray:
    """Weighted one-way ANOVA components per group from per-(group, school) sums; ``(G, 4, ...)``.

    ``w, cnt``: ``(P, ...)`` and ``s1, s2``: ``(P, M, ...)`` sums; ``to_group`` maps pairs to groups.
    """
    def agg(a: FloatArray) -> FloatArray:
        return np.asarray(to_group @ a.reshape(a.shape[0], -1)).reshape(to_group.shape[0], *a.shape[1:])

    with np.errstate(invalid="ignore", divide="ignore"):
        wm = w[:, None]
        ss_school = np.where(wm > 0, s1**2 / wm, 0.0)
        within_raw = np.where(wm > 0, s2 - ss_school, 0.0)
        n = agg(cnt)
        k = agg((cnt > 0).astype(np.float64))
        wt = agg(w)
        lam = np.where(wt > 0, n / wt, np.nan)[:, None]
        s1t = agg(s1)
        ssw = lam * agg(within_raw)
        ssb = lam * (agg(ss_school) - np.where(wt[:, None] > 0, s1t**2 / wt[:, None], np.nan))
        msw = ssw / (n - k)[:, None]
        msb = ssb / (k - 1)[:, None]
        n0 = ((n - lam[:, 0] ** 2 * agg(w**2) / n) / (k - 1))[:, None]
        valid = ((k >= 2) & (n > k))[:, None]
        between = np.where(valid, np.maximum((msb - msw) / n0, 0.0), np.nan)
        within = np.where(valid, msw, np.nan)
        share = between / (between + within)
        grand = s1t / wt[:, None]
        cv = np.where(valid, np.sqrt(np.maximum(ssb / lam, 0.0) / wt[:, None]) / grand, np.nan)
    return np.stack([between, within, share, cv], axis=1)


def estimate_between_school_share(
    values: npt.ArrayLike, design: ReplicateDesign, *, groups: npt.ArrayLike | None = None
) -> ReplicateEstimates:
    r"""Between- and within-school variance, their share (intraclass correlation) and the CV of school means.

    The estimator is the one-way ANOVA (method of moments) estimator with the weights normalised to
    sum to the number of students :math:`n` of the group (Searle, Casella & McCulloch, 1992, sec.
    3.6; Donner, 1986), :math:`w'_i = w_i n / \sum w`, :math:`W'_s = \sum_{i \in s} w'_i`:

    .. math::

        MSW = \frac{\sum_s \sum_{i \in s} w'_i (y_i - \bar y_s)^2}{n - S}, \quad
        MSB = \frac{\sum_s W'_s (\bar y_s - \bar y)^2}{S - 1}, \quad
        n_0 = \frac{n - \sum_s W'^2_s / n}{S - 1},

    :math:`\hat\sigma^2_b = \max(0, (MSB - MSW) / n_0)`, :math:`\hat\sigma^2_w = MSW`, share
    :math:`\hat\sigma^2_b / (\hat\sigma^2_b + \hat\sigma^2_w)`; with unit weights it is the classical
    ANOVA estimator. Statistics: ``"between_variance"``, ``"within_variance"``, ``"between_share"``,
    and ``"school_means_cv"``, the 差异系数 :math:`\sqrt{\sum_s W_s (\bar y_s - \bar y)^2 / \sum_s W_s}
    / \bar y` of the school means weighted by enrolment (meaningful on a positive scale such as
    the 500/100 reporting scale, not on theta). A group needs two schools and more students than
    schools, else ``nan``. Schools come from the design's ``schools``.
    """
    if np.any(design.schools < 0):
        raise DataError("the design carries no school codes; the between-school share needs them")
    y = _values(values, design.n_students)
    n, m = y.shape
    grp = _grouping(groups, n)
    ok = np.asarray(~np.isnan(y).any(axis=1), dtype=bool)
    y0 = np.where(ok[:, None], np.nan_to_num(y), 0.0)
    pair = grp.codes * (int(design.schools.max()) + 1) + design.schools
    uniq, inv = np.unique(pair, return_inverse=True)
    inv = inv.reshape(-1)
    okf = ok.astype(np.float64)[:, None]
    contrib = np.hstack([okf, y0 * okf, y0**2 * okf])
    full, reps = _sums(design, inv, uniq.size, contrib)
    cfull, creps = _sums(design, inv, uniq.size, okf, positive=True)
    pg = uniq // (int(design.schools.max()) + 1)
    to_group = sp.csr_matrix((np.ones(uniq.size), (pg, np.arange(uniq.size))), shape=(grp.n_groups, uniq.size))
    est = _anova_share(full[:, 0], full[:, 1 : 1 + m], full[:, 1 + m :], cfull[:, 0], to_group)  # (G, 4, M)
    rep = _anova_share(reps[:, 0], reps[:, 1 : 1 + m], reps[:, 1 + m :], creps[:, 0], to_group)  # (G, 4, M, R)
    rep = np.where(np.isnan(rep), est[..., None], rep)
    names = ("between_variance", "within_variance", "between_share", "school_means_cv")
    return _wrap(design, grp, ok, names, est, rep)


def estimate_statistic(
    function: Callable[[FloatArray, FloatArray], npt.ArrayLike],
    values: npt.ArrayLike,
    design: ReplicateDesign,
    *,
    names: Sequence[str] | None = None,
) -> ReplicateEstimates:
    """Any statistic ``t(weights, values)`` under the full weights and every replicate, for each PV.

    ``function(w, y)`` receives a weights matrix ``(n, K)`` (column 0 the full weights, then a
    chunk of replicates) and one PV column ``y (n,)``, and returns ``(K,)`` or ``(K, S)`` values: S
    statistics, named by ``names``. The weights matrix is built a chunk of replicates at a time.
    One group (label ``"all"``); use the specialised estimators for many groups.
    """
    y = _values(values, design.n_students)
    n, m = y.shape
    r = design.n_replicates
    chunk = max(1, 4_000_000 // max(n, 1))
    est_cols: list[FloatArray] = []
    rep_cols: list[FloatArray] = []
    for j in range(m):
        col = y[:, j]
        first = np.asarray(function(design.weights[:, None], col), dtype=np.float64).reshape(1, -1)
        parts = [np.zeros((0, first.shape[1]))]
        for r0 in range(0, r, chunk):
            wr = design.weights[:, None] * design.factors[design.units, r0 : min(r, r0 + chunk)]
            out = np.asarray(function(wr, col), dtype=np.float64).reshape(wr.shape[1], -1)
            parts.append(out)
        est_cols.append(first[0])
        rep_cols.append(np.concatenate(parts, axis=0).T)  # (S, R)
    est = np.stack(est_cols, axis=1)  # (S, M)
    rep = np.stack(rep_cols, axis=1)  # (S, M, R)
    s = est.shape[0]
    stat_names = [f"t{k}" for k in range(s)] if names is None else [str(v) for v in names]
    if len(stat_names) != s:
        raise ParameterError(f"{len(stat_names)} names for {s} statistics")
    grp = _grouping(None, n)
    return _wrap(design, grp, np.asarray(~np.isnan(y).all(axis=1), dtype=bool), stat_names, est[None], rep[None])


def compare_groups(
    estimates: ReplicateEstimates, pairs: Sequence[tuple[Hashable, Hashable]], *, statistic: str | None = None
) -> ReplicateEstimates:
    """Differences ``a - b`` of rows of one estimate (e.g. ``[("F", "M")]`` for the gender gap), replicate by replicate.

    Row labels are the pairs. For rows from two estimates (a school and its county), use
    :meth:`ReplicateEstimates.select` on each and :meth:`ReplicateEstimates.subtract`.
    """
    a = estimates.select([p[0] for p in pairs], statistic)
    b = estimates.select([p[1] for p in pairs], statistic)
    return a.subtract(b, groups=[tuple(p) for p in pairs])
