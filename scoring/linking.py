"""Linking two calibrations onto one scale through common items.

Two separate calibrations of overlapping item sets differ by a linear transformation of the
latent scale (Kolen & Brennan, 2014, ch. 6). With theta_base = A theta_new + B, item
parameters of the new calibration move to the base scale as

    a* = a / A,   b*_k = A b_k + B (every threshold of a GRM/GPCM item too),   c* = c,

and abilities as theta* = A theta + B (standard errors scale by A).

Methods for (A, B), from the common items' two parameter sets:

* ``"mean_sigma"`` (Marco, 1977): A = sd(b_base) / sd(b_new), B = mean(b_base) - A mean(b_new);
* ``"mean_mean"`` (Loyd & Hoover, 1980): A = mean(a_new) / mean(a_base),
  B = mean(b_base) - A mean(b_new);
* ``"stocking_lord"`` (Stocking & Lord, 1983): minimise
  sum_q w_q [sum_i E_i(theta_q | base) - sum_i E_i(theta_q | new, A, B)]^2, the squared
  difference of the common items' test characteristic curves;
* ``"haebara"`` (Haebara, 1980): minimise
  sum_q w_q sum_i sum_k [P_ik(theta_q | base) - P_ik(theta_q | new, A, B)]^2, item by item and
  category by category.

For polytomous items the moment methods pool all thresholds of the common items (each b_k
paired with its counterpart; Kim & Lee, 2006), and the characteristic-curve methods use the
expected item score and the category probabilities (Baker, 1992; Kim & Lee, 2006). The curve
criteria are evaluated on base-scale nodes (the "non-symmetric" version), by default 41 points on
[-4, 4] weighted by the N(0, 1) density, and minimised over (log A, B) with BFGS, starting from
the mean-sigma solution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError, ParameterError
from scoring.irt import expected_score, normal_prior, probabilities
from scoring.params import ItemParams

__all__ = [
    "LinkingConstants",
    "LinkingMethod",
    "link_scales",
    "linking_criterion",
    "transform_params",
    "transform_se",
    "transform_theta",
]

FloatArray = npt.NDArray[np.float64]
LinkingMethod = Literal["mean_sigma", "mean_mean", "stocking_lord", "haebara"]
_METHODS: tuple[str, ...] = ("mean_sigma", "mean_mean", "stocking_lord", "haebara")


@dataclass(frozen=True)
class LinkingConstants:
    """Slope and intercept of the linear map from the new scale to the base scale.

    theta_base = A * theta_new + B.

    Attributes
    ----------
    A
        Slope (positive).
    B
        Intercept.
    method
        How the constants were obtained.
    """

    A: float
    B: float
    method: str


def link_scales(
    base: ItemParams,
    new: ItemParams,
    *,
    method: LinkingMethod = "stocking_lord",
    common: Sequence[str] | None = None,
    theta: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
) -> LinkingConstants:
    """Linking constants that put the ``new`` calibration on the scale of ``base``.

    Parameters
    ----------
    base
        Item parameters on the base (target) scale.
    new
        Item parameters of the calibration to be transformed.
    method
        ``"mean_sigma"``, ``"mean_mean"``, ``"stocking_lord"`` (default) or ``"haebara"``;
        formulas in the module docstring.
    common
        Ids of the common (anchor) items; default every id present in both tables.
    theta, weights
        Base-scale nodes and weights of the characteristic-curve criteria (default 41 nodes on
        [-4, 4] with N(0, 1) density weights; nodes without weights are weighted equally).
        Ignored by the moment methods.

    Returns
    -------
    LinkingConstants

    Raises
    ------
    DataError
        If there are no common items, or too few for the method (two thresholds for
        mean-sigma), or the nodes and weights disagree.
    ParameterError
        If a common item has a different model or number of categories in the two tables.
    """
    if method not in _METHODS:
        raise DataError(f"unknown linking method {method!r}; expected one of {', '.join(_METHODS)}")
    ids = _common_ids(base, new, common)
    b_base = base.subset(ids)
    b_new = new.subset(ids)
    for item, m1, m2, k1, k2 in zip(
        ids, b_base.models, b_new.models, b_base.max_scores.tolist(), b_new.max_scores.tolist(), strict=True
    ):
        if m1 != m2 or k1 != k2:
            raise ParameterError(
                f"common item {item!r} differs between calibrations: {m1} with {k1} thresholds vs {m2} with {k2}"
            )
    if method == "mean_mean":
        a_ratio = float(np.mean(b_new.a) / np.mean(b_base.a))
        return LinkingConstants(A=a_ratio, B=_intercept(b_base, b_new, a_ratio), method=method)
    start = _mean_sigma(b_base, b_new)
    if method == "mean_sigma":
        return LinkingConstants(A=start[0], B=start[1], method=method)
    loss = _curve_loss(b_base, b_new, method, *_nodes(theta, weights))
    x0 = np.array([np.log(start[0]) if np.isfinite(start[0]) and start[0] > 0 else 0.0, start[1]])
    if not np.isfinite(x0).all():
        x0 = np.zeros(2)
    from scipy import optimize

    res = optimize.minimize(loss, x0, method="BFGS", options={"gtol": 1e-10, "maxiter": 500})
    best = res.x if loss(res.x) <= loss(x0) else x0
    return LinkingConstants(A=float(np.exp(best[0])), B=float(best[1]), method=method)


def transform_params(params: ItemParams, constants: LinkingConstants) -> ItemParams:
    """Item parameters on the base scale: a / A, A b_k + B for every threshold, c unchanged.

    Parameters
    ----------
    params
        Item parameters on the new scale.
    constants
        Linking constants (theta_base = A theta_new + B).

    Returns
    -------
    ItemParams
    """
    if not (np.isfinite(constants.A) and constants.A > 0 and np.isfinite(constants.B)):
        raise ParameterError(f"linking slope must be positive and finite, got A={constants.A}, B={constants.B}")
    return ItemParams(
        ids=params.ids,
        models=params.models,
        a=params.a / constants.A,
        b=constants.A * params.b + constants.B,
        c=params.c,
    )


def transform_theta(theta: npt.ArrayLike, constants: LinkingConstants) -> FloatArray:
    """Abilities on the base scale, A theta + B."""
    return np.asarray(constants.A * np.asarray(theta, dtype=np.float64) + constants.B, dtype=np.float64)


def transform_se(se: npt.ArrayLike, constants: LinkingConstants) -> FloatArray:
    """Standard errors of abilities on the base scale, A se."""
    return np.asarray(constants.A * np.asarray(se, dtype=np.float64), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# internals


def linking_criterion(
    base: ItemParams,
    new: ItemParams,
    constants: LinkingConstants,
    *,
    method: LinkingMethod = "stocking_lord",
    common: Sequence[str] | None = None,
    theta: npt.ArrayLike | None = None,
    weights: npt.ArrayLike | None = None,
) -> float:
    """The characteristic-curve criterion of ``method`` at ``constants``: what :func:`link_scales` minimises.

    For ``"stocking_lord"`` the weighted mean squared difference of the common items' test
    characteristic curves (in squared score points), for ``"haebara"`` the weighted sum of the
    squared category-probability differences; the nodes and weights are :func:`link_scales`'s.
    0 when the new parameters are an exact linear transformation of the base ones.

    Raises
    ------
    DataError
        No common items, or a moment method (it has no criterion).
    """
    if method not in ("stocking_lord", "haebara"):
        raise DataError(f"{method!r} has no characteristic-curve criterion")
    ids = _common_ids(base, new, common)
    loss = _curve_loss(base.subset(ids), new.subset(ids), method, *_nodes(theta, weights))
    return loss(np.array([np.log(constants.A), constants.B]))


def _curve_loss(
    b_base: ItemParams, b_new: ItemParams, method: str, nodes: FloatArray, w: FloatArray
) -> Callable[[FloatArray], float]:
    """The criterion of ``method`` as a function of ``(log A, B)`` (module docstring)."""
    if method == "stocking_lord":
        target = np.asarray(expected_score(b_base, nodes), dtype=np.float64).sum(axis=1)

        def loss(x: FloatArray) -> float:
            moved = transform_params(b_new, LinkingConstants(float(np.exp(x[0])), float(x[1]), method))
            tcc = np.asarray(expected_score(moved, nodes), dtype=np.float64).sum(axis=1)
            return float(np.sum(w * (target - tcc) ** 2))

        return loss
    target_p = np.asarray(probabilities(b_base, nodes), dtype=np.float64)

    def loss_h(x: FloatArray) -> float:
        moved = transform_params(b_new, LinkingConstants(float(np.exp(x[0])), float(x[1]), method))
        pk = np.asarray(probabilities(moved, nodes), dtype=np.float64)
        return float(np.sum(w[:, None, None] * (target_p - pk) ** 2))

    return loss_h


def _common_ids(base: ItemParams, new: ItemParams, common: Sequence[str] | None) -> list[str]:
    if common is None:
        in_new = set(new.ids)
        ids = [i for i in base.ids if i in in_new]
    else:
        ids = [str(i) for i in common]
        missing = [i for i in ids if i not in base.ids or i not in new.ids]
        if missing:
            raise DataError(f"common items missing from a calibration: {', '.join(missing[:5])}")
    if not ids:
        raise DataError("the two calibrations share no items")
    return ids


def _thresholds(base: ItemParams, new: ItemParams) -> tuple[FloatArray, FloatArray]:
    mask = np.isfinite(base.b)
    return np.asarray(base.b[mask], dtype=np.float64), np.asarray(new.b[mask], dtype=np.float64)


def _intercept(base: ItemParams, new: ItemParams, slope: float) -> float:
    bb, bn = _thresholds(base, new)
    return float(np.mean(bb) - slope * np.mean(bn))


def _mean_sigma(base: ItemParams, new: ItemParams) -> tuple[float, float]:
    bb, bn = _thresholds(base, new)
    if bb.size < 2:
        raise DataError("mean-sigma linking needs at least two common thresholds")
    sd_new = float(np.std(bn))
    if sd_new <= 0:
        raise DataError("mean-sigma linking needs common items of different difficulty")
    slope = float(np.std(bb)) / sd_new
    return slope, float(np.mean(bb) - slope * np.mean(bn))


def _nodes(theta: npt.ArrayLike | None, weights: npt.ArrayLike | None) -> tuple[FloatArray, FloatArray]:
    nodes = np.linspace(-4.0, 4.0, 41) if theta is None else np.atleast_1d(np.asarray(theta, np.float64))
    if weights is None:
        w = normal_prior(nodes) if theta is None else np.full(nodes.size, 1.0 / nodes.size)
    else:
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape != nodes.shape or nodes.ndim != 1:
        raise DataError("theta and weights must be 1-D arrays of the same length")
    if np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise DataError("weights must be non-negative and not all zero")
    return nodes, np.asarray(w / w.sum(), dtype=np.float64)
