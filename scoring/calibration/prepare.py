"""Step 1 of a calibration: check the responses and lay them out for the E-step.

The responses become, person by person, the stacked category column of every administered
response (``offsets[j] + score``), the persons without any response are dropped, weights and
group labels are checked and aligned, and every item's categories are checked against its model
(or its anchor). Everything a user can get wrong is refused here, with a one-line message, before
any estimation starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring._lazy import is_sparse
from scoring.exceptions import DataError, EmptyItemError, ModelError, SingleCategoryError
from scoring.irt import category_offsets
from scoring.params import ItemParams, normalize_model

__all__ = ["PreparedData", "check_scores", "prepare_data"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]


@dataclass(frozen=True)
class PreparedData:
    """The responses of a calibration, checked and laid out person by person.

    Parameters
    ----------
    ids
        Item ids, in column order.
    models
        Model of every item as asked for (anchors keep theirs, see ``fixed_pos``).
    n_persons
        Persons with at least one response (the others are left out).
    indptr, cats
        CSR layout over those persons: the responses of person p are
        ``cats[indptr[p]:indptr[p + 1]]``, each the stacked category column ``offsets[j] + x_pj``.
    weights
        Their sampling weights, or ``None``.
    group_index
        Their group, an index into ``labels`` (0 is the reference group).
    labels
        Group labels, the reference group first (``("all",)`` without groups).
    max_scores
        Highest score K of every item (an anchor's own K).
    offsets
        Column of every item's category 0 in the stacked layout (length n_items + 1).
    cat_counts
        Weighted marginal count of every item's scores, ``(n_items, highest score + 1)``.
    fixed_pos
        Anchor items: column in the responses -> row in the anchor table.
    dense
        The responses as a dense persons x items matrix when they came as one and no person was
        left out (the E-step can lay out its indicators from it directly), else ``None``.
    """

    ids: tuple[str, ...]
    models: tuple[str, ...]
    n_persons: int
    indptr: IntArray
    cats: Int32Array
    weights: FloatArray | None
    group_index: IntArray
    labels: tuple[str, ...]
    max_scores: IntArray
    offsets: IntArray
    cat_counts: FloatArray
    fixed_pos: Mapping[int, int]
    dense: FloatArray | None = None

    @property
    def n_items(self) -> int:
        """Number of items (response columns)."""
        return len(self.ids)

    @property
    def n_cols(self) -> int:
        """Number of stacked category columns, the sum of K_j + 1."""
        return int(self.offsets[-1])


def prepare_data(
    responses: Any,
    models: str | Sequence[str],
    *,
    item_ids: Sequence[str] | None,
    weights: npt.ArrayLike | None,
    groups: npt.ArrayLike | None,
    reference_group: Any,
    fixed: ItemParams | None,
) -> PreparedData:
    """Check the responses, weights, groups and items of a calibration and lay them out.

    Raises
    ------
    DataError
        Non-integer scores, mismatched ids, weights or groups, an unknown reference group, no
        responses at all; :class:`EmptyItemError` and :class:`SingleCategoryError` for items
        that cannot be calibrated.
    ModelError
        An unknown model, or a dichotomous model for an item scored above 1.
    """
    n_persons, n_items, indptr, item_of, raw = _person_major(responses)
    scores = check_scores(raw)
    del raw
    ids = tuple(str(i) for i in item_ids) if item_ids is not None else tuple(f"item{j + 1}" for j in range(n_items))
    if len(ids) != n_items:
        raise DataError(f"{len(ids)} item ids for {n_items} response columns")
    model_list = _resolve_models(models, n_items)
    indptr, w, gidx, labels = _select_persons(indptr, n_persons, weights, groups, reference_group)
    width = int(scores.max()) + 1 if scores.size else 1
    wide = n_items * width >= 2**31
    flat_cat = (item_of.astype(np.int64) if wide else item_of) * width + scores  # int32 unless it overflows
    pw = None if w is None else np.repeat(w, np.diff(indptr))
    cat_counts = np.bincount(flat_cat, weights=pw, minlength=n_items * width).astype(np.float64)
    cat_counts = cat_counts.reshape(n_items, width)
    del flat_cat, pw
    fixed_pos: dict[int, int] = {}
    if fixed is not None:
        id_pos = {i: j for j, i in enumerate(ids)}
        fixed_pos = {id_pos[fid]: fj for fj, fid in enumerate(fixed.ids) if fid in id_pos}
    kk = _max_scores(ids, model_list, cat_counts, np.bincount(item_of, minlength=n_items), fixed, fixed_pos)
    offsets = category_offsets(kk + 1)
    cats = offsets.astype(np.int32)[item_of] + scores  # the stacked columns fit int32 (the E-step takes them so)
    return PreparedData(
        ids=ids,
        models=tuple(model_list),
        n_persons=int(indptr.size - 1),
        indptr=indptr,
        cats=cats,
        weights=w,
        group_index=gidx,
        labels=tuple(labels),
        max_scores=kk,
        offsets=offsets,
        cat_counts=cat_counts,
        fixed_pos=fixed_pos,
        dense=None if is_sparse(responses) or indptr.size - 1 != n_persons else np.asarray(responses, dtype=np.float64),
    )


def check_scores(scores: FloatArray) -> Int32Array:
    """The scores as integers; refuses infinite, fractional and negative ones.

    Raises
    ------
    DataError
        Naming the first bad score.
    """
    if scores.size and not np.all(np.isfinite(scores)):
        raise DataError("responses contain infinite values")
    iv = scores.astype(np.int32)
    if np.any(iv != scores) or np.any(iv < 0):
        bad = scores[(iv != scores) | (iv < 0)][0]
        raise DataError(f"responses must be non-negative integer scores (or nan); found {bad:g}")
    return iv


def _person_major(responses: Any) -> tuple[int, int, IntArray, Int32Array, FloatArray]:
    """(n_persons, n_items, indptr, item index, score) of the administered responses, by person."""
    if is_sparse(responses):
        import scipy.sparse as sp

        csr = sp.csr_matrix(responses)
        csr.sort_indices()
        n, j = csr.shape
        return (
            int(n),
            int(j),
            csr.indptr.astype(np.int64),
            csr.indices.astype(np.int32),
            np.asarray(csr.data, dtype=np.float64),
        )
    x = np.asarray(responses, dtype=np.float64)
    if x.ndim != 2:
        raise DataError(f"responses must be a persons x items matrix, got shape {x.shape}")
    mask = ~np.isnan(x)
    per_person = mask.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(per_person)]).astype(np.int64)
    cols = np.nonzero(mask.ravel())[0]
    scores = x.ravel()[cols]
    item = (cols - np.repeat(np.arange(x.shape[0]) * x.shape[1], per_person)).astype(np.int32)  # cheaper than %
    return int(x.shape[0]), int(x.shape[1]), indptr, item, scores


def _resolve_models(models: str | Sequence[str], n_items: int) -> list[str]:
    if isinstance(models, str):
        return [normalize_model(models)] * n_items
    out = [normalize_model(m) for m in models]
    if len(out) != n_items:
        raise ModelError(f"{len(out)} models given for {n_items} items")
    return out


def _select_persons(
    indptr: IntArray,
    n_persons: int,
    weights: npt.ArrayLike | None,
    groups: npt.ArrayLike | None,
    reference_group: Any,
) -> tuple[IntArray, FloatArray | None, IntArray, list[str]]:
    """Check weights and groups; keep the persons with a response: (indptr, weights, group index, labels)."""
    per_person = np.diff(indptr)
    keep = per_person > 0
    w_all = None
    if weights is not None:
        w_all = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w_all.shape != (n_persons,):
            raise DataError(f"{w_all.size} weights for {n_persons} persons")
        if not np.all(np.isfinite(w_all)) or np.any(w_all < 0):
            raise DataError("weights must be finite and non-negative")
    if groups is not None:
        glab = np.asarray(groups).reshape(-1)
        if glab.shape != (n_persons,):
            raise DataError(f"{glab.size} group labels for {n_persons} persons")
        labels = [str(v) for v in np.unique(glab.astype(str))]
        ref = labels[0] if reference_group is None else str(reference_group)
        if ref not in labels:
            raise DataError(f"reference group {reference_group!r} does not occur in groups")
        labels = [ref] + [lab for lab in labels if lab != ref]
        lookup = {lab: k for k, lab in enumerate(labels)}
        gidx_all = np.array([lookup[str(v)] for v in glab.astype(str)], dtype=np.int64)
    else:
        labels = ["all"]
        gidx_all = np.zeros(n_persons, dtype=np.int64)
    if not keep.any():
        raise DataError("no responses at all")
    if keep.all():
        return indptr, w_all, gidx_all, labels
    sel = np.nonzero(keep)[0]
    indptr = np.concatenate([[0], np.cumsum(per_person[sel])]).astype(np.int64)
    return indptr, None if w_all is None else w_all[sel], gidx_all[sel], labels


def _max_scores(
    ids: tuple[str, ...],
    model_list: list[str],
    cat_counts: FloatArray,
    n_resp: IntArray,
    fixed: ItemParams | None,
    fixed_pos: Mapping[int, int],
) -> IntArray:
    """Highest score of every item, after checking that its categories can be calibrated."""
    kk = np.zeros(len(ids), dtype=np.int64)
    for j, item in enumerate(ids):
        if n_resp[j] == 0:
            raise EmptyItemError(f"item {item!r} has no responses")
        observed = np.nonzero(cat_counts[j] > 0)[0]
        top = int(observed.max()) if observed.size else 0
        if j in fixed_pos:
            assert fixed is not None
            fk = int(fixed.max_scores[fixed_pos[j]])
            if top > fk:
                raise DataError(f"anchor item {item!r} has a score {top} above its highest category {fk}")
            kk[j] = fk
            continue
        if observed.size < 2:
            raise SingleCategoryError(f"item {item!r}: all responses fall in one category ({top})")
        if observed.size != top + 1 or observed[0] != 0:
            missing = sorted(set(range(top + 1)) - set(observed.tolist()))
            raise SingleCategoryError(
                f"item {item!r}: no responses in score categor{'y' if len(missing) == 1 else 'ies'} "
                f"{', '.join(map(str, missing))} (scores must run 0..{top}; recode the item)"
            )
        kk[j] = top
        if model_list[j] in ("2pl", "3pl") and top > 1:
            raise ModelError(f"item {item!r} is scored 0..{top}; model {model_list[j]} is dichotomous")
    return kk
