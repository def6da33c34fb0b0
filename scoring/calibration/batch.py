r"""The M-step of the free items that share an item model: Fisher scoring on the expected counts.

Per item, the expected complete-data log-likelihood :math:`\sum_q \sum_k \bar r_{jkq} \log
P_{jk}(\theta_q)` (plus the log prior of a 3PL lower asymptote) is maximised by Fisher scoring
with step halving, vectorised over all items of a batch. The trace lines and their derivatives
come from the batch's :class:`~scoring.models.ItemModel`; what is estimation and not model lives
here: the slope bounds, the prior, the objective and the scoring iterations.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.irt import LOG_FLOOR
from scoring.models import ItemModel, expit, log_expit

__all__ = ["A_MAX", "A_MIN", "ItemBatch"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

A_MIN = 1e-3
"""Lower bound on estimated slopes (ItemParams requires a > 0); an item that ends there discriminates
negatively or not at all and is reported with an :class:`~scoring.exceptions.EstimationWarning`."""
A_MAX = 50.0
"""Upper bound on estimated slopes (guards against perfectly separating items)."""


class ItemBatch:
    """Free items of one item model; their parameters ``psi`` are in the model's slope-intercept layout.

    Parameters
    ----------
    model
        The item model (family and highest score) of the items.
    items
        Their columns in the responses.
    offsets
        Stacked category offsets of all items (their rows in the counts are taken from it).
    prior_c
        Beta prior on the lower asymptote (used only by a model with one).
    """

    def __init__(
        self, model: ItemModel, items: IntArray, offsets: IntArray, prior_c: tuple[float, float] | None
    ) -> None:
        self.model = model
        self.k = model.k
        self.items = items
        self.n = items.size
        self.n_par = model.n_par
        self.has_slope = model.has_slope
        self.rows = (offsets[items][:, None] + np.arange(self.k + 1)[None, :]).astype(np.int64)
        self.prior_c = prior_c if model.guess_index is not None else None

    # ------------------------------------------------------------ constraints & prior
    def project(self, psi: FloatArray) -> FloatArray:
        """Clip slopes into [A_MIN, A_MAX]."""
        if self.has_slope:
            psi = psi.copy()
            psi[:, 0] = np.clip(psi[:, 0], A_MIN, A_MAX)
        return psi

    def valid(self, psi: FloatArray) -> BoolArray:
        """Items whose parameters are admissible for the model and whose slopes lie within the bounds."""
        ok = self.model.admissible(psi)
        if self.has_slope:
            ok &= (psi[:, 0] >= A_MIN * (1 - 1e-12)) & (psi[:, 0] <= A_MAX * (1 + 1e-12))
        return np.asarray(ok)

    def log_prior(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        r"""Log prior, its gradient and negative Hessian (diagonal) per item (zeros without prior).

        Beta(alpha, beta) on :math:`c = \sigma(g)`, in g: :math:`(\alpha - 1) \log\sigma(g) +
        (\beta - 1) \log\sigma(-g)`.
        """
        n = psi.shape[0]
        f = np.zeros(n)
        grad = np.zeros((n, self.n_par))
        nhess = np.zeros((n, self.n_par))
        col = self.model.guess_index
        if self.prior_c is not None and col is not None:
            al, be = self.prior_c
            gamma = psi[:, col]
            c = expit(gamma)
            f = (al - 1) * log_expit(gamma) + (be - 1) * log_expit(-gamma)
            grad[:, col] = (al - 1) * (1 - c) - (be - 1) * c
            nhess[:, col] = (al + be - 2) * c * (1 - c)
        return f, grad, nhess

    def start(self, cat_counts: FloatArray) -> FloatArray:
        """Starting values of the model from the marginal category counts ``(n, k + 1)``."""
        return self.model.start(cat_counts, self.prior_c)

    # ------------------------------------------------------------ expected complete-data objective
    def objective(self, psi: FloatArray, counts: FloatArray, theta: FloatArray) -> FloatArray:
        """Expected complete-data log-likelihood (+ log prior) per item."""
        lp = np.maximum(self.model.log_prob(psi, theta), LOG_FLOOR)
        with np.errstate(invalid="ignore"):
            f = np.einsum("nkq,nkq->n", counts, lp) + self.log_prior(psi)[0]
        return np.where(np.isfinite(f), f, -np.inf)

    def gradient_info(self, psi: FloatArray, counts: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Gradient (n, p) and expected (Fisher) information (n, p, p) of :meth:`objective`."""
        prob, jac = self.model.prob_jac(psi, theta)
        pinv = 1.0 / np.maximum(prob, 1e-300)
        jp = jac * pinv[..., None]
        n, k1, q, p = jac.shape
        # Batched products over (category, node) pairs: five times faster than the einsums
        # ("nkq,nkqm->nm" and "nq,nkqm,nkql->nml") on these small arrays.
        grad = np.matmul(counts.reshape(n, 1, k1 * q), jp.reshape(n, k1 * q, p))[:, 0]
        nq = counts.sum(axis=1)
        weighted = (jp * nq[:, None, :, None]).reshape(n, k1 * q, p)
        info = np.matmul(weighted.transpose(0, 2, 1), jac.reshape(n, k1 * q, p))
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
