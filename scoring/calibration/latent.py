r"""The latent distribution of each group: a normal prior on the quadrature nodes, and its M-step.

With anchors, or for every group but the reference one, the mean and SD of a group are free: they
maximise the expected log of the normalised discrete normal prior given the posterior node counts
of its persons, an empirical-Bayes step (Bock & Zimowski, 1997). The SD moves on the log scale.

References
----------
Bock, R. D. & Zimowski, M. F. (1997). Multiple group IRT. In van der Linden & Hambleton (eds.),
*Handbook of modern item response theory*.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["latent_gradient", "latent_logprior", "latent_mstep"]

FloatArray = npt.NDArray[np.float64]


def latent_logprior(nodes: FloatArray, mean: FloatArray, sd: FloatArray) -> FloatArray:
    """Log of the normalised discrete normal prior of every group, shape (G, Q)."""
    u = (nodes[None, :] - mean[:, None]) / sd[:, None]
    lw = -0.5 * u**2
    mx = lw.max(axis=1, keepdims=True)
    return np.asarray(lw - (mx + np.log(np.exp(lw - mx).sum(axis=1, keepdims=True))))


def latent_gradient(ng: FloatArray, nodes: FloatArray, mean: float, sd: float) -> tuple[float, float]:
    r"""Gradient of :math:`\sum_q n_q \log \pi_q(\mu, \sigma)` wrt (mu, log sigma), discrete prior."""
    u = (nodes - mean) / sd
    pi = np.exp(latent_logprior(nodes, np.array([mean]), np.array([sd]))[0])
    tot = ng.sum()
    gm = (float(ng @ u) - tot * float(pi @ u)) / sd
    gl = float(ng @ u**2) - tot * float(pi @ u**2)
    return gm, gl


def latent_mstep(
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
        g = np.array(latent_gradient(ng, nodes, mu, math.exp(ls)))
        h = np.zeros((2, 2))
        eps = 1e-5
        for i in range(2):
            if not free[i]:
                continue
            dx = [0.0, 0.0]
            dx[i] = eps
            gp = np.array(latent_gradient(ng, nodes, mu + dx[0], math.exp(ls + dx[1])))
            gm_ = np.array(latent_gradient(ng, nodes, mu - dx[0], math.exp(ls - dx[1])))
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
