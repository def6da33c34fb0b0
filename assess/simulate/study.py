"""CAT quality, measured: the adaptive engine against a linear form and catsim on the same examinees.

:func:`run_cat_study` simulates a population through the live engine (:mod:`assess.simulate.adaptive`,
which calls the same phase functions as a live session) and reports, per method
(:mod:`assess.simulate.measures`):

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

Every IRT number comes from :mod:`scoring.irt`; the engine bank's cached arrays are reused. The
methods beside the engine are in :mod:`assess.simulate.methods`; the table and the plot are drawn
by :mod:`reports.render_text` and :mod:`reports.render_plot`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.engine import Blueprint, ContentRule, EngineBank
from assess.examinees import draw_scores
from assess.exceptions import SimulationError
from assess.exposure import calibrate_exposure
from assess.simulate.adaptive import simulate_sessions
from assess.simulate.measures import MethodResult, band_edges, measure_method, score_eap
from assess.simulate.methods import assemble_linear_form, catsim_version, information_se, run_catsim
from assess.simulate.population import GRADE_MEANS

__all__ = ["CatStudy", "run_cat_study", "study_blueprint"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: called as each stage advances."""


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


@dataclass(frozen=True, eq=False)
class _Run:
    """What every stage of a study shares: the examinees, their bands and the operational pool."""

    bank: EngineBank
    blueprint: Blueprint
    theta: FloatArray
    grades: IntArray
    edges: FloatArray
    operational: IntArray
    progress: Progress | None

    def tell(self, stage: str, done: int, total: int) -> None:
        """Report progress, if anyone listens."""
        if self.progress is not None:
            self.progress(stage, done, total)

    def measure(
        self,
        name: str,
        theta: FloatArray,
        se: FloatArray,
        items: IntArray,
        timing: tuple[float, float],
        note: str,
        *,
        pool: IntArray | None = None,
    ) -> MethodResult:
        """:func:`~assess.simulate.measures.measure_method` for the first ``len(theta)`` examinees.

        ``pool`` defaults to the operational items.
        """
        return measure_method(
            name,
            bank=self.bank,
            blueprint=self.blueprint,
            edges=self.edges,
            true_theta=self.theta[: theta.size],
            theta=theta,
            se=se,
            items=items,
            pool=self.operational if pool is None else pool,
            timing=timing,
            note=note,
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


def _run_engine(run: _Run, rng: np.random.Generator, chunk_size: int | None) -> MethodResult:
    """The engine's adaptive sessions, in batches of ``chunk_size`` (default one batch)."""
    n = run.theta.size
    step = n if not chunk_size else max(1, chunk_size)
    run.tell("adaptive sessions", 0, n)
    t0 = _clock()
    parts = []
    for lo in range(0, n, step):
        parts.append(
            simulate_sessions(
                run.bank, run.blueprint, run.theta[lo : lo + step], rng, grades=run.grades[lo : lo + step]
            )
        )
        run.tell("adaptive sessions", min(lo + step, n), n)
    timing = _since(t0)
    width = max(p.items.shape[1] for p in parts)
    items = np.full((n, width), -1, dtype=np.int64)
    row = 0
    for part in parts:
        items[row : row + part.items.shape[0], : part.items.shape[1]] = part.items
        row += part.items.shape[0]
    theta = np.concatenate([p.theta for p in parts])
    se = np.concatenate([p.se for p in parts])
    return run.measure("engine CAT", theta, se, items, timing, _engine_note(run.blueprint))


def _run_linear(run: _Run, rng: np.random.Generator, length_mean: float) -> MethodResult:
    """A linear form of the CAT's average length, most informative at the population mean, scored by EAP."""
    n = run.theta.size
    t0 = _clock()
    length = max(1, round(length_mean))
    form = assemble_linear_form(run.bank, run.blueprint, length, float(run.theta.mean()))
    lin_items = np.broadcast_to(form[None, :], (n, form.size))
    lin_scores = np.empty((n, form.size), dtype=np.int64)
    lstep = max(1, 200_000 // max(form.size, 1))
    run.tell("linear form", 0, n)
    for lo in range(0, n, lstep):
        hi = min(lo + lstep, n)
        flat = np.broadcast_to(form[None, :], (hi - lo, form.size)).reshape(-1)
        lin_scores[lo:hi] = draw_scores(run.bank, flat, np.repeat(run.theta[lo:hi], form.size), rng).reshape(
            hi - lo, form.size
        )
        run.tell("linear form", hi, n)
    lin_theta, lin_se = score_eap(run.bank, lin_items, lin_scores)
    note = f"{form.size} items most informative at the population mean {run.theta.mean():+.2f}, EAP"
    return run.measure("linear form", lin_theta, lin_se, np.ascontiguousarray(lin_items), _since(t0), note)


def _run_catsim_methods(
    run: _Run, rng: np.random.Generator, m: int, notes: list[str]
) -> tuple[MethodResult | None, MethodResult | None]:
    """Catsim's max-info CAT on the first ``m`` examinees, and its items rescored with EAP (``None`` if not run)."""
    pool = np.nonzero(~run.bank.pilot & (run.bank.params.max_scores == 1))[0]
    if m > 0 and pool.size == 0:
        notes.append("catsim not run: the bank has no dichotomous operational items.")
        return None, None
    if m <= 0:
        return None, None
    run.tell("catsim", 0, m)
    try:  # imported before the clock starts: catsim's import alone takes seconds
        import catsim.simulation  # noqa: F401
    except ImportError:
        notes.append("catsim not run: it is not installed (pip install catsim).")
        return None, None
    t0 = _clock()
    cs_items, cs_scores, cs_theta = run_catsim(
        run.bank, run.blueprint, run.theta[:m], run.grades[:m], rng, pool=pool, progress=run.progress
    )
    cs_timing = _since(t0)
    cs_se = information_se(run.bank, cs_items, cs_theta)
    cs_note = "ML (Dodd's heuristic for all-0/all-1), SE = 1/sqrt(I)"
    catsim_res = run.measure("catsim max-info", cs_theta, cs_se, cs_items, cs_timing, cs_note, pool=pool)
    t0 = _clock()
    eap_theta, eap_se = score_eap(run.bank, cs_items, cs_scores)
    eap_note = "catsim's items and answers rescored with EAP"
    catsim_eap = run.measure("catsim items, EAP", eap_theta, eap_se, cs_items, _since(t0), eap_note, pool=pool)
    notes.append(
        f"catsim {catsim_version()} gets only the {pool.size} dichotomous operational items of "
        f"the {run.operational.size} (it has no partial-credit models), no content balancing and no "
        f"exposure control; it ran on the first {m} of the {run.theta.size} examinees, with its own answer draws."
    )
    return catsim_res, catsim_eap


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

    Raises
    ------
    SimulationError
        Fewer than two examinees, a grade count that does not match, or fewer than two bands.
    """
    theta_true = np.asarray(population, dtype=np.float64).reshape(-1)
    n = theta_true.size
    if n < 2:
        raise SimulationError("need at least two examinees")
    grade_arr = np.zeros(n, dtype=np.int64) if grades is None else np.asarray(grades, dtype=np.int64).reshape(-1)
    if grade_arr.size != n:
        raise SimulationError("one grade per examinee is needed")
    cal_rng, cat_rng, lin_rng, cs_rng = rng.spawn(4)
    edges = band_edges(theta_true, n_bands)
    notes: list[str] = []

    bp = blueprint
    calibration_seconds = 0.0
    if exposure_target is not None:  # Sympson-Hetter parameters for this bank and these examinees
        bp = dataclasses.replace(blueprint, sympson_hetter=True)
        t0 = _clock()
        pick = cal_rng.choice(n, size=min(n, calibration_examinees), replace=n < calibration_examinees)
        bank = calibrate_exposure(
            bank,
            bp,
            theta_true[pick],
            cal_rng,
            grades=grade_arr[pick],
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
    run = _Run(bank, bp, theta_true, grade_arr, edges, np.nonzero(~bank.pilot)[0], progress)
    cat = _run_engine(run, cat_rng, chunk_size)
    linear = _run_linear(run, lin_rng, cat.length_mean)
    m = n if catsim_examinees is None else min(max(catsim_examinees, 0), n)
    catsim_res, catsim_eap = _run_catsim_methods(run, cs_rng, m, notes)
    return CatStudy(
        blueprint=bp,
        n_examinees=n,
        bank_size=int(run.operational.size),
        band_edges=edges,
        cat=cat,
        linear=linear,
        catsim=catsim_res,
        catsim_eap=catsim_eap,
        exposure_parameters=bank.exposure,
        calibration_seconds=calibration_seconds,
        notes=tuple(notes),
    )
