r"""Step 3 of a calibration: EM cycles, accelerated by SQUAREM, to a fixed point.

One EM cycle maps the parameter vector ``x`` to the M-step on the E-step's expected counts at
``x``. SQUAREM (Varadhan & Roland, 2008; scheme S3) takes two cycles, extrapolates along them with
a step length alpha, and takes one more cycle from there; the extrapolation is kept only when it
is admissible and does not lower the marginal log-likelihood (a monotonicity safeguard), and the
largest step length adapts up and down. Convergence is mirt's criterion: the largest change of a
(slope-intercept) parameter over one EM cycle is below ``tol``.

References
----------
Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods for accelerating the
convergence of any EM algorithm. *Scandinavian Journal of Statistics*, 35, 335-353.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.calibration.estep import EStep
from scoring.calibration.latent import latent_logprior
from scoring.calibration.parameters import ParameterLayout
from scoring.exceptions import ConvergenceWarning, DataError

__all__ = ["EMOutcome", "MarginalLikelihood", "ProgressCallback", "iterate"]

FloatArray = npt.NDArray[np.float64]
ProgressCallback = Callable[[int, float, float], None]


class MarginalLikelihood:
    """The E-step as a function of the parameter vector, remembering its last evaluation.

    Calling it with ``x`` returns the marginal log-likelihood, the expected category counts
    ``(C, Q)`` and every group's node counts ``(G, Q)``. SQUAREM asks for the same ``x`` more than
    once; the cache answers the repeats.
    """

    def __init__(self, layout: ParameterLayout, engine: EStep) -> None:
        self.layout = layout
        self.engine = engine
        self._key: bytes | None = None
        self._value: tuple[float, FloatArray, FloatArray] | None = None

    def __call__(self, x: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """``(log-likelihood, counts, group node counts)`` at ``x``.

        Raises
        ------
        DataError
            If the log-likelihood is not finite.
        """
        key = x.tobytes()
        if self._key == key and self._value is not None:
            return self._value
        psis, mean, sd = self.layout.unpack(x)
        val = self.engine.run(self.layout.logp(psis), latent_logprior(self.layout.nodes, mean, sd))
        if not math.isfinite(val[0]):
            raise DataError("the marginal log-likelihood is not finite; check the responses and anchors")
        self._key, self._value = key, val
        return val

    def use_engine(self, engine: EStep) -> None:
        """Evaluate with another E-step engine from now on (the cache is dropped)."""
        self.engine = engine
        self._key = self._value = None

    def loglik_double(self, x: FloatArray) -> float:
        """The marginal log-likelihood at ``x`` evaluated in float64, whatever the engine's precision."""
        if self.engine.dtype == np.float64 and self._key == x.tobytes() and self._value is not None:
            return self._value[0]
        psis, mean, sd = self.layout.unpack(x)
        return self.engine.loglik_double(self.layout.logp(psis), latent_logprior(self.layout.nodes, mean, sd))


@dataclass(frozen=True)
class EMOutcome:
    """Where the EM stopped.

    Parameters
    ----------
    x
        The parameter vector.
    log_likelihood
        The marginal log-likelihood there (float64).
    n_cycles
        EM cycles (M-steps) run, extrapolated steps included.
    converged
        Whether the largest parameter change of a cycle fell below the tolerance.
    """

    x: FloatArray
    log_likelihood: float
    n_cycles: int
    converged: bool


def iterate(
    layout: ParameterLayout,
    likelihood: MarginalLikelihood,
    x0: FloatArray,
    *,
    tol: float,
    max_cycles: int,
    accelerate: bool,
    callback: ProgressCallback | None,
) -> EMOutcome:
    """Run EM cycles from ``x0`` (SQUAREM-accelerated unless ``accelerate`` is False) until convergence.

    ``callback(cycles, loglik, change)`` is called after every SQUAREM iteration (or EM cycle)
    and once at the end. Reaching ``max_cycles`` warns with a :class:`ConvergenceWarning`.
    """
    n_cycles = 0

    def em_map(xv: FloatArray) -> FloatArray:
        nonlocal n_cycles
        _, counts, ng = likelihood(xv)
        n_cycles += 1
        return layout.mstep(xv, counts, ng)

    x = x0
    converged = layout.size == 0
    change = math.inf
    step_max = 1.0
    while layout.size and n_cycles < max_cycles:
        ll0 = likelihood(x)[0]
        x1 = em_map(x)
        step1 = x1 - x
        change = float(np.max(np.abs(step1)))
        if change < tol:
            x = x1
            converged = True
            break
        if not accelerate or n_cycles + 2 > max_cycles:
            x = x1
        else:
            x, step_max = _squarem_step(layout, likelihood, em_map, x, x1, ll0, step_max)
        if callback is not None:
            callback(n_cycles, ll0, change)
    if not converged:
        warnings.warn(
            f"EM did not converge in {max_cycles} cycles (largest parameter change {change:.2g} > tol {tol:g}); "
            "estimates are provisional (raise max_cycles or check the data)",
            ConvergenceWarning,
            stacklevel=3,
        )
    loglik = likelihood.loglik_double(x)
    if not math.isfinite(loglik):
        raise DataError("the marginal log-likelihood is not finite; check the responses and anchors")
    if callback is not None:
        callback(n_cycles, loglik, change if not converged else 0.0)
    return EMOutcome(x=x, log_likelihood=float(loglik), n_cycles=n_cycles, converged=converged)


def _squarem_step(
    layout: ParameterLayout,
    likelihood: MarginalLikelihood,
    em_map: Callable[[FloatArray], FloatArray],
    x: FloatArray,
    x1: FloatArray,
    ll0: float,
    step_max: float,
) -> tuple[FloatArray, float]:
    """One SQUAREM iteration (scheme S3) after the cycle ``x -> x1``: the next ``x`` and step bound."""
    step1 = x1 - x
    x2 = em_map(x1)
    v = x2 - x1 - step1
    vv = float(v @ v)
    alpha_raw = -math.sqrt(float(step1 @ step1) / vv) if vv > 0 else -1.0
    alpha = max(min(alpha_raw, -1.0), -step_max)
    xnew = x2
    if alpha < -1.0:
        xp = x - 2 * alpha * step1 + alpha**2 * v
        x3 = x2
        if layout.valid(xp):
            try:
                x3 = em_map(xp)
            except DataError:
                x3 = x2
        if x3 is not x2 and layout.valid(x3) and likelihood(x3)[0] >= ll0 - 1e-8 * (1 + abs(ll0)):
            xnew = x3
            if alpha == -step_max:
                step_max *= 4.0
        elif alpha == -step_max:
            step_max = max(1.0, step_max / 4.0)
    elif alpha_raw <= -step_max:
        step_max *= 4.0
    return xnew, step_max
