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

from typing import TYPE_CHECKING

# Loaded with the package: what `infolit calibrate` needs (the function `calibrate` must be bound
# here, after its module of the same name, or the module would shadow it).
from scoring.calibrate import (
    DEFAULT_PRIOR_C,
    CalibrationResult,
    LatentDistribution,
    calibrate,
    calibrate_girth,
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
from scoring.params import ItemParams, ItemParamsSE

if TYPE_CHECKING:  # loaded on first use (PEP 562 module __getattr__ below), so a command loads what it uses
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
    from scoring.dif import (
        MantelHaenszelResult,
        StandardizedMeanDifferenceResult,
        compute_mantel_haenszel,
        compute_standardized_mean_difference,
    )
    from scoring.fit import (
        InfitOutfitResult,
        PersonFitResult,
        SX2Result,
        compute_infit_outfit,
        compute_lz,
        compute_sx2,
    )
    from scoring.information import (
        InformationCurve,
        compute_empirical_reliability,
        compute_expected_reliability,
        compute_information_curve,
        compute_marginal_reliability,
    )
    from scoring.linking import LinkingConstants, link_scales, transform_params, transform_theta
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

# Loaded on first use, name -> module (`import scoring` and `infolit calibrate` stay light): ability
# estimation, DIF, fit, information, linking, simulation, and the subpackages survey (replicate
# designs, Rubin's rules) and population (latent regression and its plausible values).
_LAZY_NAMES = {
    "scoring.ability": (
        "AbilityEstimates",
        "ProficiencyLevels",
        "ReportingScale",
        "draw_plausible_values",
        "estimate_eap",
        "estimate_map",
        "estimate_mle",
        "estimate_wle",
        "posterior_grid",
    ),
    "scoring.dif": (
        "MantelHaenszelResult",
        "StandardizedMeanDifferenceResult",
        "compute_mantel_haenszel",
        "compute_standardized_mean_difference",
    ),
    "scoring.fit": (
        "InfitOutfitResult",
        "PersonFitResult",
        "SX2Result",
        "compute_infit_outfit",
        "compute_lz",
        "compute_sx2",
    ),
    "scoring.information": (
        "InformationCurve",
        "compute_empirical_reliability",
        "compute_expected_reliability",
        "compute_information_curve",
        "compute_marginal_reliability",
    ),
    "scoring.linking": ("LinkingConstants", "link_scales", "transform_params", "transform_theta"),
    "scoring.simulate": ("booklet_design", "random_item_params", "random_sparse_design", "simulate_responses"),
}
_LAZY = {name: module for module, names in _LAZY_NAMES.items() for name in names}
_SUBMODULES = {"ability", "dif", "fit", "information", "linking", "simulate", "survey", "population"}


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"scoring.{name}")
    raise AttributeError(f"module 'scoring' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)
