"""Classical item statistics: p-value, item-rest correlation, omit rate (persons x items, ``nan`` = not given).

The numbers a researcher reads beside the IRT parameters (Crocker & Algina, 1986, ch. 14):

* **p-value** (facility): the mean score of the persons who were given the item, divided by its
  maximum score, so a partial-credit item is on the same 0..1 scale as a dichotomous one;
* **item-rest correlation** (corrected item-total): the Pearson correlation of the item's score
  with the rest score (the sum of the person's other scored items), over the persons who were
  given the item. Under matrix sampling or an adaptive test the rest scores of different persons
  come from different items, so it is a rough index there; it is exact for a linear form;
* **omit rate**: the share of the persons who saw the item and left it unanswered (an omitted
  item scores 0; an item not reached or not administered is ``nan`` and not counted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["ClassicalStats", "compute_classical_stats"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class ClassicalStats:
    """Per item: persons given it, p-value, item-rest correlation (``nan`` if undefined), omit rate."""

    n: npt.NDArray[np.int64]
    p_value: FloatArray
    item_rest: FloatArray
    omit_rate: FloatArray


def compute_classical_stats(
    scores: npt.ArrayLike, max_scores: npt.ArrayLike, omitted: npt.ArrayLike | None = None
) -> ClassicalStats:
    """Classical statistics of each item (see the module docstring for the definitions).

    Parameters
    ----------
    scores
        Persons x items scores 0..K, ``nan`` where an item was not given.
    max_scores
        Each item's maximum score K (at least 1).
    omitted
        Persons x items, true where the person saw the item and gave no answer (default: none).

    Raises
    ------
    ValueError
        Shapes that do not agree, or a maximum score below 1.
    """
    x = np.asarray(scores, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"scores must be persons x items, got shape {x.shape}")
    k = np.asarray(max_scores, dtype=np.float64)
    if k.shape != (x.shape[1],) or (k < 1).any():
        raise ValueError("max_scores must give every item a maximum score of at least 1")
    om = np.zeros(x.shape, dtype=bool) if omitted is None else np.asarray(omitted, dtype=bool)
    if om.shape != x.shape:
        raise ValueError("omitted must have the shape of scores")
    given = np.isfinite(x)
    n = given.sum(axis=0)
    filled = np.where(given, x, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = filled.sum(axis=0) / n / k
        omit = (om & given).sum(axis=0) / n
    total = filled.sum(axis=1)
    r = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        rows = given[:, j]
        if rows.sum() < 3:
            continue
        item = x[rows, j]
        rest = total[rows] - item
        if item.std() == 0 or rest.std() == 0:
            continue
        r[j] = float(np.corrcoef(item, rest)[0, 1])
    return ClassicalStats(n=n.astype(np.int64), p_value=p, item_rest=r, omit_rate=omit)
