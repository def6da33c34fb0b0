"""Item models: one object per IRT family, in the manner of mirt's item classes.

Each family (:class:`Dichotomous` for Rasch/2PL/3PL, :class:`Graded` for the GRM,
:class:`PartialCredit` for the GPCM and the partial credit model) offers the same operations on
slope-intercept parameters, vectorised over the items it holds: log-probabilities, derivatives
in the parameters (calibration's M-step and standard errors) and in theta (ability estimation),
Fisher information, the mapping to and from mirt's IRT parameterisation, and starting values.
:mod:`scoring.irt`, :mod:`scoring.ability` and the calibration engine all go through them, so each
item response function is written once.

>>> import numpy as np
>>> from scoring.models import item_model
>>> m = item_model("2pl", 1)
>>> psi = m.from_irt(np.array([1.2]), np.array([[0.5]]), np.array([0.0]))
>>> bool(np.isclose(np.exp(m.log_prob(psi, np.array([0.5])))[0, 1, 0], 0.5))
True
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.models.base import ItemModel, expit, log1mexp, log_expit
from scoring.models.dichotomous import Dichotomous
from scoring.models.graded import Graded
from scoring.models.partial_credit import PartialCredit
from scoring.params import ItemParams

__all__ = [
    "Dichotomous",
    "Graded",
    "ItemGroup",
    "ItemModel",
    "PartialCredit",
    "expit",
    "group_items",
    "item_model",
    "log1mexp",
    "log_expit",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@functools.cache
def item_model(model: str, k: int) -> ItemModel:
    """The item model of items of ``model`` (canonical name) with highest score ``k``.

    ``2pl``/``3pl``, and ``rasch`` or ``grm`` with one threshold, are :class:`Dichotomous`; ``grm``
    with more is :class:`Graded`; ``gpcm``, and ``rasch`` scored above 1, are :class:`PartialCredit`.
    """
    if k < 1:
        raise ValueError(f"an item needs a highest score of at least 1, got {k}")
    if model in ("2pl", "3pl") or (model in ("rasch", "grm") and k == 1):
        if k != 1:
            raise ValueError(f"model {model} is dichotomous, not scored 0..{k}")
        return Dichotomous(model, 1)
    if model == "grm":
        return Graded(model, k)
    if model in ("gpcm", "rasch"):
        return PartialCredit(model, k)
    raise ValueError(f"unknown item model {model!r}")


@dataclass(frozen=True)
class ItemGroup:
    """Items of one table that share an item model, with their slope-intercept parameters.

    Parameters
    ----------
    model
        The family.
    index
        Positions of the items in the table.
    psi
        Their parameters in the family's slope-intercept layout, ``(len(index), model.n_par)``.
    """

    model: ItemModel
    index: IntArray
    psi: FloatArray


def group_items(params: ItemParams) -> tuple[ItemGroup, ...]:
    """Split a parameter table by (model, highest score) into :class:`ItemGroup` s, in sorted order."""
    ks = params.max_scores.tolist()
    members: dict[tuple[str, int], list[int]] = {}
    for j, (name, k) in enumerate(zip(params.models, ks, strict=True)):
        members.setdefault((name, int(k)), []).append(j)
    groups = []
    for (name, k), js in sorted(members.items()):
        idx = np.asarray(js, dtype=np.int64)
        model = item_model(name, k)
        psi = model.from_irt(params.a[idx], params.b[idx, :k], params.c[idx])
        groups.append(ItemGroup(model, idx, psi))
    return tuple(groups)
