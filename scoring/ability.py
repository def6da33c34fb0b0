"""Ability estimation (EAP, MAP, MLE, WLE), plausible values, reporting scale and proficiency levels.

All estimators take a persons x items response matrix (``nan`` = not administered; a
``scipy.sparse`` matrix whose stored entries are the administered responses is accepted too) and
an :class:`~scoring.params.ItemParams` table whose items are the columns, and are vectorised over
persons.

References
----------
Bock, R. D. & Mislevy, R. J. (1982). Adaptive EAP estimation of ability in a microcomputer
environment. *Applied Psychological Measurement*, 6, 431-444. Warm, T. A. (1989). Weighted
likelihood estimation of ability in item response theory. *Psychometrika*, 54, 427-450.
Mislevy, R. J. (1991). Randomization-based inference about latent variables from complex
samples. *Psychometrika*, 56, 177-196.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring._lazy import is_sparse
from scoring.exceptions import DataError, ParameterError
from scoring.irt import LOG_FLOOR, flat_log_probabilities, log_probabilities, quadrature_grid, response_indicators
from scoring.models import group_items
from scoring.params import ItemParams

__all__ = [
    "AbilityEstimates",
    "ProficiencyLevels",
    "ReportingScale",
    "draw_plausible_values",
    "estimate_eap",
    "estimate_map",
    "estimate_mle",
    "estimate_wle",
    "posterior_grid",
]

FloatArray = npt.NDArray[np.float64]
PriorArg = float | npt.ArrayLike | Mapping[Any, float]


@dataclass(frozen=True)
class AbilityEstimates:
    r"""Ability estimates of a set of persons.

    Parameters
    ----------
    theta
        Point estimates, shape ``(n_persons,)`` (``nan`` for MLE/WLE of a person without responses).
    se
        Standard errors: the posterior SD for EAP, :math:`1/\sqrt{I(\hat\theta) + 1/\sigma^2}` for
        MAP, :math:`1/\sqrt{I(\hat\theta)}` for MLE and WLE (test information of the items the
        person answered).
    method
        ``"eap"``, ``"map"``, ``"mle"`` or ``"wle"``.
    """

    theta: FloatArray
    se: FloatArray
    method: str

    def __post_init__(self) -> None:
        t = np.array(self.theta, dtype=np.float64)
        s = np.array(self.se, dtype=np.float64)
        if t.shape != s.shape:
            raise ValueError("theta and se must have the same shape")
        t.setflags(write=False)
        s.setflags(write=False)
        object.__setattr__(self, "theta", t)
        object.__setattr__(self, "se", s)

    @property
    def n_persons(self) -> int:
        """Number of persons."""
        return int(self.theta.size)


# ============================================================================ likelihood on a grid
def _check_dense(x: FloatArray, params: ItemParams) -> None:
    if x.ndim != 2 or x.shape[1] != params.n_items:
        raise DataError(f"responses have shape {x.shape}; expected (n_persons, {params.n_items}) for these items")
    k = params.max_scores.astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(x) & ((x != np.round(x)) | (x < 0) | (x > k[None, :]))
    if bad.any():
        p, j = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(
            f"response of person {p} to item {params.ids[j]!r} is {x[p, j]:g}; expected an integer 0..{int(k[j])}"
        )


def _loglik_grid(responses: Any, params: ItemParams, nodes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Log-likelihood (N, Q) of every person at every node, and the number of responses per person."""
    if is_sparse(responses):
        import scipy.sparse as sp

        csr = sp.csr_matrix(responses)
        n, j = csr.shape
        if j != params.n_items:
            raise DataError(f"responses have {j} items; the parameter table has {params.n_items}")
        rows = np.repeat(np.arange(n), np.diff(csr.indptr))
        coo_vals = np.asarray(csr.data, dtype=np.float64)
        kmax_items = params.max_scores
        iv = coo_vals.astype(np.int64)
        if np.any(iv != coo_vals) or np.any(iv < 0) or np.any(iv > kmax_items[csr.indices]):
            raise DataError("responses must be integer scores within each item's categories")
        off = np.concatenate([[0], np.cumsum(params.n_categories)])
        y = sp.csr_matrix((np.ones(iv.size), (rows, off[csr.indices] + iv)), shape=(n, int(off[-1])))
        ll = np.asarray(y @ flat_log_probabilities(params, nodes))
        return ll, np.diff(csr.indptr).astype(np.float64)
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    _check_dense(x, params)
    dense_nan = np.isnan(x)
    n_resp = (~dense_nan).sum(axis=1).astype(np.float64)
    density = 1.0 - dense_nan.mean() if x.size else 1.0
    if density < 0.15 and x.shape[0] * x.shape[1] > 1_000_000:
        y = response_indicators(x, params.n_categories)
        return np.asarray(y @ flat_log_probabilities(params, nodes)), n_resp
    lp = np.maximum(log_probabilities(params, nodes), LOG_FLOOR)  # (Q, J, K+1)
    if not dense_nan.any():
        # complete data: sum_j log P_j0 + sum_{k>=1} [x = k] (log P_jk - log P_j0), one product fewer
        ll = np.empty((x.shape[0], nodes.size))
        ll[:] = lp[:, :, 0].sum(axis=1)
        first = 1
    else:
        ll = np.zeros((x.shape[0], nodes.size))
        first = 0
    for k in range(first, lp.shape[2]):
        ind = (x == k).astype(np.float64)
        if ind.any():
            ll += ind @ (lp[:, :, k] - (lp[:, :, 0] if first else 0.0)).T
    return ll, n_resp


def _per_person(value: PriorArg, n: int, groups: npt.ArrayLike | None, name: str) -> FloatArray:
    if isinstance(value, Mapping):
        if groups is None:
            raise ValueError(f"{name} given per group needs groups=")
        g = np.asarray(groups).reshape(-1)
        if g.size != n:
            raise DataError(f"{g.size} group labels for {n} persons")
        try:
            return np.array([float(value[v]) for v in g.tolist()], dtype=np.float64)
        except KeyError as exc:
            raise ValueError(f"{name} has no value for group {exc.args[0]!r}") from None
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise DataError(f"{name} must be a scalar or one value per person ({n}), got shape {arr.shape}")
    return arr


def posterior_grid(
    responses: Any,
    params: ItemParams,
    *,
    prior_mean: PriorArg = 0.0,
    prior_sd: PriorArg = 1.0,
    groups: npt.ArrayLike | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
) -> tuple[FloatArray, FloatArray]:
    r"""Posterior weights of every person on the quadrature nodes, shape ``(n_persons, quadpts)``.

    :math:`\pi_{pq} \propto L_p(\theta_q)\, \varphi((\theta_q - \mu_p)/\sigma_p)`, normalised over the
    nodes (the discrete prior of mirt's ``fscores``). Returns ``(nodes, posterior)``.
    """
    nodes, w, total = _unnormalised_posterior(responses, params, prior_mean, prior_sd, groups, quadpts, theta_limit)
    w /= total[:, None]
    return nodes, w


def _unnormalised_posterior(
    responses: Any,
    params: ItemParams,
    prior_mean: PriorArg,
    prior_sd: PriorArg,
    groups: npt.ArrayLike | None,
    quadpts: int,
    theta_limit: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    nodes = quadrature_grid(quadpts, theta_limit)
    ll, _ = _loglik_grid(responses, params, nodes)
    n = ll.shape[0]
    mu = _per_person(prior_mean, n, groups, "prior_mean")
    sd = _per_person(prior_sd, n, groups, "prior_sd")
    if np.any(~np.isfinite(sd)) or np.any(sd <= 0):
        raise ValueError("prior_sd must be positive")
    if n and np.all(mu == mu[0]) and np.all(sd == sd[0]):
        ll += -0.5 * ((nodes - mu[0]) / sd[0]) ** 2
    else:
        ll += -0.5 * ((nodes[None, :] - mu[:, None]) / sd[:, None]) ** 2
    ll -= ll.max(axis=1, keepdims=True)
    np.exp(ll, out=ll)
    return nodes, ll, ll.sum(axis=1)


# ============================================================================ EAP
def estimate_eap(
    responses: Any,
    params: ItemParams,
    *,
    prior_mean: PriorArg = 0.0,
    prior_sd: PriorArg = 1.0,
    groups: npt.ArrayLike | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
) -> AbilityEstimates:
    r"""Expected a posteriori estimates with the posterior SD as standard error (Bock & Mislevy, 1982).

    :math:`\hat\theta_p = \sum_q \theta_q \pi_{pq}`, :math:`SE_p = (\sum_q (\theta_q - \hat\theta_p)^2
    \pi_{pq})^{1/2}` with the posterior weights of :func:`posterior_grid` (normal prior, by default
    N(0, 1); per person via arrays, or per group via mappings and ``groups``). One matrix product
    for all persons. A person without responses gets the prior mean and SD.
    """
    nodes, w, total = _unnormalised_posterior(responses, params, prior_mean, prior_sd, groups, quadpts, theta_limit)
    mean = (w @ nodes) / total
    var = (w @ nodes**2) / total - mean**2
    return AbilityEstimates(mean, np.sqrt(np.maximum(var, 0.0)), "eap")


# ============================================================================ point estimates by root finding
def _derivatives(
    params: ItemParams, theta: FloatArray, x: FloatArray, mask: npt.NDArray[np.bool_], need_warm: bool
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Score, test information and (for WLE) Warm's J of each person at its own theta.

    The derivatives of the log category probabilities in theta come in closed form from each item
    model (:meth:`scoring.models.ItemModel.theta_derivatives`). The score is the sum of
    :math:`\partial \log P_{jx_j} / \partial\theta` over the administered items, the information
    :math:`\sum_j \sum_k P_{jk} (\log P_{jk})'^2`, and Warm's (1989, eq. 7)
    :math:`J = \sum_j \sum_k P'_{jk} P''_{jk} / P_{jk} = \sum_j \sum_k P_{jk} (\log P_{jk})'
    ((\log P_{jk})'^2 + (\log P_{jk})'')`.
    """
    n = theta.size
    score = np.zeros(n)
    info = np.zeros(n)
    warm = np.zeros(n)
    for group in group_items(params):
        logp, dlog, d2log = group.model.theta_derivatives(group.psi, theta)  # (m, K+1, N)
        p = np.exp(logp)
        used = mask[:, group.index]  # (N, m)
        xi = np.where(used, x[:, group.index], 0).astype(np.int64)
        observed = np.take_along_axis(dlog, xi.T[:, None, :], axis=1)[:, 0, :]  # (m, N)
        score += np.where(used, observed.T, 0.0).sum(axis=1)
        info += np.where(used, (p * dlog * dlog).sum(axis=1).T, 0.0).sum(axis=1)
        if need_warm:
            j_items = (p * dlog * (dlog * dlog + d2log)).sum(axis=1)
            warm += np.where(used, j_items.T, 0.0).sum(axis=1)
    return score, info, warm


def _root_estimates(
    responses: Any,
    params: ItemParams,
    method: str,
    bounds: tuple[float, float],
    prior_mean: FloatArray | None,
    prior_sd: FloatArray | None,
    max_iter: int,
    tol: float,
) -> AbilityEstimates:
    if is_sparse(responses):
        import scipy.sparse as sp

        x = np.asarray(sp.csr_matrix(responses).toarray(), dtype=np.float64)
        m = sp.csr_matrix(responses).copy()
        m.data[:] = 1
        mask = np.asarray(m.toarray(), dtype=bool)
        x[~mask] = np.nan
    else:
        x = np.asarray(responses, dtype=np.float64)
        if x.ndim == 1:
            x = x[None, :]
    _check_dense(x, params)
    mask = ~np.isnan(x)
    n = x.shape[0]
    lo_b, hi_b = float(bounds[0]), float(bounds[1])
    if not lo_b < hi_b:
        raise ValueError("bounds must be (lower, upper) with lower < upper")
    has = mask.any(axis=1)

    def target(th: FloatArray, idx: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
        s, i, j = _derivatives(params, th, x[idx], mask[idx], method == "wle")
        if method == "wle":
            with np.errstate(divide="ignore", invalid="ignore"):
                f = s + np.where(i > 0, j / (2 * i), 0.0)
            slope = i
        elif method == "map":
            assert prior_mean is not None and prior_sd is not None
            f = s - (th - prior_mean[idx]) / prior_sd[idx] ** 2
            slope = i + 1 / prior_sd[idx] ** 2
        else:
            f = s
            slope = i
        return f, np.maximum(slope, 1e-10), i

    everyone = np.arange(n)
    lo = np.full(n, lo_b)
    hi = np.full(n, hi_b)
    f_lo, _, _ = target(lo, everyone)
    f_hi, _, _ = target(hi, everyone)
    theta = np.zeros(n) if prior_mean is None else np.clip(prior_mean, lo_b, hi_b).astype(np.float64)
    at_lo = f_lo <= 0  # estimating function already decreasing below the lower bound
    at_hi = f_hi >= 0
    fixed = at_lo | at_hi | ~has
    theta[at_lo] = lo_b
    theta[at_hi & ~at_lo] = hi_b
    active = ~fixed
    for _ in range(max_iter):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        f, slope, _ = target(theta[idx], idx)
        # keep the bracket: f > 0 left of the root, f < 0 right of it
        pos = f > 0
        lo[idx[pos]] = np.maximum(lo[idx[pos]], theta[idx[pos]])
        hi[idx[~pos]] = np.minimum(hi[idx[~pos]], theta[idx[~pos]])
        new = theta[idx] + f / slope
        outside = (new <= lo[idx]) | (new >= hi[idx]) | ~np.isfinite(new)
        new[outside] = 0.5 * (lo[idx[outside]] + hi[idx[outside]])
        step = np.abs(new - theta[idx])
        theta[idx] = new
        active[idx[(step < tol) | (hi[idx] - lo[idx] < tol)]] = False
    _, _, info = target(theta, everyone)
    with np.errstate(divide="ignore"):
        if method == "map":
            assert prior_sd is not None
            se = 1 / np.sqrt(info + 1 / prior_sd**2)
        else:
            se = 1 / np.sqrt(np.where(info > 0, info, np.nan))
    if method != "map":
        theta[~has] = np.nan
        se[~has] = np.nan
    else:
        assert prior_mean is not None and prior_sd is not None
        theta[~has] = prior_mean[~has]
        se[~has] = prior_sd[~has]
    return AbilityEstimates(theta, se, method)


def estimate_map(
    responses: Any,
    params: ItemParams,
    *,
    prior_mean: PriorArg = 0.0,
    prior_sd: PriorArg = 1.0,
    groups: npt.ArrayLike | None = None,
    bounds: tuple[float, float] = (-6.0, 6.0),
    max_iter: int = 100,
    tol: float = 1e-8,
) -> AbilityEstimates:
    r"""Maximum a posteriori (Bayes modal) estimates under a normal prior.

    Solves :math:`\partial \log L / \partial\theta - (\theta - \mu)/\sigma^2 = 0` by Fisher scoring
    safeguarded with bisection inside ``bounds``; SE :math:`= (I(\hat\theta) + 1/\sigma^2)^{-1/2}`.
    The estimate always exists; it is clipped to ``bounds``.
    """
    x = responses
    n = x.shape[0] if is_sparse(x) else np.atleast_2d(np.asarray(x, dtype=np.float64)).shape[0]
    mu = _per_person(prior_mean, n, groups, "prior_mean")
    sd = _per_person(prior_sd, n, groups, "prior_sd")
    return _root_estimates(responses, params, "map", bounds, mu, sd, max_iter, tol)


def estimate_mle(
    responses: Any,
    params: ItemParams,
    *,
    bounds: tuple[float, float] = (-6.0, 6.0),
    max_iter: int = 100,
    tol: float = 1e-8,
) -> AbilityEstimates:
    r"""Maximum likelihood estimates, :math:`\partial \log L / \partial \theta = 0`.

    Fisher scoring safeguarded by bisection inside ``bounds``. **Finite bounds:** an all-lowest or
    all-highest response pattern (and any pattern whose likelihood keeps rising towards a bound)
    has no finite MLE; it gets the bound itself (default -6 or +6) with the SE
    :math:`1/\sqrt{I}` evaluated there. A person without responses gets ``nan``.
    """
    return _root_estimates(responses, params, "mle", bounds, None, None, max_iter, tol)


def estimate_wle(
    responses: Any,
    params: ItemParams,
    *,
    bounds: tuple[float, float] = (-6.0, 6.0),
    max_iter: int = 100,
    tol: float = 1e-8,
) -> AbilityEstimates:
    r"""Weighted likelihood estimates (Warm, 1989): root of :math:`S(\theta) + J(\theta) / (2 I(\theta))`.

    :math:`S` is the score, :math:`I` the test information of the answered items, and
    :math:`J = \sum_j \sum_k P'_{jk} P''_{jk} / P_{jk}`. The correction removes the first-order bias of
    the MLE and gives finite estimates for all-correct / all-wrong patterns under the Rasch, 2PL,
    GRM and GPCM models. **Finite bounds:** where the estimating equation has no root inside
    ``bounds`` (possible with 3PL items) the estimate is the bound. SE :math:`= 1/\sqrt{I(\hat\theta)}`.
    """
    return _root_estimates(responses, params, "wle", bounds, None, None, max_iter, tol)


# ============================================================================ plausible values
def draw_plausible_values(
    responses: Any,
    params: ItemParams,
    n_draws: int,
    rng: np.random.Generator,
    *,
    prior_mean: PriorArg = 0.0,
    prior_sd: PriorArg = 1.0,
    groups: npt.ArrayLike | None = None,
    quadpts: int = 241,
    theta_limit: float = 6.0,
) -> FloatArray:
    """Draw plausible values from each person's posterior, shape ``(n_persons, n_draws)``.

    The posterior is evaluated on a fine grid (``quadpts`` nodes, spacing 0.05 by default) under a
    normal prior (scalars, per-person arrays, or per-group mappings with ``groups``: the
    conditioning model of Mislevy, 1991, reduced to group means and SDs); a node is drawn from
    the discrete posterior and the draw is spread uniformly over that node's cell, i.e. sampling
    from the histogram interpolation of the posterior density.
    """
    if n_draws < 1:
        raise ValueError("n_draws must be at least 1")
    nodes, post = posterior_grid(
        responses,
        params,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        groups=groups,
        quadpts=quadpts,
        theta_limit=theta_limit,
    )
    n, q = post.shape
    step = nodes[1] - nodes[0]
    cdf = np.cumsum(post, axis=1)
    cdf /= cdf[:, -1:]
    out = np.empty((n, n_draws))
    chunk = 50_000
    for s0 in range(0, n, chunk):
        s1 = min(n, s0 + chunk)
        rows = np.arange(s1 - s0, dtype=np.float64)
        flat = (cdf[s0:s1] + rows[:, None] * 2.0).ravel()
        u = rng.random((s1 - s0, n_draws))
        pos = np.searchsorted(flat, (u + rows[:, None] * 2.0).ravel(), side="right")
        idx = pos.reshape(s1 - s0, n_draws) - (np.arange(s1 - s0) * q)[:, None]
        idx = np.clip(idx, 0, q - 1)
        jitter = rng.random((s1 - s0, n_draws)) - 0.5
        out[s0:s1] = nodes[idx] + jitter * step
    return out


# ============================================================================ reporting scale
@dataclass(frozen=True)
class ReportingScale:
    r"""Linear reporting scale: :math:`s = m_s + s_s (\theta - \mu_0) / \sigma_0` (500 + 100 z by default).

    Parameters
    ----------
    baseline_mean, baseline_sd
        Mean and SD of theta in the frozen baseline population.
    scale_mean, scale_sd
        Mean and SD of the baseline population on the reporting scale.
    """

    baseline_mean: float
    baseline_sd: float
    scale_mean: float = 500.0
    scale_sd: float = 100.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.baseline_sd) and self.baseline_sd > 0):
            raise ParameterError("baseline_sd must be positive")
        if not (np.isfinite(self.scale_sd) and self.scale_sd > 0):
            raise ParameterError("scale_sd must be positive")

    def to_scale(self, theta: npt.ArrayLike) -> FloatArray:
        """Scale scores of theta values."""
        t = np.asarray(theta, dtype=np.float64)
        return np.asarray(self.scale_mean + self.scale_sd * (t - self.baseline_mean) / self.baseline_sd)

    def to_theta(self, scores: npt.ArrayLike) -> FloatArray:
        """Theta values of scale scores (inverse of :meth:`to_scale`)."""
        s = np.asarray(scores, dtype=np.float64)
        return np.asarray(self.baseline_mean + self.baseline_sd * (s - self.scale_mean) / self.scale_sd)

    def se_to_scale(self, se: npt.ArrayLike) -> FloatArray:
        """Standard errors on the reporting scale."""
        return np.asarray(np.asarray(se, dtype=np.float64) * self.scale_sd / self.baseline_sd)


@dataclass(frozen=True)
class ProficiencyLevels:
    """Proficiency levels cut on the reporting scale, with a pass line (达标).

    Parameters
    ----------
    cuts
        Strictly increasing cut scores; a score equal to a cut belongs to the higher level.
    labels
        One label per level, ``len(cuts) + 1`` of them, lowest first.
    pass_level
        Label of the lowest level that counts as passing (达标).
    """

    cuts: tuple[float, ...]
    labels: tuple[str, ...]
    pass_level: str

    def __post_init__(self) -> None:
        cuts = tuple(float(c) for c in self.cuts)
        labels = tuple(str(lab) for lab in self.labels)
        if any(not np.isfinite(c) for c in cuts) or any(b <= a for a, b in zip(cuts, cuts[1:], strict=False)):
            raise ParameterError(f"cut scores must be finite and strictly increasing, got {cuts}")
        if len(labels) != len(cuts) + 1:
            raise ParameterError(f"{len(cuts)} cuts need {len(cuts) + 1} level labels, got {len(labels)}")
        if len(set(labels)) != len(labels):
            raise ParameterError("level labels must be unique")
        if str(self.pass_level) not in labels:
            raise ParameterError(f"pass level {self.pass_level!r} is not one of the labels {labels}")
        object.__setattr__(self, "cuts", cuts)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "pass_level", str(self.pass_level))

    def classify(self, scale_scores: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Level index of each score (0 = lowest level; -1 for ``nan``)."""
        s = np.asarray(scale_scores, dtype=np.float64)
        idx = np.searchsorted(np.asarray(self.cuts), s, side="right").astype(np.int64)
        return np.where(np.isnan(s), -1, idx)

    def label(self, scale_scores: npt.ArrayLike) -> list[str | None]:
        """Level label of each score (``None`` for ``nan``)."""
        return [self.labels[i] if i >= 0 else None for i in np.ravel(self.classify(scale_scores)).tolist()]

    def passed(self, scale_scores: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each score reaches the pass level (达标); ``False`` for ``nan``."""
        return np.asarray(self.classify(scale_scores) >= self.labels.index(self.pass_level))
