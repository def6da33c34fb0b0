"""Item response functions, information, and the response-likelihood on a quadrature grid.

All functions are vectorised over ability values and items; ``theta`` may be a scalar or a 1-D
array. Models and parameterisation follow :mod:`scoring.params` (mirt's IRT parameterisation,
logistic metric, no 1.7 constant).

References
----------
Birnbaum, A. (1968). Some latent trait models. In Lord & Novick, *Statistical theories of mental
test scores*. Lord, F. M. (1980). *Applications of item response theory to practical testing
problems*, eq. 5-19. Samejima, F. (1969). Estimation of latent ability using a response pattern of
graded scores. *Psychometrika Monograph* 17. Muraki, E. (1992). A generalized partial credit
model. *Applied Psychological Measurement*, 16, 159-176. Bock, R. D. & Aitkin, M. (1981). Marginal
maximum likelihood estimation of item parameters. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring._lazy import is_sparse
from scoring.exceptions import DataError
from scoring.models import group_items
from scoring.params import ItemParams

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "LOG_FLOOR",
    "category_offsets",
    "expected_score",
    "flat_log_probabilities",
    "item_information",
    "log_likelihood_grid",
    "log_probabilities",
    "normal_prior",
    "probabilities",
    "quadrature_grid",
    "response_indicators",
    "test_information",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

LOG_FLOOR = -700.0
"""Log-probabilities are clipped below at this value (exp(-700) ~ 1e-304) so that logs stay finite."""


def _theta(theta: npt.ArrayLike) -> FloatArray:
    t = np.asarray(theta, dtype=np.float64)
    if t.ndim > 1:
        raise ValueError(f"theta must be a scalar or a 1-D array, got shape {t.shape}")
    return np.atleast_1d(t)


def log_probabilities(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    r"""Log category probabilities, computed stably, shape ``(n_theta, n_items, kmax + 1)``.

    Categories beyond an item's K get ``-inf``. Each family's trace line lives in
    :mod:`scoring.models`.

    Notes
    -----
    * Dichotomous (Birnbaum, 1968): :math:`P_1 = c + (1 - c)\,\sigma(a(\theta - b))`, with
      :math:`\log P_0 = \log(1 - c) + \log \sigma(-a(\theta - b))`.
    * GRM (Samejima, 1969): with :math:`z_k = a(\theta - b_k)`, :math:`z_0 = +\infty`,
      :math:`z_{K+1} = -\infty`, :math:`P_k = \sigma(z_k) - \sigma(z_{k+1})
      = \sigma(z_k)\,\sigma(-z_{k+1})\,(1 - e^{-(z_k - z_{k+1})})`, evaluated in logs so that
      tiny category probabilities keep their relative precision.
    * GPCM (Muraki, 1992) and the partial credit model (``rasch`` with K > 1):
      :math:`\log P_k = z_k - \operatorname{logsumexp}_v z_v`, :math:`z_k = \sum_{v \le k} a(\theta - b_v)`.
    """
    t = _theta(theta)
    out = np.full((t.size, params.n_items, params.kmax + 1), -np.inf)
    for group in group_items(params):
        lp = group.model.log_prob(group.psi, t)  # (m, K+1, T)
        out[:, group.index, : group.model.k + 1] = lp.transpose(2, 0, 1)
    return out


def probabilities(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    r"""Category probabilities :math:`P_{jk}(\theta)`, shape ``(n_theta, n_items, kmax + 1)``.

    Each item's probabilities over its categories ``0..K`` sum to one; categories beyond K are 0.
    See :func:`log_probabilities` for the formulas (3PL: Birnbaum, 1968; GRM: Samejima, 1969;
    GPCM: Muraki, 1992).
    """
    return np.exp(log_probabilities(params, theta))


def expected_score(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    r"""Expected item score :math:`E[X_j \mid \theta] = \sum_k k P_{jk}(\theta)`, shape ``(n_theta, n_items)``."""
    p = probabilities(params, theta)
    return np.asarray(p @ np.arange(p.shape[2], dtype=np.float64))


def item_information(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    r"""Fisher item information :math:`I_j(\theta)`, shape ``(n_theta, n_items)``.

    Notes
    -----
    * 3PL (Lord, 1980, eq. 5-19; 2PL and Rasch are the case c = 0):
      :math:`I = a^2 \frac{(P - c)^2}{(1 - c)^2} \frac{Q}{P}`.
    * GRM (Samejima, 1969): :math:`I = \sum_{k=0}^{K} \frac{(P_k')^2}{P_k}` with
      :math:`P_k' = a [W_k - W_{k+1}]`, :math:`W_k = P_k^*(1 - P_k^*)`, :math:`W_0 = W_{K+1} = 0`.
    * GPCM / partial credit (Muraki, 1993): :math:`I = a^2 \operatorname{Var}(X \mid \theta)`.

    All three are the general :math:`\sum_k (\partial P_k / \partial \theta)^2 / P_k
    = \sum_k P_k (\partial \log P_k / \partial \theta)^2`, which is how
    :meth:`scoring.models.ItemModel.information` evaluates them.
    """
    t = _theta(theta)
    out = np.zeros((t.size, params.n_items))
    for group in group_items(params):
        out[:, group.index] = group.model.information(group.psi, t).T
    return out


def test_information(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    r"""Test information :math:`I(\theta) = \sum_j I_j(\theta)`, shape ``(n_theta,)`` (Lord, 1980, eq. 5-6)."""
    return np.asarray(item_information(params, theta).sum(axis=1))


test_information.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# ---------------------------------------------------------------------------- quadrature
def quadrature_grid(n_points: int = 61, limit: float = 6.0) -> FloatArray:
    """Equally spaced quadrature nodes on ``[-limit, limit]`` (mirt's default: 61 nodes on [-6, 6])."""
    if n_points < 3:
        raise ValueError("at least 3 quadrature points are needed")
    return np.linspace(-limit, limit, n_points)


def normal_prior(nodes: npt.ArrayLike, mean: float = 0.0, sd: float = 1.0) -> FloatArray:
    """Normal density at the nodes, normalised to sum to one (the discrete prior used by mirt's EM)."""
    x = np.asarray(nodes, dtype=np.float64)
    logw = -0.5 * ((x - mean) / sd) ** 2
    w = np.exp(logw - logw.max())
    return np.asarray(w / w.sum())


# ---------------------------------------------------------------------------- response likelihood
def category_offsets(n_categories: npt.ArrayLike) -> IntArray:
    """Column offset of each item's category 0 in the stacked category layout (length n_items + 1)."""
    nc = np.asarray(n_categories, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(nc)]).astype(np.int64)


def response_indicators(
    responses: npt.ArrayLike, n_categories: npt.ArrayLike, *, dtype: type = np.float64
) -> sp.csr_matrix:
    """Sparse indicator matrix ``Y`` (persons x sum of categories), ``Y[p, off_j + x_pj] = 1``.

    Missing responses (``nan``) give an all-zero block, so ``Y @ log_P`` is the log-likelihood of
    the administered items only.

    Raises
    ------
    DataError
        If a score is not an integer in ``0..K_j``.
    """
    import scipy.sparse as sp

    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"responses must be a persons x items matrix, got shape {x.shape}")
    nc = np.asarray(n_categories, dtype=np.int64)
    if nc.shape != (x.shape[1],):
        raise DataError(f"responses have {x.shape[1]} items but {nc.size} category counts were given")
    off = category_offsets(nc)
    mask = ~np.isnan(x)
    rows, cols = np.nonzero(mask)
    vals = x[rows, cols]
    iv = vals.astype(np.int64)
    bad = (iv != vals) | (iv < 0) | (iv >= nc[cols])
    if bad.any():
        k = int(np.argmax(bad))
        raise DataError(
            f"response of person {rows[k]} to item {cols[k]} is {vals[k]:g}; expected an integer score "
            f"0..{nc[cols[k]] - 1}"
        )
    data: npt.NDArray[Any] = np.ones(rows.size, dtype=dtype)
    y = sp.csr_matrix((data, (rows, off[cols] + iv)), shape=(x.shape[0], int(off[-1])))
    y.sort_indices()
    return y


def flat_log_probabilities(params: ItemParams, theta: npt.ArrayLike) -> FloatArray:
    """Log-probabilities in the stacked category layout, shape ``(sum_j (K_j + 1), n_theta)``."""
    lp = np.maximum(log_probabilities(params, theta), LOG_FLOOR)  # (T, n, kmax+1)
    nc = params.n_categories
    valid = np.arange(lp.shape[2])[None, :] < nc[:, None]
    return np.ascontiguousarray(lp.transpose(1, 2, 0)[valid])


def log_likelihood_grid(
    responses: npt.ArrayLike | sp.spmatrix | sp.sparray, params: ItemParams, theta: npt.ArrayLike
) -> FloatArray:
    r"""Log-likelihood of each response pattern at each node, shape ``(n_persons, n_theta)``.

    :math:`\ell_p(\theta_q) = \sum_{j \text{ administered}} \log P_{j x_{pj}}(\theta_q)`, computed as one
    product ``Y @ log P`` of the sparse response indicators (Bock & Aitkin, 1981). ``responses`` is
    either the persons x items matrix (``nan`` = not administered) or a ready indicator matrix
    from :func:`response_indicators`.
    """
    y: Any
    if is_sparse(responses):
        y = responses
    else:
        y = response_indicators(responses, params.n_categories)
    lp = flat_log_probabilities(params, theta)
    return np.asarray(y @ lp)
