r"""Item calibration by marginal maximum likelihood (Bock & Aitkin, 1981) with an accelerated EM.

The engine follows mirt's defaults so that its estimates can be compared with R directly: 61
equally spaced quadrature nodes on [-6, 6], a normal latent distribution evaluated on the nodes
and normalised, the logistic metric, tolerance 1e-4 on the largest parameter change of an EM
cycle. On top of the plain EM it uses SQUAREM (Varadhan & Roland, 2008), so a calibration takes a
fraction of the EM cycles.

E-step
    With the stacked category indicators ``Y`` (persons x sum of categories, sparse; one 1 per
    administered response) and the log-probabilities ``log P`` (categories x nodes), the
    log-likelihood of every person at every node is the product ``Y @ log P``. Posterior weights
    are normalised row by row, and the expected counts of every item category at every node are
    ``Y.T @ (w * posterior)``. Persons are processed in chunks, so memory stays at the sparse
    indicator matrix plus one chunk of posteriors; large problems use float32 for the products.
M-step
    Per item, the expected complete-data log-likelihood
    :math:`\sum_q \sum_k \bar r_{jkq} \log P_{jk}(\theta_q)` is maximised by Fisher scoring
    with step halving, vectorised over all items that share a model and a number of categories.
    Items use the slope-intercept parameterisation internally (:math:`a\theta + d`, the guessing
    parameter on the logit scale) and are reported in mirt's IRT parameterisation. The latent
    mean and SD of every group whose distribution is free are updated by maximising the expected
    log of the normalised discrete normal prior (an empirical-Bayes step; Bock & Zimowski, 1997).

References
----------
Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
application of an EM algorithm. *Psychometrika*, 46, 443-459. Bock, R. D. & Zimowski, M. F.
(1997). Multiple group IRT. In van der Linden & Hambleton (eds.), *Handbook of modern IRT*.
Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods for accelerating the
convergence of any EM algorithm. *Scandinavian Journal of Statistics*, 35, 335-353. Oakes, D.
(1999). Direct calculation of the information matrix via the EM algorithm. *JRSS B*, 61, 479-482.
Chalmers, R. P. (2012). mirt: a multidimensional item response theory package for the R
environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.linalg import LinAlgError, blas, cho_factor, cho_solve
from scipy.special import expit, log_expit

from scoring.exceptions import (
    ConvergenceWarning,
    DataError,
    EmptyItemError,
    EstimationWarning,
    GirthUnavailableError,
    ModelError,
    SingleCategoryError,
)
from scoring.irt import LOG_FLOOR, category_offsets, flat_log_probabilities, quadrature_grid
from scoring.params import ItemParams, ItemParamsSE, normalize_model

__all__ = [
    "DEFAULT_PRIOR_C",
    "CalibrationResult",
    "LatentDistribution",
    "calibrate",
    "calibrate_girth",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ProgressCallback = Callable[[int, float, float], None]

DEFAULT_PRIOR_C: tuple[float, float] = (5.0, 17.0)
"""Beta(5, 17) prior on the 3PL lower asymptote: mode 0.2, mean 0.23 (BILOG-MG's choice for
multiple-choice items with about five options; mirt sets no prior by default)."""

A_MIN = 1e-3
"""Lower bound on estimated slopes (ItemParams requires a > 0); an item that ends there discriminates
negatively or not at all and is reported with an :class:`EstimationWarning`."""
A_MAX = 50.0
"""Upper bound on estimated slopes (guards against perfectly separating items)."""


# =============================================================================== results
@dataclass(frozen=True)
class LatentDistribution:
    """Normal latent distribution of one group, as estimated (or fixed) in a calibration.

    Parameters
    ----------
    group
        Group label (``"all"`` for a single-group calibration).
    mean, sd
        Mean and standard deviation of theta in the group.
    se_mean, se_sd
        Their standard errors (``nan`` when fixed or not computed).
    free_mean, free_sd
        Whether the parameter was estimated (False: fixed for identification).
    n_persons
        Persons with at least one response in the group.
    """

    group: str
    mean: float
    sd: float
    se_mean: float
    se_sd: float
    free_mean: bool
    free_sd: bool
    n_persons: int


@dataclass(frozen=True)
class CalibrationResult:
    r"""The outcome of :func:`calibrate`.

    Parameters
    ----------
    params
        Item parameters (mirt's IRT parameterisation), in the column order of the responses,
        anchor items included with their fixed values.
    se
        Standard errors of ``params`` (``nan`` for fixed parameters and anchors).
    latent
        Latent distribution of every group (the first is the reference group).
    log_likelihood
        Marginal log-likelihood at the estimates (weighted; 3PL priors are not included).
    aic, bic
        :math:`-2\ell + 2k` and :math:`-2\ell + k \log n` with k free parameters, n persons.
    n_parameters
        Number of free parameters k (items and latent distributions).
    n_cycles
        EM cycles (M-steps) run, extrapolated SQUAREM steps included.
    converged
        Whether the largest parameter change of an EM cycle fell below the tolerance.
    n_persons
        Persons with at least one response.
    se_method
        ``"observed"``, ``"xpd"`` or ``"none"`` (see :func:`calibrate`).
    nodes
        Quadrature nodes used.
    anchor_ids
        Ids of the items whose parameters were held fixed.
    """

    params: ItemParams
    se: ItemParamsSE
    latent: tuple[LatentDistribution, ...]
    log_likelihood: float
    aic: float
    bic: float
    n_parameters: int
    n_cycles: int
    converged: bool
    n_persons: int
    se_method: str
    nodes: FloatArray
    anchor_ids: tuple[str, ...]

    def distribution(self, group: str | None = None) -> LatentDistribution:
        """Latent distribution of ``group`` (the reference group when omitted)."""
        if group is None:
            return self.latent[0]
        for dist in self.latent:
            if dist.group == str(group):
                return dist
        raise KeyError(f"no group {group!r} in this calibration")


# =============================================================================== item families
class _Batch:
    """Free items that share a model and a number of categories; parameters in slope-intercept form.

    Internal parameters ``psi`` per item:
    ``rasch`` K=1: ``[d]``; ``rasch`` K>1 (partial credit): ``[d1..dK]``; ``2pl``: ``[a, d]``;
    ``3pl``: ``[a, d, logit c]``; ``grm``: ``[a, d1..dK]`` (d decreasing); ``gpcm``: ``[a, d1..dK]``.
    """

    def __init__(self, model: str, k: int, items: IntArray, offsets: IntArray, prior_c: tuple[float, float] | None):
        self.model = model
        self.k = k
        self.items = items
        self.n = items.size
        self.has_slope = model != "rasch"
        if model == "3pl":
            self.n_par = 3
        else:
            self.n_par = k + (1 if self.has_slope else 0)
        self.rows = (offsets[items][:, None] + np.arange(k + 1)[None, :]).astype(np.int64)
        self.prior_c = prior_c if model == "3pl" else None

    # ------------------------------------------------------------ parameter maps
    def split(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Return slopes (n,), intercepts (n, K) and logit-guessing (n,) (zeros where absent)."""
        if self.has_slope:
            a = psi[:, 0]
            d = psi[:, 1 : 1 + self.k]
        else:
            a = np.ones(psi.shape[0])
            d = psi[:, : self.k]
        g = psi[:, 2] if self.model == "3pl" else np.full(psi.shape[0], -np.inf)
        return a, d, g

    def to_irt(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """IRT parameters (a, b (n, K), c) from internal ones (mirt's IRTpars conversion)."""
        a, d, g = self.split(psi)
        if self.model in ("gpcm",) or (self.model == "rasch" and self.k > 1):
            dd = np.diff(np.concatenate([np.zeros((psi.shape[0], 1)), d], axis=1), axis=1)
            b = -dd / a[:, None]
        else:
            b = -d / a[:, None]
        c = expit(g) if self.model == "3pl" else np.zeros(psi.shape[0])
        return a, b, c

    def from_irt(self, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        """Internal parameters from IRT ones (inverse of :meth:`to_irt`)."""
        if not self.has_slope:
            a = np.ones_like(a)
        if self.model == "gpcm" or (self.model == "rasch" and self.k > 1):
            d = -np.cumsum(a[:, None] * b[:, : self.k], axis=1)
        else:
            d = -a[:, None] * b[:, : self.k]
        cols = [a[:, None]] if self.has_slope else []
        cols.append(d)
        if self.model == "3pl":
            cc = np.clip(c, 1e-6, 1 - 1e-6)
            cols.append(np.log(cc / (1 - cc))[:, None])
        return np.concatenate(cols, axis=1)

    # ------------------------------------------------------------ probabilities
    def log_prob(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        """Log category probabilities, shape (n, K+1, Q), computed stably."""
        a, d, g = self.split(psi)
        n, k, q = psi.shape[0], self.k, theta.size
        at = a[:, None] * theta[None, :]  # (n, Q)
        if self.model in ("2pl", "3pl") or (self.model == "rasch" and k == 1) or (self.model == "grm" and k == 1):
            z = at + d[:, 0:1]
            out = np.empty((n, 2, q))
            if self.model == "3pl":
                lc, l1c = log_expit(g)[:, None], log_expit(-g)[:, None]
                out[:, 1] = np.logaddexp(lc, l1c + log_expit(z))
                out[:, 0] = l1c + log_expit(-z)
            else:
                out[:, 1] = log_expit(z)
                out[:, 0] = log_expit(-z)
            return out
        if self.model == "grm":
            z = at[:, None, :] + d[:, :, None]  # (n, K, Q)
            lo = np.empty((n, k + 1, q))
            gaps = d[:, :-1] - d[:, 1:]  # (n, K-1) > 0
            with np.errstate(invalid="ignore", divide="ignore"):
                lgap = np.log(-np.expm1(-np.where(gaps > 0, gaps, np.nan)))
            lo[:, 0] = log_expit(-z[:, 0])
            lo[:, k] = log_expit(z[:, k - 1])
            if k > 1:
                lo[:, 1:k] = log_expit(z[:, :-1]) + log_expit(-z[:, 1:]) + lgap[:, :, None]
            return lo
        # gpcm / partial credit: z_k = k a theta + d_k, d_0 = 0
        kk = np.arange(k + 1, dtype=np.float64)
        dfull = np.concatenate([np.zeros((n, 1)), d], axis=1)
        z = kk[None, :, None] * at[:, None, :] + dfull[:, :, None]
        zmax = z.max(axis=1, keepdims=True)
        return np.asarray(z - (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))))

    def prob_jac(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Probabilities (n, K+1, Q) and their derivatives wrt ``psi``, shape (n, K+1, Q, n_par)."""
        a, d, g = self.split(psi)
        n, k, q, p = psi.shape[0], self.k, theta.size, self.n_par
        prob = np.exp(self.log_prob(psi, theta))
        jac = np.zeros((n, k + 1, q, p))
        t = theta[None, :]
        if self.model in ("2pl", "3pl") or (self.model == "rasch" and k == 1) or (self.model == "grm" and k == 1):
            s = expit(a[:, None] * t + d[:, 0:1])
            w = s * (1 - s)
            if self.model == "3pl":
                c = expit(g)[:, None]
                jac[:, 1, :, 0] = (1 - c) * t * w
                jac[:, 1, :, 1] = (1 - c) * w
                jac[:, 1, :, 2] = (1 - s) * c * (1 - c)
            elif self.has_slope:
                jac[:, 1, :, 0] = t * w
                jac[:, 1, :, 1] = w
            else:
                jac[:, 1, :, 0] = w
            jac[:, 0] = -jac[:, 1]
            return prob, jac
        if self.model == "grm":
            s = expit(a[:, None, None] * t[:, None, :] + d[:, :, None])  # (n, K, Q) P*_1..P*_K
            w = s * (1 - s)
            wpad = np.concatenate([np.zeros((n, 1, q)), w, np.zeros((n, 1, q))], axis=1)  # W_0..W_{K+1}
            jac[:, :, :, 0] = t[:, None, :] * (wpad[:, :-1] - wpad[:, 1:])
            for m in range(1, k + 1):
                jac[:, m, :, m] += w[:, m - 1]
                jac[:, m - 1, :, m] -= w[:, m - 1]
            return prob, jac
        # gpcm / partial credit
        kk = np.arange(k + 1, dtype=np.float64)
        off = 1 if self.has_slope else 0
        if self.has_slope:
            e = np.einsum("nkq,k->nq", prob, kk)
            jac[:, :, :, 0] = prob * t[:, None, :] * (kk[None, :, None] - e[:, None, :])
        for m in range(1, k + 1):
            jac[:, :, :, off + m - 1] = -prob * prob[:, m][:, None, :]
            jac[:, m, :, off + m - 1] += prob[:, m]
        return prob, jac

    # ------------------------------------------------------------ constraints & prior
    def project(self, psi: FloatArray) -> FloatArray:
        """Clip slopes into [A_MIN, A_MAX]."""
        if self.has_slope:
            psi = psi.copy()
            psi[:, 0] = np.clip(psi[:, 0], A_MIN, A_MAX)
        return psi

    def valid(self, psi: FloatArray) -> npt.NDArray[np.bool_]:
        """Items whose parameters are finite and admissible (GRM intercepts strictly decreasing)."""
        ok = np.all(np.isfinite(psi), axis=1)
        if self.has_slope:
            ok &= (psi[:, 0] >= A_MIN * (1 - 1e-12)) & (psi[:, 0] <= A_MAX * (1 + 1e-12))
        if self.model == "grm" and self.k > 1:
            _, d, _ = self.split(psi)
            ok &= np.all(np.diff(d, axis=1) < 0, axis=1)
        return np.asarray(ok)

    def log_prior(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Log prior, its gradient and negative Hessian (diagonal) per item (zeros without prior)."""
        n = psi.shape[0]
        f = np.zeros(n)
        grad = np.zeros((n, self.n_par))
        nhess = np.zeros((n, self.n_par))
        if self.prior_c is not None:
            al, be = self.prior_c
            gamma = psi[:, 2]
            c = expit(gamma)
            f = (al - 1) * log_expit(gamma) + (be - 1) * log_expit(-gamma)
            grad[:, 2] = (al - 1) * (1 - c) - (be - 1) * c
            nhess[:, 2] = (al + be - 2) * c * (1 - c)
        return f, grad, nhess

    # ------------------------------------------------------------ expected complete-data objective
    def objective(self, psi: FloatArray, counts: FloatArray, theta: FloatArray) -> FloatArray:
        """Expected complete-data log-likelihood (+ log prior) per item."""
        lp = np.maximum(self.log_prob(psi, theta), LOG_FLOOR)
        with np.errstate(invalid="ignore"):
            f = np.einsum("nkq,nkq->n", counts, lp) + self.log_prior(psi)[0]
        return np.where(np.isfinite(f), f, -np.inf)

    def gradient_info(self, psi: FloatArray, counts: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Gradient (n, p) and expected (Fisher) information (n, p, p) of :meth:`objective`."""
        prob, jac = self.prob_jac(psi, theta)
        pinv = 1.0 / np.maximum(prob, 1e-300)
        jp = jac * pinv[..., None]
        grad = np.einsum("nkq,nkqm->nm", counts, jp)
        nq = counts.sum(axis=1)
        info = np.einsum("nq,nkqm,nkql->nml", nq, jp, jac)
        _, pg, pnh = self.log_prior(psi)
        grad += pg
        info[:, np.arange(self.n_par), np.arange(self.n_par)] += pnh
        return grad, info

    def mstep(self, psi0: FloatArray, counts: FloatArray, theta: FloatArray, max_iter: int = 25) -> FloatArray:
        """Fisher scoring with step halving, vectorised over the items of the batch."""
        psi = psi0.copy()
        f = self.objective(psi, counts, theta)
        active = np.ones(self.n, dtype=bool)
        eye = np.eye(self.n_par)
        for _ in range(max_iter):
            idx = np.nonzero(active)[0]
            if idx.size == 0:
                break
            grad, info = self.gradient_info(psi[idx], counts[idx], theta)
            scale = np.maximum(np.abs(np.trace(info, axis1=1, axis2=2)) / self.n_par, 1e-12)
            info = info + (1e-10 * scale)[:, None, None] * eye
            try:
                delta = np.linalg.solve(info, grad[..., None])[..., 0]
            except np.linalg.LinAlgError:
                delta = grad / scale[:, None]
            step = np.ones(idx.size)
            done = np.zeros(idx.size, dtype=bool)
            base = psi[idx]
            fbase = f[idx]
            for _h in range(40):
                todo = np.nonzero(~done)[0]
                if todo.size == 0:
                    break
                cand = self.project(base[todo] + step[todo, None] * delta[todo])
                fc = self.objective(cand, counts[idx[todo]], theta)
                ok = self.valid(cand) & (fc >= fbase[todo] - 1e-10 * (1 + np.abs(fbase[todo])))
                acc = todo[ok]
                psi[idx[acc]] = cand[ok]
                f[idx[acc]] = fc[ok]
                done[acc] = True
                step[todo[~ok]] *= 0.5
            moved = np.max(np.abs(psi[idx] - base), axis=1)
            active[idx[(moved < 1e-9) | ~done]] = False
        return psi

    def start(self, cat_counts: FloatArray, prior_c: tuple[float, float] | None) -> FloatArray:
        """Starting values from the marginal category frequencies (slope 1, intercepts rescaled)."""
        n, k = cat_counts.shape[0], self.k
        tot = cat_counts.sum(axis=1, keepdims=True)
        p = (cat_counts + 0.5) / (tot + 0.5 * (k + 1))
        factor = math.sqrt(1 + 1 / 2.89)  # marginal logit of a unit-slope item under N(0, 1)
        if self.model == "gpcm" or (self.model == "rasch" and k > 1):
            d = factor * np.log(p[:, 1:] / p[:, :1])
        else:
            cum = np.cumsum(p[:, ::-1], axis=1)[:, ::-1][:, 1:]  # P(X >= k), k = 1..K
            cum = np.clip(cum, 1e-4, 1 - 1e-4)
            if self.model == "3pl":
                al, be = prior_c if prior_c is not None else (1.0, 1.0)
                c0 = (al - 1) / (al + be - 2) if al + be > 2 and al > 1 else 0.1
                cum = np.clip((cum - c0) / (1 - c0), 0.02, 0.98)
            d = factor * np.log(cum / (1 - cum))
            if self.model == "grm" and k > 1:
                for m in range(1, k):  # keep strictly decreasing
                    d[:, m] = np.minimum(d[:, m], d[:, m - 1] - 0.05)
        cols = [np.ones((n, 1))] if self.has_slope else []
        cols.append(d)
        if self.model == "3pl":
            al, be = prior_c if prior_c is not None else (1.0, 1.0)
            c0 = (al - 1) / (al + be - 2) if al + be > 2 and al > 1 else 0.1
            cols.append(np.full((n, 1), math.log(c0 / (1 - c0))))
        return np.concatenate(cols, axis=1)


# =============================================================================== data preparation
def _person_major(responses: Any) -> tuple[int, int, IntArray, npt.NDArray[np.int32], FloatArray]:
    """(n_persons, n_items, indptr, item index, score) of the administered responses, by person."""
    if sp.issparse(responses):
        csr = sp.csr_matrix(responses)
        csr.sort_indices()
        n, j = csr.shape
        return (
            int(n),
            int(j),
            csr.indptr.astype(np.int64),
            csr.indices.astype(np.int32),
            np.asarray(csr.data, dtype=np.float64),
        )
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"responses must be a persons x items matrix, got shape {x.shape}")
    mask = ~np.isnan(x)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    cols = np.nonzero(mask.ravel())[0]
    scores = x.ravel()[cols]
    item = (cols % x.shape[1]).astype(np.int32)
    return int(x.shape[0]), int(x.shape[1]), indptr, item, scores


def _check_scores(scores: FloatArray) -> npt.NDArray[np.int32]:
    if scores.size and not np.all(np.isfinite(scores)):
        raise DataError("responses contain infinite values")
    iv = scores.astype(np.int32)
    if np.any(iv != scores) or np.any(iv < 0):
        bad = scores[(iv != scores) | (iv < 0)][0]
        raise DataError(f"responses must be non-negative integer scores (or nan); found {bad:g}")
    return iv


class _EStep:
    r"""Chunked E-step over the category indicators of the responses.

    Three layouts: ``sparse`` (CSR chunks; CAT and booklet designs), ``dense`` (cached dense
    indicator blocks when the data are dense enough), and ``reduced`` for complete data (no
    missing response): only the categories above 0 get a column, since
    :math:`\ell_p(\theta) = \sum_j \log P_{j0}(\theta) + \sum_j \sum_{k \ge 1} y_{pjk}
    (\log P_{jk} - \log P_{j0})(\theta)` and the counts of category 0 follow from the posterior
    totals; this halves the work for dichotomous items.
    """

    def __init__(
        self,
        indptr: IntArray,
        cats: npt.NDArray[np.int32],
        offsets: IntArray,
        weights: FloatArray | None,
        gidx: IntArray,
        n_groups: int,
        precision: str,
        chunk_rows: int | None,
        threads: int,
    ) -> None:
        n = indptr.size - 1
        nnz = int(indptr[-1])
        n_items = offsets.size - 1
        n_cols = int(offsets[-1])
        self.n = n
        self.n_cols = n_cols
        self.n_groups = n_groups
        self.indptr = indptr
        self.cats = cats
        self.offsets = offsets
        self.threads = max(1, int(threads))
        if precision not in ("auto", "single", "double"):
            raise ValueError(f"precision must be 'auto', 'single' or 'double', not {precision!r}")
        if precision == "auto":
            precision = "single" if nnz > 1_000_000 else "double"
        self.dtype: type[np.floating[Any]] = np.float32 if precision == "single" else np.float64
        complete = nnz == n * n_items
        density = nnz / max(1, n * n_items)
        # small problems stay sparse: BLAS thread start-up dominates tiny dense products
        big_enough = n * n_cols >= 2_000_000
        if complete and big_enough and n * n_cols <= 200_000_000:
            self.mode = "reduced"
        elif density > 0.3 and big_enough and n * n_cols <= 100_000_000:
            self.mode = "dense"
        else:
            self.mode = "sparse"
        item_of_col = np.repeat(np.arange(n_items), np.diff(offsets))
        is_zero = np.zeros(n_cols, dtype=bool)
        is_zero[offsets[:-1]] = True
        self.pos_cols = np.nonzero(~is_zero)[0]  # columns of categories >= 1
        self.zero_of_pos = offsets[item_of_col[self.pos_cols]]  # category-0 column of their item
        self.item_of_pos = item_of_col[self.pos_cols]
        remap = np.full(n_cols, -1, dtype=np.int64)
        remap[self.pos_cols] = np.arange(self.pos_cols.size)
        if chunk_rows is None:
            per_row = max(1.0, nnz / max(n, 1))
            chunk_rows = int(min(32768, max(1024, 1_000_000 / per_row)))
        self.chunks: list[dict[str, Any]] = []
        for start in range(0, n, chunk_rows):
            stop = min(n, start + chunk_rows)
            ip = indptr[start : stop + 1] - indptr[start]
            ind = cats[indptr[start] : indptr[stop]]
            chunk: dict[str, Any] = {"start": start, "stop": stop}
            if self.mode == "reduced":
                rows = np.repeat(np.arange(stop - start), np.diff(ip))
                keep = remap[ind] >= 0
                yd = np.zeros((stop - start, self.pos_cols.size), dtype=self.dtype)
                yd[rows[keep], remap[ind[keep]]] = 1
                chunk["y"] = yd
            else:
                y = sp.csr_matrix((np.ones(ind.size, dtype=self.dtype), ind, ip), shape=(stop - start, n_cols))
                chunk["y"] = np.asarray(y.toarray(), dtype=self.dtype) if self.mode == "dense" else y
            chunk["w"] = None if weights is None else np.asarray(weights[start:stop], dtype=self.dtype)
            if n_groups > 1:
                g = gidx[start:stop]
                chunk["g"] = g
                chunk["gsel"] = [np.nonzero(g == k)[0] for k in range(n_groups)]
            self.chunks.append(chunk)
        self.n_calls = 0
        self.seconds = 0.0

    def prepare(self, logp: FloatArray, dtype: Any = None) -> tuple[Any, Any]:
        """The matrix multiplied by the chunk indicators, and a constant row (reduced layout)."""
        dtype = self.dtype if dtype is None else dtype
        if self.mode == "reduced":
            lp = logp[self.pos_cols] - logp[self.zero_of_pos]
            const = logp[self.offsets[:-1]].sum(axis=0)
            return np.ascontiguousarray(lp, dtype=dtype), const.astype(dtype)
        return np.ascontiguousarray(logp, dtype=dtype), None

    def posterior(self, chunk: dict[str, Any], prepared: tuple[Any, Any], logprior: Any) -> tuple[Any, FloatArray]:
        """Normalised posterior (n, Q) of a chunk and each person's log marginal likelihood."""
        lp, const = prepared
        ll = chunk["y"] @ lp
        if self.n_groups == 1:
            ll += logprior[0] if const is None else logprior[0] + const
        else:
            ll += logprior[chunk["g"]]
            if const is not None:
                ll += const
        m = ll.max(axis=1, keepdims=True)
        ll -= m
        np.exp(ll, out=ll)
        s = ll.sum(axis=1, keepdims=True)
        ll /= s
        lmarg = m[:, 0].astype(np.float64) + np.log(s[:, 0].astype(np.float64))
        return ll, lmarg

    def _one(self, chunk: dict[str, Any], prepared: tuple[Any, Any], lpr: Any) -> tuple[float, Any, FloatArray]:
        post, lmarg = self.posterior(chunk, prepared, lpr)
        w = chunk["w"]
        if w is not None:
            total = float(np.dot(lmarg, w))
            post *= w[:, None]
        else:
            total = float(lmarg.sum())
        cnt = chunk["y"].T @ post
        ng = np.zeros((self.n_groups, post.shape[1]))
        if self.n_groups == 1:
            ng[0] = post.sum(axis=0)
        else:
            for k, sel in enumerate(chunk["gsel"]):
                if sel.size:
                    ng[k] = post[sel].sum(axis=0)
        return total, cnt, ng

    def run(self, logp: FloatArray, logprior: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Marginal log-likelihood, expected category counts (C, Q) and group node counts (G, Q)."""
        t0 = time.perf_counter()
        prepared = self.prepare(logp)
        lpr = np.asarray(logprior, dtype=self.dtype)
        q = logp.shape[1]
        cnt = np.zeros((self.pos_cols.size if self.mode == "reduced" else self.n_cols, q))
        ng = np.zeros((self.n_groups, q))
        total = 0.0
        if self.threads > 1 and len(self.chunks) > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                results = pool.map(lambda ch: self._one(ch, prepared, lpr), self.chunks)
                for tot, c, g in results:
                    total += tot
                    cnt += c
                    ng += g
        else:
            for chunk in self.chunks:
                tot, c, g = self._one(chunk, prepared, lpr)
                total += tot
                cnt += c
                ng += g
        if self.mode == "reduced":
            counts = np.zeros((self.n_cols, q))
            counts[self.pos_cols] = cnt
            per_group_total = ng.sum(axis=0)
            counts[self.offsets[:-1]] = per_group_total[None, :]
            np.subtract.at(counts, self.zero_of_pos, cnt)
            np.maximum(counts, 0.0, out=counts)
        else:
            counts = cnt
        self.n_calls += 1
        self.seconds += time.perf_counter() - t0
        return total, counts, ng

    def loglik_double(self, logp: FloatArray, logprior: FloatArray) -> float:
        """Marginal log-likelihood evaluated in float64 (for reporting after a float32 run)."""
        if self.dtype == np.float64:
            return self.run(logp, logprior)[0]
        lp, const = self.prepare(logp, np.float64)
        total = 0.0
        for chunk in self.chunks:
            y = chunk["y"]
            ll = (y.astype(np.float64) if sp.issparse(y) else y.astype(np.float64)) @ lp
            ll += logprior[chunk["g"]] if self.n_groups > 1 else logprior[0]
            if const is not None:
                ll += const
            m = ll.max(axis=1, keepdims=True)
            lmarg = m[:, 0] + np.log(np.exp(ll - m).sum(axis=1))
            w = chunk["w"]
            total += float(lmarg.sum()) if w is None else float(np.dot(lmarg, w.astype(np.float64)))
        return total

    def chunk_indicators(self, chunk: dict[str, Any]) -> sp.csr_matrix:
        """Full (all categories) sparse indicators of a chunk."""
        a, b = chunk["start"], chunk["stop"]
        ip = self.indptr[a : b + 1] - self.indptr[a]
        ind = self.cats[self.indptr[a] : self.indptr[b]]
        return sp.csr_matrix((np.ones(ind.size), ind, ip), shape=(b - a, self.n_cols))


# =============================================================================== latent distribution
def _latent_logprior(nodes: FloatArray, mean: FloatArray, sd: FloatArray) -> FloatArray:
    """Log of the normalised discrete normal prior of every group, shape (G, Q)."""
    u = (nodes[None, :] - mean[:, None]) / sd[:, None]
    lw = -0.5 * u**2
    mx = lw.max(axis=1, keepdims=True)
    return np.asarray(lw - (mx + np.log(np.exp(lw - mx).sum(axis=1, keepdims=True))))


def _latent_grad(ng: FloatArray, nodes: FloatArray, mean: float, sd: float) -> tuple[float, float]:
    r"""Gradient of :math:`\sum_q n_q \log \pi_q(\mu, \sigma)` wrt (mu, log sigma), discrete prior."""
    u = (nodes - mean) / sd
    pi = np.exp(_latent_logprior(nodes, np.array([mean]), np.array([sd]))[0])
    tot = ng.sum()
    gm = (float(ng @ u) - tot * float(pi @ u)) / sd
    gl = float(ng @ u**2) - tot * float(pi @ u**2)
    return gm, gl


def _latent_mstep(
    ng: FloatArray, nodes: FloatArray, mean: float, sd: float, free_mean: bool, free_sd: bool
) -> tuple[float, float]:
    """Maximise the expected log prior of one group over its free (mean, log sd) by Newton steps."""
    tot = ng.sum()
    if tot <= 0 or not (free_mean or free_sd):
        return mean, sd
    m1 = float(ng @ nodes) / tot
    mu = m1 if free_mean else mean
    var = float(ng @ (nodes - mu) ** 2) / tot
    ls = 0.5 * math.log(max(var, 1e-8)) if free_sd else math.log(sd)
    free = [free_mean, free_sd]
    for _ in range(20):
        g = np.array(_latent_grad(ng, nodes, mu, math.exp(ls)))
        h = np.zeros((2, 2))
        eps = 1e-5
        for i in range(2):
            if not free[i]:
                continue
            dx = [0.0, 0.0]
            dx[i] = eps
            gp = np.array(_latent_grad(ng, nodes, mu + dx[0], math.exp(ls + dx[1])))
            gm_ = np.array(_latent_grad(ng, nodes, mu - dx[0], math.exp(ls - dx[1])))
            h[:, i] = (gp - gm_) / (2 * eps)
        idx = [i for i in range(2) if free[i]]
        hs = 0.5 * (h + h.T)[np.ix_(idx, idx)]
        try:
            step = -np.linalg.solve(hs, g[idx])
        except np.linalg.LinAlgError:
            break
        step = np.clip(step, -1.0, 1.0)
        full = np.zeros(2)
        full[idx] = step
        mu += full[0]
        ls += full[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return mu, math.exp(ls)


# =============================================================================== the model
class _Model:
    """Bookkeeping of a calibration: batches, fixed items, groups, and the flat parameter vector."""

    def __init__(
        self,
        nodes: FloatArray,
        batches: list[_Batch],
        fixed_logp: FloatArray | None,
        fixed_rows: IntArray,
        n_cols: int,
        group_free: list[tuple[bool, bool]],
    ) -> None:
        self.nodes = nodes
        self.batches = batches
        self.fixed_logp = fixed_logp
        self.fixed_rows = fixed_rows
        self.n_cols = n_cols
        self.group_free = group_free
        self.sizes = [b.n * b.n_par for b in batches]
        self.n_item_par = int(sum(self.sizes))
        self.latent_slots: list[tuple[int, int]] = []  # (group, 0=mean / 1=log sd)
        for g, (fm, fs) in enumerate(group_free):
            if fm:
                self.latent_slots.append((g, 0))
            if fs:
                self.latent_slots.append((g, 1))
        self.size = self.n_item_par + len(self.latent_slots)
        self.base_mean = np.zeros(len(group_free))
        self.base_sd = np.ones(len(group_free))

    def unpack(self, x: FloatArray) -> tuple[list[FloatArray], FloatArray, FloatArray]:
        psis = []
        pos = 0
        for b, size in zip(self.batches, self.sizes, strict=True):
            psis.append(x[pos : pos + size].reshape(b.n, b.n_par))
            pos += size
        mean = self.base_mean.copy()
        sd = self.base_sd.copy()
        for i, (g, kind) in enumerate(self.latent_slots):
            v = x[self.n_item_par + i]
            if kind == 0:
                mean[g] = v
            else:
                sd[g] = math.exp(v)
        return psis, mean, sd

    def pack(self, psis: Sequence[FloatArray], mean: FloatArray, sd: FloatArray) -> FloatArray:
        parts = [p.reshape(-1) for p in psis]
        lat = [mean[g] if kind == 0 else math.log(sd[g]) for g, kind in self.latent_slots]
        return np.concatenate([*parts, np.asarray(lat, dtype=np.float64)]) if parts or lat else np.zeros(0)

    def valid(self, x: FloatArray) -> bool:
        if not np.all(np.isfinite(x)):
            return False
        psis, mean, sd = self.unpack(x)
        if np.any(sd < 0.05) or np.any(sd > 20) or np.any(np.abs(mean) > 10):
            return False
        return all(bool(b.valid(p).all()) for b, p in zip(self.batches, psis, strict=True))

    def logp(self, psis: Sequence[FloatArray]) -> FloatArray:
        out = np.empty((self.n_cols, self.nodes.size))
        if self.fixed_logp is not None:
            out[self.fixed_rows] = self.fixed_logp
        for b, p in zip(self.batches, psis, strict=True):
            lp = np.maximum(b.log_prob(p, self.nodes), LOG_FLOOR)
            out[b.rows.reshape(-1)] = lp.reshape(-1, self.nodes.size)
        return out

    def mstep(self, x: FloatArray, counts: FloatArray, ng: FloatArray) -> FloatArray:
        psis, mean, sd = self.unpack(x)
        new = [b.mstep(p, counts[b.rows], self.nodes) for b, p in zip(self.batches, psis, strict=True)]
        mean = mean.copy()
        sd = sd.copy()
        for g, (fm, fs) in enumerate(self.group_free):
            if fm or fs:
                mean[g], sd[g] = _latent_mstep(ng[g], self.nodes, mean[g], sd[g], fm, fs)
        return self.pack(new, mean, sd)

    def gradient(self, x: FloatArray, counts: FloatArray, ng: FloatArray) -> FloatArray:
        """Gradient of the marginal log-likelihood (+ log priors) by Fisher's identity."""
        psis, mean, sd = self.unpack(x)
        parts = []
        for b, p in zip(self.batches, psis, strict=True):
            grad, _ = b.gradient_info(p, counts[b.rows], self.nodes)
            parts.append(grad.reshape(-1))
        lat = []
        for g, kind in self.latent_slots:
            gm, gl = _latent_grad(ng[g], self.nodes, mean[g], sd[g])
            lat.append(gm if kind == 0 else gl)
        return np.concatenate([*parts, np.asarray(lat, dtype=np.float64)])


# =============================================================================== calibrate
def _resolve_models(models: str | Sequence[str], n_items: int) -> list[str]:
    if isinstance(models, str):
        return [normalize_model(models)] * n_items
    out = [normalize_model(m) for m in models]
    if len(out) != n_items:
        raise ModelError(f"{len(out)} models given for {n_items} items")
    return out


def calibrate(
    responses: npt.ArrayLike | sp.spmatrix | sp.sparray,
    models: str | Sequence[str] = "2pl",
    *,
    item_ids: Sequence[str] | None = None,
    weights: npt.ArrayLike | None = None,
    fixed: ItemParams | None = None,
    groups: npt.ArrayLike | None = None,
    reference_group: Any = None,
    start: ItemParams | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
    tol: float = 1e-4,
    max_cycles: int = 500,
    prior_c: tuple[float, float] | None = DEFAULT_PRIOR_C,
    accelerate: bool = True,
    se: str = "auto",
    precision: str = "auto",
    chunk_rows: int | None = None,
    threads: int = 1,
    callback: ProgressCallback | None = None,
) -> CalibrationResult:
    """Calibrate items by marginal maximum likelihood with an (accelerated) EM algorithm.

    Parameters
    ----------
    responses
        Persons x items scores (integers 0..K), ``nan`` where an item was not administered. A
        ``scipy.sparse`` matrix is also accepted: its *stored* entries (explicit zeros included)
        are the administered responses, everything else is missing (lean for CAT designs).
    models
        One model for all items or one per item: ``rasch``/``1pl``, ``2pl``, ``3pl``, ``grm``,
        ``gpcm``. ``rasch`` follows mirt's "Rasch": slope 1 and, when every free item is Rasch and
        no anchor fixes the scale, a free latent SD; a Rasch item scored 0..K is the partial credit
        model. Entries for anchor items are ignored.
    item_ids
        Item ids (default ``item1..itemJ``); anchors in ``fixed`` are matched by id.
    weights
        Per-person sampling weights (non-negative). They multiply each person's log-likelihood, so
        a weight of 2 counts like two identical persons; standard errors treat them that way too
        (rescale weights to sum to the sample size for design-based use).
    fixed
        Anchor items whose parameters stay fixed; anchors absent from ``item_ids`` are ignored.
        With anchors, the mean and SD of every group are estimated, so the free items land on
        the anchors' scale.
    groups
        Per-person group labels. Each group gets its own normal latent distribution; the
        reference group (``reference_group``, default the first label in sorted order) is N(0, 1)
        unless anchors identify the scale (its SD is free for an all-Rasch calibration).
    start
        Starting values for (some of) the free items, matched by id (like mirt's ``pars=``).
    quadpts, theta_limit
        Quadrature: ``quadpts`` equally spaced nodes on ``[-theta_limit, theta_limit]`` (mirt: 61, 6).
    tol
        Convergence when the largest change of an (internal, slope-intercept) parameter over one
        EM cycle is below ``tol`` (mirt's criterion and default).
    max_cycles
        Limit on EM cycles (M-steps). Reaching it warns (:class:`ConvergenceWarning`) and sets
        ``converged=False``.
    prior_c
        ``(alpha, beta)`` of a Beta prior on the 3PL lower asymptote (default Beta(5, 17), mode
        0.2); ``None`` for none (maximum likelihood, often unstable).
    accelerate
        Use SQUAREM (Varadhan & Roland, 2008, scheme S3 with step-length adaptation and a
        monotonicity safeguard); ``False`` runs the plain EM.
    se
        Standard errors. ``"observed"``: the observed information, i.e. the Hessian of the
        marginal log-likelihood, obtained as central differences of its analytic gradient (Fisher's
        identity); equivalent to Oakes' (1999) identity that mirt uses, and costs 2 E-steps per
        parameter. ``"xpd"``: the cross-product (empirical information) of the per-person score
        vectors (one pass over the data; asymptotically equivalent, less accurate in small
        samples). ``"auto"`` (default) takes ``observed`` when that costs under about 5 seconds,
        else ``xpd``. ``"none"`` skips them. Covariances of the IRT parameters follow by the
        delta method.
    precision
        ``"double"``, ``"single"`` (float32 products; the counts are still summed in float64) or
        ``"auto"`` (single above one million responses; the reported log-likelihood is
        always evaluated in float64).
    chunk_rows
        Persons per E-step chunk (default: about one million responses, at most 32,768 persons).
    threads
        Python threads over E-step chunks (numpy releases the GIL in its products and ufuncs). The
        default 1 is best on a shared machine, where BLAS threads already compete for the cores.
    callback
        Called after every SQUAREM iteration (or EM cycle) as ``callback(cycles, loglik, change)``.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        Non-integer scores, an item without responses (:class:`EmptyItemError`) or a free item
        whose responses fall in one category, or with an empty category between 0 and its
        highest score (:class:`SingleCategoryError`).
    ModelError
        A dichotomous model for an item scored above 1.
    """
    nodes = quadrature_grid(quadpts, theta_limit)
    n_persons, n_items, indptr, item_of, raw = _person_major(responses)
    scores = _check_scores(raw)
    del raw
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(f"item{j + 1}" for j in range(n_items))
    if len(ids) != n_items:
        raise DataError(f"{len(ids)} item ids for {n_items} response columns")
    model_list = _resolve_models(models, n_items)

    # ------------------------------------------------------------ persons, weights, groups
    per_person = np.diff(indptr)
    keep = per_person > 0
    w_all = None
    if weights is not None:
        w_all = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w_all.shape != (n_persons,):
            raise DataError(f"{w_all.size} weights for {n_persons} persons")
        if not np.all(np.isfinite(w_all)) or np.any(w_all < 0):
            raise DataError("weights must be finite and non-negative")
    if groups is not None:
        glab = np.asarray(groups).reshape(-1)
        if glab.shape != (n_persons,):
            raise DataError(f"{glab.size} group labels for {n_persons} persons")
        labels = [str(v) for v in np.unique(glab.astype(str))]
        ref = labels[0] if reference_group is None else str(reference_group)
        if ref not in labels:
            raise DataError(f"reference group {reference_group!r} does not occur in groups")
        labels = [ref] + [lab for lab in labels if lab != ref]
        lookup = {lab: k for k, lab in enumerate(labels)}
        gidx_all = np.array([lookup[str(v)] for v in glab.astype(str)], dtype=np.int64)
    else:
        labels = ["all"]
        gidx_all = np.zeros(n_persons, dtype=np.int64)
    if not keep.all():
        sel = np.nonzero(keep)[0]
        indptr = np.concatenate([[0], np.cumsum(per_person[sel])]).astype(np.int64)
        w = None if w_all is None else w_all[sel]
        gidx = gidx_all[sel]
    else:
        w = w_all
        gidx = gidx_all
    n_used = int(keep.sum())
    if n_used == 0:
        raise DataError("no responses at all")

    # ------------------------------------------------------------ items and categories
    width = int(scores.max()) + 1 if scores.size else 1
    flat_cat = item_of.astype(np.int64) * width + scores
    pw = None if w is None else np.repeat(w, np.diff(indptr))
    cat_counts_raw = np.bincount(flat_cat, weights=pw, minlength=n_items * width).astype(np.float64)
    cat_counts_raw = cat_counts_raw.reshape(n_items, width)
    del flat_cat, pw
    n_resp = np.bincount(item_of, minlength=n_items)
    fixed_pos: dict[int, int] = {}
    if fixed is not None:
        id_pos = {i: j for j, i in enumerate(ids)}
        for fj, fid in enumerate(fixed.ids):
            if fid in id_pos:
                fixed_pos[id_pos[fid]] = fj
    kk = np.zeros(n_items, dtype=np.int64)
    for j in range(n_items):
        if n_resp[j] == 0:
            raise EmptyItemError(f"item {ids[j]!r} has no responses")
        observed = np.nonzero(cat_counts_raw[j] > 0)[0]
        top = int(observed.max()) if observed.size else 0
        if j in fixed_pos:
            fk = int(fixed.max_scores[fixed_pos[j]])  # type: ignore[union-attr]
            if top > fk:
                raise DataError(f"anchor item {ids[j]!r} has a score {top} above its highest category {fk}")
            kk[j] = fk
            continue
        if observed.size < 2:
            raise SingleCategoryError(f"item {ids[j]!r}: all responses fall in one category ({top})")
        if observed.size != top + 1 or observed[0] != 0:
            missing = sorted(set(range(top + 1)) - set(observed.tolist()))
            raise SingleCategoryError(
                f"item {ids[j]!r}: no responses in score categor{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(map(str, missing))} (scores must run 0..{top}; recode the item)"
            )
        kk[j] = top
        if model_list[j] in ("2pl", "3pl") and top > 1:
            raise ModelError(f"item {ids[j]!r} is scored 0..{top}; model {model_list[j]} is dichotomous")
    ncat = kk + 1
    offsets = category_offsets(ncat)
    n_cols = int(offsets[-1])
    cats = (offsets[item_of].astype(np.int64) + scores).astype(np.int32)
    del item_of, scores

    # ------------------------------------------------------------ batches
    free_items = [j for j in range(n_items) if j not in fixed_pos]
    keyset: dict[tuple[str, int], list[int]] = {}
    for j in free_items:
        keyset.setdefault((model_list[j], int(kk[j])), []).append(j)
    batches = [
        _Batch(m, k, np.array(js, dtype=np.int64), offsets, prior_c if m == "3pl" else None)
        for (m, k), js in sorted(keyset.items())
    ]
    fixed_rows = np.zeros(0, dtype=np.int64)
    fixed_logp = None
    anchor_ids: tuple[str, ...] = ()
    if fixed_pos:
        fpos = sorted(fixed_pos)
        anchors = fixed.subset([fixed_pos[j] for j in fpos])  # type: ignore[union-attr]
        anchor_ids = anchors.ids
        fixed_logp = flat_log_probabilities(anchors, nodes)
        fixed_rows = np.concatenate([offsets[j] + np.arange(ncat[j]) for j in fpos]).astype(np.int64)

    # ------------------------------------------------------------ identification of the latent scale
    has_anchor = bool(fixed_pos)
    all_rasch = bool(free_items) and all(model_list[j] == "rasch" for j in free_items)
    group_free = []
    for g in range(len(labels)):
        if has_anchor or g > 0:
            group_free.append((True, True))
        else:
            group_free.append((False, all_rasch))
    model = _Model(nodes, batches, fixed_logp, fixed_rows, n_cols, group_free)

    # ------------------------------------------------------------ starting values
    psis = []
    for b in batches:
        psi = b.start(cat_counts_raw[b.items][:, : b.k + 1], b.prior_c)
        if start is not None:
            for row_i, j in enumerate(b.items):
                if ids[j] in start.ids:
                    sj = start.index(ids[j])
                    if int(start.max_scores[sj]) == b.k:
                        cand = b.from_irt(start.a[sj : sj + 1], start.b[sj : sj + 1], start.c[sj : sj + 1])
                        if b.valid(b.project(cand))[0]:
                            psi[row_i] = b.project(cand)[0]
        psis.append(psi)
    x = model.pack(psis, np.zeros(len(labels)), np.ones(len(labels)))

    engine = _EStep(indptr, cats, offsets, w, gidx, len(labels), precision, chunk_rows, threads)
    del cats

    # ------------------------------------------------------------ EM with SQUAREM
    cache: dict[str, Any] = {}

    def estep(xv: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        key = xv.tobytes()
        if cache.get("key") == key:
            return cache["val"]  # type: ignore[no-any-return]
        psis_, mean_, sd_ = model.unpack(xv)
        val = engine.run(model.logp(psis_), _latent_logprior(nodes, mean_, sd_))
        if not math.isfinite(val[0]):
            raise DataError("the marginal log-likelihood is not finite; check the responses and anchors")
        cache["key"], cache["val"] = key, val
        return val

    n_cycles = 0

    def em_map(xv: FloatArray) -> FloatArray:
        nonlocal n_cycles
        _, counts, ng = estep(xv)
        n_cycles += 1
        return model.mstep(xv, counts, ng)

    converged = False
    change = math.inf
    step_max = 1.0
    if model.size == 0:
        converged = True
    while model.size and n_cycles < max_cycles:
        ll0 = estep(x)[0]
        x1 = em_map(x)
        step1 = x1 - x
        change = float(np.max(np.abs(step1)))
        if change < tol:
            x = x1
            converged = True
            break
        if not accelerate or n_cycles + 2 > max_cycles:
            x = x1
            if callback is not None:
                callback(n_cycles, ll0, change)
            continue
        x2 = em_map(x1)
        v = x2 - x1 - step1
        vv = float(v @ v)
        alpha_raw = -math.sqrt(float(step1 @ step1) / vv) if vv > 0 else -1.0
        alpha = max(min(alpha_raw, -1.0), -step_max)
        xnew = x2
        if alpha < -1.0:
            xp = x - 2 * alpha * step1 + alpha**2 * v
            x3 = x2
            if model.valid(xp):
                try:
                    x3 = em_map(xp)
                except DataError:
                    x3 = x2
            if x3 is not x2 and model.valid(x3) and estep(x3)[0] >= ll0 - 1e-8 * (1 + abs(ll0)):
                xnew = x3
                if alpha == -step_max:
                    step_max *= 4.0
            elif alpha == -step_max:
                step_max = max(1.0, step_max / 4.0)
        elif alpha_raw <= -step_max:
            step_max *= 4.0
        x = xnew
        if callback is not None:
            callback(n_cycles, ll0, change)
    if not converged:
        warnings.warn(
            f"EM did not converge in {max_cycles} cycles (largest parameter change {change:.2g} > tol {tol:g}); "
            "estimates are provisional (raise max_cycles or check the data)",
            ConvergenceWarning,
            stacklevel=2,
        )
    loglik, counts, ng = estep(x)
    if engine.dtype != np.float64:
        psis_f, mean_f, sd_f = model.unpack(x)
        loglik = engine.loglik_double(model.logp(psis_f), _latent_logprior(nodes, mean_f, sd_f))
    if callback is not None:
        callback(n_cycles, loglik, change if not converged else 0.0)
    psis, mean, sd = model.unpack(x)

    # ------------------------------------------------------------ assemble parameters
    a_out = np.ones(n_items)
    b_out = np.full((n_items, max(1, int(kk.max()))), np.nan)
    c_out = np.zeros(n_items)
    out_models = list(model_list)
    if fixed_pos:
        for j, fj in fixed_pos.items():
            a_out[j] = fixed.a[fj]  # type: ignore[union-attr]
            b_out[j, : kk[j]] = fixed.b[fj, : kk[j]]  # type: ignore[union-attr]
            c_out[j] = fixed.c[fj]  # type: ignore[union-attr]
            out_models[j] = fixed.models[fj]  # type: ignore[union-attr]
    for bt, psi in zip(batches, psis, strict=True):
        a, bb, c = bt.to_irt(psi)
        a_out[bt.items] = a
        b_out[bt.items, : bt.k] = bb
        c_out[bt.items] = c
        if bt.has_slope:
            low = bt.items[psi[:, 0] <= A_MIN * 1.0001]
            high = bt.items[psi[:, 0] >= A_MAX * 0.9999]
            for j in low:
                warnings.warn(
                    f"item {ids[j]!r}: slope at its lower bound {A_MIN} (the item does not discriminate "
                    "or discriminates negatively; check its key)",
                    EstimationWarning,
                    stacklevel=2,
                )
            for j in high:
                warnings.warn(f"item {ids[j]!r}: slope at its upper bound {A_MAX}", EstimationWarning, stacklevel=2)
    params = ItemParams(ids, tuple(out_models), a_out, b_out, c_out)

    # ------------------------------------------------------------ standard errors
    se_method = se
    if se not in ("auto", "observed", "xpd", "none"):
        raise ValueError(f"se must be 'auto', 'observed', 'xpd' or 'none', not {se!r}")
    if se == "auto":
        per_estep = engine.seconds / max(engine.n_calls, 1)
        cheap = 2 * model.size * per_estep <= 5.0
        se_method = "observed" if cheap and engine.dtype == np.float64 else "xpd"
    cov: FloatArray | None = None
    if model.size and se_method != "none":
        if model.size > 8000:
            warnings.warn(
                f"{model.size} free parameters: too many for the full information matrix; no standard errors",
                EstimationWarning,
                stacklevel=2,
            )
            se_method = "none"
        else:
            if se_method == "observed":
                if engine.dtype != np.float64:  # differences of float32 gradients would be noise
                    engine = _EStep(engine.indptr, engine.cats, offsets, w, gidx, len(labels), "double", chunk_rows, 1)
                    cache.clear()
                info = _observed_information(model, x, estep)
            else:
                info = _xpd_information(model, x, engine)
            cov = _invert_information(info)
    se_a = np.full(n_items, np.nan)
    se_b = np.full(b_out.shape, np.nan)
    se_c = np.full(n_items, np.nan)
    latent_se = np.full((len(labels), 2), np.nan)
    if cov is not None:
        pos = 0
        for bt, psi in zip(batches, psis, strict=True):
            size = bt.n * bt.n_par
            block = cov[pos : pos + size, pos : pos + size]
            sa, sb, sc = _delta_se(bt, psi, block)
            se_a[bt.items] = sa
            se_b[bt.items, : bt.k] = sb
            se_c[bt.items] = sc
            pos += size
        for i, (g, kind) in enumerate(model.latent_slots):
            v = cov[model.n_item_par + i, model.n_item_par + i]
            s = math.sqrt(v) if v >= 0 else math.nan
            latent_se[g, kind] = s if kind == 0 else s * sd[g]
    se_table = ItemParamsSE(ids, se_a, se_b, se_c)

    counts_by_group = np.bincount(gidx, minlength=len(labels))
    latent = tuple(
        LatentDistribution(
            group=labels[g],
            mean=float(mean[g]),
            sd=float(sd[g]),
            se_mean=float(latent_se[g, 0]),
            se_sd=float(latent_se[g, 1]),
            free_mean=group_free[g][0],
            free_sd=group_free[g][1],
            n_persons=int(counts_by_group[g]),
        )
        for g in range(len(labels))
    )
    k_par = model.size
    nodes_ro = nodes.copy()
    nodes_ro.setflags(write=False)
    return CalibrationResult(
        params=params,
        se=se_table,
        latent=latent,
        log_likelihood=float(loglik),
        aic=float(-2 * loglik + 2 * k_par),
        bic=float(-2 * loglik + k_par * math.log(n_used)),
        n_parameters=k_par,
        n_cycles=n_cycles,
        converged=converged,
        n_persons=n_used,
        se_method=se_method if cov is not None else "none",
        nodes=nodes_ro,
        anchor_ids=anchor_ids,
    )


# =============================================================================== standard errors
def _observed_information(
    model: _Model, x: FloatArray, estep: Callable[[FloatArray], tuple[float, FloatArray, FloatArray]]
) -> FloatArray:
    """Negative Hessian of the marginal log-likelihood by central differences of its analytic gradient."""
    p = x.size
    hess = np.zeros((p, p))
    for i in range(p):
        h = 1e-4 * max(1.0, abs(float(x[i])))
        xp = x.copy()
        xm = x.copy()
        xp[i] += h
        xm[i] -= h
        if not model.valid(xm):
            xm = x.copy()
            hm = 0.0
        else:
            hm = h
        _, cp, ngp = estep(xp)
        gp = model.gradient(xp, cp, ngp)
        _, cm, ngm = estep(xm)
        gm = model.gradient(xm, cm, ngm)
        hess[:, i] = (gp - gm) / (h + hm)
    return np.asarray(-0.5 * (hess + hess.T))


def _xpd_information(model: _Model, x: FloatArray, engine: _EStep) -> FloatArray:
    r"""Cross-product information :math:`\sum_p w_p s_p s_p^T` of the per-person scores :math:`s_p`.

    For person p, :math:`s_p = \sum_q \pi_{pq} \partial \log L_p(\theta_q) / \partial \psi` (the
    posterior expectation of the complete-data score), with the latent-distribution parameters
    included.
    """
    psis, mean, sd = model.unpack(x)
    nodes = model.nodes
    q = nodes.size
    # d log P / d psi for every category row and node, per parameter slot; mapping to columns of s
    n_cols = model.n_cols
    pmax = max((b.n_par for b in model.batches), default=0)
    glog = np.zeros((pmax, n_cols, q))
    pcol = np.full((pmax, n_cols), -1, dtype=np.int64)
    pos = 0
    for b, psi in zip(model.batches, psis, strict=True):
        prob, jac = b.prob_jac(psi, nodes)
        jp = jac / np.maximum(prob, 1e-300)[..., None]  # (n, K+1, Q, p)
        for m in range(b.n_par):
            glog[m, b.rows.reshape(-1)] = jp[..., m].reshape(-1, q)
            pcol[m, b.rows] = (pos + np.arange(b.n) * b.n_par + m)[:, None]
        pos += b.n * b.n_par
    logprior = _latent_logprior(nodes, mean, sd)
    lat_grad = []  # per latent slot: d log pi_gq / d par, (Q,)
    for g, kind in model.latent_slots:
        u = (nodes - mean[g]) / sd[g]
        pi = np.exp(logprior[g])
        lat_grad.append((u - pi @ u) / sd[g] if kind == 0 else u**2 - pi @ u**2)
    p = model.size
    info = np.zeros((p, p))
    prepared = engine.prepare(model.logp(psis))
    lpr = logprior.astype(engine.dtype)
    active_cols = np.nonzero((pcol >= 0).any(axis=0))[0]
    for chunk in engine.chunks:
        post, _ = engine.posterior(chunk, prepared, lpr)
        post = np.asarray(post, dtype=np.float64)
        ycsc = engine.chunk_indicators(chunk).tocsc()
        n = post.shape[0]
        scores = np.zeros((n, p))
        for c in active_cols:
            lo, hi = ycsc.indptr[c], ycsc.indptr[c + 1]
            if hi == lo:
                continue
            rows = ycsc.indices[lo:hi]
            vals = post[rows] @ glog[:, c, :].T  # (n_c, pmax)
            for m in range(pmax):
                col = pcol[m, c]
                if col >= 0:
                    scores[rows, col] = vals[:, m]
        for i, (g, _kind) in enumerate(model.latent_slots):
            if engine.n_groups == 1:
                scores[:, model.n_item_par + i] = post @ lat_grad[i]
            else:
                mine = chunk["g"] == g
                scores[mine, model.n_item_par + i] = post[mine] @ lat_grad[i]
        if chunk["w"] is not None:
            scores *= np.sqrt(np.asarray(chunk["w"], dtype=np.float64))[:, None]
        info = blas.dsyrk(1.0, scores.T, beta=1.0, c=info, trans=0, overwrite_c=1)
    iu = np.triu_indices(p, 1)
    info[(iu[1], iu[0])] = info[iu]
    return info


def _invert_information(info: FloatArray) -> FloatArray | None:
    try:
        factor = cho_factor(info, lower=False)
        return np.asarray(cho_solve(factor, np.eye(info.shape[0])))
    except (LinAlgError, ValueError):
        warnings.warn(
            "the information matrix is not positive definite; standard errors are not available "
            "(the model may be unidentified or a parameter sits on a bound)",
            EstimationWarning,
            stacklevel=3,
        )
        return None


def _delta_se(bt: _Batch, psi: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Standard errors of (a, b, c) per item by the delta method (numerical Jacobian of to_irt)."""
    n, p = psi.shape
    k = bt.k

    def flat(ps: FloatArray) -> FloatArray:
        a, b, c = bt.to_irt(ps)
        return np.concatenate([a[:, None], b, c[:, None]], axis=1)  # (n, K+2)

    jac = np.zeros((n, k + 2, p))
    for m in range(p):
        h = 1e-6 * np.maximum(1.0, np.abs(psi[:, m]))
        up = psi.copy()
        dn = psi.copy()
        up[:, m] += h
        dn[:, m] -= h
        jac[:, :, m] = (flat(up) - flat(dn)) / (2 * h[:, None])
    blocks = np.stack([cov[i * p : (i + 1) * p, i * p : (i + 1) * p] for i in range(n)])
    var = np.einsum("nim,nml,nil->ni", jac, blocks, jac)
    se = np.sqrt(np.maximum(var, 0.0))
    se_a = se[:, 0] if bt.has_slope else np.full(n, np.nan)
    se_c = se[:, -1] if bt.model == "3pl" else np.full(n, np.nan)
    return se_a, se[:, 1 : 1 + k], se_c


# =============================================================================== girth
def calibrate_girth(
    responses: npt.ArrayLike,
    model: str = "2pl",
    *,
    item_ids: Sequence[str] | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
    max_iteration: int = 100,
) -> ItemParams:
    """Calibrate with girth (Ackerman's GIRTH package) instead of the built-in engine.

    girth estimates by marginal maximum likelihood with its own per-item optimisation (slow, no
    anchors, no groups, no weights, no standard errors). Supported here: ``rasch``/``1pl``
    (``rasch_mml``, slope fixed at 1 with a N(0, 1) latent distribution, so not mirt's Rasch),
    ``2pl`` (``twopl_mml``), ``grm`` (``grm_mml``) and ``gpcm`` (``pcm_mml``). Missing responses are
    passed as girth's ``INVALID_RESPONSE``. girth wants items x persons; the transpose happens here.

    Raises
    ------
    GirthUnavailableError
        For ``3pl``: girth's ``threepl_mml`` fails on numpy >= 2.4 (an array-to-scalar conversion
        of a size-1 array), and numpy is not pinned down for it.
    """
    from girth import grm_mml, pcm_mml, rasch_mml, twopl_mml
    from girth.utilities import INVALID_RESPONSE

    name = normalize_model(model)
    if name == "3pl":
        raise GirthUnavailableError(
            "girth's threepl_mml fails on numpy >= 2.4 (it converts a size-1 array to a scalar); "
            "use scoring.calibrate(..., models='3pl') instead"
        )
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"responses must be a persons x items matrix, got shape {x.shape}")
    _check_scores(x[~np.isnan(x)])
    n_items = x.shape[1]
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(f"item{j + 1}" for j in range(n_items))
    data = np.where(np.isnan(x), INVALID_RESPONSE, x).astype(np.int64).T  # items x persons
    kk = np.nanmax(x, axis=0).astype(int)
    options = {
        "quadrature_bounds": (-theta_limit, theta_limit),
        "quadrature_n": quadpts,
        "max_iteration": max_iteration,
    }
    if name == "rasch":
        if np.any(kk > 1):
            raise GirthUnavailableError("girth has no partial credit MML with a fixed slope; use calibrate()")
        bvals = np.asarray(rasch_mml(data, discrimination=1.0, options=options), dtype=np.float64)
        return ItemParams(ids, ("rasch",) * n_items, np.ones(n_items), bvals.reshape(-1, 1), np.zeros(n_items))
    if name == "2pl":
        if np.any(kk > 1):
            raise ModelError("2pl needs dichotomous items")
        res = twopl_mml(data, options=options)
        a = np.asarray(res["Discrimination"], dtype=np.float64)
        b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(-1, 1)
        return ItemParams(ids, ("2pl",) * n_items, a, b, np.zeros(n_items))
    if name == "grm":
        res = grm_mml(data, options=options)
        a = np.asarray(res["Discrimination"], dtype=np.float64)
        b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(n_items, -1)
        return ItemParams(ids, ("grm",) * n_items, a, b, np.zeros(n_items))
    res = pcm_mml(data, options=options)
    a = np.asarray(res["Discrimination"], dtype=np.float64)
    b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(n_items, -1)
    return ItemParams(ids, ("gpcm",) * n_items, a, b, np.zeros(n_items))
