"""The computerized adaptive testing (CAT) engine: initialise, select, estimate, stop.

The engine is a set of pure functions over arrays, cut into the four phases of the catsim
design (Meneghetti & de Aquino, catsim; Weiss & Kingsbury 1984):

initialise
    :func:`initial_theta`: a start ability by grade (or a blueprint constant).
select
    :func:`select_next_items`: maximum Fisher information (Lord 1980) at the current estimate,
    with content balancing by the Kingsbury-Zara (1989) procedure over the blueprint's dimension
    targets (minimum counts enforced first, maximum counts never exceeded), exposure control by
    randomesque top-k selection (Kingsbury & Zara 1989) and the Sympson-Hetter (1985) method,
    enemy items, and no item twice.
estimate
    :func:`update_posterior` keeps each session's log-posterior on a quadrature grid, so that an
    EAP estimate (Bock & Mislevy 1982) and its posterior SD cost one vector update per answer.
stop
    :func:`should_stop`: maximum length, or minimum length reached and SE at or below the target.

Every function takes a batch of ``S`` sessions (arrays with a leading session axis). A live
session is a batch of one; the simulator runs tens of thousands at once through the same code.
Probabilities and information come from :mod:`scoring.irt`; :class:`EngineBank` computes them once
per calibration on fixed grids and caches them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt

from assess.exceptions import BlueprintError, EngineError
from scoring.irt import item_information, probabilities
from scoring.params import ItemParams

__all__ = [
    "Blueprint",
    "CatState",
    "ContentRule",
    "EngineBank",
    "Estimator",
    "Initializer",
    "Selector",
    "Stopper",
    "initial_theta",
    "new_state",
    "posterior_moments",
    "record_answers",
    "select_next_items",
    "should_stop",
    "update_posterior",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class ContentRule:
    """Bounds on the number of items from one content area (a dimension or sub-indicator code).

    ``min_items`` and ``target_share`` apply to dimensions only (Kingsbury-Zara); a sub-indicator
    rule caps its count with ``max_items``.
    """

    area: str
    min_items: int = 0
    max_items: int | None = None
    target_share: float | None = None


@dataclass(frozen=True)
class Blueprint:
    """The adaptive part of a blueprint, as the engine needs it.

    Attributes
    ----------
    min_items, max_items
        Test length bounds (operational items; pilot items come on top).
    se_target
        Stop once ``min_items`` are given and the posterior SD is at or below this.
    content
        One rule per content area; areas without a rule get neither minimum nor maximum.
    randomesque_k
        Choose at random among the ``k`` most informative eligible items (1 = pure max-info).
    sympson_hetter
        Apply the items' Sympson-Hetter exposure parameters (see :func:`calibrate_exposure`).
    start_theta
        Starting ability by grade; grades not listed start at ``default_start``.
    sub_content
        Maximum counts per sub-area (a sub-indicator code); once a session has that many items of
        a sub-indicator, its other items are out for that session. Only ``max_items`` applies.
    """

    min_items: int = 20
    max_items: int = 30
    se_target: float = 0.3
    content: tuple[ContentRule, ...] = ()
    randomesque_k: int = 1
    sympson_hetter: bool = False
    start_theta: tuple[tuple[int, float], ...] = ()
    default_start: float = 0.0
    sub_content: tuple[ContentRule, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.min_items <= self.max_items:
            raise BlueprintError(["need 1 <= min_items <= max_items"])
        if self.randomesque_k < 1:
            raise BlueprintError(["randomesque_k must be at least 1"])
        if sum(rule.min_items for rule in self.content) > self.max_items:
            raise BlueprintError(["the content minima add up to more than max_items"])


@dataclass(frozen=True, eq=False)
class EngineBank:
    """Item arrays the engine needs, derived once from a calibration and then read-only.

    Attributes
    ----------
    params
        Item parameters of every item in the pool (operational and pilot).
    area
        Content-area index of each item (into ``areas``).
    enemies
        ``enemies[i, j]`` is true when items ``i`` and ``j`` must never meet in one test.
    pilot
        Items being field-tested: given at seeded positions, never chosen by information, unscored.
    exposure
        Sympson-Hetter control parameters ``P(administer | selected)``; 1 means no control.
    grid, info
        Fine theta grid and item information on it, ``info[g, j]``.
    nodes, log_prob
        Quadrature nodes and ``log P(x = k | node)`` as ``log_prob[j, k, q]`` (``-inf`` beyond K).
    log_prior
        Standard-normal log density at the nodes.
    sub_areas, sub_area
        Sub-area names and each item's sub-area index (the dimension itself when not given).
    """

    params: ItemParams
    areas: tuple[str, ...]
    area: IntArray
    enemies: BoolArray
    pilot: BoolArray
    exposure: FloatArray
    grid: FloatArray = field(repr=False)
    info: FloatArray = field(repr=False)
    nodes: FloatArray = field(repr=False)
    log_prob: FloatArray = field(repr=False)
    log_prior: FloatArray = field(repr=False)
    sub_areas: tuple[str, ...] = ()
    sub_area: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @classmethod
    def build(
        cls,
        params: ItemParams,
        areas: Sequence[str],
        *,
        enemies: Sequence[tuple[str, str]] = (),
        pilot: Sequence[str] = (),
        exposure: FloatArray | None = None,
        sub_areas: Sequence[str] | None = None,
        n_nodes: int = 61,
        node_range: float = 6.0,
        grid_step: float = 0.02,
    ) -> EngineBank:
        """Derive the engine arrays for ``params``.

        ``areas[j]`` is item ``j``'s content area (a dimension); ``sub_areas[j]``, if given, its
        sub-area (a sub-indicator), which blueprints may cap.
        """
        n = params.n_items
        if len(areas) != n or (sub_areas is not None and len(sub_areas) != n):
            raise EngineError("one content area (and sub-area) per item is needed")
        area_names = tuple(sorted(set(areas)))
        area_idx = np.array([area_names.index(a) for a in areas], dtype=np.int64)
        index = {code: j for j, code in enumerate(params.ids)}
        enemy = np.zeros((n, n), dtype=bool)
        for a, b in enemies:
            if a in index and b in index:
                enemy[index[a], index[b]] = enemy[index[b], index[a]] = True
        pilot_mask = np.zeros(n, dtype=bool)
        for code in pilot:
            if code in index:
                pilot_mask[index[code]] = True
        grid = np.arange(-5.0, 5.0 + grid_step / 2, grid_step)
        info = np.asarray(item_information(params, grid), dtype=np.float64)
        nodes = np.linspace(-node_range, node_range, n_nodes)
        prob = np.asarray(probabilities(params, nodes), dtype=np.float64)  # (Q, n, K+1)
        with np.errstate(divide="ignore"):
            log_prob = np.log(np.clip(prob, 0.0, 1.0)).transpose(1, 2, 0).copy()
        log_prob[~np.isfinite(log_prob)] = -np.inf
        for j, k in enumerate(params.n_categories):
            log_prob[j, :k, :] = np.maximum(log_prob[j, :k, :], np.log(1e-300))
        log_prior = -0.5 * nodes**2 - 0.5 * np.log(2 * np.pi)
        expo = np.ones(n) if exposure is None else np.asarray(exposure, dtype=np.float64)
        subs = list(areas) if sub_areas is None else list(sub_areas)
        sub_names = tuple(sorted(set(subs)))
        sub_idx = np.array([sub_names.index(a) for a in subs], dtype=np.int64)
        arrays = [area_idx, enemy, pilot_mask, expo, grid, info, nodes, log_prob, log_prior, sub_idx]
        for arr in arrays:
            arr.setflags(write=False)
        return cls(
            params,
            area_names,
            area_idx,
            enemy,
            pilot_mask,
            expo,
            grid,
            info,
            nodes,
            log_prob,
            log_prior,
            sub_names,
            sub_idx,
        )

    @cached_property
    def ranking(self) -> npt.NDArray[np.int32]:
        """Items by decreasing information at every grid point, ``ranking[g]``."""
        order = np.argsort(-self.info, axis=1, kind="stable").astype(np.int32)
        order.setflags(write=False)
        return order

    @cached_property
    def area_ranking(self) -> tuple[npt.NDArray[np.int32], ...]:
        """Per content area, its items by decreasing information at every grid point."""
        out = []
        for k in range(len(self.areas)):
            members = np.nonzero(self.area == k)[0]
            order = members[np.argsort(-self.info[:, members], axis=1, kind="stable")].astype(np.int32)
            order.setflags(write=False)
            out.append(order)
        return tuple(out)

    @property
    def n_items(self) -> int:
        """Number of items in the pool."""
        return self.params.n_items

    def with_exposure(self, exposure: FloatArray) -> EngineBank:
        """A copy whose Sympson-Hetter parameters are ``exposure``."""
        expo = np.clip(np.asarray(exposure, dtype=np.float64), 0.0, 1.0)
        expo.setflags(write=False)
        return dataclasses.replace(self, exposure=expo)


@dataclass
class CatState:
    """The adaptive state of ``S`` sessions; rebuilt from stored answers for a live session.

    Attributes
    ----------
    blocked
        Items a session may no longer get: given, enemies of given ones, or rejected by
        Sympson-Hetter.
    given
        Items given, in order, ``-1`` padded (operational and pilot).
    scores
        Score of each given item (``-1`` for an unanswered slot).
    log_post
        Unnormalised log-posterior over the quadrature nodes (operational items only).
    counts
        Operational items given per content area.
    """

    blocked: BoolArray
    given: IntArray
    scores: IntArray
    n_given: IntArray
    n_operational: IntArray
    counts: IntArray
    log_post: FloatArray
    theta: FloatArray
    se: FloatArray

    @property
    def n_sessions(self) -> int:
        """Number of sessions in the batch."""
        return int(self.theta.shape[0])


def initial_theta(blueprint: Blueprint, grades: IntArray) -> FloatArray:
    """Initialise: the starting ability of each session from its grade."""
    start = dict(blueprint.start_theta)
    return np.array([start.get(int(g), blueprint.default_start) for g in grades], dtype=np.float64)


def new_state(bank: EngineBank, blueprint: Blueprint, grades: IntArray, *, capacity: int | None = None) -> CatState:
    """A fresh state for ``len(grades)`` sessions, positioned at their start abilities."""
    s = len(grades)
    cap = capacity or blueprint.max_items
    theta = initial_theta(blueprint, np.asarray(grades))
    # the population prior of each session: N(start ability of its grade, 1) on the nodes
    log_prior = -0.5 * (bank.nodes[None, :] - theta[:, None]) ** 2 - 0.5 * np.log(2 * np.pi)
    return CatState(
        blocked=np.repeat(bank.pilot[None, :], s, axis=0),
        given=np.full((s, cap), -1, dtype=np.int64),
        scores=np.full((s, cap), -1, dtype=np.int64),
        n_given=np.zeros(s, dtype=np.int64),
        n_operational=np.zeros(s, dtype=np.int64),
        counts=np.zeros((s, len(bank.areas)), dtype=np.int64),
        log_post=log_prior,
        theta=theta,
        se=np.ones(s),
    )


@dataclass(eq=False)
class _Plan:
    """What a blueprint means on one bank, worked out once.

    Area minima, maxima and target shares, and the sub-area caps (``None`` when the blueprint
    caps no sub-area).
    """

    constrained: bool
    lo: IntArray
    hi: IntArray
    share: FloatArray
    sub_cap: IntArray | None

    @cached_property
    def as_lists(self) -> tuple[list[int], list[int], list[float]]:
        """``lo``, ``hi`` and ``share`` as Python lists (cheaper than arrays for one session)."""
        return self.lo.tolist(), self.hi.tolist(), self.share.tolist()


_PLANS: dict[tuple[int, int], tuple[EngineBank, Blueprint, _Plan]] = {}


def _plan(bank: EngineBank, blueprint: Blueprint) -> _Plan:
    """The plan of ``blueprint`` on ``bank``, cached by identity.

    Hashing a blueprint at every step would cost more than the plan saves.
    """
    hit = _PLANS.get((id(bank), id(blueprint)))
    if hit is not None and hit[0] is bank and hit[1] is blueprint:
        return hit[2]
    plan = _make_plan(bank, blueprint)
    if len(_PLANS) >= 256:
        _PLANS.clear()
    _PLANS[(id(bank), id(blueprint))] = (bank, blueprint, plan)
    return plan


def _make_plan(bank: EngineBank, blueprint: Blueprint) -> _Plan:
    n_areas = len(bank.areas)
    lo = np.zeros(n_areas, dtype=np.int64)
    hi = np.full(n_areas, blueprint.max_items, dtype=np.int64)
    share = np.full(n_areas, np.nan)
    for rule in blueprint.content:
        if rule.area not in bank.areas:
            continue
        k = bank.areas.index(rule.area)
        lo[k] = rule.min_items
        hi[k] = blueprint.max_items if rule.max_items is None else rule.max_items
        if rule.target_share is not None:
            share[k] = rule.target_share
    if np.isnan(share).all():
        share = np.full(n_areas, 1.0 / n_areas)
    else:
        rest = np.isnan(share)
        share[rest] = max(0.0, 1.0 - np.nansum(share)) / max(int(rest.sum()), 1)
    caps = {r.area: r.max_items for r in blueprint.sub_content if r.max_items is not None}
    cap = np.array([caps.get(name, np.iinfo(np.int64).max) for name in bank.sub_areas], dtype=np.int64)
    sub_cap = cap if caps and cap.size else None
    for arr in (lo, hi, share, cap):
        arr.setflags(write=False)
    constrained = any(rule.area in bank.areas for rule in blueprint.content)
    return _Plan(constrained, lo, hi, share, sub_cap)


def _choose_areas(
    bank: EngineBank, blueprint: Blueprint, counts: IntArray, n_operational: IntArray, closed: BoolArray
) -> IntArray:
    """Kingsbury-Zara: the area furthest below its target share, minima first, maxima respected.

    ``closed[s, k]`` marks areas found to have no eligible item left for session ``s``.
    """
    s = counts.shape[0]
    plan = _plan(bank, blueprint)
    if not plan.constrained:
        return np.full(s, -1, dtype=np.int64)  # no content rules: every eligible item competes
    lo, hi, share = plan.lo, plan.hi, plan.share
    open_area = ~closed & (counts < hi[None, :])
    remaining = blueprint.max_items - n_operational
    unmet = np.maximum(lo[None, :] - counts, 0)
    must = (unmet.sum(axis=1) >= remaining)[:, None] & (unmet > 0)
    deficit = share[None, :] - counts / np.maximum(n_operational + 1, 1)[:, None]
    deficit = deficit + 10.0 * (unmet > 0)  # an unmet minimum outranks any share
    score = np.where(open_area, deficit, -np.inf)
    score = np.where(must.any(axis=1)[:, None], np.where(must & open_area, score, -np.inf), score)
    choice = np.argmax(score, axis=1)
    none = ~np.isfinite(score[np.arange(s), choice])
    choice[none] = -1  # no constrained area left: any eligible item
    return np.asarray(choice, dtype=np.int64)


def _full_sub_areas(bank: EngineBank, blueprint: Blueprint, state: CatState) -> BoolArray:
    """Items of sub-areas that have reached their blueprint maximum, per session ``(S, n)``."""
    cap = _plan(bank, blueprint).sub_cap
    if cap is None:
        return np.zeros(state.blocked.shape, dtype=bool)
    s, n_sub = state.n_sessions, len(bank.sub_areas)
    given = state.given
    op = (given >= 0) & ~bank.pilot[np.maximum(given, 0)]
    rows = np.broadcast_to(np.arange(s)[:, None], given.shape)[op]
    flat = rows * n_sub + bank.sub_area[given[op]]
    counts = np.bincount(flat, minlength=s * n_sub).reshape(s, n_sub)
    full: BoolArray = (counts >= cap[None, :])[:, bank.sub_area]
    return full


def _first_eligible(order: npt.NDArray[np.int32], eligible: BoolArray, rows: IntArray, m: int) -> IntArray:
    """The first ``m`` eligible items of each row of ``order`` (``-1`` padded)."""
    n = eligible.shape[1]
    ok = np.take(eligible.reshape(-1), order + (rows * n)[:, None])
    cum = np.cumsum(ok, axis=1, dtype=np.int32)
    r_idx, c_idx = np.nonzero(ok & (cum <= m))
    n_keep = np.minimum(cum[:, -1], m)
    slot = np.arange(r_idx.size) - np.repeat(np.cumsum(n_keep) - n_keep, n_keep)
    out = np.full((order.shape[0], m), -1, dtype=np.int64)
    out[r_idx, slot] = order[r_idx, c_idx]
    return out


def select_next_items(
    bank: EngineBank,
    blueprint: Blueprint,
    state: CatState,
    rng: np.random.Generator,
    *,
    candidates: int = 12,
    considered: IntArray | None = None,
) -> IntArray:
    """Select: the next operational item for every session (``-1`` where none is eligible).

    Items are ranked by Fisher information at each session's current estimate (the bank keeps
    the ranking for every point of its theta grid); within the content area Kingsbury-Zara picks,
    the ``candidates`` most informative eligible items are kept. With Sympson-Hetter each ranked
    item is accepted with its exposure parameter (a rejected item is blocked for the rest of the
    session, as in Sympson & Hetter 1985); randomesque picks uniformly among the first ``k``
    accepted. ``considered``, if given, counts per item how often it reached the acceptance draw
    (Sympson-Hetter's P(S)).
    """
    s = state.n_sessions
    if s == 1 and considered is None:
        return _select_one(bank, blueprint, state, rng, candidates)
    rows = np.arange(s)
    eligible = ~state.blocked
    if blueprint.sub_content:
        eligible &= ~_full_sub_areas(bank, blueprint, state)
    g = np.clip(np.searchsorted(bank.grid, state.theta), 0, bank.grid.size - 1)
    m = min(max(candidates, blueprint.randomesque_k), bank.n_items)
    ranked = np.full((s, m), -1, dtype=np.int64)
    closed = np.zeros((s, len(bank.areas)), dtype=bool)
    todo = rows
    for _ in range(len(bank.areas) + 1):
        # choose an area; a session whose area turns out to have no eligible item retries without it
        area = _choose_areas(bank, blueprint, state.counts[todo], state.n_operational[todo], closed[todo])
        for k in np.unique(area):
            members = todo[area == k]
            table = bank.ranking if k < 0 else bank.area_ranking[k]
            ranked[members] = _first_eligible(table[g[members]], eligible, members, m)
        empty = (area >= 0) & (ranked[todo, 0] < 0)
        if not empty.any():
            break
        closed[todo[empty], area[empty]] = True
        todo = todo[empty]
    valid = ranked >= 0
    if blueprint.sympson_hetter:
        accepted = valid & (rng.random(ranked.shape) < bank.exposure[np.maximum(ranked, 0)])
    else:
        accepted = valid
    n_acc = accepted.sum(axis=1)
    k = np.minimum(blueprint.randomesque_k, np.maximum(n_acc, 1))
    pick_rank = (rng.random(s) * k).astype(np.int64)  # 0..k-1 among the accepted
    hit = accepted & ((np.cumsum(accepted, axis=1) - 1) == pick_rank[:, None])
    # nothing accepted (every candidate rejected): take the most informative one
    pos = np.where(hit.any(axis=1), np.argmax(hit, axis=1), 0)
    chosen = ranked[rows, pos]
    if considered is not None:
        # P(S): the chosen item, and the items ranked above it that Sympson-Hetter rejected
        at = np.arange(m)[None, :]
        reached = (valid & ~accepted & (at < pos[:, None])) | ((at == pos[:, None]) & valid)
        np.add.at(considered, ranked[reached], 1)
    if blueprint.sympson_hetter:
        rejected = valid & ~accepted & (np.arange(m)[None, :] < pos[:, None])
        r_rows, r_cols = np.nonzero(rejected)
        state.blocked[r_rows, ranked[r_rows, r_cols]] = True
    return chosen


def _choose_area_one(
    plan: _Plan, blueprint: Blueprint, counts: list[int], n_operational: int, closed: list[bool]
) -> int:
    """:func:`_choose_areas` for one session, in plain floats.

    The same operations in the same order as the array version, so the same numbers.
    """
    lo, hi, share = plan.as_lists
    open_area = [not c and n < h for c, n, h in zip(closed, counts, hi, strict=True)]
    remaining = blueprint.max_items - n_operational
    unmet = [max(low - n, 0) for low, n in zip(lo, counts, strict=True)]
    must_any = sum(unmet) >= remaining and any(u > 0 for u in unmet)
    denominator = max(n_operational + 1, 1)
    best, choice = -np.inf, -1
    for k, (sh, n, u, ok) in enumerate(zip(share, counts, unmet, open_area, strict=True)):
        if not ok or (must_any and u <= 0):
            continue
        score = sh - n / denominator + 10.0 * (u > 0)
        if score > best:
            best, choice = score, k
    return choice


def _select_one(
    bank: EngineBank, blueprint: Blueprint, state: CatState, rng: np.random.Generator, candidates: int
) -> IntArray:
    """:func:`select_next_items` for a batch of one session (a live session's every answer).

    The same rules and the same random draws as the batch code, without its per-call array
    set-up; ``tests/assess/test_engine.py`` checks that both choose alike.
    """
    plan = _plan(bank, blueprint)
    eligible = ~state.blocked[0]
    if blueprint.sub_content and plan.sub_cap is not None:
        given = state.given[0, : state.n_given[0]]
        op = given[~bank.pilot[given]]
        full = np.bincount(bank.sub_area[op], minlength=len(bank.sub_areas)) >= plan.sub_cap
        if full.any():
            eligible &= ~full[bank.sub_area]
    g = min(int(np.searchsorted(bank.grid, state.theta[0])), bank.grid.size - 1)
    m = min(max(candidates, blueprint.randomesque_k), bank.n_items)
    counts = state.counts[0].tolist()
    n_operational = int(state.n_operational[0])
    closed = [False] * len(bank.areas)
    ranked: list[int] = []
    for _ in range(len(bank.areas) + 1):
        area = _choose_area_one(plan, blueprint, counts, n_operational, closed) if plan.constrained else -1
        row = (bank.ranking if area < 0 else bank.area_ranking[area])[g]
        ranked = row[np.flatnonzero(eligible[row])[:m]].tolist()
        if area < 0 or ranked:
            break
        closed[area] = True
    n_valid = len(ranked)
    if blueprint.sympson_hetter:
        draws = rng.random((1, m))[0, :n_valid]
        accepted = (draws < bank.exposure[ranked]).tolist() if n_valid else []
    else:
        accepted = [True] * n_valid
    k = min(blueprint.randomesque_k, max(sum(accepted), 1))
    pick_rank = int(rng.random(1)[0] * k)
    pos, seen = 0, 0
    for i, ok in enumerate(accepted):
        if ok:
            if seen == pick_rank:
                pos = i
                break
            seen += 1
    if not n_valid:
        return np.array([-1], dtype=np.int64)
    if blueprint.sympson_hetter:
        rejected = [ranked[i] for i in range(pos) if not accepted[i]]
        if rejected:
            state.blocked[0, rejected] = True
    return np.array([ranked[pos]], dtype=np.int64)


def posterior_moments(log_post: FloatArray, nodes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """EAP and posterior SD from unnormalised log-posteriors over ``nodes``, one row per person.

    ``theta = sum_q x_q w_q``, ``sd^2 = sum_q x_q^2 w_q - theta^2`` with ``w`` the normalised
    posterior weights (Bock & Mislevy 1982).
    """
    w = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    mean = w @ nodes
    return mean, np.sqrt(np.maximum(w @ nodes**2 - mean**2, 0.0))


def update_posterior(bank: EngineBank, state: CatState, sessions: IntArray, items: IntArray, scores: IntArray) -> None:
    """Estimate: fold answers into the log-posteriors and refresh the EAP estimates and SDs.

    EAP (Bock & Mislevy 1982): ``theta = sum_q x_q L(x_q) pi(x_q) / sum_q L(x_q) pi(x_q)`` over the
    quadrature nodes, posterior SD as SE. Pilot items are not scored and leave the posterior alone.
    """
    seen = np.zeros(state.n_sessions, dtype=bool)
    seen[sessions] = True
    if int(seen.sum()) != sessions.size:
        raise EngineError("one answer per session per call")
    live = ~bank.pilot[items]
    whole = sessions.size == state.n_sessions and bool(np.all(sessions[1:] > sessions[:-1]))
    if whole:  # every session answered, in order: update in place without gathering rows
        add = bank.log_prob[items, scores, :]
        add[~live] = 0.0
        state.log_post += add
        touched = sessions
        lp = state.log_post
    else:
        if live.any():
            # one answer per session per call, so plain fancy-index addition is safe
            state.log_post[sessions[live]] += bank.log_prob[items[live], scores[live], :]
        touched = sessions
        lp = state.log_post[touched]
    state.theta[touched], state.se[touched] = posterior_moments(lp, bank.nodes)


def record_answers(bank: EngineBank, state: CatState, sessions: IntArray, items: IntArray, scores: IntArray) -> None:
    """Record that ``sessions`` got ``items`` and scored ``scores``; update blocks and counts."""
    if state.n_sessions == 1 and sessions.size == 1:  # a live session: the same steps on scalars
        _record_one(bank, state, int(items[0]), int(scores[0]))
        return
    pos = state.n_given[sessions]
    if (pos >= state.given.shape[1]).any():
        raise EngineError("session capacity exceeded")
    state.given[sessions, pos] = items
    state.scores[sessions, pos] = scores
    state.n_given[sessions] += 1
    state.blocked[sessions, items] = True
    state.blocked[sessions] |= bank.enemies[items]
    op = ~bank.pilot[items]
    state.n_operational[sessions[op]] += 1
    np.add.at(state.counts, (sessions[op], bank.area[items[op]]), 1)
    update_posterior(bank, state, sessions, items, scores)


def _record_one(bank: EngineBank, state: CatState, item: int, score: int) -> None:
    p = int(state.n_given[0])
    if p >= state.given.shape[1]:
        raise EngineError("session capacity exceeded")
    state.given[0, p] = item
    state.scores[0, p] = score
    state.n_given[0] = p + 1
    state.blocked[0, item] = True
    state.blocked[0] |= bank.enemies[item]
    if not bank.pilot[item]:
        state.n_operational[0] += 1
        state.counts[0, bank.area[item]] += 1
        state.log_post[0] += bank.log_prob[item, score, :]
    state.theta[:], state.se[:] = posterior_moments(state.log_post, bank.nodes)


def should_stop(bank: EngineBank, blueprint: Blueprint, state: CatState) -> BoolArray:
    """Stop: at the maximum length, or past the minimum with the content minima met and SE on target.

    Before ``max_items``, a session stops only when it has ``min_items`` operational items, every
    content area has its minimum, and the posterior SD is at or below ``se_target``.
    """
    n = state.n_operational
    lo = _plan(bank, blueprint).lo
    minima_met = (state.counts >= lo[None, :]).all(axis=1)
    precise = (n >= blueprint.min_items) & minima_met & (state.se <= blueprint.se_target)
    return (n >= blueprint.max_items) | precise


class Initializer(Protocol):
    """Phase 1: a starting ability for each session."""

    def __call__(self, blueprint: Blueprint, grades: IntArray) -> FloatArray:
        """Start abilities of sessions in ``grades``."""
        ...


class Selector(Protocol):
    """Phase 2: the next item of each session."""

    def __call__(self, bank: EngineBank, blueprint: Blueprint, state: CatState, rng: np.random.Generator) -> IntArray:
        """Item index per session, ``-1`` where none is eligible."""
        ...


class Estimator(Protocol):
    """Phase 3: fold new answers into the ability estimates."""

    def __call__(
        self, bank: EngineBank, state: CatState, sessions: IntArray, items: IntArray, scores: IntArray
    ) -> None:
        """Update ``state`` in place."""
        ...


class Stopper(Protocol):
    """Phase 4: which sessions are finished."""

    def __call__(self, bank: EngineBank, blueprint: Blueprint, state: CatState) -> BoolArray:
        """Whether each session is finished."""
        ...
