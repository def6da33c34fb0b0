"""What a CAT study measures: accuracy by ability band, length, reliability, content, exposure.

Every figure of a :class:`MethodResult` comes from :func:`measure_method`: conditional bias and
RMSE by band of true ability; mean, minimum and maximum test length; reliability two ways,
``1 - mean(SE^2) / var(theta_hat)`` (the empirical reliability of the estimates, e.g. du Toit
2003; Brown & Croudace 2015) and the squared correlation of ``theta_hat`` with the true ability;
content-constraint attainment; and item exposure (:func:`exposure_stats`). :func:`score_eap`
rescores response patterns with the engine's EAP, for methods that do not run the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.engine import Blueprint, EngineBank, posterior_moments
from assess.exceptions import SimulationError
from scoring.irt import log_likelihood_grid

__all__ = [
    "ExposureStats",
    "MethodResult",
    "band_edges",
    "content_attainment",
    "exposure_stats",
    "measure_method",
    "score_eap",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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


def band_edges(population: FloatArray, n_bands: int) -> FloatArray:
    """Band edges at the population mean plus multiples of its SD (0.75 SD apart for 8 bands)."""
    if n_bands < 2:
        raise SimulationError("need at least two ability bands")
    mean, sd = float(population.mean()), float(population.std()) or 1.0
    inner = np.linspace(-2.25, 2.25, n_bands - 1) if n_bands > 2 else np.zeros(1)
    return np.concatenate([[-np.inf], mean + sd * inner, [np.inf]])


def measure_method(
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
    """Measure one method from its sessions.

    ``items`` holds each session's items (bank indices, ``-1`` padded), ``theta`` and ``se`` its
    final estimates; ``edges`` are the ability bands (:func:`band_edges`), ``pool`` the bank
    items the method could use (exposure is over these), ``timing`` its wall and CPU seconds.
    """
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
