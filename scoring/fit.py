"""Item and person fit: S-X2, infit/outfit mean squares and the lz person-fit index.

* :func:`compute_sx2` -- Orlando & Thissen's (2000, 2003) summed-score item fit statistic for
  dichotomous and polytomous items (Kang & Chen, 2007, for the polytomous generalisation), with
  the expected proportions from the Lord-Wingersky recursion over a quadrature grid and sparse
  cells collapsed the way R's mirt ``itemfit`` does (default minimum expected count 1).
* :func:`compute_sx2_by_form` -- S-X2 for incomplete designs (booklets, field trials): the
  statistic of every form (persons given the same items) and group with enough persons, summed
  over the forms per item; a design without such forms (an adaptive test) gets no S-X2.
* :func:`compute_infit_outfit` -- Wright & Masters' (1982) information-weighted (infit) and
  unweighted (outfit) mean squares with their Wilson-Hilferty standardisations, for items and
  persons, given person abilities (Rasch family).
* :func:`compute_lz` -- the standardised log-likelihood person-fit index lz of Drasgow, Levine &
  Williams (1985), in its polytomous form (dichotomous items are the case K = 1).

Missing data: S-X2 is defined on the summed score of a complete response vector, so, as in mirt,
it needs complete data; ``drop_incomplete=True`` removes persons with a missing response first
(mirt's ``na.rm = TRUE``), otherwise a :class:`~scoring.exceptions.DataError` is raised. Infit,
outfit and lz sum over the responses a person gave, so they accept ``nan`` cells.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError, ModelError
from scoring.information import _lord_wingersky
from scoring.irt import normal_prior, probabilities
from scoring.params import ItemParams

__all__ = [
    "InfitOutfitResult",
    "PersonFitResult",
    "FormSX2Result",
    "SX2Result",
    "compute_infit_outfit",
    "compute_lz",
    "compute_sx2",
    "compute_sx2_by_form",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# mirt caps the SD of the mean squares at sqrt(2) before standardising.
_MAX_Q = 1.4142


@dataclass(frozen=True)
class SX2Result:
    """S-X2 item fit of each item.

    Attributes
    ----------
    item_ids
        Item identifiers.
    s_x2
        S-X2 statistic (``nan`` where no degrees of freedom are left after collapsing).
    df
        Degrees of freedom: collapsed cells - score groups - free item parameters - free latent
        parameters (mirt's rule; clipped at 0).
    p_value
        Upper-tail chi-square probability.
    rmsea
        sqrt(max(S-X2 / df - 1, 0) / (N - 1)), the misfit magnitude mirt reports.
    n_persons
        Persons used (after dropping incomplete rows).
    observed, expected
        Per item, the collapsed tables (score groups x cells) the statistic was computed on;
        ``expected`` is ``nan`` in cells removed by collapsing.
    """

    item_ids: tuple[str, ...]
    s_x2: FloatArray
    df: IntArray
    p_value: FloatArray
    rmsea: FloatArray
    n_persons: int
    observed: tuple[FloatArray, ...]
    expected: tuple[FloatArray, ...]


@dataclass(frozen=True)
class FormSX2Result:
    """S-X2 of each item pooled over the forms of an incomplete design (:func:`compute_sx2_by_form`).

    Attributes
    ----------
    item_ids
        Item identifiers.
    s_x2, df, p_value
        Pooled statistic, its degrees of freedom and upper-tail p-value (``nan``/0 for an item no
        usable form contains: not computed, the data are too sparse).
    n_persons
        Persons of the usable forms that were given the item.
    n_forms
        Usable forms (form x group cells) that contain the item.
    """

    item_ids: tuple[str, ...]
    s_x2: FloatArray
    df: IntArray
    p_value: FloatArray
    n_persons: IntArray
    n_forms: IntArray


@dataclass(frozen=True)
class InfitOutfitResult:
    """Infit and outfit mean squares with Wilson-Hilferty z values, for items and persons.

    Attributes
    ----------
    item_ids
        Item identifiers.
    item_outfit, item_z_outfit, item_infit, item_z_infit
        Item statistics, shape ``(n_items,)``.
    person_outfit, person_z_outfit, person_infit, person_z_infit
        Person statistics, shape ``(n_persons,)`` (``nan`` for a person without a usable
        response or ability).
    """

    item_ids: tuple[str, ...]
    item_outfit: FloatArray
    item_z_outfit: FloatArray
    item_infit: FloatArray
    item_z_infit: FloatArray
    person_outfit: FloatArray
    person_z_outfit: FloatArray
    person_infit: FloatArray
    person_z_infit: FloatArray


@dataclass(frozen=True)
class PersonFitResult:
    """lz person fit.

    Attributes
    ----------
    lz
        Standardised log-likelihood per person; large negative values flag aberrant response
        patterns (approximately N(0, 1) under the model at the true ability).
    log_likelihood
        l0, the log-likelihood of the observed responses at the given ability.
    expected, variance
        E(l0) and Var(l0) at that ability.
    n_items
        Number of responses each person gave.
    """

    lz: FloatArray
    log_likelihood: FloatArray
    expected: FloatArray
    variance: FloatArray
    n_items: IntArray


# --------------------------------------------------------------------------------------------
# S-X2


def compute_sx2(
    responses: npt.ArrayLike,
    params: ItemParams,
    *,
    mean: float = 0.0,
    sd: float = 1.0,
    n_quad: int = 61,
    theta_lim: tuple[float, float] = (-6.0, 6.0),
    mincell: float = 1.0,
    drop_incomplete: bool = False,
    n_free_params: Sequence[int] | None = None,
    n_latent_params: int | None = None,
) -> SX2Result:
    """S-X2 item fit (Orlando & Thissen, 2000, 2003; Kang & Chen, 2007).

    Persons are grouped by summed score s = 1 .. S_max - 1 (the extreme scores carry no
    information). For item i with categories x = 0..K_i the expected proportion in group s is

        E_isx = sum_q P_ix(theta_q) L_{-i}(s - x | theta_q) w_q / sum_q L(s | theta_q) w_q,

    with L and L_{-i} the summed-score likelihoods of all items and of all items but i (Lord &
    Wingersky, 1984; Thissen et al., 1995) and w_q normal quadrature weights. With N_s persons in
    group s and O_isx the observed counts,

        S-X2_i = sum_s sum_x (O_isx - N_s E_isx)^2 / (N_s E_isx),

    after collapsing sparse cells exactly as mirt's ``itemfit`` does (rows with impossible cells
    merged into their neighbours, empty and single-person rows merged, categories merged within a
    row, rare top categories merged, then adjacent score groups merged until every expected count
    reaches ``mincell``). Degrees of freedom: remaining cells - score groups - free parameters.

    Parameters
    ----------
    responses
        Persons x items integer scores 0..K_j matching ``params`` column by column.
    params
        Calibrated item parameters.
    mean, sd
        Latent distribution (the calibration's; N(0, 1) by default).
    n_quad, theta_lim
        Quadrature: ``n_quad`` equally spaced nodes on ``theta_lim`` (mirt: 61 on [-6, 6]).
    mincell
        Minimum expected cell count (mirt's ``mincell``; 0 disables collapsing).
    drop_incomplete
        Remove persons with any missing response (mirt's ``na.rm = TRUE``) instead of raising.
    n_free_params
        Free parameters per item, for the degrees of freedom. Default as mirt counts them:
        ``rasch`` K (thresholds only), ``2pl`` 2, ``3pl`` 3, ``grm``/``gpcm`` K + 1.
    n_latent_params
        Free latent-distribution parameters subtracted from every df. Default: 1 when every
        item is ``rasch`` (the Rasch calibration frees the latent variance), else 0 -- mirt's
        behaviour for a single-group calibration.

    Returns
    -------
    SX2Result

    Raises
    ------
    DataError
        Missing responses without ``drop_incomplete``, scores outside 0..K_j, shape mismatch,
        or fewer than two items.
    """
    x = _check_responses(responses, params)
    if np.isnan(x).any():
        if not drop_incomplete:
            raise DataError(
                "S-X2 needs complete response vectors (as mirt's itemfit); "
                "pass drop_incomplete=True to drop persons with missing responses"
            )
        x = x[~np.isnan(x).any(axis=1)]
    n_items = params.n_items
    if n_items < 2:
        raise DataError("S-X2 needs at least two items")
    if x.shape[0] == 0:
        raise DataError("no complete response vectors")
    k_max = np.asarray(params.max_scores, dtype=np.int64)
    xi = x.astype(np.int64)
    total = xi.sum(axis=1)
    s_max = int(k_max.sum())

    nodes = np.linspace(theta_lim[0], theta_lim[1], n_quad)
    w = normal_prior(nodes, mean, sd)
    p = np.asarray(probabilities(params, nodes), dtype=np.float64)
    lik_all = _lord_wingersky(p, k_max)  # (q, s_max + 1)
    marg_all = lik_all.T @ w  # P(S = s)
    n_s = np.bincount(total, minlength=s_max + 1).astype(np.float64)[1:s_max]

    free, latent = _sx2_free_parameters(params, n_free_params, n_latent_params)

    s_x2 = np.full(n_items, np.nan)
    df = np.zeros(n_items, dtype=np.int64)
    obs_tables: list[FloatArray] = []
    exp_tables: list[FloatArray] = []
    for i in range(n_items):
        observed, expected = _sx2_table(i, p, w, k_max, marg_all, n_s, total, xi)
        o_c, e_c = _collapse_cells(observed, expected, mincell)
        obs_tables.append(o_c)
        exp_tables.append(e_c)
        if o_c.ndim != 2 or o_c.shape[0] < 1 or o_c.shape[1] < 2:
            continue
        ok = ~np.isnan(e_c)
        stat = float(np.sum((o_c[ok] - e_c[ok]) ** 2 / e_c[ok]))
        d = int(ok.sum()) - e_c.shape[0] - free[i] - latent
        df[i] = max(d, 0)
        s_x2[i] = stat if d > 0 else np.nan
    p_value, rmsea = _sx2_p_rmsea(s_x2, df, x.shape[0])
    return SX2Result(
        item_ids=params.ids,
        s_x2=s_x2,
        df=df,
        p_value=p_value,
        rmsea=rmsea,
        n_persons=int(x.shape[0]),
        observed=tuple(obs_tables),
        expected=tuple(exp_tables),
    )


def compute_sx2_by_form(
    responses: npt.ArrayLike,
    params: ItemParams,
    *,
    groups: npt.ArrayLike | None = None,
    latent: dict[str, tuple[float, float]] | None = None,
    min_persons: int = 200,
    min_items: int = 5,
    mincell: float = 1.0,
) -> FormSX2Result:
    """S-X2 item fit of an incomplete design, computed form by form and summed.

    A *form* is a set of persons given exactly the same items (a booklet of a field trial); with
    ``groups`` (each with its latent ``(mean, sd)`` in ``latent``, as a multiple-group calibration
    estimated them) a form is split by group, so every cell has one latent distribution. Within a
    cell of at least ``min_persons`` persons and ``min_items`` items the data are complete and
    :func:`compute_sx2` applies unchanged (summed scores over the form's items, Lord-Wingersky
    likelihoods, mirt's collapsing). The cells hold different persons, so their statistics are
    independent and add up: for item i,

        S-X2_i = sum_f S-X2_if,   df_i = sum_f (cells_if - score groups_if) - free parameters_i,

    the item's free parameters counted once, as in a single form (mirt's rule). One form gives
    exactly :func:`compute_sx2`. Persons in smaller cells are left out; an item in no usable cell
    (every person of an adaptive test sees a different set of items) has no S-X2 (``nan``).

    Parameters
    ----------
    responses
        Persons x items scores, ``nan`` where not administered.
    params
        Calibrated item parameters, column by column.
    groups, latent
        Per-person group labels and each group's latent (mean, sd); default one N(0, 1) group.
    min_persons, min_items
        Smallest cell that is used.
    mincell
        Minimum expected count of the collapsing (mirt's ``mincell``).
    """
    x = _check_responses(responses, params)
    n, n_items = x.shape
    labels = np.zeros(n, dtype=object) if groups is None else np.asarray(groups, dtype=object).astype(str)
    if labels.shape != (n,):
        raise DataError(f"groups must have one label per person ({n})")
    given = ~np.isnan(x)
    patterns, form = np.unique(given, axis=0, return_inverse=True)
    form = form.reshape(-1)
    total = np.zeros(n_items)
    df_cells = np.zeros(n_items, dtype=np.int64)
    n_persons = np.zeros(n_items, dtype=np.int64)
    n_forms = np.zeros(n_items, dtype=np.int64)
    for f, pattern in enumerate(patterns):
        items = np.flatnonzero(pattern)
        if items.size < max(2, min_items):
            continue
        for label in np.unique(labels[form == f]):
            rows = (form == f) & (labels == label)
            if rows.sum() < min_persons:
                continue
            mean, sd = (0.0, 1.0) if latent is None else latent[str(label)]
            res = compute_sx2(x[np.ix_(rows, items)], params.subset(items.tolist()), mean=mean, sd=sd,
                              mincell=mincell, n_free_params=[0] * items.size, n_latent_params=0)  # fmt: skip
            ok = np.isfinite(res.s_x2)
            total[items[ok]] += res.s_x2[ok]
            df_cells[items[ok]] += res.df[ok]
            n_persons[items[ok]] += int(rows.sum())
            n_forms[items[ok]] += 1
    df = np.maximum(df_cells - np.asarray(_free_params(params), dtype=np.int64), 0)
    s_x2 = np.where((n_forms > 0) & (df > 0), total, np.nan)
    p_value, _ = _sx2_p_rmsea(s_x2, df, max(int(n_persons.max(initial=0)), 2))
    return FormSX2Result(item_ids=params.ids, s_x2=s_x2, df=df, p_value=p_value, n_persons=n_persons,
                         n_forms=n_forms)  # fmt: skip


def _sx2_table(
    i: int,
    p: FloatArray,
    w: FloatArray,
    k_max: IntArray,
    marg_all: FloatArray,
    n_s: FloatArray,
    total: IntArray,
    xi: IntArray,
) -> tuple[FloatArray, FloatArray]:
    """Observed and expected counts of item ``i`` by summed score 1..S_max - 1 and category."""
    n_items = k_max.size
    s_max = int(k_max.sum())
    k_i = int(k_max[i])
    others = np.delete(np.arange(n_items), i)
    lik_rest = _lord_wingersky(p[:, others, :], k_max[others])  # (q, s_max - k_i + 1)
    n_rest = lik_rest.shape[1]
    expected = np.full((s_max + 1, k_i + 1), np.nan)
    for cat in range(k_i + 1):
        num = lik_rest.T @ (p[:, i, cat] * w)  # over rest scores r, total = r + cat
        expected[cat : cat + n_rest, cat] = num / marg_all[cat : cat + n_rest]
    expected = expected[1:s_max] * n_s[:, None]
    observed = np.zeros((s_max + 1, k_i + 1))
    np.add.at(observed, (total, xi[:, i]), 1.0)
    return observed[1:s_max], expected


def _sx2_p_rmsea(s_x2: FloatArray, df: IntArray, n: int) -> tuple[FloatArray, FloatArray]:
    """Upper-tail chi-square p-values and RMSEA of the S-X2 statistics."""
    from scipy.special import chdtrc  # chi2.sf(x, df), without importing scipy.stats

    with np.errstate(invalid="ignore"):
        p_value = np.where(df > 0, chdtrc(np.maximum(df, 1), s_x2), np.nan)
    rmsea = np.full(s_x2.size, np.nan)
    pos = (df > 0) & ~np.isnan(s_x2)
    if n > 1:
        rmsea[pos] = np.sqrt(np.maximum(s_x2[pos] / df[pos] - 1.0, 0.0) / (n - 1))
    return np.asarray(p_value, dtype=np.float64), rmsea


def _sx2_free_parameters(
    params: ItemParams, n_free_params: Sequence[int] | None, n_latent_params: int | None
) -> tuple[list[int], int]:
    """Free parameters per item and free latent parameters, as mirt counts them (see :func:`compute_sx2`)."""
    free = _free_params(params) if n_free_params is None else [int(v) for v in n_free_params]
    if len(free) != params.n_items:
        raise DataError(f"n_free_params has {len(free)} entries for {params.n_items} items")
    if n_latent_params is None:
        return free, 1 if all(m == "rasch" for m in params.models) else 0
    return free, int(n_latent_params)


def _free_params(params: ItemParams) -> list[int]:
    out: list[int] = []
    for model, k in zip(params.models, params.max_scores.tolist(), strict=True):
        if model == "rasch":
            out.append(int(k))
        elif model == "2pl":
            out.append(2)
        elif model == "3pl":
            out.append(3)
        else:
            out.append(int(k) + 1)
    return out


def _collapse_cells(observed: FloatArray, expected: FloatArray, mincell: float) -> tuple[FloatArray, FloatArray]:
    """Collapse sparse cells of one item's S-X2 table as mirt's ``collapseCells`` does.

    A faithful port of mirt 1.4x (``R/utils.R``), including its order of operations, so that the
    statistics and degrees of freedom agree with mirt's. Rows are score groups, columns score
    categories; ``nan`` in ``expected`` marks impossible cells.
    """
    o, e = _merge_impossible_rows(observed.astype(np.float64).copy(), expected.astype(np.float64).copy())
    if e.shape[0] == 0:
        return o, e
    # 2. drop empty score groups; merge groups of a single person into the next group
    nonempty = o.sum(axis=1) != 0
    o, e = o[nonempty], e[nonempty]
    if o.shape[0] < 2:
        return _finish(o, e)
    small = e < mincell  # computed here, before the single-person merges (as in mirt)
    o, e = _merge_single_person_rows(o, e)
    # 3. within a score group, merge the smallest category into its smaller neighbour
    if e.shape[1] > 2:
        _merge_categories_within_rows(o, e, small, mincell)
    e[np.isnan(e)] = 0.0
    o, e = _merge_rare_categories(o, e, mincell)
    if e.shape[1] < 2:
        return _finish(o, e)
    return _finish(*_merge_score_groups(o, e, mincell))


def _merge_impossible_rows(o: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Step 1: rows with impossible cells join the nearest complete row.

    Those are the lowest and highest score groups of a polytomous item.
    """
    drop = np.nonzero(np.isnan(e).any(axis=1))[0]
    e[np.isnan(e)] = 0.0
    if not drop.size:
        return o, e
    if drop.size >= 2:
        half = drop.size // 2
        up = np.arange(drop[0], drop[half - 1] + 1)
        low = np.arange(drop[half], drop[-1] + 1)
    elif drop[0] < e.shape[0] / 2:
        up, low = drop, np.zeros(0, dtype=np.int64)
    else:
        up, low = np.zeros(0, dtype=np.int64), drop
    if up.size:
        tgt = int(up.max()) + 1
        rows = np.r_[up, tgt]
        e[tgt] = e[rows].sum(axis=0)
        o[tgt] = o[rows].sum(axis=0)
    if low.size:
        tgt = int(low.min()) - 1
        rows = np.r_[low, tgt]
        e[tgt] = e[rows].sum(axis=0)
        o[tgt] = o[rows].sum(axis=0)
    keep = np.ones(e.shape[0], dtype=bool)
    keep[np.r_[up, low].astype(np.int64)] = False
    return o[keep], e[keep]


def _merge_single_person_rows(o: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Step 2b: a score group of one person joins the next one (the last joins the one before)."""
    single: list[int] = []
    for j in range(o.shape[0] - 1):
        if o[j].sum() == 1:
            single.append(j)
            o[j + 1] += o[j]
            e[j + 1] += e[j]
    if single:
        keep = np.ones(o.shape[0], dtype=bool)
        keep[single] = False
        o, e = o[keep], e[keep]
    if o.shape[0] >= 2 and o[-1].sum() == 1:
        o[-2] += o[-1]
        e[-2] += e[-1]
        o, e = o[:-1], e[:-1]
    return o, e


def _merge_categories_within_rows(o: FloatArray, e: FloatArray, small: npt.NDArray[np.bool_], mincell: float) -> None:
    """Step 3, in place: in a row with small cells, merge the smallest category into a neighbour.

    The smaller neighbour takes it, until every cell reaches ``mincell`` or two are left; merged
    cells become nan (expected) and 0 (observed).
    """
    n_col = e.shape[1]
    for j in range(e.shape[0]):
        if j >= small.shape[0] or not small[j].any():
            continue
        tmp = list(e[j])
        tmp2 = list(o[j])
        while len(tmp) > 2:
            m = min(tmp)
            whc = max(idx for idx, v in enumerate(tmp) if v == m)
            if whc == 0:
                tmp[1] += tmp[0]
                tmp2[1] += tmp2[0]
            elif whc == len(tmp) - 1:
                tmp[-2] += tmp[-1]
                tmp2[-2] += tmp2[-1]
            else:
                left = min(tmp[whc - 1], tmp[whc + 1]) == tmp[whc - 1]
                pick = whc - 1 if left else whc + 1
                tmp[pick] += tmp[whc]
                tmp2[pick] += tmp2[whc]
            del tmp[whc]
            del tmp2[whc]
            if all(v >= mincell for v in tmp):
                break
        e[j] = tmp + [np.nan] * (n_col - len(tmp))
        o[j] = tmp2 + [0.0] * (n_col - len(tmp2))


def _merge_rare_categories(o: FloatArray, e: FloatArray, mincell: float) -> tuple[FloatArray, FloatArray]:
    """Steps 4 and 5: merge rare categories into their lower neighbour.

    The top category joins the one below while its expected total is too small; categories
    non-zero in fewer than 5% of the score groups join their lower neighbour.
    """
    while e.shape[1] > 2:
        if not e[:, -1].sum() < mincell * math.ceil(e.shape[0] * 0.1):
            break
        o[:, -2] += o[:, -1]
        e[:, -2] += e[:, -1]
        o, e = o[:, :-1], e[:, :-1]
    dropcol = np.zeros(e.shape[1], dtype=bool)
    for j in range(e.shape[1] - 1, 0, -1):
        if np.sum(e[:, j] > 0) / e.shape[0] < 0.05:
            dropcol[j] = True
            e[:, j - 1] += e[:, j]
            o[:, j - 1] += o[:, j]
    return o[:, ~dropcol], e[:, ~dropcol]


def _merge_score_groups(o: FloatArray, e: FloatArray, mincell: float) -> tuple[FloatArray, FloatArray]:
    """Step 6: merge adjacent score groups until every non-zero expected count reaches ``mincell``."""
    while e.shape[0] > 1:
        low_cells = (e < mincell) & (e != 0)
        if not low_cells.any():
            break
        whc = int(np.nonzero(low_cells.any(axis=1))[0][0])
        last = e.shape[0] - 1
        if whc == 0:
            pick = 1
        elif whc == last:
            pick = last - 1
        else:
            above, below = o[whc - 1].sum(), o[whc + 1].sum()
            pick = whc - 1 if above == min(above, below) else whc + 1
        e[pick] += e[whc]
        o[pick] += o[whc]
        e, o = np.delete(e, whc, axis=0), np.delete(o, whc, axis=0)
    return o, e


def _finish(o: FloatArray, e: FloatArray) -> tuple[FloatArray, FloatArray]:
    e = e.copy()
    e[e == 0] = np.nan
    return o, e


# --------------------------------------------------------------------------------------------
# infit / outfit


def compute_infit_outfit(
    responses: npt.ArrayLike,
    params: ItemParams,
    theta: npt.ArrayLike,
    *,
    allow_non_rasch: bool = False,
) -> InfitOutfitResult:
    """Infit and outfit mean squares (Wright & Masters, 1982), for items and persons.

    With E_ni = sum_k k P_nik, W_ni = sum_k (k - E_ni)^2 P_nik, C_ni = sum_k (k - E_ni)^4 P_nik
    and z_ni^2 = (x_ni - E_ni)^2 / W_ni, over the observed responses of an item (or person):

    * outfit = mean(z^2), with q^2 = sum(C / W^2) / N^2 - 1 / N;
    * infit = sum (x - E)^2 / sum W, with q^2 = sum(C - W^2) / (sum W)^2;
    * standardised t = (MS^(1/3) - 1)(3 / q) + q / 3 (Wilson-Hilferty), q capped at 1.4142 as
      in mirt.

    Parameters
    ----------
    responses
        Persons x items scores, ``nan`` = not administered.
    params
        Item parameters (Rasch family: ``rasch`` items).
    theta
        Ability of each person (e.g. ML or WLE estimates). Infinite values (MLE of perfect
        scores) are moved 0.1 beyond the finite range, as mirt does; ``nan`` leaves the person out.
    allow_non_rasch
        Compute the statistics for 2PL/3PL/GRM/GPCM items too (their distribution theory is
        that of the Rasch family only).

    Returns
    -------
    InfitOutfitResult

    Raises
    ------
    ModelError
        If a non-Rasch item is given without ``allow_non_rasch``.
    """
    if not allow_non_rasch and any(m != "rasch" for m in params.models):
        raise ModelError("infit/outfit are Rasch-family statistics; pass allow_non_rasch=True to force")
    x = _check_responses(responses, params)
    t = _clean_theta(theta, x.shape[0])
    use = ~np.isnan(x) & ~np.isnan(t)[:, None]
    p = _person_probabilities(params, t)  # (n, J, kmax + 1)
    cats = np.arange(p.shape[2], dtype=np.float64)
    e = p @ cats
    dev = cats[None, None, :] - e[:, :, None]
    w = np.sum(p * dev**2, axis=2)
    c = np.sum(p * dev**4, axis=2)
    resid2 = np.where(use, (np.nan_to_num(x) - e) ** 2, 0.0)
    w_u = np.where(use, w, 0.0)
    c_u = np.where(use, c, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z2 = np.where(use, resid2 / w, 0.0)
        c_over_w2 = np.where(use, c / w**2, 0.0)
    item = _mean_squares(use, z2, resid2, w_u, c_u, c_over_w2, axis=0)
    person = _mean_squares(use, z2, resid2, w_u, c_u, c_over_w2, axis=1)
    return InfitOutfitResult(
        item_ids=params.ids,
        item_outfit=item[0],
        item_z_outfit=item[1],
        item_infit=item[2],
        item_z_infit=item[3],
        person_outfit=person[0],
        person_z_outfit=person[1],
        person_infit=person[2],
        person_z_infit=person[3],
    )


def _mean_squares(
    use: npt.NDArray[np.bool_],
    z2: FloatArray,
    resid2: FloatArray,
    w: FloatArray,
    c: FloatArray,
    c_over_w2: FloatArray,
    *,
    axis: int,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    n = use.sum(axis=axis).astype(np.float64)
    sum_w = w.sum(axis=axis)
    ok = (n > 0) & (sum_w > 0)
    nn = np.where(ok, n, 1.0)
    sw = np.where(ok, sum_w, 1.0)
    outfit = np.where(ok, z2.sum(axis=axis) / nn, np.nan)
    infit = np.where(ok, resid2.sum(axis=axis) / sw, np.nan)
    q_out = np.sqrt(np.maximum(c_over_w2.sum(axis=axis) / nn**2 - 1.0 / nn, 0.0))
    q_in = np.sqrt(np.maximum((c - w**2).sum(axis=axis), 0.0) / sw**2)
    q_out = np.minimum(q_out, _MAX_Q)
    q_in = np.minimum(q_in, _MAX_Q)
    z_out = _wilson_hilferty(outfit, q_out)
    z_in = _wilson_hilferty(infit, q_in)
    return outfit, z_out, infit, z_in


def _wilson_hilferty(ms: FloatArray, q: FloatArray) -> FloatArray:
    ok = ~np.isnan(ms) & (q > 0)
    qq = np.where(ok, q, 1.0)
    mm = np.where(ok, ms, 1.0)
    return np.where(ok, (np.cbrt(mm) - 1.0) * (3.0 / qq) + qq / 3.0, np.nan)


# --------------------------------------------------------------------------------------------
# lz


def compute_lz(responses: npt.ArrayLike, params: ItemParams, theta: npt.ArrayLike) -> PersonFitResult:
    """Standardised log-likelihood person fit lz (Drasgow, Levine & Williams, 1985).

    For person n with ability theta_n, over the items the person answered:

    * l0 = sum_i log P_i,x_ni(theta_n);
    * E(l0) = sum_i sum_k P_ik log P_ik;
    * Var(l0) = sum_i [sum_k P_ik (log P_ik)^2 - (sum_k P_ik log P_ik)^2];
    * lz = (l0 - E(l0)) / sqrt(Var(l0)).

    This is the polytomous form of the index (Drasgow et al., 1985); for 0/1 items it reduces
    to the dichotomous lz. Abilities are taken as known (usually EAP or ML estimates, mirt's
    ``personfit`` default is EAP); infinite values are moved 0.1 beyond the finite range.

    Parameters
    ----------
    responses
        Persons x items scores, ``nan`` = not administered.
    params
        Item parameters.
    theta
        Ability of each person (``nan``: lz is ``nan``).

    Returns
    -------
    PersonFitResult
    """
    x = _check_responses(responses, params)
    t = _clean_theta(theta, x.shape[0])
    use = ~np.isnan(x) & ~np.isnan(t)[:, None]
    p = _person_probabilities(params, t)
    pos = p > 0
    logp = np.full(p.shape, -np.inf)
    np.log(p, out=logp, where=pos)
    safe = np.where(pos, logp, 0.0)
    plogp = p * safe
    plog2p = p * safe**2
    ex = plogp.sum(axis=2)
    var = plog2p.sum(axis=2) - ex**2
    xi = np.where(use, np.nan_to_num(x), 0.0).astype(np.int64)
    observed = np.take_along_axis(logp, xi[:, :, None], axis=2)[:, :, 0]
    l0 = np.where(use, observed, 0.0).sum(axis=1)
    e0 = np.where(use, ex, 0.0).sum(axis=1)
    v0 = np.where(use, var, 0.0).sum(axis=1)
    n_items = use.sum(axis=1).astype(np.int64)
    ok = (n_items > 0) & (v0 > 0)
    lz = np.where(ok, (l0 - e0) / np.sqrt(np.where(ok, v0, 1.0)), np.nan)
    nan_rows = n_items == 0
    return PersonFitResult(
        lz=lz,
        log_likelihood=np.where(nan_rows, np.nan, l0),
        expected=np.where(nan_rows, np.nan, e0),
        variance=np.where(nan_rows, np.nan, v0),
        n_items=n_items,
    )


# --------------------------------------------------------------------------------------------
# shared helpers


def _check_responses(responses: npt.ArrayLike, params: ItemParams) -> FloatArray:
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != params.n_items:
        raise DataError(f"responses must be persons x {params.n_items} items, got shape {x.shape}")
    k = np.asarray(params.max_scores, dtype=np.float64)
    obs = ~np.isnan(x)
    bad = obs & ((x < 0) | (x > k[None, :]) | (x != np.round(x)))
    if bad.any():
        r, j = (int(v[0]) for v in np.nonzero(bad))
        raise DataError(f"row {r}, item {params.ids[j]!r}: score {x[r, j]} outside 0..{int(k[j])}")
    return x


def _clean_theta(theta: npt.ArrayLike, n: int) -> FloatArray:
    t = np.asarray(theta, dtype=np.float64).reshape(-1).copy()
    if t.shape != (n,):
        raise DataError(f"theta must have one value per person ({n}), got {t.size}")
    finite = np.isfinite(t)
    if np.isinf(t).any() and finite.any():
        t[t == np.inf] = t[finite].max() + 0.1
        t[t == -np.inf] = t[finite].min() - 0.1
    elif np.isinf(t).any():
        t[np.isinf(t)] = np.nan
    return t


def _person_probabilities(params: ItemParams, theta: FloatArray) -> FloatArray:
    """Category probabilities at each person's ability, ``(n, J, kmax + 1)``; nan thetas give 0."""
    safe = np.where(np.isnan(theta), 0.0, theta)
    uniq, inv = np.unique(safe, return_inverse=True)
    p = np.asarray(probabilities(params, uniq), dtype=np.float64)
    return p[inv.reshape(-1)]
