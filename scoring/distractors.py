"""Distractor analysis: the share of each ability group choosing each option of a selected-response item.

For one item, the persons who were given it are cut into ``n_groups`` groups of (nearly) equal size
by rank of ability (their EAP under the calibration, or any matching variable), lowest first; in each group
the share choosing every option is counted, omissions among them (Haladyna, 2004, ch. 9; the
"trace lines" of Wainer, 1989). A working item has a key whose share rises from the lowest group to
the highest and distractors whose shares fall; a distractor that draws the ablest students (its
high-low difference is positive) or a key that does not rise points at an ambiguous or miskeyed
item. The high-low difference of option k, D_k = share_top,k - share_bottom,k, is the classical
discrimination index of the option (Kelley's upper and lower groups, here the top and bottom
groups).

A multiple-response item counts every option a person ticked, so its shares in a group need not
add up to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.exceptions import DataError

__all__ = ["OptionShares", "compute_option_shares"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class OptionShares:
    """Option shares of one item by ability group.

    Attributes
    ----------
    options
        Option labels, in the order of the columns.
    key
        Whether each option is (part of) the key.
    n
        Persons in each group, lowest ability first.
    mean_ability
        Mean ability of each group.
    shares
        Groups x options: the share of the group choosing the option.
    omitted
        Share of each group that saw the item and gave no answer.
    discrimination
        Per option, top group share minus bottom group share.
    """

    options: tuple[str, ...]
    key: tuple[bool, ...]
    n: npt.NDArray[np.int64]
    mean_ability: FloatArray
    shares: FloatArray
    omitted: FloatArray
    discrimination: FloatArray

    @property
    def suspect(self) -> tuple[str, ...]:
        """Options that behave against their role: a key that falls, or a distractor that rises, from bottom to top."""
        return tuple(
            o for o, k, d in zip(self.options, self.key, self.discrimination.tolist(), strict=True)
            if (k and d <= 0) or (not k and d > 0)
        )  # fmt: skip


def compute_option_shares(
    chosen: npt.ArrayLike,
    ability: npt.ArrayLike,
    *,
    options: Sequence[str],
    key: Sequence[str],
    omitted: npt.ArrayLike | None = None,
    n_groups: int = 5,
) -> OptionShares:
    """The share of each ability group choosing each option (see the module docstring).

    Parameters
    ----------
    chosen
        Persons x options booleans, one row per person who was given the item: true where the
        person chose (ticked) the option.
    ability
        Each person's ability (the matching variable).
    options, key
        Option labels (the columns of ``chosen``) and the keyed options.
    omitted
        Per person, true where the person gave no answer (default: a row with no option chosen).
    n_groups
        Ability groups of equal size (by rank; persons with tied abilities keep their input order).

    Raises
    ------
    DataError
        Shapes that disagree, fewer persons than groups, or a non-finite ability.
    """
    c = np.asarray(chosen, dtype=bool)
    t = np.asarray(ability, dtype=np.float64).reshape(-1)
    if c.ndim != 2 or c.shape != (t.size, len(options)):
        raise DataError(f"chosen must be persons x {len(options)} options with one ability per person")
    if not np.isfinite(t).all():
        raise DataError("every person needs a finite ability")
    if n_groups < 2 or t.size < n_groups:
        raise DataError(f"need at least {max(n_groups, 2)} persons for {n_groups} ability groups")
    om = ~c.any(axis=1) if omitted is None else np.asarray(omitted, dtype=bool).reshape(-1)
    if om.shape != t.shape:
        raise DataError("omitted must have one entry per person")
    order = np.argsort(t, kind="stable")
    group = np.empty(t.size, dtype=np.int64)
    group[order] = np.arange(t.size) * n_groups // t.size
    n = np.bincount(group, minlength=n_groups)
    shares = np.stack([c[group == g].mean(axis=0) for g in range(n_groups)])
    omit = np.array([om[group == g].mean() for g in range(n_groups)])
    mean_ability = np.array([t[group == g].mean() for g in range(n_groups)])
    keyed = tuple(o in set(key) for o in options)
    return OptionShares(tuple(options), keyed, n.astype(np.int64), mean_ability, shares, omit,
                        shares[-1] - shares[0])  # fmt: skip
