"""Step 4 of a calibration: the estimates as a parameter table, latent distributions and a result."""

from __future__ import annotations

import math
import warnings

import numpy as np
import numpy.typing as npt

from scoring.calibration.batch import A_MAX, A_MIN
from scoring.calibration.errors import StandardErrors
from scoring.calibration.parameters import ParameterLayout
from scoring.calibration.prepare import PreparedData
from scoring.calibration.results import CalibrationResult, LatentDistribution
from scoring.calibration.squarem import EMOutcome
from scoring.exceptions import EstimationWarning
from scoring.params import ItemParams

__all__ = ["assemble_params", "assemble_result"]

FloatArray = npt.NDArray[np.float64]


def assemble_params(layout: ParameterLayout, data: PreparedData, fixed: ItemParams | None, x: FloatArray) -> ItemParams:
    """The item parameters in mirt's IRT parameterisation, anchors with their fixed values, in column order.

    A free slope that ends on a bound is reported with an :class:`EstimationWarning`.
    """
    kk = data.max_scores
    a_out = np.ones(data.n_items)
    b_out = np.full((data.n_items, max(1, int(kk.max()))), np.nan)
    c_out = np.zeros(data.n_items)
    out_models = list(data.models)
    for j, fj in data.fixed_pos.items():
        assert fixed is not None
        a_out[j] = fixed.a[fj]
        b_out[j, : kk[j]] = fixed.b[fj, : kk[j]]
        c_out[j] = fixed.c[fj]
        out_models[j] = fixed.models[fj]
    psis, _, _ = layout.unpack(x)
    for bt, psi in zip(layout.batches, psis, strict=True):
        a, bb, c = bt.model.to_irt(psi)
        a_out[bt.items] = a
        b_out[bt.items, : bt.k] = bb
        c_out[bt.items] = c
        if bt.has_slope:
            for j in bt.items[psi[:, 0] <= A_MIN * 1.0001]:
                warnings.warn(
                    f"item {data.ids[j]!r}: slope at its lower bound {A_MIN} (the item does not discriminate "
                    "or discriminates negatively; check its key)",
                    EstimationWarning,
                    stacklevel=3,
                )
            for j in bt.items[psi[:, 0] >= A_MAX * 0.9999]:
                warnings.warn(
                    f"item {data.ids[j]!r}: slope at its upper bound {A_MAX}", EstimationWarning, stacklevel=3
                )
    return ItemParams(data.ids, tuple(out_models), a_out, b_out, c_out)


def assemble_result(
    layout: ParameterLayout,
    data: PreparedData,
    params: ItemParams,
    em: EMOutcome,
    errors: StandardErrors,
) -> CalibrationResult:
    """The :class:`CalibrationResult`: parameters, standard errors, latent distributions and fit indices."""
    _, mean, sd = layout.unpack(em.x)
    counts_by_group = np.bincount(data.group_index, minlength=len(data.labels))
    latent = tuple(
        LatentDistribution(
            group=label,
            mean=float(mean[g]),
            sd=float(sd[g]),
            se_mean=float(errors.latent[g, 0]),
            se_sd=float(errors.latent[g, 1]),
            free_mean=layout.group_free[g][0],
            free_sd=layout.group_free[g][1],
            n_persons=int(counts_by_group[g]),
        )
        for g, label in enumerate(data.labels)
    )
    k_par = layout.size
    loglik = em.log_likelihood
    nodes = layout.nodes.copy()
    nodes.setflags(write=False)
    return CalibrationResult(
        params=params,
        se=errors.items,
        latent=latent,
        log_likelihood=float(loglik),
        aic=float(-2 * loglik + 2 * k_par),
        bic=float(-2 * loglik + k_par * math.log(data.n_persons)),
        n_parameters=k_par,
        n_cycles=em.n_cycles,
        converged=em.converged,
        n_persons=data.n_persons,
        se_method=errors.method,
        nodes=nodes,
        anchor_ids=layout.anchor_ids,
    )
