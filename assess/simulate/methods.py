"""The methods a CAT study sets beside the engine: a linear form, and catsim's maximum-information CAT."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from assess.engine import Blueprint, EngineBank, initial_theta
from scoring.irt import item_information

__all__ = ["assemble_linear_form", "catsim_version", "information_se", "run_catsim"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each stage advances."""


def assemble_linear_form(bank: EngineBank, blueprint: Blueprint, length: int, theta: float) -> IntArray:
    """A fixed form of ``length`` operational items, most informative at ``theta``, content-balanced.

    Greedy assembly (in the spirit of van der Linden's 2005 heuristics): at each step take the
    most informative remaining item whose area is below its maximum, provided the slots left can
    still meet every other area's minimum; enemies of chosen items and pilot items are excluded.
    """
    n_areas = len(bank.areas)
    lo = np.zeros(n_areas, dtype=np.int64)
    hi = np.full(n_areas, length, dtype=np.int64)
    for rule in blueprint.content:
        if rule.area in bank.areas:
            k = bank.areas.index(rule.area)
            lo[k] = rule.min_items
            hi[k] = length if rule.max_items is None else rule.max_items
    g = int(np.clip(np.searchsorted(bank.grid, theta), 0, bank.grid.size - 1))
    info = bank.info[g].copy()
    eligible = ~bank.pilot.copy()
    counts = np.zeros(n_areas, dtype=np.int64)
    form: list[int] = []
    for step in range(length):
        remaining = length - step
        unmet = np.maximum(lo - counts, 0)
        # an item of area k is allowed if k is open and the other minima still fit afterwards
        allowed_area = (counts < hi) & (unmet.sum() - (unmet > 0) <= remaining - 1)
        ok = eligible & allowed_area[bank.area]
        if not ok.any():
            ok = eligible.copy()  # the content rules cannot be met: fill by information alone
        if not ok.any():
            break
        j = int(np.argmax(np.where(ok, info, -np.inf)))
        form.append(j)
        counts[bank.area[j]] += 1
        eligible[j] = False
        eligible &= ~bank.enemies[j]
    return np.array(form, dtype=np.int64)


def run_catsim(
    bank: EngineBank,
    blueprint: Blueprint,
    true_theta: FloatArray,
    grades: IntArray,
    rng: np.random.Generator,
    *,
    pool: IntArray,
    progress: Progress | None,
    chunk: int = 250,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Run catsim's max-info CAT on ``pool``; items in bank indices (``-1`` padded), scores, final MLE."""
    from catsim.estimation import NumericalSearchEstimator
    from catsim.initialization import FixedPointInitializer
    from catsim.item_bank import ItemBank
    from catsim.selection import MaxInfoSelector
    from catsim.simulation import Simulator
    from catsim.stopping import BaseStopper, MinErrorStopper, TestLengthStopper

    p = bank.params
    matrix = np.column_stack([p.a[pool], p.b[pool, 0], p.c[pool], np.ones(pool.size)])
    item_bank = ItemBank(matrix, validate=False)  # validated by ItemParams; catsim's check prints a blank line
    n = true_theta.size
    cap = min(blueprint.max_items, pool.size)
    items = np.full((n, cap), -1, dtype=np.int64)
    scores = np.full((n, cap), -1, dtype=np.int64)
    theta = np.zeros(n)
    starts = initial_theta(blueprint, grades)
    done = 0
    for start in np.unique(starts):
        members = np.nonzero(starts == start)[0]
        for lo in range(0, members.size, chunk):
            idx = members[lo : lo + chunk]
            stopper: BaseStopper
            if blueprint.min_items < blueprint.max_items and blueprint.se_target > 0:
                stopper = MinErrorStopper(blueprint.se_target, min_items=blueprint.min_items, max_items=cap)
            else:
                stopper = TestLengthStopper(min_items=cap, max_items=cap)
            sim = Simulator(item_bank, true_theta[idx], seed=int(rng.integers(2**31)))
            sim.simulate(FixedPointInitializer(float(start)), MaxInfoSelector(), NumericalSearchEstimator(), stopper)
            for row, (given, answers) in enumerate(zip(sim.administered_items, sim.response_vectors, strict=True)):
                k = len(given)
                items[idx[row], :k] = pool[np.asarray(given, dtype=np.int64)]
                scores[idx[row], :k] = np.asarray(answers, dtype=np.int64)
            theta[idx] = np.asarray(sim.latest_estimations, dtype=np.float64)
            done += idx.size
            if progress is not None:
                progress("catsim", done, n)
    return items, scores, theta


def information_se(bank: EngineBank, items: IntArray, theta: FloatArray, *, chunk: int = 2000) -> FloatArray:
    """``1 / sqrt(sum of item information at theta_hat)`` over each session's items (the ML SE)."""
    se = np.empty(theta.size)
    for lo in range(0, theta.size, chunk):
        it = items[lo : lo + chunk]
        info = item_information(bank.params, theta[lo : lo + chunk])  # (rows, n_items)
        rows = np.broadcast_to(np.arange(it.shape[0])[:, None], it.shape)
        ok = it >= 0
        total = np.zeros(it.shape[0])
        np.add.at(total, rows[ok], info[rows[ok], it[ok]])
        with np.errstate(divide="ignore"):
            se[lo : lo + chunk] = 1.0 / np.sqrt(total)
    return se


def catsim_version() -> str:
    """The installed catsim's version, or ``""``."""
    try:
        from importlib.metadata import version

        return version("catsim")
    except Exception:  # noqa: BLE001 - a version string is decoration only
        return ""
