"""One sitting through the CAT engine: pilot positions, the state after its answers, the next item, the result.

These are the engine's phases (:mod:`assess.engine`) applied to one live session, shared by the
full path (:mod:`assess.full_path`, which rebuilds the state from the stored answers on every
request) and the fast path (:mod:`assess.fast_path`, which keeps the state between answers). Both
call the same functions with the same seeded draws, so a session gets the same items and scores
whichever path serves it, and a resumed session continues exactly where it stopped: the random
draw at position ``p`` comes from ``default_rng([seed, p])``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from assess.banks import BandBank, exposure_bank
from assess.blueprints import BlueprintSpec
from assess.engine import CatState, initial_theta, new_state, record_answers, select_next_items, should_stop
from assess.scales import CutScores, FinalScores, final_scores

__all__ = ["choose_next", "final_result", "pilot_positions", "rebuild_state", "session_pilots"]


def pilot_positions(seed: int, spec: BlueprintSpec, n_pilot_available: int) -> frozenset[int]:
    """Positions (0-based) at which a session gets a pilot item, fixed by its seed."""
    n = min(spec.pilot_items, n_pilot_available)
    if n <= 0:
        return frozenset()
    span = max(spec.min_items, n)
    rng = np.random.default_rng([seed, 1_000_003])
    return frozenset(int(p) for p in rng.choice(span, size=n, replace=False))


def session_pilots(bank: BandBank, spec: BlueprintSpec, seed: int) -> frozenset[int]:
    """The positions at which a session with ``seed`` gets a pilot item."""
    return pilot_positions(seed, spec, int(bank.pilot_indices.size))


def rebuild_state(
    bank: BandBank,
    spec: BlueprintSpec,
    grade: int,
    answered: Sequence[tuple[int, int | None]],
    *,
    seed: int | None = None,
    pilots: frozenset[int] = frozenset(),
    on_screen: bool = False,
) -> CatState:
    """The engine state of one session from its stored answers ``(item_version_id, score)`` in order.

    With Sympson-Hetter exposure control, the items the acceptance draws rejected stay blocked
    for the rest of the session. They are not stored: given the session's ``seed`` (and its
    ``pilots`` positions), each position's choice is made again, with the same draw, before its
    answer is recorded, which blocks exactly the items rejected when the student was there.
    ``on_screen``: an item is on screen at the next position (not answered yet), so its choice
    is made again too.
    """
    bp = spec.engine_blueprint()
    state = new_state(bank.engine, bp, np.array([grade]), capacity=spec.max_items + spec.pilot_items + 1)
    one = np.array([0])
    replay = seed if bp.sympson_hetter else None
    for position, (version_id, score) in enumerate(answered):
        j = bank.index_of(version_id)
        if replay is not None:
            choose_next(bank, spec, state, seed=replay, position=position, pilots=pilots)
        record_answers(bank.engine, state, one, np.array([j]), np.array([0 if score is None else score]))
    if replay is not None and on_screen:
        choose_next(bank, spec, state, seed=replay, position=len(answered), pilots=pilots)
    return state


def choose_next(
    bank: BandBank, spec: BlueprintSpec, state: CatState, *, seed: int, position: int, pilots: frozenset[int]
) -> int:
    """Engine index of the item for ``position`` of a session, or ``-1`` when the test ends here.

    The stop rule comes first; then, at the session's pilot ``positions``, a pilot item it has not
    had; otherwise the engine's choice. The draw uses ``default_rng([seed, position])``, so the
    choice depends only on the stored answers. With Sympson-Hetter exposure control the draw
    uses the blueprint's parameters (:func:`assess.banks.exposure_bank`), and the items it rejects
    are blocked in ``state`` for the rest of the session (:func:`rebuild_state` blocks them again
    on a rebuild).
    """
    bp = spec.engine_blueprint()
    if bool(should_stop(bank.engine, bp, state)[0]):
        return -1
    rng = np.random.default_rng([seed, position])
    if position in pilots:
        pool = bank.pilot_indices
        free = pool[~np.isin(pool, state.given[0, : state.n_given[0]])]
        if free.size:
            return int(rng.choice(free))
    engine = exposure_bank(bank, spec) if bp.sympson_hetter else bank.engine
    # -1: the band's bank is exhausted under the rules, the test ends here
    return int(select_next_items(engine, bp, state, rng)[0])


def final_result(
    bank: BandBank,
    spec: BlueprintSpec,
    grade: int,
    items: Sequence[int],
    scores: Sequence[int],
    *,
    cuts: CutScores,
) -> FinalScores:
    """The reported result of a session.

    ``items`` are its operational items (engine indices), ``scores`` their scores; ``cuts`` are
    the level cut scores of the student's grade band (:func:`assess.scales.cut_scores_for_band`).
    The prior is centred on the grade's start ability, as during the test.
    """
    return final_scores(
        bank.engine,
        list(items),
        list(scores),
        method=spec.final_estimator,
        cuts=cuts,
        prior_mean=float(initial_theta(spec.engine_blueprint(), np.array([grade]))[0]),
    )
