"""Survey statistics for group results: replicate designs, a replicate engine and Rubin's rules.

Pure numerics (numpy and scipy). The flow for a report::

    design = ReplicateDesign.jk2(zones, halves, weights=w, schools=school)   # or .jkn / .fay_brr / .census
    est = estimate_mean(pvs, design, groups=county)        # (n, M) plausible values
    table = est.combine().suppress(REGION_SUPPRESSION)      # Rubin's rules, then the thresholds
    gap = compare_groups(estimate_mean(pvs, design, groups=gender), [("F", "M")]).combine()

See :mod:`scoring.survey.design`, :mod:`scoring.survey.statistics` and
:mod:`scoring.survey.estimates` for the formulas and their references.
"""

from __future__ import annotations

from scoring.survey.design import ReplicateDesign
from scoring.survey.estimates import (
    REGION_SUPPRESSION,
    SCHOOL_SUPPRESSION,
    ReplicateEstimates,
    SuppressionRule,
    SurveyEstimate,
    SurveyEstimates,
    combine_plausible_values,
)
from scoring.survey.statistics import (
    compare_groups,
    estimate_between_school_share,
    estimate_level_shares,
    estimate_mean,
    estimate_percentiles,
    estimate_regression,
    estimate_share_at_or_above,
    estimate_statistic,
)

__all__ = [
    "REGION_SUPPRESSION",
    "SCHOOL_SUPPRESSION",
    "ReplicateDesign",
    "ReplicateEstimates",
    "SuppressionRule",
    "SurveyEstimate",
    "SurveyEstimates",
    "combine_plausible_values",
    "compare_groups",
    "estimate_between_school_share",
    "estimate_level_shares",
    "estimate_mean",
    "estimate_percentiles",
    "estimate_regression",
    "estimate_share_at_or_above",
    "estimate_statistic",
]
