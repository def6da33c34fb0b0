r"""Dichotomous items: Rasch, 2PL and 3PL (Birnbaum, 1968), mirt's ``Rasch``, ``2PL`` and ``3PL``.

:math:`P(X = 1 \mid \theta) = c + (1 - c)\,\sigma(a\theta + d)`, with :math:`d = -ab` and the lower
asymptote kept on the logit scale, :math:`c = \sigma(g)`. Parameters per item: ``rasch`` ``[d]``
(slope 1), ``2pl`` ``[a, d]``, ``3pl`` ``[a, d, g]``. A GRM item with one threshold is this model
too (its trace lines are the 2PL's).

References
----------
Birnbaum, A. (1968). Some latent trait models. In Lord & Novick, *Statistical theories of mental
test scores*. Lord, F. M. (1980). *Applications of item response theory to practical testing
problems*, eq. 5-19.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.models.base import MARGINAL_LOGIT, ItemModel, expit, log_expit

__all__ = ["Dichotomous"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Dichotomous(ItemModel):
    """Rasch, 2PL and 3PL items scored 0/1 (``k`` is 1)."""

    @property
    def n_par(self) -> int:
        """1 (``rasch``), 2 (``2pl``) or 3 (``3pl``)."""
        return 3 if self.model == "3pl" else (2 if self.has_slope else 1)

    @property
    def guess_index(self) -> int | None:
        """Column 2 for the 3PL, else ``None``."""
        return 2 if self.model == "3pl" else None

    def split(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Slopes (n,), intercepts (n, 1) and logit lower asymptotes (n,)."""
        a, d, g = super().split(psi)
        return a, d, (psi[:, 2] if self.model == "3pl" else g)

    def to_irt(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``b = -d / a``, ``c = sigma(g)``."""
        a, d, g = self.split(psi)
        c = expit(g) if self.model == "3pl" else np.zeros(psi.shape[0])
        return a, -d / a[:, None], c

    def from_irt(self, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        """``d = -a b``, ``g = logit(c)``."""
        a = np.asarray(a, dtype=np.float64) if self.has_slope else np.ones(np.shape(a))
        psi = self._stack(a, -a[:, None] * np.asarray(b, dtype=np.float64)[:, :1])
        if self.model != "3pl":
            return psi
        cc = np.asarray(c, dtype=np.float64)
        with np.errstate(divide="ignore"):
            g = np.log(cc / (1 - cc))
        return np.concatenate([psi, g[:, None]], axis=1)

    def log_prob(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        r"""Log-probabilities ``(n, 2, Q)``, stably.

        :math:`\log P_1 = \operatorname{logaddexp}(\log c, \log(1 - c) + \log\sigma(z))` and
        :math:`\log P_0 = \log(1 - c) + \log\sigma(-z)`, :math:`z = a\theta + d`.
        """
        a, d, g = self.split(psi)
        z = a[:, None] * theta[None, :] + d[:, 0:1]
        out = np.empty((psi.shape[0], 2, theta.size))
        if self.model == "3pl":
            lc, l1c = log_expit(g)[:, None], log_expit(-g)[:, None]
            out[:, 1] = np.logaddexp(lc, l1c + log_expit(z))
            out[:, 0] = l1c + log_expit(-z)
        else:
            out[:, 1] = log_expit(z)
            out[:, 0] = log_expit(-z)
        return out

    def prob_jac(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        r"""Probabilities and their derivatives in ``psi``; :math:`\partial P_0 = -\partial P_1`.

        :math:`\partial P_1 / \partial (a, d, g) = ((1 - c)\theta w, (1 - c) w, (1 - s) c (1 - c))`
        with :math:`s = \sigma(a\theta + d)`, :math:`w = s(1 - s)`.
        """
        a, d, g = self.split(psi)
        prob = np.exp(self.log_prob(psi, theta))
        jac = np.zeros((psi.shape[0], 2, theta.size, self.n_par))
        t = theta[None, :]
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

    def theta_derivatives(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        r"""With :math:`r = (1 - c) s / P_1`: :math:`(\log P_1)' = a (1 - s) r`, :math:`(\log P_0)' = -a s`.

        Second derivatives :math:`(\log P_1)'' = a^2 r (1 - s) ((1 - s)(1 - r) - s)` and
        :math:`(\log P_0)'' = -a^2 s (1 - s)`; without guessing r = 1.
        """
        a, d, g = self.split(psi)
        logp = self.log_prob(psi, theta)
        z = a[:, None] * theta[None, :] + d[:, 0:1]
        s = expit(z)
        q = 1.0 - s
        a1 = a[:, None]
        dlog = np.empty_like(logp)
        d2log = np.empty_like(logp)
        dlog[:, 0] = -a1 * s
        d2log[:, 0] = -(a1 * a1) * s * q
        if self.model == "3pl":
            r = np.exp(log_expit(-g)[:, None] + log_expit(z) - logp[:, 1])
            dlog[:, 1] = a1 * q * r
            d2log[:, 1] = (a1 * a1) * r * q * (q * (1.0 - r) - s)
        else:
            dlog[:, 1] = a1 * q
            d2log[:, 1] = d2log[:, 0]
        return logp, dlog, d2log

    def start(self, cat_counts: FloatArray, prior_c: tuple[float, float] | None) -> FloatArray:
        """Slope 1, intercept from the rescaled marginal logit (net of the prior's mode of c for the 3PL)."""
        n = cat_counts.shape[0]
        cum = self._cumulative(cat_counts)
        if self.model == "3pl":
            al, be = prior_c if prior_c is not None else (1.0, 1.0)
            c0 = (al - 1) / (al + be - 2) if al + be > 2 and al > 1 else 0.1
            cum = np.clip((cum - c0) / (1 - c0), 0.02, 0.98)
        psi = self._stack(np.ones(n), MARGINAL_LOGIT * np.log(cum / (1 - cum)))
        if self.model != "3pl":
            return psi
        return np.concatenate([psi, np.full((n, 1), math.log(c0 / (1 - c0)))], axis=1)
