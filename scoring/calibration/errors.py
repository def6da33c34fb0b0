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
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.calibration.batch import ItemBatch
from scoring.calibration.estep import EStep, _linear_in_nodes
from scoring.calibration.latent import latent_logprior
from scoring.calibration.parameters import ParameterLayout
from scoring.calibration.prepare import PreparedData
from scoring.calibration.squarem import MarginalLikelihood
from scoring.exceptions import EstimationWarning
from scoring.params import ItemParamsSE

__all__ = ["SE_METHODS", "StandardErrors", "compute_standard_errors"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

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


def _observed_information(layout: ParameterLayout, x: FloatArray, likelihood: MarginalLikelihood) -> FloatArray:
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
    psis, mean, sd = layout.unpack(x)
    glog, pcol = _log_derivatives(layout, psis)
    lat_grad = _latent_score_weights(layout, mean, sd)
    p = layout.size
    info = np.zeros((p, p))
    logp, logprior = layout.logp(psis), latent_logprior(layout.nodes, mean, sd)
    kept = engine.kept_posteriors(logp, logprior)  # from the log-likelihood pass at the estimates
    prepared = engine.prepare(logp, logprior)
    glog_e = glog.astype(engine.dtype)
    binary = _binary_score_parts(engine, glog, pcol, layout.nodes) if engine.mode == "binary" else None
    for i, chunk in enumerate(engine.chunks):
        chunk_post = kept[i] if kept is not None else None
        for at, block in engine.blocks(chunk):  # small blocks: the float64 scores reuse their memory
            if chunk_post is None:
                post = engine.posterior(block, prepared)[0]
            else:
                post = chunk_post[:, at] if engine.node_major else chunk_post
            info += _block_cross_products(layout, engine, block, post, glog, glog_e, pcol, binary, lat_grad)
    return np.asarray(0.5 * (info + info.T))


def _block_cross_products(
    layout: ParameterLayout,
    engine: EStep,
    block: dict[str, Any],
    post: Any,
    glog: FloatArray,
    glog_e: Any,
    pcol: IntArray,
    binary: list[tuple[IntArray, IntArray, Any, FloatArray]] | None,
    lat_grad: list[FloatArray],
) -> FloatArray:
    """``sum_p w_p s_p s_p^T`` over the persons of one block (see :func:`_xpd_information`), ``(p, p)``."""
    p = layout.size
    if engine.mode == "sparse":
        post = np.asarray(post, dtype=np.float64)  # (n, Q)
        scores_t = _item_scores_by_column(engine, block, post, glog, pcol, p).T
        post_t = post.T
    else:
        post_t = post  # (Q, n), node-major, in the engine's precision
        if binary is not None:
            scores_t = _item_scores_binary(engine, block, post_t, binary, p)
        else:
            scores_t = _item_scores_by_product(engine, block, post_t, glog_e, pcol, p)
    for i, (g, _kind) in enumerate(layout.latent_slots):
        if engine.n_groups == 1:
            scores_t[layout.n_item_par + i] = lat_grad[i] @ post_t
        else:
            mine = block["g"] == g
            scores_t[layout.n_item_par + i, mine] = lat_grad[i] @ post_t[:, mine]
    scores_t = np.asarray(scores_t, dtype=np.float64)  # the cross-products are summed in float64
    if block["w"] is not None:
        scores_t *= np.sqrt(np.asarray(block["w"], dtype=np.float64))[None, :]
    return np.asarray(scores_t @ scores_t.T)  # a symmetric rank-k update (numpy calls syrk for A @ A.T)


def _log_derivatives(layout: ParameterLayout, psis: list[FloatArray]) -> tuple[FloatArray, IntArray]:
    """``d log P / d psi`` of every stacked category at every node, per parameter slot ``(pmax, C, Q)``.

    And the column of the score vector each (slot, category) feeds, ``(pmax, C)`` (-1: none).
    """
    q = layout.nodes.size
    pmax = max((b.n_par for b in layout.batches), default=0)
    glog = np.zeros((pmax, layout.n_cols, q))
    pcol = np.full((pmax, layout.n_cols), -1, dtype=np.int64)
    pos = 0
    for b, psi in zip(layout.batches, psis, strict=True):
        prob, jac = b.model.prob_jac(psi, layout.nodes)
        jp = jac / np.maximum(prob, 1e-300)[..., None]  # (n, K+1, Q, p)
        for m in range(b.n_par):
            glog[m, b.rows.reshape(-1)] = jp[..., m].reshape(-1, q)
            pcol[m, b.rows] = (pos + np.arange(b.n) * b.n_par + m)[:, None]
        pos += b.n * b.n_par
    return glog, pcol


def _latent_score_weights(layout: ParameterLayout, mean: FloatArray, sd: FloatArray) -> list[FloatArray]:
    """Per free latent parameter: d log pi_gq / d (mean or log sd) at every node."""
    nodes = layout.nodes
    logprior = latent_logprior(nodes, mean, sd)
    out = []
    for g, kind in layout.latent_slots:
        u = (nodes - mean[g]) / sd[g]
        pi = np.exp(logprior[g])
        out.append((u - pi @ u) / sd[g] if kind == 0 else u**2 - pi @ u**2)
    return out


def _binary_score_parts(
    engine: EStep, glog: FloatArray, pcol: IntArray, nodes: FloatArray
) -> list[tuple[IntArray, IntArray, Any, FloatArray]] | None:
    """Per parameter slot of dichotomous items: score columns, items, ``d log P0`` and the linear part.

    A person's score at item j is ``m_pj E[d log P_j0] + y_pj1 E[d (log P_j1 - log P_j0)]``. For
    the logistic models without a lower asymptote the second derivative is linear in theta (theta
    for the slope, 1 for the intercept), so its posterior mean is ``alpha + beta E[theta]``: one
    product over the items instead of two over the categories. ``None`` if some slot is not linear.
    """
    parts = []
    for m in range(glog.shape[0]):
        target = pcol[m, engine.offsets[:-1]]
        has = np.flatnonzero(target >= 0)
        if has.size == 0:
            continue
        g0 = glog[m, 0::2][has]
        lin = _linear_in_nodes(glog[m, 1::2][has] - g0, nodes, 1e-9)
        if lin is None:
            return None
        parts.append((target[has], has, np.ascontiguousarray(g0, dtype=engine.dtype), lin))
    return parts


def _item_scores_binary(
    engine: EStep, chunk: dict[str, Any], post_t: Any, parts: list[tuple[IntArray, IntArray, Any, FloatArray]], p: int
) -> Any:
    """Item scores of a chunk, ``(p, n)``, in the ``binary`` layout (see :func:`_binary_score_parts`)."""
    z = chunk["yt"]
    j = engine.n_items
    y1, administered = z[:j], z[j : 2 * j]
    n = post_t.shape[1]
    e_theta = np.asarray(engine.nodes, dtype=post_t.dtype) @ post_t  # every person's posterior mean
    scores_t = np.zeros((p, n), dtype=post_t.dtype)
    for target, items, g0, lin in parts:
        s = g0 @ post_t
        s *= administered[items]
        linear = np.multiply.outer(lin[0].astype(post_t.dtype), e_theta)  # slope * E[theta] + intercept
        linear += lin[1].astype(post_t.dtype)[:, None]
        linear *= y1[items]
        s += linear
        scores_t[target] = s
    return scores_t


def _item_scores_by_product(
    engine: EStep, chunk: dict[str, Any], post_t: Any, glog: Any, pcol: IntArray, p: int
) -> Any:
    """Item scores of a chunk, ``(p, n)``, from one product per parameter slot (node-major layouts).

    ``glog[m] @ post`` gives every person's expected score at every category (``(C, n)``); masked
    by the person's own categories (the 0/1 indicators) and summed over each item's categories,
    it leaves every person's score at every item, zero where the item was not administered. All
    in the engine's precision (float32 for large problems; the caller sums the cross-products in
    float64).
    """
    yt = engine.chunk_indicators_t(chunk)  # (C, n)
    first = engine.offsets[:-1]
    n_cat = np.diff(engine.offsets)
    scores_t = np.zeros((p, post_t.shape[1]), dtype=post_t.dtype)
    for m in range(glog.shape[0]):
        target = pcol[m, first]  # every category of an item feeds the same score column
        has = np.flatnonzero(target >= 0)
        if has.size == 0:
            continue
        expected = glog[m] @ post_t
        expected *= yt
        rows = first[has]
        acc = expected[rows]  # category 0 of every item (whole rows: cheap gathers, no reduceat)
        for k in range(1, int(n_cat[has].max())):
            sel = np.flatnonzero(n_cat[has] > k)
            acc[sel] += expected[rows[sel] + k]
        scores_t[target[has]] = acc
    return scores_t


def _item_scores_by_column(
    engine: EStep, chunk: dict[str, Any], post: FloatArray, glog: FloatArray, pcol: IntArray, p: int
) -> FloatArray:
    """Item scores of a chunk, ``(n, p)``, category column by category column (sparse layout)."""
    ycsc = engine.chunk_indicators(chunk).tocsc()
    scores = np.zeros((post.shape[0], p))
    for c in np.nonzero((pcol >= 0).any(axis=0))[0]:
        lo, hi = ycsc.indptr[c], ycsc.indptr[c + 1]
        if hi == lo:
            continue
        rows = ycsc.indices[lo:hi]
        vals = post[rows] @ glog[:, c, :].T  # (n_c, pmax)
        for m in range(glog.shape[0]):
            col = pcol[m, c]
            if col >= 0:
                scores[rows, col] = vals[:, m]
    return scores


def _invert_information(info: FloatArray) -> FloatArray | None:
    """The inverse of a positive definite information matrix (by its Cholesky factor), else ``None`` and a warning."""
    try:
        if not np.all(np.isfinite(info)):
            raise np.linalg.LinAlgError("the information matrix is not finite")
        inv_factor = np.linalg.inv(np.linalg.cholesky(info))  # L^-1, info = L L^T
        return np.asarray(inv_factor.T @ inv_factor)
    except np.linalg.LinAlgError:
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
