"""Test information, conditional standard errors, summed-score distributions and reliability.

* :func:`compute_information_curve`: test information I(theta) = sum_j I_j(theta) and the
  conditional SE 1 / sqrt(I(theta)) over a theta grid (Lord, 1980, eqs. 5-6 and 7-1).
* :func:`compute_summed_score_likelihoods`: P(S = s | theta) for the summed score S by the
  Lord-Wingersky (1984) recursion, generalised to polytomous items (Thissen, Pommerich,
  Billeaud & Williams, 1995). It is the engine of S-X2 item fit (:mod:`scoring.fit`) and of the
  expected summed-score reliability below.
* Reliability, in three forms (all for a latent N(mean, sd^2)):

  - :func:`compute_empirical_reliability`, from person estimates and their SEs (mirt's
    ``empirical_rxx``): var(theta_hat) / (var(theta_hat) + mean(se^2)). For EAP scores with
    posterior SDs, var(EAP) + E[PSD^2] = var(theta) (law of total variance), so this is
    1 - mean(se^2) / var(theta), the "posterior" marginal reliability.
  - :func:`compute_marginal_reliability`, the population-information version, which needs
    only item parameters: the average conditional reliability
    E_g[sigma^2 I(theta) / (sigma^2 I(theta) + 1)] (mirt's ``marginal_rxx``; Thissen & Wainer,
    2001), or ``method="error_variance"``: sigma^2 / (sigma^2 + E_g[1 / I(theta)]) (Green, Bock,
    Humphreys, Linn & Reckase, 1984).
  - :func:`compute_expected_reliability`, the exact expected reliability of summed-score EAP
    scoring of a set of items: var(E[theta | S]) / sigma^2 = 1 - E[var(theta | S)] / sigma^2,
    computed from the summed-score distribution without simulation (Thissen et al., 1995). For
    Rasch items the summed score is sufficient, so it is also the reliability of pattern EAPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError
from scoring.irt import item_information, normal_prior, probabilities
from scoring.params import ItemParams

__all__ = [
    "InformationCurve",
    "compute_empirical_reliability",
    "compute_expected_reliability",
    "compute_information_curve",
    "compute_marginal_reliability",
    "compute_summed_score_likelihoods",
]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InformationCurve:
    """Test information and conditional standard error over a theta grid.

    Attributes
    ----------
    theta
        Grid, shape ``(n_theta,)``.
    info
        Test information I(theta) = sum_j I_j(theta), shape ``(n_theta,)``.
    se
        Conditional standard error 1 / sqrt(I(theta)) (``inf`` where I = 0).
    item_info
        Item information I_j(theta), shape ``(n_theta, n_items)``.
    item_ids
        Identifiers of the items, in column order of ``item_info``.
    """

    theta: FloatArray
    info: FloatArray
    se: FloatArray
    item_info: FloatArray
    item_ids: tuple[str, ...]


def compute_information_curve(
    params: ItemParams,
    theta: npt.ArrayLike | None = None,
) -> InformationCurve:
    """Test information and conditional SE curves.

    I(theta) = sum_j I_j(theta) and SE(theta) = I(theta)^(-1/2), the asymptotic standard error of
    the maximum-likelihood ability estimate (Lord, 1980, eqs. 5-6 and 7-1).

    Parameters
    ----------
    params
        Item parameters (use ``params.subset(...)`` for a form or a short test).
    theta
        Grid of abilities; default 81 points on [-4, 4].

    Returns
    -------
    InformationCurve
    """
    grid = np.linspace(-4.0, 4.0, 81) if theta is None else np.atleast_1d(np.asarray(theta, np.float64))
    if grid.ndim != 1:
        raise DataError("theta must be a 1-D grid")
    item_info = np.asarray(item_information(params, grid), dtype=np.float64).reshape(grid.size, -1)
    info = item_info.sum(axis=1)
    with np.errstate(divide="ignore"):
        se = np.where(info > 0, 1.0 / np.sqrt(np.where(info > 0, info, 1.0)), np.inf)
    return InformationCurve(theta=grid, info=info, se=se, item_info=item_info, item_ids=params.ids)


def compute_summed_score_likelihoods(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    """Summed-score likelihoods P(S = s | theta) by the Lord-Wingersky recursion.

    Starting from L_0(0 | theta) = 1, adding item j with categories 0..K_j gives
    L_j(s | theta) = sum_k L_{j-1}(s - k | theta) P_jk(theta) (Lord & Wingersky, 1984;
    Thissen, Pommerich, Billeaud & Williams, 1995, for polytomous items).

    Parameters
    ----------
    params
        Item parameters.
    theta
        Ability values, shape ``(n_theta,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_theta, sum_j K_j + 1)``; each row sums to one.
    """
    grid = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    p = np.asarray(probabilities(params, grid), dtype=np.float64)
    return _lord_wingersky(p, np.asarray(params.max_scores, dtype=np.int64))


def compute_empirical_reliability(
    theta: npt.ArrayLike,
    se: npt.ArrayLike,
    *,
    theta_as_true: bool = False,
) -> float:
    """Empirical (posterior) marginal reliability from person estimates and standard errors.

    rho = var(theta_hat) / (var(theta_hat) + mean(se^2)) (mirt's ``empirical_rxx``). With
    EAP estimates and posterior SDs, var(theta_hat) + mean(se^2) estimates the latent variance,
    so this equals 1 - mean(se^2) / var(theta). ``theta_as_true=True`` gives
    1 - mean(se^2) / var(theta_hat) instead (mirt's ``T_as_X``; the form for ML/WLE estimates,
    whose variance already contains the error).

    Parameters
    ----------
    theta
        Ability estimates; non-finite entries are ignored (with their SEs).
    se
        Their standard errors.
    theta_as_true
        Use var(theta_hat) as the total variance.

    Returns
    -------
    float
    """
    t = np.asarray(theta, dtype=np.float64).reshape(-1)
    s = np.asarray(se, dtype=np.float64).reshape(-1)
    if t.shape != s.shape:
        raise DataError(f"theta and se differ in length ({t.size} vs {s.size})")
    ok = np.isfinite(t) & np.isfinite(s)
    if ok.sum() < 2:
        raise DataError("need at least two finite estimates")
    var_t = float(np.var(t[ok], ddof=1))
    err = float(np.mean(s[ok] ** 2))
    if theta_as_true:
        return 1.0 - err / var_t
    return var_t / (var_t + err)


def compute_marginal_reliability(
    params: ItemParams,
    *,
    mean: float = 0.0,
    sd: float = 1.0,
    method: Literal["average", "error_variance"] = "average",
    n_points: int = 1001,
    limit: float = 6.0,
) -> float:
    """Marginal reliability from test information over a normal population.

    With g = N(mean, sd^2) and I(theta) the test information:

    * ``"average"`` (default): rho = integral g(theta) sd^2 I(theta) / (sd^2 I(theta) + 1)
      dtheta, the population average of the conditional reliability (mirt's ``marginal_rxx``,
      identical for sd = 1; Thissen & Wainer, 2001);
    * ``"error_variance"``: rho = sd^2 / (sd^2 + integral g(theta) / I(theta) dtheta), the ratio
      of true to true-plus-average-error variance (Green, Bock, Humphreys, Linn & Reckase, 1984).

    Parameters
    ----------
    params
        Item parameters (a subset gives the expected reliability of that set of items).
    mean, sd
        Latent mean and standard deviation.
    method
        See above.
    n_points, limit
        Integration grid: ``n_points`` equally spaced nodes on mean +/- limit * sd.

    Returns
    -------
    float
    """
    if sd <= 0:
        raise DataError("sd must be positive")
    nodes = mean + sd * np.linspace(-limit, limit, n_points)
    w = normal_prior(nodes, mean, sd)
    info = np.asarray(item_information(params, nodes), dtype=np.float64).reshape(nodes.size, -1).sum(axis=1)
    var = sd * sd
    if method == "average":
        return float(np.sum(w * var * info / (var * info + 1.0)))
    if method == "error_variance":
        if np.any(info <= 0):
            return 0.0
        return float(var / (var + np.sum(w / info)))
    raise DataError(f"unknown method {method!r}; expected 'average' or 'error_variance'")


def compute_expected_reliability(
    params: ItemParams,
    *,
    mean: float = 0.0,
    sd: float = 1.0,
    n_points: int = 61,
    limit: float = 6.0,
) -> float:
    """Expected reliability of summed-score EAP scores for a set of items under N(mean, sd^2).

    With quadrature weights w_q of N(mean, sd^2) and L(s | theta_q) from the Lord-Wingersky
    recursion, P(s) = sum_q w_q L(s | theta_q), E[theta | s] and var(theta | s) follow by Bayes'
    rule, and rho = 1 - sum_s P(s) var(theta | s) / var(theta) (Thissen, Pommerich, Billeaud &
    Williams, 1995; var(theta) is that of the discrete prior). No simulation is involved.

    Parameters
    ----------
    params
        The items (e.g. ``bank.subset(form_ids)``).
    mean, sd
        Latent mean and standard deviation.
    n_points, limit
        Quadrature: ``n_points`` equally spaced nodes on mean +/- limit * sd.

    Returns
    -------
    float
    """
    if sd <= 0:
        raise DataError("sd must be positive")
    nodes = mean + sd * np.linspace(-limit, limit, n_points)
    w = normal_prior(nodes, mean, sd)
    lik = compute_summed_score_likelihoods(params, nodes)  # (q, S)
    joint = lik * w[:, None]
    p_s = joint.sum(axis=0)
    ok = p_s > 0
    post = joint[:, ok] / p_s[ok]
    m1 = nodes @ post
    m2 = (nodes * nodes) @ post
    cond_var = np.maximum(m2 - m1 * m1, 0.0)
    prior_mean = float(np.sum(w * nodes))
    prior_var = float(np.sum(w * (nodes - prior_mean) ** 2))
    return 1.0 - float(np.sum(p_s[ok] * cond_var)) / prior_var


# --------------------------------------------------------------------------------------------
# internals shared with scoring.fit


def _lord_wingersky(p: FloatArray, max_scores: npt.NDArray[np.int64]) -> FloatArray:
    """Lord-Wingersky recursion on category probabilities ``p`` (n_theta, n_items, kmax + 1)."""
    n_theta = p.shape[0]
    lik = np.ones((n_theta, 1))
    for j, k_j in enumerate(max_scores.tolist()):
        width = lik.shape[1]
        new = np.zeros((n_theta, width + k_j))
        for k in range(k_j + 1):
            new[:, k : k + width] += lik * p[:, j, k][:, None]
        lik = new
    return lik
