"""Final scores of a session: ability, SE, reporting scale, proficiency level, subscores.

Reporting scale: 500 + 100 z, where z standardises theta against the frozen baseline population
(the calibration's latent distribution: mean 0, SD 1 on the grade-8 reference unless a
calibration says otherwise). Proficiency levels come from the cut scores of each grade band of the
framework (:func:`cut_scores_for_band`); the national 达标 (pass) line is the first cut.

These constants are the default scale version. The scale in force is a stored, versioned setting
(:mod:`assess.standards.versions`: baseline, cuts per band, level names and descriptions, the
达标 line); scoring asks it for a band's :class:`CutScores` (``band_scale``), which carries all
of that, so :func:`final_scores` and :func:`final_scores_batch` score under the version in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from assess.engine import EngineBank, posterior_moments
from assess.exceptions import NotConfigured
from itembank.framework import GradeBandSpec, default_framework

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

__all__ = [
    "LEVELS",
    "LEVEL_DESCRIPTIONS",
    "CutScores",
    "FinalScores",
    "cut_scores_for_band",
    "final_scores",
    "final_scores_batch",
    "to_scale",
]

LEVELS: tuple[str, ...] = ("待提高", "合格", "良好", "优秀")
"""Proficiency levels, lowest first; 达标 means 合格 or above."""

LEVEL_DESCRIPTIONS: dict[str, str] = {
    "待提高": "你已经迈出了第一步！多留意生活中的信息，和老师、家长一起练习查找和辨别信息，你会进步很快。",
    "合格": "你已经掌握了信息素养的基本要求，能在常见情境中查找、使用信息并注意安全。继续加油！",
    "良好": "你能较好地评价和运用信息解决问题，也懂得保护自己和尊重他人。再挑战更复杂的任务吧！",
    "优秀": "你在信息意识、知识、应用和责任方面表现突出，能创造性地解决问题。期待你带动更多同学！",
}


@dataclass(frozen=True)
class CutScores:
    """The reporting scale of one grade band under a scale version.

    ``cuts`` are the scale-score cuts between consecutive ``levels`` (ascending); a score at a cut
    belongs to the level above it. ``pass_level`` is the index in ``levels`` of the lowest level
    that counts as 达标, so the 达标 line is ``cuts[pass_level - 1]``. Scale scores are
    500 + 100 (theta - ``baseline_mean``) / ``baseline_sd``. The defaults are today's constants
    (scale version 1).
    """

    band: str
    cuts: tuple[float, float, float]
    levels: tuple[str, ...] = LEVELS
    pass_level: int = 1
    baseline_mean: float = 0.0
    baseline_sd: float = 1.0
    descriptions: tuple[str, ...] = tuple(LEVEL_DESCRIPTIONS[name] for name in LEVELS)
    version: int = 1

    def level(self, scale_score: float) -> str:
        """The level of a scale score."""
        return self.levels[int(np.searchsorted(np.asarray(self.cuts), scale_score, side="right"))]

    def passed(self, scale_score: float) -> bool:
        """Whether a scale score reaches the 达标 line (the cut below level ``pass_level``)."""
        return bool(scale_score >= self.cuts[self.pass_level - 1])

    def scale_score(self, theta: float) -> float:
        """500 + 100 z against this scale's baseline (:func:`to_scale`)."""
        return to_scale(theta, baseline_mean=self.baseline_mean, baseline_sd=self.baseline_sd)

    def description(self, level: str | None) -> str:
        """The student-facing description of a level (empty for an unknown level or none)."""
        return self.descriptions[self.levels.index(level)] if level in self.levels else ""


def cut_scores_for_band(band: str | GradeBandSpec) -> CutScores:
    """The level cut scores of a grade band.

    A band of the framework in use (a :class:`~itembank.framework.GradeBandSpec`) has the cuts
    its file gives. Without them, the cuts of the default framework's band of the same code; for
    a band the default framework does not have (a province's own, such as ``6-8``), the default
    bands' cuts interpolated linearly at the band's mean grade (the scale is vertical, so the
    cuts rise with the grade), held constant beyond the youngest and the oldest default band. A
    band code alone (``"7-9"``) means the default framework's band.

    Raises
    ------
    NotConfigured
        A band code the default framework does not have.
    """
    defaults = default_framework()
    if isinstance(band, str):
        found = defaults.band(band)
        if found is None:
            raise NotConfigured(f"年级段 {band} 没有设定等级分数线（默认框架里没有这个年级段）")
        band = found
    if band.cuts is not None:
        return CutScores(band.code, band.cuts)
    same = defaults.band(band.code)
    if same is not None and same.cuts is not None:
        return CutScores(band.code, same.cuts)
    anchors = sorted((float(np.mean(b.grades)), b.cuts) for b in defaults.grade_bands if b.cuts and b.grades)
    if not anchors or not band.grades:
        raise NotConfigured(f"年级段 {band.code} 没有设定等级分数线")
    at = float(np.mean(band.grades))
    x = [grade for grade, _ in anchors]
    cuts = tuple(float(np.interp(at, x, [c[k] for _, c in anchors])) for k in range(3))
    return CutScores(band.code, (cuts[0], cuts[1], cuts[2]))


def to_scale(theta: float, *, baseline_mean: float = 0.0, baseline_sd: float = 1.0) -> float:
    """500 + 100 z against the baseline population."""
    return 500.0 + 100.0 * (theta - baseline_mean) / baseline_sd


@dataclass(frozen=True)
class FinalScores:
    """A finished session's result; ``subscores`` maps a dimension to ``{"theta", "se", "n"}``."""

    theta: float
    se: float
    scale_score: float
    level: str
    passed: bool
    subscores: dict[str, dict[str, float]]


def final_scores_batch(
    bank: EngineBank,
    items: IntArray,
    scores: IntArray,
    *,
    band: str | GradeBandSpec = "7-9",
    prior_mean: float | FloatArray = 0.0,
    chunk: int = 4096,
    cuts: CutScores | None = None,
) -> list[FinalScores]:
    """EAP final scores of many sessions at once (Bock & Mislevy 1982).

    ``items[s]`` holds session ``s``'s operational items (engine indices, ``-1`` padded) and
    ``scores[s]`` their scores. The posterior over the bank's quadrature nodes is the prior
    N(``prior_mean``, 1) (the session's grade start, as during the test) plus the sum of the items'
    log-probabilities; subscores use each dimension's items alone. The levels come from ``cuts``,
    by default the cut scores of ``band`` (:func:`cut_scores_for_band`).
    """
    cuts = cuts or cut_scores_for_band(band)
    out: list[FinalScores] = []
    items = np.asarray(items, dtype=np.int64).reshape(len(items), -1)
    scores = np.asarray(scores, dtype=np.int64).reshape(items.shape)
    means = np.broadcast_to(np.asarray(prior_mean, dtype=np.float64), (items.shape[0],))
    for lo in range(0, items.shape[0], chunk):
        it, sc = items[lo : lo + chunk], scores[lo : lo + chunk]
        log_prior = -0.5 * (bank.nodes[None, :] - means[lo : lo + chunk, None]) ** 2
        valid = it >= 0
        safe_sc = np.where(valid, sc, 0)
        lp_items = np.where(valid[..., None], bank.log_prob[np.maximum(it, 0), safe_sc, :], 0.0)  # (S, L, Q)
        theta, se = posterior_moments(log_prior + lp_items.sum(axis=1), bank.nodes)
        area = np.where(valid, bank.area[np.maximum(it, 0)], -1)
        subs = []
        for k in range(len(bank.areas)):
            in_k = area == k
            t_k, s_k = posterior_moments(log_prior + np.where(in_k[..., None], lp_items, 0.0).sum(axis=1), bank.nodes)
            subs.append((t_k, s_k, in_k.sum(axis=1)))
        for s in range(it.shape[0]):
            scale = cuts.scale_score(float(theta[s]))
            out.append(
                FinalScores(
                    theta=float(theta[s]),
                    se=float(se[s]),
                    scale_score=scale,
                    level=cuts.level(scale),
                    passed=cuts.passed(scale),
                    subscores={
                        area_code: {"theta": round(float(t[s]), 4), "se": round(float(e[s]), 4), "n": int(n[s])}
                        for area_code, (t, e, n) in zip(bank.areas, subs, strict=True)
                    },
                )
            )
    return out


def final_scores(
    bank: EngineBank,
    items: Sequence[int],
    scores: Sequence[int],
    *,
    method: str = "eap",
    band: str | GradeBandSpec = "7-9",
    prior_mean: float = 0.0,
    cuts: CutScores | None = None,
) -> FinalScores:
    """Score one finished session from its operational items (engine indices) and scores.

    ``method`` is the blueprint's final estimator: ``eap`` (posterior mean, posterior SD as SE) or
    ``map``/``mle``/``wle`` through :mod:`scoring.ability`. Subscores are EAPs on each dimension's
    items alone, with their posterior SDs. The levels come from ``cuts``, by default the cut
    scores of ``band`` (:func:`cut_scores_for_band`).
    """
    cuts = cuts or cut_scores_for_band(band)
    it = np.asarray(items, dtype=np.int64).reshape(1, -1)
    sc = np.asarray(scores, dtype=np.int64).reshape(1, -1)
    if it.size == 0:
        it, sc = np.full((1, 1), -1), np.zeros((1, 1), dtype=np.int64)
    result = final_scores_batch(bank, it, sc, prior_mean=prior_mean, cuts=cuts)[0]
    if method == "eap" or not len(items):
        return result
    from scoring import ability

    resp = np.full((1, bank.n_items), np.nan)
    resp[0, np.asarray(items)] = scores
    est = getattr(ability, f"estimate_{method}")(resp, bank.params)
    theta, se = float(est.theta[0]), float(est.se[0])
    scale = cuts.scale_score(theta)
    return FinalScores(theta, se, scale, cuts.level(scale), cuts.passed(scale), result.subscores)
