"""Differential item functioning (DIF) on observed scores.

Two procedures, both conditioning on an observed matching score (no IRT model needed):

* :func:`compute_mantel_haenszel` for dichotomous items: the Mantel-Haenszel common odds ratio
  ``alpha_MH``, the ETS delta metric ``MH D-DIF = -2.35 ln(alpha_MH)`` with its standard error,
  the MH chi-square and the ETS A/B/C classes (Holland & Thayer, 1988; Zwick, 2012).
* :func:`compute_standardized_mean_difference` for polytomous (and dichotomous) items: the
  standardised mean difference SMD (Dorans & Schmitt, 1991), Mantel's (1963) extended MH
  chi-square and the ETS AA/BB/CC classes of Zwick, Thayer & Mazzeo (1997), reported as A/B/C.

Conventions
-----------
Responses are persons x items, float, ``nan`` where an item was not administered. A person who
did not take the studied item is left out of that item's analysis; a person whose group label is
neither the reference nor the focal label of a comparison is left out of that comparison. Signs
follow ETS: a negative MH D-DIF or SMD means the item is harder for (favours the reference group
over) the focal group. With more than two groups each focal group is compared with the
reference group separately.

The matching score
------------------
``matching="total"`` (default) is the person's summed score over all items *including* the
studied item, as Holland & Thayer (1988) recommend (under the Rasch model MH ln(alpha) is then
consistent for the difficulty shift). ``"rest"`` excludes the studied item. Each distinct score
is one stratum. With missing responses the sum runs over the items the person answered, which is
only a fair matching variable when everyone answered (nearly) the same items; for booklet or
adaptive designs pass an explicit per-person matching array instead (for instance EAP thetas
rounded to a grid, or the score on a common anchor block): each distinct value is a stratum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError

__all__ = [
    "ETS_DELTA_SCALE",
    "MantelHaenszelResult",
    "StandardizedMeanDifferenceResult",
    "classify_ets",
    "classify_ets_polytomous",
    "compute_mantel_haenszel",
    "compute_standardized_mean_difference",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Matching = Literal["total", "rest"] | npt.ArrayLike

#: ETS delta-metric constant: MH D-DIF = -2.35 ln(alpha_MH) (Holland & Thayer, 1988).
ETS_DELTA_SCALE = 2.35

# Polytomous thresholds on |SMD| / SD(item) (Zwick, Thayer & Mazzeo, 1997; Allen et al., 1999).
_POLY_B_THRESHOLD = 0.17
_POLY_C_THRESHOLD = 0.25


@dataclass(frozen=True)
class MantelHaenszelResult:
    """Mantel-Haenszel DIF statistics of each studied item for one focal-reference comparison.

    Attributes
    ----------
    items
        Column indices (into the response matrix) of the studied items.
    item_ids
        Identifiers of the studied items.
    reference, focal
        Group labels compared.
    matching
        ``"total"``, ``"rest"`` or ``"custom"``; ``purified`` tells whether the criterion was
        refined (two-stage, C items removed).
    alpha
        MH common odds ratio, odds of success in the reference group over odds in the focal
        group (> 1: the item favours the reference group).
    d_dif
        MH D-DIF = -2.35 ln(alpha).
    se_d_dif
        Standard error of MH D-DIF, 2.35 times the Robins-Breslow-Greenland (1986) SE of
        ln(alpha) (Phillips & Holland, 1987).
    chi2, p_value
        MH chi-square (1 df, with the 0.5 continuity correction unless disabled) and its p-value.
    ets_class
        ``"A"``, ``"B"`` or ``"C"`` per item (see :func:`classify_ets`); ``""`` where the
        statistic cannot be computed (e.g. no stratum with both groups).
    n_reference, n_focal
        Persons of each group used for each item.
    """

    items: tuple[int, ...]
    item_ids: tuple[str, ...]
    reference: Hashable
    focal: Hashable
    matching: str
    purified: bool
    alpha: FloatArray
    d_dif: FloatArray
    se_d_dif: FloatArray
    chi2: FloatArray
    p_value: FloatArray
    ets_class: tuple[str, ...]
    n_reference: IntArray
    n_focal: IntArray


@dataclass(frozen=True)
class StandardizedMeanDifferenceResult:
    """Standardised mean difference DIF statistics for one focal-reference comparison.

    Attributes
    ----------
    items, item_ids, reference, focal, matching, purified, n_reference, n_focal
        As in :class:`MantelHaenszelResult`.
    smd
        SMD = sum_k w_Fk (mean_Fk - mean_Rk), w_Fk the focal proportion in stratum k
        (Dorans & Schmitt, 1991). Negative: the focal group scores lower than matched
        reference examinees.
    se_smd
        Standard error of SMD (Zwick & Thayer, 1996, independent-groups form:
        sum_k w_Fk^2 (s_Fk^2 / n_Fk + s_Rk^2 / n_Rk), the within-stratum variances pooled
        over strata where a group has a single member).
    item_sd
        Standard deviation (ddof=1) of the item score in the reference and focal groups
        together; the scale of the effect size.
    effect_size
        SMD / item_sd.
    chi2, p_value
        Mantel's (1963) extended MH chi-square (1 df, no continuity correction) and p-value.
    ets_class
        ``"A"``, ``"B"`` or ``"C"`` (ETS AA/BB/CC, see :func:`classify_ets_polytomous`).
    """

    items: tuple[int, ...]
    item_ids: tuple[str, ...]
    reference: Hashable
    focal: Hashable
    matching: str
    purified: bool
    smd: FloatArray
    se_smd: FloatArray
    item_sd: FloatArray
    effect_size: FloatArray
    chi2: FloatArray
    p_value: FloatArray
    ets_class: tuple[str, ...]
    n_reference: IntArray
    n_focal: IntArray


def classify_ets(
    d_dif: npt.ArrayLike,
    se_d_dif: npt.ArrayLike,
    p_value: npt.ArrayLike,
    *,
    alpha_level: float = 0.05,
) -> tuple[str, ...]:
    """ETS A/B/C classes of dichotomous items from MH D-DIF (Zwick, 2012).

    * C: |D| >= 1.5 and |D| significantly greater than 1.0, tested one-sided at
      ``alpha_level``: (|D| - 1) / SE(D) > z(1 - alpha_level) (1.645 at 0.05);
    * A: |D| < 1.0, or the MH chi-square is not significant (p >= ``alpha_level``);
    * B: otherwise.

    Where SE(D) is not finite (an odds ratio of 0 or infinity) the C test falls back on the
    chi-square test. Items with a nan D get ``""``.

    Parameters
    ----------
    d_dif, se_d_dif, p_value
        MH D-DIF, its SE and the p-value of the MH chi-square, one value per item.
    alpha_level
        Significance level of both tests.

    Returns
    -------
    tuple of str
        One class per item.
    """
    d = np.atleast_1d(np.asarray(d_dif, dtype=np.float64))
    se = np.atleast_1d(np.asarray(se_d_dif, dtype=np.float64))
    p = np.atleast_1d(np.asarray(p_value, dtype=np.float64))
    z_crit = NormalDist().inv_cdf(1.0 - alpha_level)
    out: list[str] = []
    for d_i, se_i, p_i in zip(d, se, p, strict=True):
        if np.isnan(d_i) or np.isnan(p_i):
            out.append("")
            continue
        size = abs(d_i)
        significant = p_i < alpha_level
        if size < 1.0 or not significant:
            out.append("A")
            continue
        if np.isfinite(se_i) and se_i > 0 and np.isfinite(size):
            above_one = (size - 1.0) / se_i > z_crit
        else:
            above_one = significant
        out.append("C" if size >= 1.5 and above_one else "B")
    return tuple(out)


def classify_ets_polytomous(
    effect_size: npt.ArrayLike,
    p_value: npt.ArrayLike,
    *,
    alpha_level: float = 0.05,
) -> tuple[str, ...]:
    """ETS classes of polytomous items from SMD / SD (Zwick, Thayer & Mazzeo, 1997).

    * A (ETS "AA"): Mantel chi-square not significant (p >= ``alpha_level``) or
      |SMD / SD| <= 0.17;
    * C (ETS "CC"): p < ``alpha_level`` and |SMD / SD| > 0.25;
    * B (ETS "BB"): otherwise.

    Parameters
    ----------
    effect_size
        SMD divided by the item's standard deviation, one value per item.
    p_value
        p-values of Mantel's chi-square.
    alpha_level
        Significance level.

    Returns
    -------
    tuple of str
        One class per item (``""`` where the effect size is nan).
    """
    es = np.atleast_1d(np.asarray(effect_size, dtype=np.float64))
    p = np.atleast_1d(np.asarray(p_value, dtype=np.float64))
    out: list[str] = []
    for e_i, p_i in zip(es, p, strict=True):
        if np.isnan(e_i) or np.isnan(p_i):
            out.append("")
        elif p_i >= alpha_level or abs(e_i) <= _POLY_B_THRESHOLD:
            out.append("A")
        elif abs(e_i) > _POLY_C_THRESHOLD:
            out.append("C")
        else:
            out.append("B")
    return tuple(out)


def compute_mantel_haenszel(
    responses: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    reference: Hashable,
    focal: Hashable | Sequence[Hashable] | None = None,
    matching: Matching = "total",
    items: Sequence[int] | None = None,
    item_ids: Sequence[str] | None = None,
    purify: bool = False,
    continuity: bool = True,
    alpha_level: float = 0.05,
) -> tuple[MantelHaenszelResult, ...]:
    """Mantel-Haenszel DIF of dichotomous items (Holland & Thayer, 1988).

    In stratum k of the matching score, with A_k / B_k the right / wrong answers of the
    reference group, C_k / D_k those of the focal group, n_Rk, n_Fk the group sizes,
    m_1k = A_k + C_k, m_0k = B_k + D_k and N_k the stratum size:

    * alpha_MH = sum_k (A_k D_k / N_k) / sum_k (B_k C_k / N_k) (Mantel & Haenszel, 1959);
    * MH D-DIF = -2.35 ln(alpha_MH);
    * chi2_MH = (|sum_k A_k - sum_k E(A_k)| - 0.5)^2 / sum_k Var(A_k), with
      E(A_k) = n_Rk m_1k / N_k and Var(A_k) = n_Rk n_Fk m_1k m_0k / (N_k^2 (N_k - 1))
      (the correction is capped at |difference| as in R's ``mantelhaen.test``);
    * Var(ln alpha_MH) by Robins, Breslow & Greenland (1986):
      sum P_k R_k / (2 R^2) + sum (P_k S_k + Q_k R_k) / (2 R S) + sum Q_k S_k / (2 S^2), with
      R_k = A_k D_k / N_k, S_k = B_k C_k / N_k, P_k = (A_k + D_k) / N_k, Q_k = (B_k + C_k) / N_k.

    Parameters
    ----------
    responses
        Persons x items scores, ``nan`` = not administered. Studied items must be scored 0/1;
        the other columns (which only enter the matching score) may be polytomous.
    groups
        Group label of each person (any hashable values; ``None``/``nan`` labels are ignored).
    reference
        Label of the reference group.
    focal
        Label or labels of the focal group(s); default every other label present, in sorted
        order. Each is compared with the reference group.
    matching
        ``"total"`` (default, studied item included), ``"rest"`` (studied item excluded), or a
        per-person array whose distinct values define the strata (``nan``: person left out).
    items
        Columns to study (default all).
    item_ids
        Item identifiers (default ``"0"``, ``"1"``, ...).
    purify
        Two-stage criterion refinement (Holland & Thayer, 1988; Zwick, 2012): items classed C
        in a first pass are dropped from the matching score (the studied item itself stays in
        for ``"total"``), and the statistics recomputed. Only with ``"total"``/``"rest"``.
    continuity
        Apply the 0.5 continuity correction to the chi-square.
    alpha_level
        Significance level for the ETS classes.

    Returns
    -------
    tuple of MantelHaenszelResult
        One result per focal group, in the order of ``focal``.

    Raises
    ------
    DataError
        On shape mismatches, an unknown reference label, a studied item not scored 0/1, or
        ``purify`` with a custom matching array.
    """
    x, labels, studied, ids = _prepare(responses, groups, items, item_ids)
    for i in studied:
        col = x[:, i]
        obs = col[~np.isnan(col)]
        if not np.all((obs == 0.0) | (obs == 1.0)):
            raise DataError(f"item {ids[i]!r} is not scored 0/1; use compute_standardized_mean_difference")

    def statistics(col: FloatArray, match: FloatArray, keep: BoolArray, is_ref: BoolArray) -> _ItemStats:
        return _mh_item(col, match, keep, is_ref, continuity)

    def classify(stats: FloatArray) -> tuple[str, ...]:
        return classify_ets(stats[:, 1], stats[:, 2], stats[:, 4], alpha_level=alpha_level)

    out: list[MantelHaenszelResult] = []
    for f, comparison in _compare(x, labels, studied, reference, focal, matching, purify, statistics, classify):
        alpha, d, se, chi2, pvals = (comparison.values[:, j].copy() for j in range(5))
        out.append(
            MantelHaenszelResult(
                items=tuple(studied),
                item_ids=tuple(ids[i] for i in studied),
                reference=reference,
                focal=f,
                matching=_matching_name(matching),
                purified=purify,
                alpha=alpha,
                d_dif=d,
                se_d_dif=se,
                chi2=chi2,
                p_value=pvals,
                ets_class=comparison.classes,
                n_reference=comparison.n_reference,
                n_focal=comparison.n_focal,
            )
        )
    return tuple(out)


def compute_standardized_mean_difference(
    responses: npt.ArrayLike,
    groups: npt.ArrayLike,
    *,
    reference: Hashable,
    focal: Hashable | Sequence[Hashable] | None = None,
    matching: Matching = "total",
    items: Sequence[int] | None = None,
    item_ids: Sequence[str] | None = None,
    purify: bool = False,
    alpha_level: float = 0.05,
) -> tuple[StandardizedMeanDifferenceResult, ...]:
    """Standardised mean difference DIF with Mantel's chi-square, for polytomous items.

    In stratum k with n_Rk, n_Fk examinees, focal and reference mean item scores m_Fk, m_Rk:

    * SMD = sum_k (n_Fk / n_F) (m_Fk - m_Rk) (Dorans & Schmitt, 1991; focal-group weights);
    * Mantel's (1963) chi-square: with F_k the sum of the focal item scores,
      E(F_k) = n_Fk T_k / N_k and
      Var(F_k) = n_Rk n_Fk (N_k U_k - T_k^2) / (N_k^2 (N_k - 1)), T_k and U_k the sum and the
      sum of squares of the item scores in the stratum,
      chi2 = (sum F_k - sum E(F_k))^2 / sum Var(F_k), 1 df. For a 0/1 item this is the MH
      chi-square without continuity correction.
    * effect size SMD / SD(item), classified by :func:`classify_ets_polytomous`.

    Parameters
    ----------
    responses, groups, reference, focal, matching, items, item_ids, alpha_level
        As in :func:`compute_mantel_haenszel`; studied items may have any non-negative scores.
    purify
        Two-stage refinement: items classed C in a first pass leave the matching score.

    Returns
    -------
    tuple of StandardizedMeanDifferenceResult
        One result per focal group.

    Raises
    ------
    DataError
        As :func:`compute_mantel_haenszel` (except that polytomous studied items are allowed).
    """
    x, labels, studied, ids = _prepare(responses, groups, items, item_ids)

    def classify(stats: FloatArray) -> tuple[str, ...]:
        return classify_ets_polytomous(_effect_sizes(stats), stats[:, 4], alpha_level=alpha_level)

    out: list[StandardizedMeanDifferenceResult] = []
    for f, comparison in _compare(x, labels, studied, reference, focal, matching, purify, _smd_item, classify):
        smd, se, sd, chi2, pvals = (comparison.values[:, j].copy() for j in range(5))
        out.append(
            StandardizedMeanDifferenceResult(
                items=tuple(studied),
                item_ids=tuple(ids[i] for i in studied),
                reference=reference,
                focal=f,
                matching=_matching_name(matching),
                purified=purify,
                smd=smd,
                se_smd=se,
                item_sd=sd,
                effect_size=_effect_sizes(comparison.values),
                chi2=chi2,
                p_value=pvals,
                ets_class=comparison.classes,
                n_reference=comparison.n_reference,
                n_focal=comparison.n_focal,
            )
        )
    return tuple(out)


# --------------------------------------------------------------------------------------------
# internals

_ItemStats = tuple[float, float, float, float, float, int, int]
"""Five statistics of one studied item, then the numbers of reference and focal persons."""


@dataclass(frozen=True)
class _Comparison:
    """The statistics of every studied item for one focal group, after the last purification stage."""

    values: FloatArray  # (n_studied, 5)
    classes: tuple[str, ...]
    n_reference: IntArray
    n_focal: IntArray


def _compare(
    x: FloatArray,
    labels: npt.NDArray[np.object_],
    studied: list[int],
    reference: Hashable,
    focal: Hashable | Sequence[Hashable] | None,
    matching: Matching,
    purify: bool,
    statistics: Callable[[FloatArray, FloatArray, BoolArray, BoolArray], _ItemStats],
    classify: Callable[[FloatArray], tuple[str, ...]],
) -> list[tuple[Hashable, _Comparison]]:
    """Run one DIF procedure for every focal group, with the two-stage purification when asked.

    Per focal group and stage: the matching score of every studied item over the criterion
    items, ``statistics`` per item, ``classify`` of all of them; after the first stage the items
    classed C leave the criterion (Holland & Thayer, 1988; Zwick, 2012).
    """
    focals = _focal_labels(labels, reference, focal)
    _matching_name(matching)
    if purify:
        _check_purifiable(matching)
    is_ref = _label_equal(labels, reference)
    out: list[tuple[Hashable, _Comparison]] = []
    for f in focals:
        keep = _group_mask(labels, reference, f)
        criterion = np.ones(x.shape[1], dtype=bool)
        for _stage in range(2 if purify else 1):
            base = _criterion_total(x, criterion) if isinstance(matching, str) else None
            rows = [statistics(x[:, i], _matching_for(x, i, matching, criterion, base), keep, is_ref) for i in studied]
            values = np.array([r[:5] for r in rows], dtype=np.float64).reshape(len(studied), 5)
            classes = classify(values)
            criterion[[i for i, c in zip(studied, classes, strict=True) if c == "C"]] = False
        comparison = _Comparison(
            values=values,
            classes=classes,
            n_reference=np.array([r[5] for r in rows], dtype=np.int64),
            n_focal=np.array([r[6] for r in rows], dtype=np.int64),
        )
        out.append((f, comparison))
    return out


def _effect_sizes(values: FloatArray) -> FloatArray:
    """SMD / SD(item) from the SMD statistics (nan where the SD is 0)."""
    smd, sd = values[:, 0], values[:, 2]
    safe_sd = np.where(sd > 0, sd, 1.0)
    return np.asarray(np.where(sd > 0, smd / safe_sd, np.nan))



def _prepare(
    responses: npt.ArrayLike,
    groups: npt.ArrayLike,
    items: Sequence[int] | None,
    item_ids: Sequence[str] | None,
) -> tuple[FloatArray, npt.NDArray[np.object_], list[int], list[str]]:
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError("responses must be a persons x items matrix")
    labels = np.asarray(groups, dtype=object)
    if labels.shape != (x.shape[0],):
        raise DataError(f"groups must have one label per person ({x.shape[0]}), got {labels.shape}")
    n_items = x.shape[1]
    studied = list(range(n_items)) if items is None else [int(i) for i in items]
    for i in studied:
        if not 0 <= i < n_items:
            raise DataError(f"item index {i} out of range 0..{n_items - 1}")
    ids = [str(i) for i in range(n_items)] if item_ids is None else [str(s) for s in item_ids]
    if len(ids) != n_items:
        raise DataError(f"item_ids has {len(ids)} entries for {n_items} items")
    obs = x[~np.isnan(x)]
    if np.any(obs < 0) or np.any(np.isinf(obs)):
        raise DataError("scores must be finite and non-negative")
    return x, labels, studied, ids


def _is_missing_label(v: object) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _label_equal(labels: npt.NDArray[np.object_], value: Hashable) -> npt.NDArray[np.bool_]:
    return np.array([(not _is_missing_label(v)) and v == value for v in labels], dtype=bool)


def _focal_labels(
    labels: npt.NDArray[np.object_],
    reference: Hashable,
    focal: Hashable | Sequence[Hashable] | None,
) -> list[Hashable]:
    present = {v for v in labels.tolist() if not _is_missing_label(v)}
    if reference not in present:
        raise DataError(f"reference group {reference!r} does not occur in groups")
    if focal is None:
        others = [v for v in present if v != reference]
        try:
            return sorted(others)
        except TypeError:
            return sorted(others, key=repr)
    wanted: list[Hashable] = list(focal) if isinstance(focal, (list, tuple)) else [focal]
    for f in wanted:
        if f not in present:
            raise DataError(f"focal group {f!r} does not occur in groups")
        if f == reference:
            raise DataError("a focal group cannot be the reference group")
    return wanted


def _group_mask(labels: npt.NDArray[np.object_], reference: Hashable, focal: Hashable) -> npt.NDArray[np.bool_]:
    return _label_equal(labels, reference) | _label_equal(labels, focal)


def _matching_name(matching: Matching) -> str:
    if isinstance(matching, str):
        if matching not in ("total", "rest"):
            raise DataError(f"matching must be 'total', 'rest' or an array, got {matching!r}")
        return matching
    return "custom"


def _check_purifiable(matching: Matching) -> None:
    if not isinstance(matching, str):
        raise DataError("purify needs matching='total' or 'rest' (not a custom array)")


def _matching_for(
    x: FloatArray, item: int, matching: Matching, criterion: npt.NDArray[np.bool_], base: FloatArray | None
) -> FloatArray:
    """Matching score of every person for one studied item (nan: no matching value).

    ``base`` is the summed score over the criterion items (computed once per stage); the
    studied item is then added ("total") or removed ("rest").
    """
    if isinstance(matching, str):
        name = _matching_name(matching)
        if base is None:
            base = _criterion_total(x, criterion)
        own = np.nan_to_num(x[:, item])
        if name == "total" and not criterion[item]:
            return base + own
        if name == "rest" and criterion[item]:
            return base - own
        return base
    m = np.asarray(matching, dtype=np.float64)
    if m.shape != (x.shape[0],):
        raise DataError(f"a matching array needs one value per person ({x.shape[0]})")
    return m


def _criterion_total(x: FloatArray, criterion: npt.NDArray[np.bool_]) -> FloatArray:
    return np.asarray(np.nansum(x[:, criterion], axis=1), dtype=np.float64)


def _strata(
    col: FloatArray, match: FloatArray, keep: npt.NDArray[np.bool_], is_ref: npt.NDArray[np.bool_]
) -> tuple[IntArray, FloatArray, npt.NDArray[np.bool_], int]:
    use = keep & ~np.isnan(col) & ~np.isnan(match)
    _, stratum = np.unique(match[use], return_inverse=True)
    stratum = stratum.reshape(-1).astype(np.int64)
    n_strata = int(stratum.max()) + 1 if stratum.size else 0
    return stratum, col[use], is_ref[use], n_strata


def _mh_item(
    col: FloatArray,
    match: FloatArray,
    keep: npt.NDArray[np.bool_],
    is_ref: npt.NDArray[np.bool_],
    continuity: bool,
) -> tuple[float, float, float, float, float, int, int]:
    """(alpha, D, SE(D), chi2, p, n_ref, n_focal) for one dichotomous item."""
    k, y, ref, n_k = _strata(col, match, keep, is_ref)
    n_ref, n_foc = int(ref.sum()), int((~ref).sum())
    nan = float("nan")
    if n_ref == 0 or n_foc == 0:
        return nan, nan, nan, nan, nan, n_ref, n_foc
    a = _bincount(k, weights=y * ref, minlength=n_k)
    c = _bincount(k, weights=y * ~ref, minlength=n_k)
    nr = _bincount(k, weights=ref.astype(np.float64), minlength=n_k)
    nf = _bincount(k, weights=(~ref).astype(np.float64), minlength=n_k)
    b, d = nr - a, nf - c
    n = nr + nf
    m1 = a + c
    m0 = n - m1
    r_k = a * d / n
    s_k = b * c / n
    r_sum, s_sum = float(r_k.sum()), float(s_k.sum())
    both = (nr > 0) & (nf > 0) & (n >= 2)
    if not np.any(both):
        return nan, nan, nan, nan, nan, n_ref, n_foc
    expected = float(np.sum((nr * m1 / n)[both]))
    nb = n[both]
    var_a = float(np.sum(nr[both] * nf[both] * m1[both] * m0[both] / (nb * nb * (nb - 1.0))))
    diff = abs(float(a[both].sum()) - expected)
    if continuity:
        diff -= min(0.5, diff)
    chi2 = diff * diff / var_a if var_a > 0 else nan
    p = _chi2_sf_1df(chi2) if var_a > 0 else nan
    if r_sum > 0 and s_sum > 0:
        alpha = r_sum / s_sum
        p_k = (a + d) / n
        q_k = (b + c) / n
        var_log = (
            float(np.sum(p_k * r_k)) / (2.0 * r_sum**2)
            + float(np.sum(p_k * s_k + q_k * r_k)) / (2.0 * r_sum * s_sum)
            + float(np.sum(q_k * s_k)) / (2.0 * s_sum**2)
        )
        d_dif = -ETS_DELTA_SCALE * float(np.log(alpha))
        se = ETS_DELTA_SCALE * float(np.sqrt(var_log))
    elif r_sum > 0:  # S = 0: infinite odds ratio
        alpha, d_dif, se = float("inf"), float("-inf"), nan
    elif s_sum > 0:  # R = 0: zero odds ratio
        alpha, d_dif, se = 0.0, float("inf"), nan
    else:
        alpha, d_dif, se = nan, nan, nan
    return alpha, d_dif, se, chi2, p, n_ref, n_foc


def _smd_item(
    col: FloatArray,
    match: FloatArray,
    keep: npt.NDArray[np.bool_],
    is_ref: npt.NDArray[np.bool_],
) -> tuple[float, float, float, float, float, int, int]:
    """(SMD, SE, SD, chi2, p, n_ref, n_focal) for one item."""
    k, y, ref, n_k = _strata(col, match, keep, is_ref)
    n_ref, n_foc = int(ref.sum()), int((~ref).sum())
    nan = float("nan")
    if n_ref == 0 or n_foc == 0:
        return nan, nan, nan, nan, nan, n_ref, n_foc
    foc = ~ref
    nr = _bincount(k, weights=ref.astype(np.float64), minlength=n_k)
    nf = _bincount(k, weights=foc.astype(np.float64), minlength=n_k)
    sr = _bincount(k, weights=y * ref, minlength=n_k)
    sf = _bincount(k, weights=y * foc, minlength=n_k)
    qr = _bincount(k, weights=y * y * ref, minlength=n_k)
    qf = _bincount(k, weights=y * y * foc, minlength=n_k)
    n = nr + nf
    sd = float(np.std(y, ddof=1)) if y.size > 1 else nan
    # SMD: focal-weighted difference of means, over strata where both groups occur
    both = (nr > 0) & (nf > 0)
    if not np.any(both):
        return nan, nan, sd, nan, nan, n_ref, n_foc
    w = nf[both] / nf[both].sum()
    mean_f = sf[both] / nf[both]
    mean_r = sr[both] / nr[both]
    smd = float(np.sum(w * (mean_f - mean_r)))
    # within-stratum variances; strata with one member borrow the pooled within variance
    var_f = _within_variance(nf[both], sf[both], qf[both])
    var_r = _within_variance(nr[both], sr[both], qr[both])
    se = float(np.sqrt(np.sum(w * w * (var_f / nf[both] + var_r / nr[both]))))
    # Mantel (1963)
    use = both & (n >= 2)
    t = sr + sf
    u = qr + qf
    expected = nf * t / n
    var = nr * nf * (n * u - t * t) / (n * n * np.where(n >= 2, n - 1.0, 1.0))
    var_sum = float(var[use].sum())
    if var_sum > 0:
        chi2 = (float(sf[use].sum()) - float(expected[use].sum())) ** 2 / var_sum
        p = _chi2_sf_1df(chi2)
    else:
        chi2, p = nan, nan
    return smd, se, sd, chi2, p, n_ref, n_foc


def _chi2_sf_1df(chi2: float) -> float:
    """Upper-tail probability of a chi-square with 1 df: P(Z^2 > x) = erfc(sqrt(x / 2))."""
    return math.erfc(math.sqrt(chi2 / 2.0))


def _bincount(k: IntArray, weights: npt.ArrayLike, minlength: int) -> FloatArray:
    return np.asarray(np.bincount(k, weights=weights, minlength=minlength), dtype=np.float64)


def _within_variance(n: FloatArray, s: FloatArray, q: FloatArray) -> FloatArray:
    """Unbiased within-stratum variances, pooled value where a stratum has one member."""
    ss = q - s * s / n
    ss = np.maximum(ss, 0.0)
    dof = n - 1.0
    total_dof = float(dof.sum())
    pooled = float(ss.sum()) / total_dof if total_dof > 0 else 0.0
    out = np.full(n.shape, pooled)
    many = n >= 2
    out[many] = ss[many] / dof[many]
    return out
