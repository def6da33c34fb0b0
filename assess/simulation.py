"""Simulated adaptive sessions: the live engine's phases run over a batch of simulated examinees.

The simulator draws each answer from the model at the examinee's true ability and feeds it
through exactly the functions a live session uses (:mod:`assess.engine`), so CAT studies measure
the engine that serves students.
"""

from __future__ import annotations

import dataclasses
import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.engine import (
    Blueprint,
    CatState,
    EngineBank,
    new_state,
    record_answers,
    select_next_items,
    should_stop,
)
from scoring.irt import probabilities

__all__ = ["SimulatedSessions", "calibrate_exposure", "draw_scores", "simulate_sessions"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SimulatedSessions:
    """What a batch of simulated sessions gave and estimated.

    ``items[s, t]`` is the ``t``-th item session ``s`` got (``-1`` padded), ``scores`` its score;
    ``theta`` and ``se`` are the final EAP estimates over operational items; ``considered`` counts
    how often each item reached selection (the Sympson-Hetter P(S) numerator).
    """

    true_theta: FloatArray
    items: IntArray
    scores: IntArray
    n_items: IntArray
    theta: FloatArray
    se: FloatArray
    considered: IntArray


_FINE_STEP = 0.005
_FINE_LIMIT = 7.0
_fine_cache: weakref.WeakKeyDictionary[EngineBank, FloatArray] = weakref.WeakKeyDictionary()


def _cumulative_on_fine_grid(bank: EngineBank) -> FloatArray:
    """Cumulative category probabilities on a 0.005-spaced grid, ``(n_items, K+1, G)``, cached per bank."""
    table = _fine_cache.get(bank)
    if table is None:
        grid = np.arange(-_FINE_LIMIT, _FINE_LIMIT + _FINE_STEP / 2, _FINE_STEP)
        table = np.cumsum(probabilities(bank.params, grid), axis=2).transpose(1, 2, 0).copy()
        _fine_cache[bank] = table
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


def simulate_sessions(
    bank: EngineBank,
    blueprint: Blueprint,
    true_theta: FloatArray,
    rng: np.random.Generator,
    *,
    grades: IntArray | None = None,
    pilot_per_session: int = 0,
    answer_bank: EngineBank | None = None,
) -> SimulatedSessions:
    """Run adaptive sessions for examinees with abilities ``true_theta`` until each stops.

    Parameters
    ----------
    pilot_per_session
        Pilot items seeded at random positions among the first ``min_items`` slots, unscored.
    answer_bank
        The same items with the parameters answers are drawn from (the generating truth), when
        they differ from the estimates the engine selects and scores with.
    """
    true_theta = np.asarray(true_theta, dtype=np.float64)
    s = true_theta.size
    grades_arr = np.zeros(s, dtype=np.int64) if grades is None else np.asarray(grades, dtype=np.int64)
    pilot_pool = np.nonzero(bank.pilot)[0]
    n_pilot = min(pilot_per_session, pilot_pool.size)
    cap = blueprint.max_items + n_pilot
    state = new_state(bank, blueprint, grades_arr, capacity=cap)
    pilot_at = np.zeros((s, cap), dtype=bool)
    if n_pilot:
        span = max(blueprint.min_items, n_pilot)
        slots = np.argsort(rng.random((s, span)), axis=1)[:, :n_pilot]
        pilot_at[np.arange(s)[:, None], slots] = True
    pilot_given = np.zeros((s, pilot_pool.size), dtype=bool)
    considered = np.zeros(bank.n_items, dtype=np.int64)
    active = np.ones(s, dtype=bool)
    while active.any():
        rows = np.nonzero(active)[0]
        items = np.full(rows.size, -1, dtype=np.int64)
        want_pilot = pilot_at[rows, state.n_given[rows]]
        if want_pilot.any():
            pr = rows[want_pilot]
            draw = np.where(pilot_given[pr], -1.0, rng.random((pr.size, pilot_pool.size)))
            k = np.argmax(draw, axis=1)
            pilot_given[pr, k] = True
            items[want_pilot] = pilot_pool[k]
        op = ~want_pilot
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
    return SimulatedSessions(
        true_theta=true_theta,
        items=state.given,
        scores=state.scores,
        n_items=state.n_operational.copy(),
        theta=state.theta.copy(),
        se=state.se.copy(),
        considered=considered,
    )


def calibrate_exposure(
    bank: EngineBank,
    blueprint: Blueprint,
    population: FloatArray,
    rng: np.random.Generator,
    *,
    target: float = 0.25,
    iterations: int = 10,
) -> EngineBank:
    """Sympson-Hetter (1985) exposure parameters for a target maximum exposure rate.

    Iterates over simulations of ``population``: with ``P(S_j)`` the rate at which item ``j``
    reaches the acceptance draw under the current parameters, set ``K_j = target / P(S_j)`` where
    ``P(S_j) > target`` and ``K_j = 1`` otherwise (the classic update).
    """
    bp = dataclasses.replace(blueprint, sympson_hetter=True)
    current = bank.with_exposure(np.ones(bank.n_items))
    for _ in range(iterations):
        sim = simulate_sessions(current, bp, population, rng)
        p_sel = sim.considered / population.size
        current = current.with_exposure(np.where(p_sel > target, target / np.maximum(p_sel, 1e-12), 1.0))
    return current
