"""Calibration with girth (Ackerman's GIRTH package), for comparison with the built-in engine."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from scoring.calibration.prepare import check_scores
from scoring.exceptions import DataError, GirthUnavailableError, ModelError
from scoring.params import ItemParams, normalize_model

__all__ = ["calibrate_girth"]


def calibrate_girth(
    responses: npt.ArrayLike,
    model: str = "2pl",
    *,
    item_ids: Sequence[str] | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
    max_iteration: int = 100,
) -> ItemParams:
    """Calibrate with girth (Ackerman's GIRTH package) instead of the built-in engine.

    girth estimates by marginal maximum likelihood with its own per-item optimisation (slow, no
    anchors, no groups, no weights, no standard errors). Supported here: ``rasch``/``1pl``
    (``rasch_mml``, slope fixed at 1 with a N(0, 1) latent distribution, so not mirt's Rasch),
    ``2pl`` (``twopl_mml``), ``grm`` (``grm_mml``) and ``gpcm`` (``pcm_mml``). Missing responses are
    passed as girth's ``INVALID_RESPONSE``. girth wants items x persons; the transpose happens here.

    Raises
    ------
    GirthUnavailableError
        For ``3pl``: girth's ``threepl_mml`` fails on numpy >= 2.4 (an array-to-scalar conversion
        of a size-1 array), and numpy is not pinned down for it.
    """
    from girth import grm_mml, pcm_mml, rasch_mml, twopl_mml
    from girth.utilities import INVALID_RESPONSE

    name = normalize_model(model)
    if name == "3pl":
        raise GirthUnavailableError(
            "girth's threepl_mml fails on numpy >= 2.4 (it converts a size-1 array to a scalar); "
            "use scoring.calibrate(..., models='3pl') instead"
        )
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"responses must be a persons x items matrix, got shape {x.shape}")
    check_scores(x[~np.isnan(x)])
    n_items = x.shape[1]
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(f"item{j + 1}" for j in range(n_items))
    data = np.where(np.isnan(x), INVALID_RESPONSE, x).astype(np.int64).T  # items x persons
    kk = np.nanmax(x, axis=0).astype(int)
    options = {
        "quadrature_bounds": (-theta_limit, theta_limit),
        "quadrature_n": quadpts,
        "max_iteration": max_iteration,
    }
    if name == "rasch":
        if np.any(kk > 1):
            raise GirthUnavailableError("girth has no partial credit MML with a fixed slope; use calibrate()")
        bvals = np.asarray(rasch_mml(data, discrimination=1.0, options=options), dtype=np.float64)
        return ItemParams(ids, ("rasch",) * n_items, np.ones(n_items), bvals.reshape(-1, 1), np.zeros(n_items))
    if name == "2pl":
        if np.any(kk > 1):
            raise ModelError("2pl needs dichotomous items")
        res = twopl_mml(data, options=options)
        a = np.asarray(res["Discrimination"], dtype=np.float64)
        b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(-1, 1)
        return ItemParams(ids, ("2pl",) * n_items, a, b, np.zeros(n_items))
    if name == "grm":
        res = grm_mml(data, options=options)
        a = np.asarray(res["Discrimination"], dtype=np.float64)
        b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(n_items, -1)
        return ItemParams(ids, ("grm",) * n_items, a, b, np.zeros(n_items))
    res = pcm_mml(data, options=options)
    a = np.asarray(res["Discrimination"], dtype=np.float64)
    b = np.asarray(res["Difficulty"], dtype=np.float64).reshape(n_items, -1)
    return ItemParams(ids, ("gpcm",) * n_items, a, b, np.zeros(n_items))
