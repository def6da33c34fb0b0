"""What a calibration returns: item parameters, standard errors and the latent distributions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.params import ItemParams, ItemParamsSE

__all__ = ["CalibrationResult", "LatentDistribution"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LatentDistribution:
    """Normal latent distribution of one group, as estimated (or fixed) in a calibration.

    Parameters
    ----------
    group
        Group label (``"all"`` for a single-group calibration).
    mean, sd
        Mean and standard deviation of theta in the group.
    se_mean, se_sd
        Their standard errors (``nan`` when fixed or not computed).
    free_mean, free_sd
        Whether the parameter was estimated (False: fixed for identification).
    n_persons
        Persons with at least one response in the group.
    """

    group: str
    mean: float
    sd: float
    se_mean: float
    se_sd: float
    free_mean: bool
    free_sd: bool
    n_persons: int


@dataclass(frozen=True)
class CalibrationResult:
    r"""The outcome of :func:`scoring.calibrate`.

    Parameters
    ----------
    params
        Item parameters (mirt's IRT parameterisation), in the column order of the responses,
        anchor items included with their fixed values.
    se
        Standard errors of ``params`` (``nan`` for fixed parameters and anchors).
    latent
        Latent distribution of every group (the first is the reference group).
    log_likelihood
        Marginal log-likelihood at the estimates (weighted; 3PL priors are not included).
    aic, bic
        :math:`-2\ell + 2k` and :math:`-2\ell + k \log n` with k free parameters, n persons.
    n_parameters
        Number of free parameters k (items and latent distributions).
    n_cycles
        EM cycles (M-steps) run, extrapolated SQUAREM steps included.
    converged
        Whether the largest parameter change of an EM cycle fell below the tolerance.
    n_persons
        Persons with at least one response.
    se_method
        ``"observed"``, ``"xpd"`` or ``"none"`` (see :func:`scoring.calibrate`).
    nodes
        Quadrature nodes used.
    anchor_ids
        Ids of the items whose parameters were held fixed.
    """

    params: ItemParams
    se: ItemParamsSE
    latent: tuple[LatentDistribution, ...]
    log_likelihood: float
    aic: float
    bic: float
    n_parameters: int
    n_cycles: int
    converged: bool
    n_persons: int
    se_method: str
    nodes: FloatArray
    anchor_ids: tuple[str, ...]

    def distribution(self, group: str | None = None) -> LatentDistribution:
        """Latent distribution of ``group`` (the reference group when omitted)."""
        if group is None:
            return self.latent[0]
        for dist in self.latent:
            if dist.group == str(group):
                return dist
        raise KeyError(f"no group {group!r} in this calibration")
