from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assess.engine import (
    Blueprint,
    CatState,
    ContentRule,
    EngineBank,
    new_state,
    record_answers,
    select_next_items,
    should_stop,
)
from assess.examinees import draw_scores
from assess.exposure import calibrate_exposure
from assess.simulate.adaptive import simulate_sessions
from scoring.irt import item_information, probabilities
from scoring.params import ItemParams

AREAS = ("D1", "D2", "D3", "D4")


def make_bank(n: int = 160, seed: int = 3, *, pilot: int = 8, enemies: int = 6) -> EngineBank:
    rng = np.random.default_rng(seed)
    n_poly = n // 8
    models = tuple(["3pl"] * (n - 2 * n_poly) + ["grm"] * n_poly + ["gpcm"] * n_poly)
    b = np.full((n, 3), np.nan)
    b[: n - 2 * n_poly, 0] = rng.normal(0, 1.1, n - 2 * n_poly)
    b[n - 2 * n_poly :] = np.sort(rng.normal(0, 1.2, (2 * n_poly, 3)), axis=1)
    c = np.array([0.2 if m == "3pl" else 0.0 for m in models])
    params = ItemParams(ids=tuple(f"I{j:03d}" for j in range(n)), models=models, a=rng.uniform(0.7, 2.0, n), b=b, c=c)
    areas = [AREAS[j % 4] for j in range(n)]
    pairs = [(f"I{2 * j:03d}", f"I{2 * j + 1:03d}") for j in range(enemies)]
    pilots = [f"I{j:03d}" for j in range(n - pilot, n)]
    return EngineBank.build(params, areas, enemies=pairs, pilot=pilots)


BANK = make_bank()
RULES = tuple(ContentRule(a, min_items=4, max_items=7) for a in AREAS)


def test_bank_caches_information_and_log_probabilities_from_scoring() -> None:
    np.testing.assert_allclose(BANK.info, item_information(BANK.params, BANK.grid))
    p = probabilities(BANK.params, BANK.nodes)
    np.testing.assert_allclose(np.exp(BANK.log_prob), p.transpose(1, 2, 0), atol=1e-12)
    assert not BANK.info.flags.writeable


@settings(max_examples=40, deadline=None)
@given(theta=st.floats(-3.5, 3.5), seed=st.integers(0, 2**31))
def test_selection_picks_the_most_informative_eligible_item(theta: float, seed: int) -> None:
    bp = Blueprint(min_items=5, max_items=20, se_target=0.0)
    state = new_state(BANK, bp, np.array([8]))
    state.theta[:] = theta
    rng = np.random.default_rng(seed)
    blocked = rng.random(BANK.n_items) < 0.3
    state.blocked[0] |= blocked
    j = int(select_next_items(BANK, bp, state, rng)[0])
    assert not state.blocked[0, j]
    g = np.clip(np.searchsorted(BANK.grid, theta), 0, BANK.grid.size - 1)
    eligible = ~state.blocked[0]
    assert BANK.info[g, j] == pytest.approx(BANK.info[g, eligible].max())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.integers(1, 6))
def test_randomesque_choice_is_among_the_top_k(seed: int, k: int) -> None:
    bp = Blueprint(min_items=5, max_items=20, se_target=0.0, randomesque_k=k)
    state = new_state(BANK, bp, np.zeros(64, dtype=np.int64))
    rng = np.random.default_rng(seed)
    state.theta[:] = rng.normal(0, 1, 64)
    chosen = select_next_items(BANK, bp, state, rng)
    g = np.clip(np.searchsorted(BANK.grid, state.theta), 0, BANK.grid.size - 1)
    for s, j in enumerate(chosen):
        info = np.where(state.blocked[s], -np.inf, BANK.info[g[s]])
        rank = int((info > info[j]).sum())
        assert rank < k


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n_answers=st.integers(1, 25))
def test_posterior_matches_a_direct_eap_and_se_shrinks_on_average(seed: int, n_answers: int) -> None:
    rng = np.random.default_rng(seed)
    bp = Blueprint(min_items=1, max_items=30, se_target=0.0)
    state = new_state(BANK, bp, np.array([4]))
    ops = np.nonzero(~BANK.pilot)[0]
    items = rng.choice(ops, n_answers, replace=False)
    scores = draw_scores(BANK, items, np.full(items.size, 0.3), rng)
    for j, x in zip(items, scores, strict=True):
        record_answers(BANK, state, np.array([0]), np.array([j]), np.array([x]))
    # direct EAP from scoring's probabilities on the same nodes
    p = probabilities(BANK.params.subset(items.tolist()), BANK.nodes)  # (Q, n, K+1)
    like = np.prod(p[:, np.arange(items.size), scores], axis=1) * np.exp(BANK.log_prior)
    post = like / like.sum()
    eap = float(post @ BANK.nodes)
    sd = float(np.sqrt(post @ BANK.nodes**2 - eap**2))
    assert state.theta[0] == pytest.approx(eap, abs=1e-9)
    assert state.se[0] == pytest.approx(sd, abs=1e-9)
    if n_answers >= 5:  # one answer can widen a posterior; several narrow it below the prior's SD
        assert state.se[0] < 1.0


def test_one_answer_per_session_per_call() -> None:
    bp = Blueprint()
    state = new_state(BANK, bp, np.array([4, 4]))
    with pytest.raises(ValueError, match="one answer per session"):
        record_answers(BANK, state, np.array([0, 0]), np.array([0, 1]), np.array([1, 0]))


def test_stop_rule() -> None:
    bp = Blueprint(min_items=3, max_items=5, se_target=0.5)
    state = new_state(BANK, bp, np.zeros(3, dtype=np.int64))
    state.n_operational[:] = [2, 3, 5]
    state.se[:] = [0.1, 0.4, 0.9]
    assert should_stop(BANK, bp, state).tolist() == [False, True, True]


def test_stop_waits_for_content_minima() -> None:
    bp = Blueprint(min_items=4, max_items=12, se_target=0.9, content=(ContentRule("D1", 3),))
    state = new_state(BANK, bp, np.zeros(2, dtype=np.int64))
    state.n_operational[:] = 6
    state.se[:] = 0.5
    state.counts[:, BANK.areas.index("D1")] = [2, 3]
    assert should_stop(BANK, bp, state).tolist() == [False, True]


def test_the_prior_is_centred_on_the_grade_start() -> None:
    bp = Blueprint(start_theta=((4, -1.0), (8, 0.0)))
    state = new_state(BANK, bp, np.array([4, 8]))
    modes = BANK.nodes[np.argmax(state.log_post, axis=1)]
    assert modes.tolist() == pytest.approx([-1.0, 0.0], abs=0.11)


def test_draw_scores_cache_follows_the_bank_object() -> None:
    rng = np.random.default_rng(0)

    def bank_at(b: float) -> EngineBank:
        p = ItemParams(("I1",), ("2pl",), np.array([2.0]), np.array([[b]]), np.array([0.0]))
        return EngineBank.build(p, ["D1"])

    for _ in range(20):
        easy = bank_at(-4.0)
        assert draw_scores(easy, np.zeros(200, dtype=np.int64), np.zeros(200), rng).mean() > 0.95
        del easy
        hard = bank_at(4.0)
        assert draw_scores(hard, np.zeros(200, dtype=np.int64), np.zeros(200), rng).mean() < 0.05
        del hard


def test_the_fine_grid_table_is_the_cumulative_of_scorings_probabilities() -> None:
    """Built family by family (3PL, GRM, GPCM of different K), it equals cumsum(probabilities) exactly."""
    from assess.examinees import _FINE_LIMIT, _FINE_STEP, _cumulative_on_fine_grid

    grid = np.arange(-_FINE_LIMIT, _FINE_LIMIT + _FINE_STEP / 2, _FINE_STEP)
    bank = make_bank(40, seed=11)
    wider = bank.params.b.copy()
    wider[-1, :2] = [-0.5, 0.4]  # one GPCM item with K = 2 beside those with K = 3
    wider[-1, 2] = np.nan
    mixed = dataclasses.replace(bank.params, b=wider)
    for params in (bank.params, mixed):
        table = _cumulative_on_fine_grid(EngineBank.build(params, [AREAS[j % 4] for j in range(params.n_items)]))
        expected = np.cumsum(probabilities(params, grid), axis=2).transpose(1, 2, 0)
        assert table.shape == expected.shape and np.array_equal(table, expected)
        assert np.allclose(table[:, -1], 1.0)  # beyond an item's K the cumulative stays at its total
    assert sorted(set(mixed.max_scores.tolist())) == [1, 2, 3]


def test_blueprint_validation() -> None:
    with pytest.raises(ValueError):
        Blueprint(min_items=10, max_items=5)
    with pytest.raises(ValueError, match="content minima"):
        Blueprint(min_items=5, max_items=5, content=(ContentRule("D1", 3), ContentRule("D2", 3)))


@pytest.fixture(scope="module")
def study() -> tuple[Blueprint, object]:
    bp = Blueprint(min_items=20, max_items=24, se_target=0.32, content=RULES, randomesque_k=3)
    rng = np.random.default_rng(11)
    sim = simulate_sessions(BANK, bp, rng.normal(0, 1, 3000), rng, pilot_per_session=2)
    return bp, sim


def test_rules_hold_over_thousands_of_sessions(study) -> None:  # type: ignore[no-untyped-def]
    bp, sim = study
    enemy = BANK.enemies
    for s in range(sim.items.shape[0]):
        got = sim.items[s][sim.items[s] >= 0]
        assert len(set(got.tolist())) == got.size, "an item was given twice"
        assert not enemy[np.ix_(got, got)].any(), "enemy items met in one test"
        ops = got[~BANK.pilot[got]]
        assert bp.min_items <= ops.size <= bp.max_items
        counts = np.bincount(BANK.area[ops], minlength=4)
        assert (counts >= 4).all() and (counts <= 7).all(), counts
        assert (BANK.pilot[got]).sum() == 2


def test_adaptive_estimates_recover_true_ability(study) -> None:  # type: ignore[no-untyped-def]
    _, sim = study
    err = sim.theta - sim.true_theta
    assert abs(err.mean()) < 0.05
    assert np.sqrt(np.mean(err**2)) < 0.40
    assert np.corrcoef(sim.theta, sim.true_theta)[0, 1] > 0.9


def test_sympson_hetter_caps_exposure() -> None:
    bp = Blueprint(min_items=20, max_items=20, se_target=0.0, content=RULES)
    rng = np.random.default_rng(5)
    pop = rng.normal(0, 1, 1500)
    free = simulate_sessions(BANK, bp, pop, rng)
    controlled_bank = calibrate_exposure(BANK, bp, pop, rng, target=0.3, iterations=12)
    controlled = simulate_sessions(controlled_bank, dataclasses.replace(bp, sympson_hetter=True), pop, rng)

    def max_rate(sim) -> float:  # type: ignore[no-untyped-def]
        got = sim.items[sim.items >= 0]
        return float(np.bincount(got, minlength=BANK.n_items).max() / pop.size)

    assert max_rate(free) > 0.5
    assert max_rate(controlled) < 0.36


def test_sub_indicator_maxima_hold_over_many_sessions() -> None:
    subs = [f"{AREAS[j % 4]}.{(j // 4) % 4 + 1}" for j in range(BANK.n_items)]
    bank = EngineBank.build(BANK.params, [AREAS[j % 4] for j in range(BANK.n_items)], sub_areas=subs)
    caps = tuple(ContentRule(f"{a}.{k}", 0, 2) for a in AREAS for k in range(1, 5))
    bp = Blueprint(min_items=24, max_items=24, se_target=0.0, content=RULES, sub_content=caps)
    rng = np.random.default_rng(8)
    sim = simulate_sessions(bank, bp, rng.normal(0, 1, 1000), rng)
    for s in range(sim.items.shape[0]):
        got = sim.items[s][sim.items[s] >= 0]
        assert got.size == 24
        assert np.bincount(bank.sub_area[got]).max() <= 2


def test_an_exhausted_area_is_skipped_and_the_test_goes_on() -> None:
    areas = ["D1"] * 2 + [AREAS[1 + j % 3] for j in range(BANK.n_items - 2)]
    bank = EngineBank.build(BANK.params, areas)
    rules = (ContentRule("D1", 4, 6), *(ContentRule(a, 2, 10) for a in AREAS[1:]))
    bp = Blueprint(min_items=20, max_items=20, se_target=0.0, content=rules)
    rng = np.random.default_rng(2)
    sim = simulate_sessions(bank, bp, rng.normal(0, 1, 300), rng)
    assert (sim.n_items == 20).all()
    d1 = bank.areas.index("D1")
    for s in range(300):
        got = sim.items[s][sim.items[s] >= 0]
        assert (bank.area[got] == d1).sum() == 2  # all it has; the rest came from open areas


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 4),
    content=st.booleans(),
    sympson_hetter=st.booleans(),
    sub_cap=st.sampled_from([None, 1, 2]),
)
def test_one_session_code_chooses_and_records_as_the_batch_code(
    seed: int, k: int, content: bool, sympson_hetter: bool, sub_cap: int | None
) -> None:
    """A live session (a batch of one) takes dedicated scalar code.

    It must match the batch code draw for draw: the same item, the same Sympson-Hetter blocks,
    the same posterior.
    """
    rng = np.random.default_rng(seed)
    bank = BANK.with_exposure(rng.uniform(0.2, 1.0, BANK.n_items))
    subs = tuple(ContentRule(f"S{j}", 0, sub_cap) for j in range(4)) if sub_cap else ()
    sub_bank = dataclasses.replace(
        bank, sub_areas=tuple(f"S{j}" for j in range(4)), sub_area=np.arange(bank.n_items) % 4
    )
    bp = Blueprint(
        min_items=10,
        max_items=24,
        content=RULES if content else (),
        randomesque_k=k,
        sympson_hetter=sympson_hetter,
        sub_content=subs,
    )
    one = new_state(sub_bank, bp, np.array([8]), capacity=30)
    for step in range(24):
        ref = copy.deepcopy(one)  # the batch code forced on the same one-session state
        fast = int(select_next_items(sub_bank, bp, one, np.random.default_rng([seed, step]))[0])
        counted = np.zeros(bank.n_items, dtype=np.int64)
        batch = int(select_next_items(sub_bank, bp, ref, np.random.default_rng([seed, step]), considered=counted)[0])
        assert fast == batch
        np.testing.assert_array_equal(one.blocked, ref.blocked)
        if fast < 0:
            break
        score = int(rng.integers(0, sub_bank.params.n_categories[fast]))
        # recording: a two-session copy goes through the batch code
        two = CatState(*(np.repeat(getattr(one, f.name), 2, axis=0) for f in dataclasses.fields(CatState)))
        record_answers(sub_bank, one, np.array([0]), np.array([fast]), np.array([score]))
        record_answers(sub_bank, two, np.array([0, 1]), np.array([fast, fast]), np.array([score, score]))
        for name in ("given", "scores", "n_given", "n_operational", "counts", "blocked"):
            np.testing.assert_array_equal(getattr(one, name)[0], getattr(two, name)[0], err_msg=name)
        np.testing.assert_array_equal(one.log_post[0], two.log_post[0])
        # the EAP is a matrix product, whose last bit may depend on the batch's shape
        assert one.theta[0] == pytest.approx(two.theta[0], abs=1e-12)
        assert one.se[0] == pytest.approx(two.se[0], abs=1e-12)
