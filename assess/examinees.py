"""Simulated examinees through the live engine: the answer model and the session loop.

A Sympson-Hetter calibration (:mod:`assess.exposure`) needs examinees by its nature: it tunes
the exposure parameters until simulated students no longer meet any item too often. This module
gives the live core that much simulation and no more: :func:`draw_scores` draws answers from the
model at a true ability, and :func:`run_examinees` runs a batch of examinees through exactly the
phase functions a live session uses (:mod:`assess.engine`) until each stops. The research
simulator (:mod:`assess.simulate`) builds on the same loop, adding pilot items and truth that
differs from the estimates.
"""

from __future__ import annotations

import dataclasses
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.engine import Blueprint, CatState, EngineBank, new_state, record_answers, select_next_items, should_stop
from scoring.models import group_items

__all__ = ["ExamineeRun", "Preset", "draw_scores", "run_examinees"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Preset = Callable[[IntArray, CatState], tuple[BoolArray, IntArray]]
"""``preset(rows, state) -> (placed, items)``: items given before selection at this step.

Called once per step with the still-active sessions ``rows``; ``placed`` marks the rows that get a
preset item (one per ``True``, in ``items``) instead of a selected one. The simulator seeds its
pilot items this way.
"""


@dataclass(frozen=True, eq=False)
class ExamineeRun:
    """A finished batch: the engine state of every session, and how often each item reached selection.

    ``considered[j]`` counts the sessions in which item ``j`` reached the Sympson-Hetter acceptance
    draw and was rejected or given (see :func:`assess.engine.select_next_items`): the classic
    ``P(S)`` numerator with ``k = 1``, but not with randomesque ``k > 1`` (see :mod:`assess.exposure`).
    """

    state: CatState
    considered: IntArray


_FINE_STEP = 0.005
_FINE_LIMIT = 7.0
_fine_cache: weakref.WeakKeyDictionary[EngineBank, FloatArray] = weakref.WeakKeyDictionary()


def _cumulative_on_fine_grid(bank: EngineBank) -> FloatArray:
    """Cumulative category probabilities on a 0.005-spaced grid, ``(n_items, K+1, G)``, cached per bank."""
    table = _fine_cache.get(bank)
    if table is None:
        table = _cumulative_table(bank)
        _fine_cache[bank] = table
    return table


def _cumulative_table(bank: EngineBank) -> FloatArray:
    """The table of :func:`_cumulative_on_fine_grid`, built family by family in its final layout.

    Each model's log-probabilities come as ``(items, K+1, grid)`` already: exp and a running sum
    over the categories go straight into the table, and categories beyond an item's K repeat its
    last cumulative value. The same numbers as ``cumsum(probabilities(params, grid))`` transposed
    (same sums in the same order), without that route's padded ``(grid, items, kmax+1)`` arrays:
    for the 445 items of the starter bank it took 0.6 s on the first batch of a bank.
    """
    params = bank.params
    grid = np.arange(-_FINE_LIMIT, _FINE_LIMIT + _FINE_STEP / 2, _FINE_STEP)
    table = np.empty((params.n_items, params.kmax + 1, grid.size))
    for group in group_items(params):
        k = group.model.k
        cum = np.exp(group.model.log_prob(group.psi, grid))  # (m, K+1, G)
        np.cumsum(cum, axis=1, out=cum)
        table[group.index, : k + 1] = cum
        table[group.index, k + 1 :] = cum[:, k : k + 1]
    return table


def draw_scores(bank: EngineBank, items: IntArray, true_theta: FloatArray, rng: np.random.Generator) -> IntArray:
    """Draw one score per examinee for ``items[i]`` from the model at ``true_theta[i]``.

    Category probabilities are interpolated linearly on a 0.005-spaced theta grid (error below
    1e-5), which lets one vectorised draw serve a whole batch of examinees and items.
    """
    cum_grid = _cumulative_on_fine_grid(bank)
    pos = (np.clip(true_theta, -_FINE_LIMIT, _FINE_LIMIT - 1e-9) + _FINE_LIMIT) / _FINE_STEP
    lo = np.floor(pos).astype(np.int64)
    frac = (pos - lo)[:, None]
    cum = cum_grid[items, :, lo] * (1 - frac) + cum_grid[items, :, lo + 1] * frac
    u = rng.random(items.size)[:, None]
    kmax = bank.params.max_scores[items]
    drawn: IntArray = np.minimum((u > cum).sum(axis=1), kmax).astype(np.int64)
    return drawn


def _rows(state: CatState, rows: IntArray) -> CatState:
    """A copy of the state of some sessions (fancy indexing copies every array)."""
    return CatState(**{f.name: getattr(state, f.name)[rows] for f in dataclasses.fields(state)})


def run_examinees(
    bank: EngineBank,
    blueprint: Blueprint,
    true_theta: FloatArray,
    rng: np.random.Generator,
    *,
    grades: IntArray | None = None,
    capacity: int | None = None,
    answer_bank: EngineBank | None = None,
    preset: Preset | None = None,
) -> ExamineeRun:
    """Run examinees with abilities ``true_theta`` through the engine's phases until each stops.

    Each step selects the next item of every active session (:func:`~assess.engine.select_next_items`),
    draws its answer from the model at the true ability (:func:`draw_scores`), records it
    (:func:`~assess.engine.record_answers`) and asks the stop rule (:func:`~assess.engine.should_stop`).

    Parameters
    ----------
    grades
        Grade of each examinee (the blueprint's start rule); default: all start alike.
    capacity
        Most items a session can hold (default ``blueprint.max_items``); a session that fills it stops.
    answer_bank
        The same items with the parameters answers are drawn from, when they differ from the
        estimates the engine selects and scores with.
    preset
        Items placed before selection (see :data:`Preset`).
    """
    true_theta = np.asarray(true_theta, dtype=np.float64)
    s = true_theta.size
    grades_arr = np.zeros(s, dtype=np.int64) if grades is None else np.asarray(grades, dtype=np.int64)
    cap = capacity or blueprint.max_items
    state = new_state(bank, blueprint, grades_arr, capacity=cap)
    considered = np.zeros(bank.n_items, dtype=np.int64)
    active = np.ones(s, dtype=bool)
    while active.any():
        rows = np.nonzero(active)[0]
        items = np.full(rows.size, -1, dtype=np.int64)
        placed = np.zeros(rows.size, dtype=bool)
        if preset is not None:
            placed, chosen = preset(rows, state)
            items[placed] = chosen
        op = ~placed
        if op.all() and rows.size == s:
            items[:] = select_next_items(bank, blueprint, state, rng, considered=considered)
        elif op.any():
            sub = _rows(state, rows[op])
            items[op] = select_next_items(bank, blueprint, sub, rng, considered=considered)
            state.blocked[rows[op]] = sub.blocked
        ok = items >= 0
        scores = draw_scores(answer_bank or bank, items[ok], true_theta[rows[ok]], rng)
        record_answers(bank, state, rows[ok], items[ok], scores)
        done = ~ok
        done[ok] = should_stop(bank, blueprint, state)[rows[ok]] | (state.n_given[rows[ok]] >= cap)
        active[rows[done]] = False
    return ExamineeRun(state=state, considered=considered)
