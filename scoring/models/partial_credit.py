r"""The generalized partial credit model (Muraki, 1992), mirt's ``gpcm``, and the partial credit model.

:math:`\log P_m = z_m - \log \sum_v e^{z_v}` with :math:`z_m = m a \theta + d_m`, :math:`d_0 = 0` and
:math:`d_m = -a \sum_{v \le m} b_v`. Parameters per item: ``gpcm`` ``[a, d_1..d_k]``; ``rasch`` items
scored above 1 (Masters' partial credit model) ``[d_1..d_k]`` with slope 1.

References
----------
Muraki, E. (1992). A generalized partial credit model: application of an EM algorithm. *Applied
Psychological Measurement*, 16, 159-176. Muraki, E. (1993). Information functions of the
generalized partial credit model. *Applied Psychological Measurement*, 17, 351-363. Masters, G. N.
(1982). A Rasch model for partial credit scoring. *Psychometrika*, 47, 149-174.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.models.base import MARGINAL_LOGIT, ItemModel

__all__ = ["PartialCredit"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PartialCredit(ItemModel):
    """GPCM items (any ``k``) and partial-credit Rasch items (``k`` > 1)."""

    def to_irt(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Step difficulties ``b_m = -(d_m - d_{m-1}) / a``."""
        a, d, _ = self.split(psi)
        dd = np.diff(np.concatenate([np.zeros((psi.shape[0], 1)), d], axis=1), axis=1)
        return a, -dd / a[:, None], np.zeros(psi.shape[0])

    def from_irt(self, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        """``d_m = -a (b_1 + ... + b_m)``."""
        a = np.asarray(a, dtype=np.float64) if self.has_slope else np.ones(np.shape(a))
        return self._stack(a, -np.cumsum(a[:, None] * np.asarray(b, dtype=np.float64)[:, : self.k], axis=1))

    def _z(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        a, d, _ = self.split(psi)
        kk = np.arange(self.k + 1, dtype=np.float64)
        dfull = np.concatenate([np.zeros((psi.shape[0], 1)), d], axis=1)
        return np.asarray(kk[None, :, None] * (a[:, None] * theta[None, :])[:, None, :] + dfull[:, :, None])

    def log_prob(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        """Log-softmax of the cumulated steps over the categories, shifted by the largest for stability."""
        z = self._z(psi, theta)
        zmax = z.max(axis=1, keepdims=True)
        return np.asarray(z - (zmax + np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))))

    def prob_jac(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        r"""Probabilities and their derivatives in ``psi``.

        :math:`\partial P_m / \partial a = P_m \theta (m - E[X])` and
        :math:`\partial P_m / \partial d_v = P_m ([m = v] - P_v)`.
        """
        n, k, q = psi.shape[0], self.k, theta.size
        prob = np.exp(self.log_prob(psi, theta))
        jac = np.zeros((n, k + 1, q, self.n_par))
        kk = np.arange(k + 1, dtype=np.float64)
        off = 1 if self.has_slope else 0
        if self.has_slope:
            e = np.einsum("nkq,k->nq", prob, kk)
            jac[:, :, :, 0] = prob * theta[None, None, :] * (kk[None, :, None] - e[:, None, :])
        for m in range(1, k + 1):
            jac[:, :, :, off + m - 1] = -prob * prob[:, m][:, None, :]
            jac[:, m, :, off + m - 1] += prob[:, m]
        return prob, jac

    def theta_derivatives(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        r"""Closed-form derivatives in theta.

        :math:`(\log P_m)' = a (m - E[X \mid \theta])` and
        :math:`(\log P_m)'' = -a^2 \operatorname{Var}(X \mid \theta)`.
        """
        a, _, _ = self.split(psi)
        logp = self.log_prob(psi, theta)
        prob = np.exp(logp)
        kk = np.arange(self.k + 1, dtype=np.float64)
        mean = np.einsum("nkq,k->nq", prob, kk)
        var = np.maximum(np.einsum("nkq,k->nq", prob, kk * kk) - mean * mean, 0.0)
        a1 = a[:, None, None]
        dlog = a1 * (kk[None, :, None] - mean[:, None, :])
        d2log = np.broadcast_to(-(a1 * a1) * var[:, None, :], logp.shape).copy()
        return logp, dlog, d2log

    def start(self, cat_counts: FloatArray, prior_c: tuple[float, float] | None) -> FloatArray:
        """Slope 1, intercepts from the rescaled adjacent-category marginal logits."""
        tot = cat_counts.sum(axis=1, keepdims=True)
        p = (cat_counts + 0.5) / (tot + 0.5 * (self.k + 1))
        return self._stack(np.ones(cat_counts.shape[0]), MARGINAL_LOGIT * np.log(p[:, 1:] / p[:, :1]))
