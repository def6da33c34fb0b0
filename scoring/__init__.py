"""InfoLit scoring: IRT calibration (MML-EM), ability estimation, simulation and parameter files.

Pure numerics: numpy, scipy and girth only; arrays in, frozen dataclasses out. Response matrices
are persons x items floats with ``nan`` where an item was not administered. Parameters follow R's
mirt ``coef(..., IRTpars=TRUE)`` on the logistic metric.

>>> import numpy as np, scoring
>>> rng = np.random.default_rng(1)
>>> bank = scoring.random_item_params(20, "2pl", rng)
>>> x = scoring.simulate_responses(bank, rng.standard_normal(2000), rng)
>>> fit = scoring.calibrate(x, "2pl", se="none")
>>> theta = scoring.estimate_eap(x, fit.params)
"""

from __future__ import annotations

from scoring.ability import (
    AbilityEstimates,
    ProficiencyLevels,
    ReportingScale,
    draw_plausible_values,
    estimate_eap,
    estimate_map,
    estimate_mle,
    estimate_wle,
    posterior_grid,
)
from scoring.calibrate import (
    DEFAULT_PRIOR_C,
    CalibrationResult,
    LatentDistribution,
    calibrate,
    calibrate_girth,
)
from scoring.dif import (
    MantelHaenszelResult,
    StandardizedMeanDifferenceResult,
    compute_mantel_haenszel,
    compute_standardized_mean_difference,
)
from scoring.exceptions import (
    ConvergenceWarning,
    DataError,
    EmptyItemError,
    EncodingError,
    EstimationWarning,
    GirthUnavailableError,
    ModelError,
    NonNumericCellError,
    ParameterError,
    ScoringError,
    ScoringWarning,
    SingleCategoryError,
)
from scoring.fit import InfitOutfitResult, PersonFitResult, SX2Result, compute_infit_outfit, compute_lz, compute_sx2
from scoring.information import (
    InformationCurve,
    compute_empirical_reliability,
    compute_expected_reliability,
    compute_information_curve,
    compute_marginal_reliability,
)
from scoring.io import ResponseTable, read_items, read_responses, write_items, write_theta
from scoring.irt import (
    expected_score,
    item_information,
    log_likelihood_grid,
    log_probabilities,
    normal_prior,
    probabilities,
    quadrature_grid,
    test_information,
)
from scoring.linking import LinkingConstants, link_scales, transform_params, transform_theta
from scoring.params import ItemParams, ItemParamsSE
from scoring.simulate import booklet_design, random_item_params, random_sparse_design, simulate_responses

__all__ = [
    "DEFAULT_PRIOR_C",
    "AbilityEstimates",
    "CalibrationResult",
    "ConvergenceWarning",
    "DataError",
    "EmptyItemError",
    "EncodingError",
    "EstimationWarning",
    "GirthUnavailableError",
    "InfitOutfitResult",
    "InformationCurve",
    "ItemParams",
    "ItemParamsSE",
    "LatentDistribution",
    "LinkingConstants",
    "MantelHaenszelResult",
    "ModelError",
    "NonNumericCellError",
    "ParameterError",
    "PersonFitResult",
    "ProficiencyLevels",
    "ReportingScale",
    "ResponseTable",
    "SX2Result",
    "ScoringError",
    "ScoringWarning",
    "SingleCategoryError",
    "StandardizedMeanDifferenceResult",
    "booklet_design",
    "calibrate",
    "calibrate_girth",
    "compute_empirical_reliability",
    "compute_expected_reliability",
    "compute_infit_outfit",
    "compute_information_curve",
    "compute_lz",
    "compute_mantel_haenszel",
    "compute_marginal_reliability",
    "compute_standardized_mean_difference",
    "compute_sx2",
    "draw_plausible_values",
    "estimate_eap",
    "estimate_map",
    "estimate_mle",
    "estimate_wle",
    "expected_score",
    "item_information",
    "link_scales",
    "log_likelihood_grid",
    "log_probabilities",
    "normal_prior",
    "posterior_grid",
    "probabilities",
    "quadrature_grid",
    "random_item_params",
    "random_sparse_design",
    "read_items",
    "read_responses",
    "simulate_responses",
    "test_information",
    "transform_params",
    "transform_theta",
    "write_items",
    "write_theta",
]

# Survey statistics and the population model load on first use (import scoring stays as fast as it was):
# scoring.survey (replicate designs, the replicate engine, Rubin's rules) and scoring.population
# (latent regression and its plausible values).
_LAZY = {"survey": "scoring.survey", "population": "scoring.population"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return importlib.import_module(_LAZY[name])
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")
