"""Item parameter drift: common items whose parameters moved between two calibrations.

The new calibration is first put on the base scale through the common items (mean-sigma by
default, :func:`scoring.linking.link_scales`): a* = a / A, b* = A b + B. For every common item the
differences d_a = a* - a_base and d_b = b* - b_base (b: the mean threshold of a polytomous item)
are then judged two ways:

* **z** = d / sqrt(SE_new*^2 + SE_base^2), the new SEs moved to the base scale (SE(a*) = SE(a) / A,
  SE(b*) = A SE(b); a polytomous item's mean-threshold SE is sqrt(sum_k SE_k^2) / K, the thresholds
  taken as independent). It needs both calibrations' SEs and ignores the linking error; with a
  large sample it flags differences too small to matter;
* **robust z** (Huynh & Meyer, 2010): (d - median(d)) / (0.74 IQR(d)) over the common items, for
  b and for log(a* / a_base); 0.74 IQR is a robust estimate of the SD.

An item is flagged as drifted in a or in b when its ``|robust z| > 2.7`` (the rule of several
state testing programmes) and, where both calibrations have SEs, its ``|z| > 2.58`` as well (the
difference is also beyond its sampling error at the 1% level: with few common items and precise
estimates the robust z alone flags the most extreme of a set of negligible differences).

A drifted item pulls the mean-sigma constants towards itself, so the linking is done twice: once
with all common items, then again without the flagged ones (one purification step, as in
Candell & Drasgow, 1988), and the differences are those of the second linking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError
from scoring.linking import LinkingConstants, LinkingMethod, link_scales, transform_params
from scoring.params import ItemParams, ItemParamsSE

__all__ = ["ROBUST_Z_LIMIT", "Z_LIMIT", "DriftResult", "compute_drift", "robust_z"]

FloatArray = npt.NDArray[np.float64]
ROBUST_Z_LIMIT = 2.7
"""An item whose robust z of b or of log a exceeds this in absolute value has drifted (see :data:`Z_LIMIT`)."""
Z_LIMIT = 2.58
"""...and whose z (where SEs exist) exceeds this."""


@dataclass(frozen=True, eq=False)
class DriftResult:
    """Drift of the common items (new parameters on the base scale).

    Attributes
    ----------
    item_ids
        The common items.
    constants
        The linking constants (after purification).
    a_base, a_new, b_base, b_new
        Slopes and locations (mean threshold) in the base calibration and, linked, in the new one.
    d_a, d_b
        Differences new - base.
    z_a, z_b
        Differences over their SEs (``nan`` where a calibration has no SE).
    robust_z_a, robust_z_b
        Robust z of log(a_new / a_base) and of d_b.
    drifted
        ``|robust z| > ROBUST_Z_LIMIT`` and (with SEs) ``|z| > Z_LIMIT``, in a or in b.
    """

    item_ids: tuple[str, ...]
    constants: LinkingConstants
    a_base: FloatArray
    a_new: FloatArray
    b_base: FloatArray
    b_new: FloatArray
    d_a: FloatArray
    d_b: FloatArray
    z_a: FloatArray
    z_b: FloatArray
    robust_z_a: FloatArray
    robust_z_b: FloatArray
    drifted: npt.NDArray[np.bool_]


def robust_z(d: npt.ArrayLike) -> FloatArray:
    """(d - median(d)) / (0.74 IQR(d)) (Huynh & Meyer, 2010); ``nan`` when the IQR is 0."""
    x = np.asarray(d, dtype=np.float64)
    q1, q3 = np.quantile(x, [0.25, 0.75])
    scale = 0.74 * (q3 - q1)
    if not scale > 0:
        return np.full(x.shape, np.nan)
    return np.asarray((x - np.median(x)) / scale, dtype=np.float64)


def _location(params: ItemParams) -> FloatArray:
    k = params.max_scores
    return np.array([float(np.mean(params.b[j, : int(k[j])])) for j in range(params.n_items)])


def _location_se(se: ItemParamsSE | None, params: ItemParams) -> FloatArray:
    if se is None:
        return np.full(params.n_items, np.nan)
    k = params.max_scores
    return np.array([float(np.sqrt(np.sum(se.b[j, : int(k[j])] ** 2)) / k[j]) for j in range(params.n_items)])


def _differences(
    base: ItemParams, new: ItemParams, base_se: ItemParamsSE | None, new_se: ItemParamsSE | None, c: LinkingConstants
) -> tuple[FloatArray, ...]:
    moved = transform_params(new, c)
    a0, a1 = np.asarray(base.a, dtype=np.float64), np.asarray(moved.a, dtype=np.float64)
    b0, b1 = _location(base), _location(moved)
    sa0 = np.full(a0.size, np.nan) if base_se is None else np.asarray(base_se.a, dtype=np.float64)
    sa1 = np.full(a1.size, np.nan) if new_se is None else np.asarray(new_se.a, dtype=np.float64) / c.A
    sb0, sb1 = _location_se(base_se, base), c.A * _location_se(new_se, new)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_a = (a1 - a0) / np.sqrt(sa0**2 + sa1**2)
        z_b = (b1 - b0) / np.sqrt(sb0**2 + sb1**2)
    rz_a, rz_b = robust_z(np.log(a1 / a0)), robust_z(b1 - b0)
    return a0, a1, b0, b1, z_a, z_b, rz_a, rz_b


def compute_drift(
    base: ItemParams,
    new: ItemParams,
    *,
    base_se: ItemParamsSE | None = None,
    new_se: ItemParamsSE | None = None,
    common: Sequence[str] | None = None,
    method: LinkingMethod = "mean_sigma",
) -> DriftResult:
    """Drift of the common items of ``base`` and ``new`` (see the module docstring).

    Parameters
    ----------
    base, new
        The earlier and the later calibration.
    base_se, new_se
        Their standard errors, laid out like the parameter tables (optional: without them z is ``nan``).
    common
        The common items (default every id in both tables); at least 4 are needed.
    method
        The linking method.

    Raises
    ------
    DataError
        Fewer than 4 common items.
    """
    ids = [i for i in (common if common is not None else base.ids) if i in set(base.ids) and i in set(new.ids)]
    if len(ids) < 4:
        raise DataError(f"drift needs at least 4 common items, got {len(ids)}")
    b_base, b_new = base.subset(ids), new.subset(ids)
    se0 = _subset_se(base_se, base, ids)
    se1 = _subset_se(new_se, new, ids)
    constants = link_scales(b_base, b_new, method=method)
    first = _differences(b_base, b_new, se0, se1, constants)
    flagged = _flags(first[4], first[6]) | _flags(first[5], first[7])
    kept = [i for i, f in zip(ids, flagged.tolist(), strict=True) if not f]
    if flagged.any() and len(kept) >= 4:
        constants = link_scales(b_base, b_new, method=method, common=kept)
    a0, a1, b0, b1, z_a, z_b, rz_a, rz_b = _differences(b_base, b_new, se0, se1, constants)
    drifted = _flags(z_a, rz_a) | _flags(z_b, rz_b)
    return DriftResult(tuple(ids), constants, a0, a1, b0, b1, a1 - a0, b1 - b0, z_a, z_b, rz_a, rz_b, drifted)


def _flags(z: FloatArray, rz: FloatArray) -> npt.NDArray[np.bool_]:
    beyond = np.abs(np.nan_to_num(rz)) > ROBUST_Z_LIMIT
    return np.asarray(beyond & (np.isnan(z) | (np.abs(z) > Z_LIMIT)), dtype=np.bool_)


def _subset_se(se: ItemParamsSE | None, params: ItemParams, ids: list[str]) -> ItemParamsSE | None:
    if se is None:
        return None
    rows = [params.index(i) for i in ids]
    return ItemParamsSE(ids=tuple(ids), a=se.a[rows], b=se.b[rows], c=se.c[rows])
