r"""Population model: a latent regression on reporting variables, fitted by EM, and plausible values from it.

Item parameters are fixed (an :class:`~scoring.params.ItemParams` table from a published
calibration). Ability follows a normal linear model on background variables,

.. math:: \theta_i \sim N(x_i'\beta + \alpha_{s(i)},\; \sigma^2_{g(i)}),

with optional absorbed effects :math:`\alpha_s` (one per school: conditioning on the school, as
NAEP's and PISA's conditioning models do through school means) and a residual variance per group
:math:`g` (e.g. per grade). This is NAEP's conditioning model (Mislevy, 1991; Mislevy, Beaton,
Kaplan & Sheehan, 1992), TAM's ``tam.latreg`` and ConQuest's regression model with fixed item
parameters. EM over a fixed quadrature grid (the likelihood on the grid is computed once from
:func:`scoring.irt.log_likelihood_grid`, one sparse product, since the items do not change):

* E-step: each person's posterior on the nodes, :math:`\pi_{iq} \propto L_i(\theta_q)\,
  \varphi((\theta_q - \mu_i)/\sigma_{g(i)})`, its mean :math:`m_i` and variance :math:`v_i`;
* M-step: :math:`\beta` (and :math:`\alpha`) by weighted least squares of :math:`m_i` on
  :math:`x_i` (school effects absorbed by within-school centring), and
  :math:`\sigma^2_g = \sum_{i \in g} w_i [v_i + (m_i - \mu_i)^2] / \sum_{i \in g} w_i`.

Each cycle raises the marginal log-likelihood :math:`\sum_i w_i \log \sum_q L_i(\theta_q)
\varphi_{iq}` (Dempster, Laird & Rubin, 1977). Plausible values are then drawn from each person's
posterior under the fitted prior :math:`N(\mu_i, \sigma^2_{g(i)})`, with the regression
coefficients and school effects drawn anew for each PV from their approximate posterior (proper
imputation): exact draws from the posterior discretised on a fine grid (241 nodes, spacing 0.05),
spread uniformly inside the drawn node's cell. Group statistics of
these PVs are unbiased for the population model's groups, where EAPs under a common N(0, 1) prior
shrink group differences toward zero.

References
----------
Mislevy, R. J. (1991). Randomization-based inference about latent variables from complex samples.
*Psychometrika*, 56, 177-196. Mislevy, R. J., Beaton, A. E., Kaplan, B. & Sheehan, K. M. (1992).
Estimating population characteristics from sparse matrix samples of item responses. *Journal of
Educational Measurement*, 29, 133-161. von Davier, M., Gonzalez, E. & Mislevy, R. J. (2009). What
are plausible values and why are they useful? *IERI Monograph Series*, 2, 9-36.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from scoring.exceptions import ConvergenceWarning, DataError, ParameterError
from scoring.irt import flat_log_probabilities, quadrature_grid, response_indicators
from scoring.params import ItemParams

__all__ = ["LatentRegression", "draw_latent_regression_pvs", "draw_prior_means", "fit_latent_regression"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LatentRegression:
    r"""A fitted latent regression (population model) and each person's conditional prior and posterior.

    Parameters
    ----------
    names
        Names of the coefficients (``"intercept"`` first when there is one).
    coefficients
        :math:`\hat\beta`, one per name.
    variance_groups
        Labels of the residual-variance groups (``("all",)`` for one).
    residual_sd
        :math:`\hat\sigma_g`, one per variance group.
    absorbed
        Labels of the absorbed effects (schools), empty if none.
    absorbed_effects
        :math:`\hat\alpha_s`, one per absorbed label.
    dropped
        Covariates left out because they are constant within the absorbed units (e.g. region,
        urban/rural with school effects: the school effect carries them) or collinear.
    prior_mean, prior_sd
        Each person's conditional prior :math:`\mu_i = x_i'\hat\beta + \hat\alpha_{s(i)}` and
        :math:`\hat\sigma_{g(i)}`.
    eap, eap_sd
        Each person's posterior mean and SD under that prior (conditioned EAP).
    log_likelihood
        Marginal log-likelihood at the estimates.
    n_iter, converged
        EM cycles run, and whether the tolerance was met.
    coefficient_cov
        Approximate covariance of :math:`\hat\beta` (inverse observed information, Louis, 1982).
    absorbed_info
        Observed information :math:`D_s` of each absorbed effect given :math:`\beta`.
    absorbed_xbar
        Information-weighted mean covariates of each absorbed unit (for :math:`\alpha_s \mid \beta`).
    covariates, absorbed_codes
        The design matrix used (kept columns) and each person's absorbed-unit index (``-1``: none).
    """

    names: tuple[str, ...]
    coefficients: FloatArray
    variance_groups: tuple[Hashable, ...]
    residual_sd: FloatArray
    absorbed: tuple[Hashable, ...]
    absorbed_effects: FloatArray
    dropped: tuple[str, ...]
    prior_mean: FloatArray
    prior_sd: FloatArray
    eap: FloatArray
    eap_sd: FloatArray
    log_likelihood: float
    n_iter: int
    converged: bool
    coefficient_cov: FloatArray
    absorbed_info: FloatArray
    absorbed_xbar: FloatArray
    covariates: FloatArray
    absorbed_codes: IntArray

    def __post_init__(self) -> None:
        for name in (
            "coefficients", "residual_sd", "absorbed_effects", "prior_mean", "prior_sd", "eap", "eap_sd",
            "coefficient_cov", "absorbed_info", "absorbed_xbar", "covariates",
        ):  # fmt: skip
            a = np.array(getattr(self, name), dtype=np.float64)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        codes = np.array(self.absorbed_codes, dtype=np.int64)
        codes.setflags(write=False)
        object.__setattr__(self, "absorbed_codes", codes)

    def coefficient(self, name: str) -> float:
        """The coefficient of one covariate."""
        if name not in self.names:
            raise KeyError(f"no coefficient {name!r}; the model has {list(self.names)}")
        return float(self.coefficients[self.names.index(name)])


def _indicators(responses: Any, params: ItemParams) -> sp.csr_matrix:
    """Sparse category indicators of a dense (nan = not administered) or sparse response matrix."""
    if not sp.issparse(responses):
        x = np.asarray(responses, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != params.n_items:
            raise DataError(f"responses have shape {x.shape}; expected (n_persons, {params.n_items}) for these items")
        return response_indicators(x, params.n_categories)
    csr = sp.csr_matrix(responses)
    n, j = csr.shape
    if j != params.n_items:
        raise DataError(f"responses have {j} items; the parameter table has {params.n_items}")
    vals = np.asarray(csr.data, dtype=np.float64)
    iv = vals.astype(np.int64)
    cols = csr.indices
    if np.any(iv != vals) or np.any(iv < 0) or np.any(iv > params.max_scores[cols]):
        raise DataError("responses must be integer scores within each item's categories")
    rows = np.repeat(np.arange(n), np.diff(csr.indptr))
    off = np.concatenate([[0], np.cumsum(params.n_categories)])
    return sp.csr_matrix((np.ones(iv.size), (rows, off[cols] + iv)), shape=(n, int(off[-1])))


def _labels(values: npt.ArrayLike | None, n: int, name: str) -> tuple[IntArray, tuple[Hashable, ...]]:
    if values is None:
        return np.zeros(n, dtype=np.int64), ("all",)
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise DataError(f"{name} must have one label per person ({n}), got shape {arr.shape}")
    labels, inv = np.unique(arr, return_inverse=True)
    return inv.astype(np.int64).reshape(-1), tuple(labels.tolist())


def _design_matrix(
    covariates: npt.ArrayLike | None, names: Sequence[str] | None, intercept: bool, n: int
) -> tuple[FloatArray, list[str]]:
    if covariates is None:
        x = np.zeros((n, 0))
    else:
        x = np.asarray(covariates, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise DataError(f"covariates must be (n_persons, p) with n_persons = {n}, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise DataError(f"covariate {int(bad[1])} of person {int(bad[0])} is missing; the model needs every value")
    given = [f"x{k + 1}" for k in range(x.shape[1])] if names is None else [str(v) for v in names]
    if len(given) != x.shape[1]:
        raise ParameterError(f"{len(given)} names for {x.shape[1]} covariates")
    if intercept:
        x = np.hstack([np.ones((n, 1)), x])
        given = ["intercept", *given]
    return x, given


def _group_mean(values: FloatArray, codes: IntArray, k: int, w: FloatArray) -> FloatArray:
    """Weighted mean of each column of ``values`` per code, ``(k, ...)``."""
    ws = np.bincount(codes, weights=w, minlength=k)
    flat = values.reshape(values.shape[0], -1)
    sums = np.stack([np.bincount(codes, weights=w * flat[:, c], minlength=k) for c in range(flat.shape[1])], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(ws[:, None] > 0, sums / ws[:, None], 0.0)
    return out.reshape(k, *values.shape[1:])


def _keep_columns(x: FloatArray, w: FloatArray, names: list[str]) -> tuple[list[int], list[str]]:
    """Columns with variation that are not linear combinations of earlier ones (weighted Gram-Schmidt)."""
    keep: list[int] = []
    basis: list[FloatArray] = []
    sw = np.sqrt(w)
    for c in range(x.shape[1]):
        v = x[:, c] * sw
        scale = float(np.linalg.norm(v))
        for b in basis:
            v = v - (b @ v) * b
        if scale > 0 and np.linalg.norm(v) > 1e-8 * scale:
            basis.append(v / np.linalg.norm(v))
            keep.append(c)
    return keep, [names[c] for c in range(x.shape[1]) if c not in keep]


def _m_step(
    m: FloatArray, x: FloatArray, w: FloatArray, school: IntArray | None, n_schools: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted least squares of the posterior means on x (school effects absorbed): beta, alpha, fitted mu."""
    if school is None:
        xtw = x.T * w
        beta = np.asarray(np.linalg.solve(xtw @ x, xtw @ m), dtype=np.float64) if x.shape[1] else np.zeros(0)
        return beta, np.zeros(0), x @ beta
    xc = x - _group_mean(x, school, n_schools, w)[school] if x.shape[1] else x
    mc = m - _group_mean(m, school, n_schools, w)[school]
    if x.shape[1]:
        xtw = xc.T * w
        beta = np.asarray(np.linalg.solve(xtw @ xc, xtw @ mc), dtype=np.float64)
    else:
        beta = np.zeros(0)
    alpha = _group_mean(m - x @ beta, school, n_schools, w)
    return beta, alpha, x @ beta + alpha[school]


def fit_latent_regression(
    responses: Any,
    params: ItemParams,
    covariates: npt.ArrayLike | None = None,
    *,
    names: Sequence[str] | None = None,
    intercept: bool = True,
    variance_groups: npt.ArrayLike | None = None,
    schools: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
    max_iter: int = 500,
    tol: float = 1e-6,
) -> LatentRegression:
    r"""Fit the latent regression :math:`\theta_i \sim N(x_i'\beta + \alpha_{s(i)}, \sigma^2_{g(i)})` by EM.

    Parameters
    ----------
    responses
        Persons x items scores, ``nan`` where not administered, or a ``scipy.sparse`` matrix whose
        stored entries are the responses (adaptive data: each student sees a few of many items).
        A person without responses is allowed (its posterior is its prior).
    params
        Fixed item parameters; the columns of ``responses`` follow its items.
    covariates
        Background variables ``(n, p)`` (dummies for gender, urban/rural, region, grade, ...);
        ``intercept`` adds a column of ones. Columns constant within ``schools`` are absorbed by
        the school effects and listed in :attr:`LatentRegression.dropped`.
    names
        Covariate names (default ``x1``, ``x2``, ...).
    variance_groups
        One label per person: a residual variance is estimated per label (e.g. grade).
    schools
        One label per person: absorbed school effects :math:`\alpha_s` (conditioning on the school).
    weights
        Sampling weights (default 1): the M-step is weighted.
    quadpts, theta_limit
        The EM grid (equally spaced on ``[-theta_limit, theta_limit]``).
    max_iter, tol
        EM stops when no coefficient, school effect or residual SD moves by more than ``tol``.

    Warns
    -----
    ConvergenceWarning
        If ``max_iter`` cycles do not meet ``tol``.
    """
    y = _indicators(responses, params)
    n = y.shape[0]
    x, given = _design_matrix(covariates, names, intercept, n)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(~np.isfinite(w)) or np.any(w < 0):
        raise DataError(f"weights must be {n} finite non-negative values")
    vg, vg_labels = _labels(variance_groups, n, "variance_groups")
    school, school_labels = (None, ()) if schools is None else _labels(schools, n, "schools")
    n_schools = len(school_labels)
    if school is not None:
        xc = x - _group_mean(x, school, n_schools, w)[school]
        keep, dropped = _keep_columns(xc, w, given)
    else:
        keep, dropped = _keep_columns(x, w, given)
    x = x[:, keep]
    kept = [given[c] for c in keep]
    nodes = quadrature_grid(quadpts, theta_limit)
    ll = np.asarray(y @ flat_log_probabilities(params, nodes))  # (n, Q), once: the items are fixed
    ll -= ll.max(axis=1, keepdims=True)
    lik = np.exp(ll)
    fit = _run_em(lik, nodes, x, w, vg, len(vg_labels), school, n_schools, max_iter, tol)
    post, marg = _posterior(lik, nodes, fit.mu, fit.sd[vg])
    m = post @ nodes
    v = np.maximum(post @ nodes**2 - m**2, 0.0)
    cov, info, xbar = _parameter_information(x, v, fit.sd[vg], school, n_schools)
    return LatentRegression(
        names=tuple(kept),
        coefficients=fit.beta,
        variance_groups=vg_labels,
        residual_sd=fit.sd,
        absorbed=school_labels,
        absorbed_effects=fit.alpha,
        dropped=tuple(dropped),
        prior_mean=fit.mu,
        prior_sd=fit.sd[vg],
        eap=m,
        eap_sd=np.sqrt(v),
        log_likelihood=float(np.sum(w * marg)),
        n_iter=fit.n_iter,
        converged=fit.converged,
        coefficient_cov=cov,
        absorbed_info=info,
        absorbed_xbar=xbar,
        covariates=x,
        absorbed_codes=np.full(n, -1, dtype=np.int64) if school is None else school,
    )


@dataclass(frozen=True)
class _EmFit:
    beta: FloatArray
    alpha: FloatArray
    sd: FloatArray
    mu: FloatArray
    n_iter: int
    converged: bool


def _run_em(
    lik: FloatArray,
    nodes: FloatArray,
    x: FloatArray,
    w: FloatArray,
    vg: IntArray,
    n_vg: int,
    school: IntArray | None,
    n_schools: int,
    max_iter: int,
    tol: float,
) -> _EmFit:
    """EM cycles from beta = 0, sigma = 1 (the first E-step gives N(0, 1)-prior EAPs)."""
    n = lik.shape[0]
    beta, alpha = np.zeros(x.shape[1]), np.zeros(n_schools)
    mu, sd_g = np.zeros(n), np.ones(n_vg)
    converged, n_iter, change = False, 0, np.inf
    for _cycle in range(max_iter):
        n_iter += 1
        post, _ = _posterior(lik, nodes, mu, sd_g[vg])
        m = post @ nodes
        v = np.maximum(post @ nodes**2 - m**2, 0.0)
        new_beta, new_alpha, mu = _m_step(m, x, w, school, n_schools)
        resid = v + (m - mu) ** 2
        wsum = np.bincount(vg, weights=w, minlength=n_vg)
        new_sd = np.sqrt(np.bincount(vg, weights=w * resid, minlength=n_vg) / wsum)
        change = max(
            np.max(np.abs(new_beta - beta), initial=0.0),
            np.max(np.abs(new_alpha - alpha), initial=0.0),
            float(np.max(np.abs(new_sd - sd_g))),
        )
        beta, alpha, sd_g = new_beta, new_alpha, new_sd
        if change < tol:
            converged = True
            break
    if not converged:
        msg = f"latent regression EM stopped after {max_iter} cycles (largest change {change:.2e})"
        warnings.warn(msg, ConvergenceWarning, stacklevel=3)
    return _EmFit(beta, alpha, sd_g, mu, n_iter, converged)


def _parameter_information(
    x: FloatArray, v: FloatArray, sd: FloatArray, school: IntArray | None, n_schools: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    r"""Observed information of the prior means (Louis, 1982): :math:`d_i = 1/\sigma^2 - v_i/\sigma^4` per person.

    For a normal prior with mean :math:`\mu_i = x_i'\beta + \alpha_s`, the observed information is
    :math:`\sum_i d_i\, z_i z_i'` (:math:`z_i` the design row, :math:`v_i` the posterior variance).
    Returns the covariance of :math:`\hat\beta` (school effects profiled out: covariates centred on
    their :math:`d`-weighted school means), :math:`D_s = \sum_{i \in s} d_i`, and those school means.
    """
    d = np.maximum(1.0 / sd**2 - v / sd**4, 1e-12 / sd**2)
    if school is None:
        xc, info, xbar = x, np.zeros(0), np.zeros((0, x.shape[1]))
    else:
        info = np.asarray(np.bincount(school, weights=d, minlength=n_schools), dtype=np.float64)
        xbar = _group_mean(x, school, n_schools, d) if x.shape[1] else np.zeros((n_schools, 0))
        xc = x - xbar[school]
    if x.shape[1] == 0:
        return np.zeros((0, 0)), info, xbar
    gram = (xc.T * d) @ xc
    return np.asarray(np.linalg.inv(gram), dtype=np.float64), info, xbar


def _posterior(lik: FloatArray, nodes: FloatArray, mu: FloatArray, sd: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Posterior weights on the nodes under N(mu_i, sd_i^2), and each person's log marginal (up to a constant)."""
    logprior = -0.5 * ((nodes[None, :] - mu[:, None]) / sd[:, None]) ** 2
    shift = logprior.max(axis=1, keepdims=True)
    prior = np.exp(logprior - shift)
    prior /= prior.sum(axis=1, keepdims=True)
    post = lik * prior
    total = post.sum(axis=1, keepdims=True)
    post /= total
    return post, np.log(total[:, 0])


def draw_prior_means(model: LatentRegression, n_draws: int, rng: np.random.Generator) -> FloatArray:
    r"""Each person's prior mean under parameters drawn from their approximate posterior, ``(n, n_draws)``.

    :math:`\beta^{(m)} \sim N(\hat\beta, \hat V_\beta)` and, given it, each absorbed effect
    :math:`\alpha_s^{(m)} \sim N(\hat\alpha_s - \bar x_s'(\beta^{(m)} - \hat\beta), 1/D_s)` (the
    normal approximation of the likelihood at the EM solution, information from Louis, 1982). Drawing
    the parameters anew for each PV makes the imputation proper (Rubin, 1987, sec. 4.2): the PVs then
    carry the uncertainty of a school's effect, which matters for the school's own mean. The residual
    SDs are kept at their estimates (each rests on thousands of students).
    """
    x = model.covariates
    p = x.shape[1]
    shift = np.zeros((x.shape[0], n_draws))
    if p:
        chol = np.linalg.cholesky(model.coefficient_cov + 1e-15 * np.eye(p))
        d_beta = chol @ rng.standard_normal((p, n_draws))  # (p, M)
        shift += x @ d_beta
    if model.absorbed:
        noise = rng.standard_normal((len(model.absorbed), n_draws)) / np.sqrt(model.absorbed_info)[:, None]
        d_alpha = noise - (model.absorbed_xbar @ d_beta if p else 0.0)
        shift += d_alpha[model.absorbed_codes]
    return np.asarray(model.prior_mean[:, None] + shift)


_DRAW_ROWS = 2048
"""Persons per block when drawing from the grid (a block's arrays stay in the processor's cache)."""


def _draw_from_grid(
    lik: FloatArray, nodes: FloatArray, mu: FloatArray, sd: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """One draw per person from the posterior on the grid, spread uniformly inside the drawn node's cell.

    The posterior is formed a block of persons at a time (:data:`_DRAW_ROWS`): every step is row by
    row, so the draws are the same as over the whole array at once, without its temporaries of
    ``persons x nodes`` (87 MB each for 45,000 persons on 241 nodes), which made the draw
    memory-bound (``bench/pv_draw.py``).
    """
    n = mu.size
    u = rng.random(n)
    idx = np.empty(n, dtype=np.int64)
    for a in range(0, n, _DRAW_ROWS):
        b = min(n, a + _DRAW_ROWS)
        post, _ = _posterior(lik[a:b], nodes, mu[a:b], sd[a:b])
        cdf = np.cumsum(post, axis=1)
        idx[a:b] = np.minimum((cdf < (u[a:b] * cdf[:, -1])[:, None]).sum(axis=1), nodes.size - 1)
    step = nodes[1] - nodes[0]
    return np.asarray(nodes[idx] + (rng.random(n) - 0.5) * step)


def draw_latent_regression_pvs(
    responses: Any,
    params: ItemParams,
    model: LatentRegression,
    rng: np.random.Generator,
    *,
    n_draws: int = 10,
    proper: bool = True,
    quadpts: int = 241,
    theta_limit: float = 6.0,
) -> FloatArray:
    r"""Plausible values ``(n_persons, n_draws)`` from each person's posterior under the fitted population model.

    PV ``m`` of person ``i`` is drawn from the posterior under the prior
    :math:`N(\mu_i^{(m)}, \sigma^2_{g(i)})`: with ``proper=True`` (default) the prior means come from
    parameters drawn for that PV (:func:`draw_prior_means`), otherwise they are the fitted
    :attr:`LatentRegression.prior_mean`. The draw is exact from the posterior discretised on
    ``quadpts`` nodes (spacing 0.05 by default), spread uniformly inside the drawn node's cell, as
    :func:`scoring.ability.draw_plausible_values` does. The item parameters are fixed (not drawn).
    """
    if n_draws < 1:
        raise ParameterError("n_draws must be at least 1")
    y = _indicators(responses, params)
    if y.shape[0] != model.prior_mean.size:
        raise DataError(f"the model was fitted to {model.prior_mean.size} persons, the responses have {y.shape[0]}")
    nodes = quadrature_grid(quadpts, theta_limit)
    ll = np.asarray(y @ flat_log_probabilities(params, nodes))
    ll -= ll.max(axis=1, keepdims=True)
    lik = np.exp(ll)
    mu = draw_prior_means(model, n_draws, rng) if proper else np.repeat(model.prior_mean[:, None], n_draws, axis=1)
    return np.stack([_draw_from_grid(lik, nodes, mu[:, m], model.prior_sd, rng) for m in range(n_draws)], axis=1)
