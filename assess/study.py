"""CAT quality, measured: the adaptive engine against a linear form and catsim on the same examinees.

:func:`run_cat_study` simulates a population through the live engine (:mod:`assess.simulation`,
which calls the same phase functions as a live session) and reports, per method:

* conditional bias and RMSE of the ability estimate by band of true ability;
* mean, minimum and maximum test length;
* reliability two ways: ``1 - mean(SE^2) / var(theta_hat)`` (the empirical reliability of the
  estimates, e.g. du Toit 2003; Brown & Croudace 2015) and the squared correlation of
  ``theta_hat`` with the true ability;
* content-constraint attainment: the share of sessions meeting every blueprint minimum and maximum;
* item exposure (Chang & Ying 1999; Chen, Ankenmann & Spray 2003): the largest exposure rate, the
  share of the pool never used, the chi-square of the exposure rates
  ``chi2 = sum_j (r_j - L/N)^2 / (L/N)`` (``L`` the mean test length, ``N`` the pool size) and the
  mean test overlap rate ``T = (N/L) var(r) + L/N``.

The methods compared, on the same simulated examinees in the same run:

``engine CAT``
    The InfoLit engine with the blueprint's content balancing and exposure control, EAP scoring.
``linear form``
    A fixed form of the CAT's average length: the most informative items at the population mean,
    assembled greedily under the blueprint's content minima and maxima (and enemy rules), scored
    with EAP on the engine's quadrature and prior.
``catsim max-info``
    catsim's maximum-information CAT (``MaxInfoSelector``, ``NumericalSearchEstimator`` — ML with
    Dodd's heuristic for constant response patterns — and ``MinErrorStopper`` or
    ``TestLengthStopper``), on the dichotomous operational items only (catsim handles no
    partial-credit items), with no content balancing or exposure control. Its SE is
    ``1 / sqrt(I(theta_hat))``.
``catsim items, EAP``
    catsim's administered items and responses rescored with the engine's EAP, which separates
    the effect of item selection from that of the estimator.

Every IRT number comes from :mod:`scoring.irt`; the engine bank's cached arrays are reused.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from assess.engine import Blueprint, ContentRule, EngineBank, initial_theta, posterior_moments
from assess.simulation import draw_scores, simulate_sessions
from scoring.irt import item_information, log_likelihood_grid
from scoring.params import ItemParams

__all__ = [
    "GRADE_MEANS",
    "BankFiles",
    "CatStudy",
    "ExposureStats",
    "MethodResult",
    "assemble_linear_form",
    "build_engine_bank",
    "calibrate_exposure_by_grade",
    "content_attainment",
    "default_bank_dir",
    "draw_population",
    "exposure_stats",
    "format_study",
    "load_bank_files",
    "run_cat_study",
    "score_eap",
    "study_blueprint",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each stage advances."""

GRADE_MEANS: dict[int, float] = {4: -1.0, 6: -0.4, 8: 0.0, 11: 0.6}
"""Mean ability by grade on the bank's vertical scale (docs/item-format.md), SD about 1 within a grade."""

_POOL_STATUSES = ("operational", "pilot")


# ---------------------------------------------------------------------------------------------- bank files
class BankFiles(NamedTuple):
    """What the starter bank files give the engine: parameters, content areas, enemies, pilots."""

    params: ItemParams
    areas: tuple[str, ...]
    enemies: tuple[tuple[str, str], ...]
    pilot: tuple[str, ...]


def default_bank_dir() -> Path:
    """The shipped starter bank, ``itembank/bank``."""
    return Path(__file__).resolve().parents[1] / "itembank" / "bank"


def load_bank_files(paths: Iterable[str | Path]) -> BankFiles:
    """Read item-bank JSON files (docs/item-format.md) into the engine's inputs.

    Operational and pilot items are kept (drafts and retired items are not in the pool); an
    item's content area is its dimension, the part of its ``indicator`` before the dot
    (``D2.3`` -> ``D2``). A directory stands for its ``d*.json`` files.

    Raises
    ------
    ValueError
        If a file is not an item-bank file or an item lacks its code, indicator or parameters.
    """
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        files.extend(sorted(path.glob("d*.json")) if path.is_dir() else [path])
    if not files:
        raise ValueError("no item-bank files given")
    rows: list[dict[str, Any]] = []
    areas: list[str] = []
    enemies: list[tuple[str, str]] = []
    pilot: list[str] = []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ValueError(f"{path}: not an item-bank file (no 'items' list)")
        for n, item in enumerate(data["items"]):
            where = f"{path.name}: items[{n}]"
            if not isinstance(item, dict):
                raise ValueError(f"{where}: not an object")
            code, indicator, params = item.get("code"), item.get("indicator"), item.get("params")
            if not isinstance(code, str) or not isinstance(indicator, str) or not isinstance(params, dict):
                raise ValueError(f"{where}: needs 'code', 'indicator' and 'params'")
            if item.get("status", "operational") not in _POOL_STATUSES:
                continue
            b = params.get("b")
            thresholds = b if isinstance(b, list) else [b]
            row: dict[str, Any] = {"item": code, "model": params.get("model"), "a": params.get("a")}
            row.update({f"b{k + 1}": v for k, v in enumerate(thresholds)})
            row["c"] = params.get("c", 0.0)
            rows.append(row)
            areas.append(indicator.split(".")[0])
            enemies.extend((code, str(e)) for e in item.get("enemies") or ())
            if item.get("status") == "pilot":
                pilot.append(code)
    if not rows:
        raise ValueError("the bank files hold no operational or pilot items")
    return BankFiles(ItemParams.from_rows(rows), tuple(areas), tuple(enemies), tuple(pilot))


def build_engine_bank(files: BankFiles) -> EngineBank:
    """The engine's bank for loaded bank files."""
    return EngineBank.build(files.params, files.areas, enemies=files.enemies, pilot=files.pilot)


# ---------------------------------------------------------------------------------------------- design
def study_blueprint(
    areas: Sequence[str],
    *,
    length: int = 30,
    min_length: int | None = None,
    se_target: float = 0.3,
    randomesque_k: int = 1,
    sympson_hetter: bool = False,
    grades: Iterable[int] = (),
) -> Blueprint:
    """A blueprint balanced over the content ``areas``, with start abilities by grade.

    Each area gets at least ``min_length // n - 1`` and at most ``ceil(length / n) + 1`` items and
    an equal target share. The minima add up to at most ``min_length``, so a session that stops early on precision can
    still meet them (the engine's stop rule does not look at content).
    """
    names = sorted(set(areas))
    n = len(names)
    lo_len = length if min_length is None else min_length
    lo = max(0, lo_len // n - 1)
    hi = min(length, math.ceil(length / n) + 1)
    rules = tuple(ContentRule(a, min_items=lo, max_items=hi) for a in names)
    start = tuple(sorted((int(g), GRADE_MEANS.get(int(g), 0.0)) for g in set(grades)))
    return Blueprint(
        min_items=lo_len,
        max_items=length,
        se_target=se_target,
        content=rules,
        randomesque_k=randomesque_k,
        sympson_hetter=sympson_hetter,
        start_theta=start,
    )


def draw_population(
    n: int, rng: np.random.Generator, *, grades: Sequence[int] = (4, 8), sd: float = 1.0
) -> tuple[FloatArray, IntArray]:
    """True abilities and grades of ``n`` examinees, in equal shares of ``grades``.

    Each grade is normal around its :data:`GRADE_MEANS` value with standard deviation ``sd``.
    """
    if n < 1 or not grades:
        raise ValueError("need at least one examinee and one grade")
    unknown = [g for g in grades if g not in GRADE_MEANS]
    if unknown:
        raise ValueError(f"no mean ability for grade(s) {unknown}; known: {sorted(GRADE_MEANS)}")
    g = np.asarray(grades, dtype=np.int64)[rng.integers(0, len(grades), n)]
    means = np.array([GRADE_MEANS[int(x)] for x in g])
    return means + sd * rng.standard_normal(n), g


# ---------------------------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class ExposureStats:
    """Item exposure over a method's pool of ``pool_size`` operational items.

    Attributes
    ----------
    rates
        Exposure rate of each pool item: sessions that got it / sessions.
    max_rate
        The largest rate.
    never_used
        Share of the pool no session got.
    chi_square
        ``sum_j (r_j - L/N)^2 / (L/N)`` (Chang & Ying 1999; Chen, Ankenmann & Spray 2003): 0 when
        every item is used equally, larger as exposure concentrates.
    overlap
        Mean share of items two random sessions have in common, ``(N/L) var(r) + L/N``
        (Chen, Ankenmann & Spray 2003, eq. 8).
    """

    rates: FloatArray
    pool_size: int
    max_rate: float
    never_used: float
    chi_square: float
    overlap: float


@dataclass(frozen=True, eq=False)
class MethodResult:
    """How one method measured its examinees.

    ``band_*`` arrays hold one value per band of true ability (``nan`` for an empty band);
    ``seconds`` is the wall time of the method's simulation and scoring, ``cpu_seconds`` the CPU
    time of this process over the same span (all threads; on a shared machine it is the steadier
    figure).
    """

    name: str
    true_theta: FloatArray
    theta: FloatArray
    se: FloatArray
    lengths: IntArray
    band_n: IntArray
    band_bias: FloatArray
    band_rmse: FloatArray
    bias: float
    rmse: float
    length_mean: float
    length_min: int
    length_max: int
    reliability: float
    squared_correlation: float
    content_attainment: float
    exposure: ExposureStats
    seconds: float
    cpu_seconds: float
    note: str = ""

    @property
    def n_examinees(self) -> int:
        """Number of examinees the method tested."""
        return int(self.true_theta.size)

    @property
    def ms_per_examinee(self) -> float:
        """Wall time per examinee in milliseconds."""
        return 1000.0 * self.seconds / max(self.n_examinees, 1)


@dataclass(frozen=True, eq=False)
class CatStudy:
    """A CAT study: the engine, a linear form and (optionally) catsim on one population.

    Attributes
    ----------
    band_edges
        ``n_bands + 1`` edges of the true-ability bands (the outer two are infinite).
    cat, linear, catsim, catsim_eap
        One :class:`MethodResult` each; the catsim ones are ``None`` when catsim was not run.
    exposure_parameters
        The Sympson-Hetter parameters the engine ran with (all 1 without exposure control), one
        per bank item; calibrated here when ``exposure_target`` was given.
    calibration_seconds
        Time spent calibrating Sympson-Hetter parameters before the run (0 if none).
    notes
        Caveats to print under the table.
    """

    blueprint: Blueprint
    n_examinees: int
    bank_size: int
    band_edges: FloatArray
    cat: MethodResult
    linear: MethodResult
    catsim: MethodResult | None
    catsim_eap: MethodResult | None
    exposure_parameters: FloatArray
    calibration_seconds: float
    notes: tuple[str, ...]

    @property
    def methods(self) -> tuple[MethodResult, ...]:
        """The methods that ran, in table order."""
        out = [self.cat, self.linear]
        out += [m for m in (self.catsim, self.catsim_eap) if m is not None]
        return tuple(out)


# ---------------------------------------------------------------------------------------------- statistics
def exposure_stats(counts: npt.ArrayLike, n_sessions: int) -> ExposureStats:
    """Exposure statistics from ``counts[j]``, the number of sessions that got pool item ``j``."""
    c = np.asarray(counts, dtype=np.float64)
    n_pool = c.size
    rates = c / max(n_sessions, 1)
    mean_len = float(rates.sum())
    expected = mean_len / n_pool if n_pool else 0.0
    chi2 = float(((rates - expected) ** 2).sum() / expected) if expected > 0 else math.nan
    overlap = float(n_pool / mean_len * rates.var() + expected) if mean_len > 0 else math.nan
    rates.setflags(write=False)
    return ExposureStats(
        rates=rates,
        pool_size=n_pool,
        max_rate=float(rates.max()) if n_pool else math.nan,
        never_used=float((c == 0).mean()) if n_pool else math.nan,
        chi_square=chi2,
        overlap=overlap,
    )


def _area_counts(bank: EngineBank, items: IntArray) -> IntArray:
    """Operational items per content area of each session (``items`` is ``-1`` padded)."""
    ok = items >= 0
    safe = np.maximum(items, 0)
    ok &= ~bank.pilot[safe]
    n_areas = len(bank.areas)
    rows = np.broadcast_to(np.arange(items.shape[0])[:, None], items.shape)
    counts = np.zeros((items.shape[0], n_areas), dtype=np.int64)
    np.add.at(counts, (rows[ok], bank.area[safe[ok]]), 1)
    return counts


def content_attainment(bank: EngineBank, blueprint: Blueprint, items: IntArray) -> float:
    """Share of sessions whose operational items meet every content minimum and maximum.

    ``nan`` when the blueprint has no content rule on the bank's areas.
    """
    rules = [r for r in blueprint.content if r.area in bank.areas]
    if not rules:
        return math.nan
    counts = _area_counts(bank, np.atleast_2d(items))
    ok = np.ones(counts.shape[0], dtype=bool)
    for rule in rules:
        k = bank.areas.index(rule.area)
        ok &= counts[:, k] >= rule.min_items
        if rule.max_items is not None:
            ok &= counts[:, k] <= rule.max_items
    return float(ok.mean())


def score_eap(
    bank: EngineBank, items: IntArray, scores: IntArray, *, chunk: int = 4000
) -> tuple[FloatArray, FloatArray]:
    """EAP estimates and posterior SDs (Bock & Mislevy 1982) of response patterns.

    ``items[s, t]`` is the ``t``-th item of pattern ``s`` (``-1`` padded) and ``scores`` its score;
    pilot items are ignored. The likelihood comes from :func:`scoring.irt.log_likelihood_grid` on
    the engine's quadrature nodes, with the engine's standard-normal prior, so the estimates are
    on the same footing as the engine's own.
    """
    items = np.atleast_2d(np.asarray(items, dtype=np.int64))
    scores = np.atleast_2d(np.asarray(scores, dtype=np.int64))
    n = items.shape[0]
    theta = np.empty(n)
    se = np.empty(n)
    used = np.unique(items[(items >= 0)])
    used = used[~bank.pilot[used]]
    params = bank.params.subset(used)
    column = np.full(bank.n_items, -1, dtype=np.int64)
    column[used] = np.arange(used.size)
    for start in range(0, n, chunk):
        it = items[start : start + chunk]
        sc = scores[start : start + chunk]
        x = np.full((it.shape[0], used.size), np.nan)
        ok = (it >= 0) & (column[np.maximum(it, 0)] >= 0)
        rows = np.broadcast_to(np.arange(it.shape[0])[:, None], it.shape)
        x[rows[ok], column[it[ok]]] = sc[ok]
        lp = log_likelihood_grid(x, params, bank.nodes) + bank.log_prior[None, :]
        theta[start : start + chunk], se[start : start + chunk] = posterior_moments(lp, bank.nodes)
    return theta, se


def _band_edges(population: FloatArray, n_bands: int) -> FloatArray:
    """Band edges at the population mean plus multiples of its SD (0.75 SD apart for 8 bands)."""
    if n_bands < 2:
        raise ValueError("need at least two ability bands")
    mean, sd = float(population.mean()), float(population.std()) or 1.0
    inner = np.linspace(-2.25, 2.25, n_bands - 1) if n_bands > 2 else np.zeros(1)
    return np.concatenate([[-np.inf], mean + sd * inner, [np.inf]])


def _method_result(
    name: str,
    *,
    bank: EngineBank,
    blueprint: Blueprint,
    edges: FloatArray,
    true_theta: FloatArray,
    theta: FloatArray,
    se: FloatArray,
    items: IntArray,
    pool: IntArray,
    timing: tuple[float, float],
    note: str = "",
) -> MethodResult:
    ok = items >= 0
    operational = ok & ~bank.pilot[np.maximum(items, 0)]
    lengths = operational.sum(axis=1).astype(np.int64)
    err = theta - true_theta
    band = np.searchsorted(edges, true_theta, side="right") - 1
    n_bands = edges.size - 1
    band_n = np.bincount(band, minlength=n_bands).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        band_bias = np.bincount(band, weights=err, minlength=n_bands) / band_n
        band_rmse = np.sqrt(np.bincount(band, weights=err**2, minlength=n_bands) / band_n)
    counts = np.bincount(items[operational], minlength=bank.n_items)[pool]
    var_hat = float(theta.var())
    reliability = 1.0 - float(np.mean(se**2)) / var_hat if var_hat > 0 else math.nan
    r2 = float(np.corrcoef(theta, true_theta)[0, 1] ** 2) if theta.size > 1 and var_hat > 0 else math.nan
    return MethodResult(
        name=name,
        true_theta=true_theta,
        theta=theta,
        se=se,
        lengths=lengths,
        band_n=band_n,
        band_bias=band_bias,
        band_rmse=band_rmse,
        bias=float(err.mean()),
        rmse=float(np.sqrt(np.mean(err**2))),
        length_mean=float(lengths.mean()),
        length_min=int(lengths.min()),
        length_max=int(lengths.max()),
        reliability=reliability,
        squared_correlation=r2,
        content_attainment=content_attainment(bank, blueprint, items),
        exposure=exposure_stats(counts, true_theta.size),
        seconds=timing[0],
        cpu_seconds=timing[1],
        note=note,
    )


# ---------------------------------------------------------------------------------------------- methods
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


def calibrate_exposure_by_grade(
    bank: EngineBank,
    blueprint: Blueprint,
    population: FloatArray,
    grades: IntArray,
    rng: np.random.Generator,
    *,
    target: float,
    iterations: int,
    progress: Progress | None,
) -> EngineBank:
    """Sympson-Hetter (1985) parameters by the classic iteration, as in :func:`assess.simulation.calibrate_exposure`.

    ``K_j = target / P(S_j)`` where ``P(S_j) > target``, else 1, with the selection rate estimated
    from administrations, ``P(S_j) = P(A_j) / K_j`` (Sympson & Hetter 1985: ``P(A) = P(S) K``).
    Repeated here so that the calibration sample keeps its grades (start abilities), progress is
    reported, and ``SimulatedSessions.considered`` is not used: with randomesque ``k > 1`` it counts
    an item once per step it is passed over, so its "P(S)" exceeds 1 and over-controls exposure.
    """
    bp = dataclasses.replace(blueprint, sympson_hetter=True)
    current = bank.with_exposure(np.ones(bank.n_items))
    if progress is not None:
        progress("exposure calibration", 0, iterations)
    for it in range(iterations):
        sim = simulate_sessions(current, bp, population, rng, grades=grades)
        given = sim.items[sim.items >= 0]
        p_adm = np.bincount(given, minlength=bank.n_items) / population.size
        p_sel = p_adm / np.maximum(current.exposure, 1e-6)
        current = current.with_exposure(np.where(p_sel > target, target / np.maximum(p_sel, 1e-12), 1.0))
        if progress is not None:
            progress("exposure calibration", it + 1, iterations)
    return current


def _run_catsim(
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


def _info_se(bank: EngineBank, items: IntArray, theta: FloatArray, *, chunk: int = 2000) -> FloatArray:
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


def run_cat_study(
    bank: EngineBank,
    blueprint: Blueprint,
    population: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    grades: npt.ArrayLike | None = None,
    n_bands: int = 8,
    exposure_target: float | None = None,
    calibration_examinees: int = 4000,
    calibration_iterations: int = 8,
    catsim_examinees: int | None = 2000,
    chunk_size: int | None = None,
    progress: Progress | None = None,
) -> CatStudy:
    """Simulate ``population`` through the engine, a linear form and catsim; measure each.

    Parameters
    ----------
    bank, blueprint
        The engine's bank and the adaptive blueprint under study.
    population
        True abilities of the simulated examinees.
    rng
        The one source of randomness; each stage gets its own child stream (``rng.spawn``), so a
        stage's numbers do not depend on whether another stage ran.
    grades
        Grade of each examinee (the blueprint's start rule); default: all start at
        ``blueprint.default_start``.
    n_bands
        Bands of true ability for conditional bias and RMSE.
    exposure_target
        If given, calibrate Sympson-Hetter parameters for this maximum exposure rate on
        ``calibration_examinees`` examinees resampled from ``population`` and run with them.
        Otherwise the bank's own exposure parameters are used when the blueprint asks for
        Sympson-Hetter.
    catsim_examinees
        Run catsim on the first this many examinees (``None``: all; 0: not at all). catsim runs
        one examinee at a time in Python, about 10 ms each.
    chunk_size
        Simulate the engine's sessions in batches of this many (for progress); default one batch.
    progress
        ``progress(stage, done, total)`` after each step of each stage.
    """
    theta_true = np.asarray(population, dtype=np.float64).reshape(-1)
    n = theta_true.size
    if n < 2:
        raise ValueError("need at least two examinees")
    grade_arr = np.zeros(n, dtype=np.int64) if grades is None else np.asarray(grades, dtype=np.int64).reshape(-1)
    if grade_arr.size != n:
        raise ValueError("one grade per examinee is needed")
    cal_rng, cat_rng, lin_rng, cs_rng = rng.spawn(4)
    edges = _band_edges(theta_true, n_bands)
    notes: list[str] = []
    operational = np.nonzero(~bank.pilot)[0]

    # -- Sympson-Hetter calibration
    bp = blueprint
    calibration_seconds = 0.0
    if exposure_target is not None:
        bp = dataclasses.replace(blueprint, sympson_hetter=True)
        t0 = _clock()
        pick = cal_rng.choice(n, size=min(n, calibration_examinees), replace=n < calibration_examinees)
        bank = calibrate_exposure_by_grade(
            bank,
            bp,
            theta_true[pick],
            grade_arr[pick],
            cal_rng,
            target=exposure_target,
            iterations=calibration_iterations,
            progress=progress,
        )
        calibration_seconds = _since(t0)[0]
        notes.append(
            f"Sympson-Hetter parameters calibrated for a target exposure of {exposure_target:g} on "
            f"{pick.size} resampled examinees, {calibration_iterations} iterations "
            f"({calibration_seconds:.1f} s, not counted in the CAT time)."
        )

    # -- the engine
    step = n if not chunk_size else max(1, chunk_size)
    if progress is not None:
        progress("adaptive sessions", 0, n)
    t0 = _clock()
    parts = []
    for lo in range(0, n, step):
        parts.append(simulate_sessions(bank, bp, theta_true[lo : lo + step], cat_rng, grades=grade_arr[lo : lo + step]))
        if progress is not None:
            progress("adaptive sessions", min(lo + step, n), n)
    cat_timing = _since(t0)
    width = max(p.items.shape[1] for p in parts)
    cat_items = np.full((n, width), -1, dtype=np.int64)
    row = 0
    for part in parts:
        cat_items[row : row + part.items.shape[0], : part.items.shape[1]] = part.items
        row += part.items.shape[0]
    cat = _method_result(
        "engine CAT",
        bank=bank,
        blueprint=bp,
        edges=edges,
        true_theta=theta_true,
        theta=np.concatenate([p.theta for p in parts]),
        se=np.concatenate([p.se for p in parts]),
        items=cat_items,
        pool=operational,
        timing=cat_timing,
        note=_engine_note(bp),
    )

    # -- the linear form of the CAT's average length
    t0 = _clock()
    length = max(1, round(cat.length_mean))
    form = assemble_linear_form(bank, bp, length, float(theta_true.mean()))
    lin_items = np.broadcast_to(form[None, :], (n, form.size))
    lin_scores = np.empty((n, form.size), dtype=np.int64)
    lstep = max(1, 200_000 // max(form.size, 1))
    if progress is not None:
        progress("linear form", 0, n)
    for lo in range(0, n, lstep):
        hi = min(lo + lstep, n)
        flat = np.broadcast_to(form[None, :], (hi - lo, form.size)).reshape(-1)
        lin_scores[lo:hi] = draw_scores(bank, flat, np.repeat(theta_true[lo:hi], form.size), lin_rng).reshape(
            hi - lo, form.size
        )
        if progress is not None:
            progress("linear form", hi, n)
    lin_theta, lin_se = score_eap(bank, lin_items, lin_scores)
    linear = _method_result(
        "linear form",
        bank=bank,
        blueprint=bp,
        edges=edges,
        true_theta=theta_true,
        theta=lin_theta,
        se=lin_se,
        items=np.ascontiguousarray(lin_items),
        pool=operational,
        timing=_since(t0),
        note=f"{form.size} items most informative at the population mean {theta_true.mean():+.2f}, EAP",
    )

    # -- catsim
    catsim_res: MethodResult | None = None
    catsim_eap: MethodResult | None = None
    m = n if catsim_examinees is None else min(max(catsim_examinees, 0), n)
    pool = np.nonzero(~bank.pilot & (bank.params.max_scores == 1))[0]
    if m > 0 and pool.size == 0:
        notes.append("catsim not run: the bank has no dichotomous operational items.")
    elif m > 0:
        if progress is not None:
            progress("catsim", 0, m)
        try:  # imported before the clock starts: catsim's import alone takes seconds
            import catsim.simulation  # noqa: F401
        except ImportError:
            notes.append("catsim not run: it is not installed (pip install catsim).")
        else:
            t0 = _clock()
            cs_items, cs_scores, cs_theta = _run_catsim(
                bank, bp, theta_true[:m], grade_arr[:m], cs_rng, pool=pool, progress=progress
            )
            cs_timing = _since(t0)
            sub = theta_true[:m]
            catsim_res = _method_result(
                "catsim max-info",
                bank=bank,
                blueprint=bp,
                edges=edges,
                true_theta=sub,
                theta=cs_theta,
                se=_info_se(bank, cs_items, cs_theta),
                items=cs_items,
                pool=pool,
                timing=cs_timing,
                note="ML (Dodd's heuristic for all-0/all-1), SE = 1/sqrt(I)",
            )
            t0 = _clock()
            eap_theta, eap_se = score_eap(bank, cs_items, cs_scores)
            catsim_eap = _method_result(
                "catsim items, EAP",
                bank=bank,
                blueprint=bp,
                edges=edges,
                true_theta=sub,
                theta=eap_theta,
                se=eap_se,
                items=cs_items,
                pool=pool,
                timing=_since(t0),
                note="catsim's items and answers rescored with EAP",
            )
            notes.append(
                f"catsim {_catsim_version()} gets only the {pool.size} dichotomous operational items of "
                f"the {operational.size} (it has no partial-credit models), no content balancing and no "
                f"exposure control; it ran on the first {m} of the {n} examinees, with its own answer draws."
            )
    return CatStudy(
        blueprint=bp,
        n_examinees=n,
        bank_size=int(operational.size),
        band_edges=edges,
        cat=cat,
        linear=linear,
        catsim=catsim_res,
        catsim_eap=catsim_eap,
        exposure_parameters=bank.exposure,
        calibration_seconds=calibration_seconds,
        notes=tuple(notes),
    )


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since ``start`` (from :func:`_clock`)."""
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _engine_note(bp: Blueprint) -> str:
    parts = ["content balancing" if bp.content else "no content rules"]
    if bp.randomesque_k > 1:
        parts.append(f"randomesque k={bp.randomesque_k}")
    if bp.sympson_hetter:
        parts.append("Sympson-Hetter")
    return ", ".join(parts) + ", EAP"


def _catsim_version() -> str:
    try:
        from importlib.metadata import version

        return version("catsim")
    except Exception:  # noqa: BLE001 - a version string is decoration only
        return ""


# ---------------------------------------------------------------------------------------------- text
def _fmt(x: float, spec: str) -> str:
    return "-" if not np.isfinite(x) else format(x, spec)


def format_study(study: CatStudy) -> str:
    """The study as plain-text tables: one summary line per method, then bias/RMSE by ability band."""
    bp = study.blueprint
    lines = [
        f"CAT study: {study.n_examinees} examinees, pool of {study.bank_size} operational items",
        f"blueprint: {bp.min_items}-{bp.max_items} items, SE stop {bp.se_target:g}, "
        f"{len(bp.content)} content rules, randomesque k={bp.randomesque_k}, "
        f"Sympson-Hetter {'on' if bp.sympson_hetter else 'off'}",
        "",
    ]
    head = (
        f"{'method':<19}{'N':>7}{'pool':>6}{'length':>14}{'bias':>8}{'RMSE':>7}{'rel':>7}{'r^2':>7}"
        f"{'content':>9}{'maxexp':>8}{'unused':>8}{'chi2':>9}{'overlap':>8}{'time s':>8}{'ms/ex':>8}"
    )
    lines += [head, "-" * len(head)]
    for m in study.methods:
        e = m.exposure
        length = f"{m.length_mean:.1f} [{m.length_min}-{m.length_max}]"
        lines.append(
            f"{m.name:<19}{m.n_examinees:>7}{e.pool_size:>6}{length:>14}{_fmt(m.bias, '+.3f'):>8}"
            f"{_fmt(m.rmse, '.3f'):>7}{_fmt(m.reliability, '.3f'):>7}{_fmt(m.squared_correlation, '.3f'):>7}"
            f"{_fmt(100 * m.content_attainment, '.1f'):>8}%{_fmt(e.max_rate, '.3f'):>8}"
            f"{_fmt(100 * e.never_used, '.1f'):>7}%{_fmt(e.chi_square, '.1f'):>9}{_fmt(e.overlap, '.3f'):>8}"
            f"{m.seconds:>8.2f}{m.ms_per_examinee:>8.3f}"
        )
    lines.append("")
    lines.append("conditional bias / RMSE by band of true theta")
    band_head = f"{'true theta':<17}" + "".join(f"{m.name:>22}" for m in study.methods)
    sub_head = f"{'':<17}" + "".join(f"{'n':>6}{'bias':>8}{'RMSE':>8}" for _ in study.methods)
    lines += [band_head, sub_head, "-" * len(band_head)]
    edges = study.band_edges
    for b in range(edges.size - 1):
        lo = "   -inf" if not np.isfinite(edges[b]) else f"{edges[b]:+7.2f}"
        hi = "+inf" if not np.isfinite(edges[b + 1]) else f"{edges[b + 1]:+.2f}"
        row = f"{lo} .. {hi:<6}"
        row = f"{row:<17}"
        for m in study.methods:
            row += (
                f"{int(m.band_n[b]):>6}{_fmt(float(m.band_bias[b]), '+.3f'):>8}{_fmt(float(m.band_rmse[b]), '.3f'):>8}"
            )
        lines.append(row)
    lines.append("")
    lines.append(
        "rel = 1 - mean(SE^2)/var(theta_hat); r^2 = squared correlation with true theta; content = sessions "
        "meeting every min/max; maxexp/unused/chi2/overlap = item exposure over the method's pool "
        "(Chang & Ying 1999; Chen, Ankenmann & Spray 2003)."
    )
    for m in study.methods:
        if m.note:
            lines.append(f"{m.name}: {m.note}")
    lines.extend(study.notes)
    return "\n".join(lines)
