r"""The graded response model (Samejima, 1969), mirt's ``graded``, for items scored 0..k, k > 1.

Cumulative probabilities :math:`P^*_m = \sigma(a\theta + d_m)`, m = 1..k, with intercepts
:math:`d_m = -a b_m` strictly decreasing; :math:`P_m = P^*_m - P^*_{m+1}` with :math:`P^*_0 = 1` and
:math:`P^*_{k+1} = 0`. Parameters per item: ``[a, d_1..d_k]``.

References
----------
Samejima, F. (1969). Estimation of latent ability using a response pattern of graded scores.
*Psychometrika Monograph* 17.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.models.base import MARGINAL_LOGIT, BoolArray, ItemModel, expit, log_expit

__all__ = ["Graded"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Graded(ItemModel):
    """GRM items with ``k`` > 1 thresholds."""

    def to_irt(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``b_m = -d_m / a``."""
        a, d, _ = self.split(psi)
        return a, -d / a[:, None], np.zeros(psi.shape[0])

    def from_irt(self, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        """``d_m = -a b_m``."""
        a = np.asarray(a, dtype=np.float64)
        return self._stack(a, -a[:, None] * np.asarray(b, dtype=np.float64)[:, : self.k])

    def log_prob(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        r""":math:`\log P_m = \log\sigma(z_m) + \log\sigma(-z_{m+1}) + \log(1 - e^{-(d_m - d_{m+1})})`.

        The identity :math:`\sigma(z_m) - \sigma(z_{m+1}) = \sigma(z_m)\,\sigma(-z_{m+1})\,(1 - e^{-(z_m -
        z_{m+1})})` keeps the relative precision of tiny category probabilities.
        """
        a, d, _ = self.split(psi)
        n, k, q = psi.shape[0], self.k, theta.size
        z = (a[:, None] * theta[None, :])[:, None, :] + d[:, :, None]  # (n, K, Q)
        lo = np.empty((n, k + 1, q))
        gaps = d[:, :-1] - d[:, 1:]  # (n, K-1) > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            lgap = np.log(-np.expm1(-np.where(gaps > 0, gaps, np.nan)))
        lo[:, 0] = log_expit(-z[:, 0])
        lo[:, k] = log_expit(z[:, k - 1])
        lo[:, 1:k] = log_expit(z[:, :-1]) + log_expit(-z[:, 1:]) + lgap[:, :, None]
        return lo

    def prob_jac(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        r"""Probabilities and their derivatives in ``psi``.

        :math:`\partial P_m / \partial a = \theta (W_m - W_{m+1})`, :math:`\partial P_m / \partial d_m
        = W_m`, :math:`\partial P_{m-1} / \partial d_m = -W_m`, with :math:`W_m = P^*_m (1 - P^*_m)`,
        :math:`W_0 = W_{k+1} = 0`.
        """
        a, d, _ = self.split(psi)
        n, k, q = psi.shape[0], self.k, theta.size
        prob = np.exp(self.log_prob(psi, theta))
        jac = np.zeros((n, k + 1, q, self.n_par))
        t = theta[None, None, :]
        s = expit(a[:, None, None] * t + d[:, :, None])  # (n, K, Q) P*_1..P*_K
        w = s * (1 - s)
        wpad = np.concatenate([np.zeros((n, 1, q)), w, np.zeros((n, 1, q))], axis=1)  # W_0..W_{K+1}
        jac[:, :, :, 0] = t * (wpad[:, :-1] - wpad[:, 1:])
        for m in range(1, k + 1):
            jac[:, m, :, m] += w[:, m - 1]
            jac[:, m - 1, :, m] -= w[:, m - 1]
        return prob, jac

    def theta_derivatives(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        r""":math:`(\log P_m)' = a (1 - P^*_m - P^*_{m+1})`, :math:`(\log P_m)'' = -a^2 (W_m + W_{m+1})`."""
        a, d, _ = self.split(psi)
        n, q = psi.shape[0], theta.size
        s = expit(a[:, None, None] * theta[None, None, :] + d[:, :, None])
        spad = np.concatenate([np.ones((n, 1, q)), s, np.zeros((n, 1, q))], axis=1)
        w = spad * (1.0 - spad)
        a1 = a[:, None, None]
        dlog = a1 * (1.0 - spad[:, :-1] - spad[:, 1:])
        d2log = -(a1 * a1) * (w[:, :-1] + w[:, 1:])
        return self.log_prob(psi, theta), dlog, d2log

    def admissible(self, psi: FloatArray) -> BoolArray:
        """Finite parameters with strictly decreasing intercepts."""
        _, d, _ = self.split(psi)
        return np.asarray(super().admissible(psi) & np.all(np.diff(d, axis=1) < 0, axis=1))

    def start(self, cat_counts: FloatArray, prior_c: tuple[float, float] | None) -> FloatArray:
        """Slope 1, intercepts from the rescaled cumulative marginal logits, kept strictly decreasing."""
        cum = self._cumulative(cat_counts)
        d = MARGINAL_LOGIT * np.log(cum / (1 - cum))
        for m in range(1, self.k):
            d[:, m] = np.minimum(d[:, m], d[:, m - 1] - 0.05)
        return self._stack(np.ones(cat_counts.shape[0]), d)
