r"""What ``infolit sample report`` prints: the weights' distribution and the design effect of the mean.

The design effect of the weighted mean scale score is its JK2 variance over the variance of the
mean of a simple random sample of the same size, :math:`\mathrm{deff} = v_{JK2}(\bar y_w) /
(s^2 / n)` (Kish 1965, sec. 8.2), with :math:`s^2` the unweighted variance of the assessed
students' scores. Kish's weighting effect :math:`1 + \mathrm{CV}^2(w)` is the part due to unequal
weights alone; the rest is the clustering of students in schools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assess.sampling.jackknife import replicate_design
from assess.sampling.store import WeightedSample
from scoring.survey import estimate_mean

__all__ = ["SampleSummary", "summarize_sample"]


@dataclass(frozen=True)
class SampleSummary:
    """The weights of the assessed students and the design effect of their weighted mean score."""

    n_assessed: int
    sum_weights: float
    min_weight: float
    p05_weight: float
    median_weight: float
    p95_weight: float
    max_weight: float
    trimmed: int
    weighting_effect: float
    n_zones: int
    mean: float
    se_jk2: float
    se_srs: float
    design_effect: float


def summarize_sample(sample: WeightedSample) -> SampleSummary:
    """Weight distribution and design effect of an assessment's weighted sample."""
    w = sample.weights.final
    ok = (w > 0) & np.isfinite(sample.scores)
    wa = w[ok]
    q = np.quantile(wa, [0.0, 0.05, 0.5, 0.95, 1.0]) if wa.size else np.full(5, np.nan)
    cv2 = float(np.var(wa) / np.mean(wa) ** 2) if wa.size else float("nan")
    mean = se = float("nan")
    if wa.size > 1 and sample.zones.n_zones > 0:
        design = replicate_design(w, sample.zones, sample.students.school).subset(ok)
        est = estimate_mean(sample.scores[ok], design)
        mean = float(est.estimates[0, 0])
        se = float(np.sqrt(design.variance(est.estimates[0, 0], est.replicates[0, 0])))
    s = sample.scores[ok]
    se_srs = float(np.std(s, ddof=1) / np.sqrt(s.size)) if s.size > 1 else float("nan")
    return SampleSummary(
        n_assessed=int(ok.sum()), sum_weights=float(wa.sum()), min_weight=float(q[0]), p05_weight=float(q[1]),
        median_weight=float(q[2]), p95_weight=float(q[3]), max_weight=float(q[4]),
        trimmed=int((sample.weights.trim[ok] < 1 - 1e-12).sum()), weighting_effect=1 + cv2,
        n_zones=sample.zones.n_zones, mean=mean, se_jk2=se, se_srs=se_srs,
        design_effect=(se / se_srs) ** 2 if se_srs > 0 else float("nan"),
    )  # fmt: skip
