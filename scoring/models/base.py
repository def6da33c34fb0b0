r"""What every item model offers, and the logistic helpers they share.

An item model is one IRT family for items with the same highest score ``k``, vectorised over
items. Its parameters are in the slope-intercept form (mirt's internal parameterisation): a row
``psi`` per item, laid out by the family (see each class). Shapes follow the calibration engine:
``(n_items, k + 1, n_theta)`` for anything per category and node.

The logistic helpers are written with numpy alone so that ``import scoring`` does not load
scipy.special (about a third of a second); they agree with scipy's ``expit`` and ``log_expit`` to
a few units in the last place.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MARGINAL_LOGIT", "ItemModel", "expit", "log1mexp", "log_expit"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

def expit(x: npt.ArrayLike) -> Any:
    r"""The logistic function :math:`\sigma(x) = 1 / (1 + e^{-x})`, elementwise."""
    with np.errstate(over="ignore"):
        e = np.exp(-np.asarray(x, dtype=np.float64))
    e += 1.0
    return np.reciprocal(e, out=e)


def log_expit(x: npt.ArrayLike) -> Any:
    r""":math:`\log \sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})`, accurate in both tails."""
    xa = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(xa))
    np.log1p(e, out=e)
    return np.minimum(xa, 0.0) - e


def log1mexp(x: npt.ArrayLike) -> Any:
    """``log(1 - exp(-x))`` for ``x >= 0``, accurate for small and large x (Maechler, 2012)."""
    xa = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(xa < math.log(2.0), np.log(-np.expm1(-xa)), np.log1p(-np.exp(-xa)))


@dataclass(frozen=True)
class ItemModel(ABC):
    """One IRT family for items whose highest score is ``k`` (abstract; see :func:`item_model`).

    Parameters
    ----------
    model
        Canonical model name (``rasch``, ``2pl``, ``3pl``, ``grm``, ``gpcm``).
    k
        Highest score of the items.
    """

    model: str
    k: int

    # ------------------------------------------------------------------ layout of psi
    @property
    def has_slope(self) -> bool:
        """Whether the slope is a parameter (it is 1 for ``rasch`` items)."""
        return self.model != "rasch"

    @property
    def n_par(self) -> int:
        """Number of slope-intercept parameters per item (columns of ``psi``)."""
        return self.k + (1 if self.has_slope else 0)

    @property
    def guess_index(self) -> int | None:
        """Column of ``psi`` holding the logit of the lower asymptote, or ``None``."""
        return None

    def split(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Slopes (n,), intercepts (n, k) and logit lower asymptotes (n,; ``-inf`` where absent)."""
        n = psi.shape[0]
        if self.has_slope:
            return psi[:, 0], psi[:, 1 : 1 + self.k], np.full(n, -np.inf)
        return np.ones(n), psi[:, : self.k], np.full(n, -np.inf)

    # ------------------------------------------------------------------ slope-intercept <-> IRT
    @abstractmethod
    def to_irt(self, psi: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """IRT parameters ``(a, b (n, k), c)`` from slope-intercept ones (mirt's ``IRTpars`` conversion)."""

    @abstractmethod
    def from_irt(self, a: FloatArray, b: FloatArray, c: FloatArray) -> FloatArray:
        """Slope-intercept parameters ``psi`` from IRT ones (inverse of :meth:`to_irt`).

        ``b`` needs at least ``k`` columns; a lower asymptote of 0 gives a logit of ``-inf``.
        """

    def _stack(self, a: FloatArray, d: FloatArray) -> FloatArray:
        cols = [a[:, None], d] if self.has_slope else [d]
        return np.concatenate(cols, axis=1)

    # ------------------------------------------------------------------ trace lines
    @abstractmethod
    def log_prob(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        """Log category probabilities, shape ``(n, k + 1, n_theta)``, computed stably."""

    @abstractmethod
    def prob_jac(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Probabilities ``(n, k + 1, Q)`` and their derivatives in ``psi``, ``(n, k + 1, Q, n_par)``."""

    @abstractmethod
    def theta_derivatives(self, psi: FloatArray, theta: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        r"""``log P``, :math:`\partial \log P / \partial\theta` and :math:`\partial^2 \log P / \partial\theta^2`.

        Each of shape ``(n, k + 1, n_theta)``, in closed form (no differencing), finite even where
        a probability underflows.
        """

    def information(self, psi: FloatArray, theta: FloatArray) -> FloatArray:
        r"""Fisher information :math:`I(\theta) = \sum_k P_k (\partial \log P_k / \partial\theta)^2`, ``(n, Q)``.

        The general form of Lord's (1980) 3PL information, Samejima's (1969) GRM information and
        Muraki's (1993) :math:`a^2 \operatorname{Var}(X \mid \theta)` for the GPCM.
        """
        logp, dlog, _ = self.theta_derivatives(psi, theta)
        return np.asarray((np.exp(logp) * dlog * dlog).sum(axis=1))

    # ------------------------------------------------------------------ estimation support
    def admissible(self, psi: FloatArray) -> BoolArray:
        """Items whose parameters are finite and define the model (e.g. GRM intercepts decreasing)."""
        return np.asarray(np.all(np.isfinite(psi), axis=1))

    @abstractmethod
    def start(self, cat_counts: FloatArray, prior_c: tuple[float, float] | None) -> FloatArray:
        """Starting values from the marginal category frequencies ``(n, k + 1)`` (slope 1)."""

    def _cumulative(self, cat_counts: FloatArray) -> FloatArray:
        """Smoothed marginal P(X >= m), m = 1..k, clipped into [1e-4, 1 - 1e-4]."""
        tot = cat_counts.sum(axis=1, keepdims=True)
        p = (cat_counts + 0.5) / (tot + 0.5 * (self.k + 1))
        cum = np.cumsum(p[:, ::-1], axis=1)[:, ::-1][:, 1:]
        return np.asarray(np.clip(cum, 1e-4, 1 - 1e-4))


MARGINAL_LOGIT = math.sqrt(1 + 1 / 2.89)
"""Marginal logit of a unit-slope item under N(0, 1) over its intercept (scales starting values)."""
