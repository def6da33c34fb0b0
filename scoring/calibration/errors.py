r"""Step 5 of a calibration: standard errors from the information matrix, by the delta method.

Two estimates of the information of the slope-intercept (and latent) parameters:

``observed``
    The negative Hessian of the marginal log-likelihood, as central differences of its analytic
    gradient (Fisher's identity); equivalent to Oakes' (1999) identity that mirt uses. Two E-steps
    per parameter.
``xpd``
    The cross-product of the per-person score vectors (the empirical information): one pass over
    the data, asymptotically equivalent, less accurate in small samples.

The covariance is the inverse of the information; the standard errors of the IRT parameters
follow by the delta method (numerical Jacobian of the item model's ``to_irt``).

References
----------
Oakes, D. (1999). Direct calculation of the information matrix via the EM algorithm. *JRSS B*, 61,
479-482. Louis, T. A. (1982). Finding the observed information matrix when using the EM
algorithm. *JRSS B*, 44, 226-233.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.calibration.batch import ItemBatch
from scoring.calibration.estep import EStep
from scoring.calibration.latent import latent_logprior
from scoring.calibration.parameters import ParameterLayout
from scoring.calibration.prepare import PreparedData
from scoring.calibration.squarem import MarginalLikelihood
from scoring.exceptions import EstimationWarning
from scoring.params import ItemParamsSE

__all__ = ["SE_METHODS", "StandardErrors", "compute_standard_errors"]

FloatArray = npt.NDArray[np.float64]

SE_METHODS = ("auto", "observed", "xpd", "none")
"""The values of ``calibrate(..., se=)``."""
MAX_PARAMETERS = 8000
"""Above this many free parameters the full information matrix is not formed."""


@dataclass(frozen=True)
class StandardErrors:
    """Standard errors of a calibration.

    Parameters
    ----------
    method
        ``"observed"``, ``"xpd"`` or ``"none"`` (what was actually computed).
    items
        Standard errors of the IRT item parameters (``nan`` where fixed or not computed).
    latent
        ``(n_groups, 2)``: standard errors of every group's mean and SD (``nan`` where fixed).
    """

    method: str
    items: ItemParamsSE
    latent: FloatArray


def compute_standard_errors(
    method: str,
    layout: ParameterLayout,
    likelihood: MarginalLikelihood,
    x: FloatArray,
    data: PreparedData,
    chunk_rows: int | None,
) -> StandardErrors:
    """Standard errors at the estimates ``x`` by ``method`` (see :data:`SE_METHODS`).

    ``"auto"`` takes ``observed`` when its 2 E-steps per parameter cost under about 5 seconds
    (judged by the E-steps so far) and the E-step runs in float64, else ``xpd``.
    """
    engine = likelihood.engine
    if method == "auto":
        per_estep = engine.seconds / max(engine.n_calls, 1)
        cheap = 2 * layout.size * per_estep <= 5.0
        method = "observed" if cheap and engine.dtype == np.float64 else "xpd"
    cov: FloatArray | None = None
    if layout.size and method != "none":
        if layout.size > MAX_PARAMETERS:
            warnings.warn(
                f"{layout.size} free parameters: too many for the full information matrix; no standard errors",
                EstimationWarning,
                stacklevel=3,
            )
        elif method == "observed":
            if engine.dtype != np.float64:  # differences of float32 gradients would be noise
                likelihood.use_engine(engine.in_double(data.weights, data.group_index, chunk_rows))
            cov = _invert_information(_observed_information(layout, x, likelihood))
        else:
            cov = _invert_information(_xpd_information(layout, x, engine))
    return _delta_method(layout, x, data, cov, method)


def _delta_method(
    layout: ParameterLayout, x: FloatArray, data: PreparedData, cov: FloatArray | None, method: str
) -> StandardErrors:
    """Standard errors of the IRT parameters and latent distributions from the covariance ``cov``."""
    n_items = data.n_items
    se_a = np.full(n_items, np.nan)
    se_b = np.full((n_items, max(1, int(data.max_scores.max()))), np.nan)
    se_c = np.full(n_items, np.nan)
    latent_se = np.full((len(data.labels), 2), np.nan)
    if cov is not None:
        psis, _, sd = layout.unpack(x)
        pos = 0
        for bt, psi in zip(layout.batches, psis, strict=True):
            size = bt.n * bt.n_par
            sa, sb, sc = _delta_se(bt, psi, cov[pos : pos + size, pos : pos + size])
            se_a[bt.items] = sa
            se_b[bt.items, : bt.k] = sb
            se_c[bt.items] = sc
            pos += size
        for i, (g, kind) in enumerate(layout.latent_slots):
            v = cov[layout.n_item_par + i, layout.n_item_par + i]
            s = math.sqrt(v) if v >= 0 else math.nan
            latent_se[g, kind] = s if kind == 0 else s * sd[g]
    return StandardErrors(
        method=method if cov is not None else "none",
        items=ItemParamsSE(data.ids, se_a, se_b, se_c),
        latent=latent_se,
    )


def _observed_information(
    layout: ParameterLayout, x: FloatArray, likelihood: MarginalLikelihood
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
        if not layout.valid(xm):
            xm = x.copy()
            hm = 0.0
        else:
            hm = h
        _, cp, ngp = likelihood(xp)
        gp = layout.gradient(xp, cp, ngp)
        _, cm, ngm = likelihood(xm)
        gm = layout.gradient(xm, cm, ngm)
        hess[:, i] = (gp - gm) / (h + hm)
    return np.asarray(-0.5 * (hess + hess.T))


def _xpd_information(layout: ParameterLayout, x: FloatArray, engine: EStep) -> FloatArray:
    r"""Cross-product information :math:`\sum_p w_p s_p s_p^T` of the per-person scores :math:`s_p`.

    For person p, :math:`s_p = \sum_q \pi_{pq} \partial \log L_p(\theta_q) / \partial \psi` (the
    posterior expectation of the complete-data score), with the latent-distribution parameters
    included.
    """
    from scipy.linalg import blas

    psis, mean, sd = layout.unpack(x)
    nodes = layout.nodes
    q = nodes.size
    # d log P / d psi for every category row and node, per parameter slot; mapping to columns of s
    n_cols = layout.n_cols
    pmax = max((b.n_par for b in layout.batches), default=0)
    glog = np.zeros((pmax, n_cols, q))
    pcol = np.full((pmax, n_cols), -1, dtype=np.int64)
    pos = 0
    for b, psi in zip(layout.batches, psis, strict=True):
        prob, jac = b.model.prob_jac(psi, nodes)
        jp = jac / np.maximum(prob, 1e-300)[..., None]  # (n, K+1, Q, p)
        for m in range(b.n_par):
            glog[m, b.rows.reshape(-1)] = jp[..., m].reshape(-1, q)
            pcol[m, b.rows] = (pos + np.arange(b.n) * b.n_par + m)[:, None]
        pos += b.n * b.n_par
    logprior = latent_logprior(nodes, mean, sd)
    lat_grad = []  # per latent slot: d log pi_gq / d par, (Q,)
    for g, kind in layout.latent_slots:
        u = (nodes - mean[g]) / sd[g]
        pi = np.exp(logprior[g])
        lat_grad.append((u - pi @ u) / sd[g] if kind == 0 else u**2 - pi @ u**2)
    p = layout.size
    info = np.zeros((p, p))
    prepared = engine.prepare(layout.logp(psis))
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
        for i, (g, _kind) in enumerate(layout.latent_slots):
            if engine.n_groups == 1:
                scores[:, layout.n_item_par + i] = post @ lat_grad[i]
            else:
                mine = chunk["g"] == g
                scores[mine, layout.n_item_par + i] = post[mine] @ lat_grad[i]
        if chunk["w"] is not None:
            scores *= np.sqrt(np.asarray(chunk["w"], dtype=np.float64))[:, None]
        info = blas.dsyrk(1.0, scores.T, beta=1.0, c=info, trans=0, overwrite_c=1)
    iu = np.triu_indices(p, 1)
    info[(iu[1], iu[0])] = info[iu]
    return info


def _invert_information(info: FloatArray) -> FloatArray | None:
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    try:
        factor = cho_factor(info, lower=False)
        return np.asarray(cho_solve(factor, np.eye(info.shape[0])))
    except (LinAlgError, ValueError):
        warnings.warn(
            "the information matrix is not positive definite; standard errors are not available "
            "(the model may be unidentified or a parameter sits on a bound)",
            EstimationWarning,
            stacklevel=4,
        )
        return None


def _delta_se(bt: ItemBatch, psi: FloatArray, cov: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Standard errors of (a, b, c) per item by the delta method (numerical Jacobian of to_irt)."""
    n, p = psi.shape
    k = bt.k

    def flat(ps: FloatArray) -> FloatArray:
        a, b, c = bt.model.to_irt(ps)
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
    se_c = se[:, -1] if bt.model.guess_index is not None else np.full(n, np.nan)
    return se_a, se[:, 1 : 1 + k], se_c
