"""The flat parameter vector of a calibration and the M-step over all of it."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scoring.calibration.batch import ItemBatch
from scoring.calibration.latent import latent_gradient, latent_mstep
from scoring.irt import LOG_FLOOR

__all__ = ["ParameterLayout"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class ParameterLayout:
    """Bookkeeping of a calibration: batches, anchors, groups, and the flat parameter vector ``x``.

    ``x`` holds the slope-intercept parameters of every batch, item by item, then the free
    latent parameters (a group's mean, or the log of its SD) in :attr:`latent_slots` order.

    Parameters
    ----------
    nodes
        Quadrature nodes.
    batches
        The free items, one batch per item model.
    fixed_logp, fixed_rows
        Log-probabilities of the anchors' categories (rows of the stacked layout), or ``None``.
    n_cols
        Number of stacked category columns.
    group_free
        Per group: whether its mean and its SD are free.
    anchor_ids
        Ids of the anchor items.
    """

    def __init__(
        self,
        nodes: FloatArray,
        batches: list[ItemBatch],
        fixed_logp: FloatArray | None,
        fixed_rows: IntArray,
        n_cols: int,
        group_free: list[tuple[bool, bool]],
        anchor_ids: tuple[str, ...] = (),
    ) -> None:
        self.nodes = nodes
        self.batches = batches
        self.fixed_logp = fixed_logp
        self.fixed_rows = fixed_rows
        self.n_cols = n_cols
        self.group_free = group_free
        self.anchor_ids = anchor_ids
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
        """Per-batch parameters ``(n, n_par)``, and every group's mean and SD."""
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
        """The flat vector of per-batch parameters and the free latent parameters (inverse of :meth:`unpack`)."""
        parts = [p.reshape(-1) for p in psis]
        lat = [mean[g] if kind == 0 else math.log(sd[g]) for g, kind in self.latent_slots]
        return np.concatenate([*parts, np.asarray(lat, dtype=np.float64)]) if parts or lat else np.zeros(0)

    def valid(self, x: FloatArray) -> bool:
        """Whether ``x`` is finite, its latent distributions plausible and every item admissible."""
        if not np.all(np.isfinite(x)):
            return False
        psis, mean, sd = self.unpack(x)
        if np.any(sd < 0.05) or np.any(sd > 20) or np.any(np.abs(mean) > 10):
            return False
        return all(bool(b.valid(p).all()) for b, p in zip(self.batches, psis, strict=True))

    def logp(self, psis: Sequence[FloatArray]) -> FloatArray:
        """Log-probabilities of every stacked category at every node, floored at ``LOG_FLOOR``."""
        out = np.empty((self.n_cols, self.nodes.size))
        if self.fixed_logp is not None:
            out[self.fixed_rows] = self.fixed_logp
        for b, p in zip(self.batches, psis, strict=True):
            lp = np.maximum(b.model.log_prob(p, self.nodes), LOG_FLOOR)
            out[b.rows.reshape(-1)] = lp.reshape(-1, self.nodes.size)
        return out

    def mstep(self, x: FloatArray, counts: FloatArray, ng: FloatArray) -> FloatArray:
        """One M-step: every batch by Fisher scoring, every free latent distribution by Newton steps."""
        psis, mean, sd = self.unpack(x)
        new = [b.mstep(p, counts[b.rows], self.nodes) for b, p in zip(self.batches, psis, strict=True)]
        mean = mean.copy()
        sd = sd.copy()
        for g, (fm, fs) in enumerate(self.group_free):
            if fm or fs:
                mean[g], sd[g] = latent_mstep(ng[g], self.nodes, mean[g], sd[g], fm, fs)
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
            gm, gl = latent_gradient(ng[g], self.nodes, mean[g], sd[g])
            lat.append(gm if kind == 0 else gl)
        return np.concatenate([*parts, np.asarray(lat, dtype=np.float64)])
