"""Step 2 of a calibration: what is free, what is fixed, and where the estimation starts.

The free items are grouped into one :class:`~scoring.calibration.batch.ItemBatch` per item
model; anchors keep their parameters and enter only through their log-probabilities. The latent
scale is identified as mirt does: without anchors the reference group is N(0, 1) (its SD free
when every free item is Rasch, mirt's "Rasch"), every other group has a free mean and SD; with
anchors every group's mean and SD are free, so the free items land on the anchors' scale.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from scoring.calibration.batch import ItemBatch
from scoring.calibration.parameters import ParameterLayout
from scoring.calibration.prepare import PreparedData
from scoring.irt import flat_log_probabilities
from scoring.models import item_model
from scoring.params import ItemParams

__all__ = ["identify_scale", "start_values"]

FloatArray = npt.NDArray[np.float64]


def identify_scale(
    data: PreparedData,
    nodes: FloatArray,
    fixed: ItemParams | None,
    prior_c: tuple[float, float] | None,
) -> ParameterLayout:
    """The parameter layout of a calibration: batches of free items, anchors and free latent parameters."""
    free_items = [j for j in range(data.n_items) if j not in data.fixed_pos]
    keyset: dict[tuple[str, int], list[int]] = {}
    for j in free_items:
        keyset.setdefault((data.models[j], int(data.max_scores[j])), []).append(j)
    batches = [
        ItemBatch(item_model(m, k), np.array(js, dtype=np.int64), data.offsets, prior_c if m == "3pl" else None)
        for (m, k), js in sorted(keyset.items())
    ]
    fixed_rows = np.zeros(0, dtype=np.int64)
    fixed_logp = None
    anchor_ids: tuple[str, ...] = ()
    if data.fixed_pos:
        assert fixed is not None
        fpos = sorted(data.fixed_pos)
        anchors = fixed.subset([data.fixed_pos[j] for j in fpos])
        anchor_ids = anchors.ids
        fixed_logp = flat_log_probabilities(anchors, nodes)
        ncat = data.max_scores + 1
        fixed_rows = np.concatenate([data.offsets[j] + np.arange(ncat[j]) for j in fpos]).astype(np.int64)
    has_anchor = bool(data.fixed_pos)
    all_rasch = bool(free_items) and all(data.models[j] == "rasch" for j in free_items)
    group_free = [(True, True) if has_anchor or g > 0 else (False, all_rasch) for g in range(len(data.labels))]
    return ParameterLayout(nodes, batches, fixed_logp, fixed_rows, data.n_cols, group_free, anchor_ids)


def start_values(layout: ParameterLayout, data: PreparedData, start: ItemParams | None) -> FloatArray:
    """The starting vector: marginal-frequency starts, replaced by ``start``'s items where they fit.

    An item of ``start`` is used when its id matches, its highest score is the item's and its
    parameters are admissible once the slope is clipped into the bounds (like mirt's ``pars=``).
    """
    psis = []
    for b in layout.batches:
        psi = b.start(data.cat_counts[b.items][:, : b.k + 1])
        if start is not None:
            for row_i, j in enumerate(b.items):
                if data.ids[j] not in start.ids:
                    continue
                sj = start.index(data.ids[j])
                if int(start.max_scores[sj]) != b.k:
                    continue
                c = np.clip(start.c[sj : sj + 1], 1e-6, 1 - 1e-6)
                cand = b.project(b.model.from_irt(start.a[sj : sj + 1], start.b[sj : sj + 1], c))
                if b.valid(cand)[0]:
                    psi[row_i] = cand[0]
        psis.append(psi)
    n_groups = len(data.labels)
    return layout.pack(psis, np.zeros(n_groups), np.ones(n_groups))
