r"""Item calibration by marginal maximum likelihood (Bock & Aitkin, 1981) with an accelerated EM.

The engine follows mirt's defaults so that its estimates can be compared with R directly: 61
equally spaced quadrature nodes on [-6, 6], a normal latent distribution evaluated on the nodes
and normalised, the logistic metric, tolerance 1e-4 on the largest parameter change of an EM
cycle. On top of the plain EM it uses SQUAREM (Varadhan & Roland, 2008), so a calibration takes a
fraction of the EM cycles.

The steps live in :mod:`scoring.calibration`, one module each: ``prepare`` (check the responses
and lay them out), ``identify`` (free and fixed parameters, the latent scale, starting values),
``estep`` and ``squarem`` (EM cycles accelerated by SQUAREM), ``assemble`` (the parameter table
and the result) and ``errors`` (standard errors); :func:`calibrate` runs them in that order. Item
response functions and their derivatives come from :mod:`scoring.models`.

E-step
    With the stacked category indicators ``Y`` (persons x sum of categories, sparse; one 1 per
    administered response) and the log-probabilities ``log P`` (categories x nodes), the
    log-likelihood of every person at every node is the product ``Y @ log P``. Posterior weights
    are normalised row by row, and the expected counts of every item category at every node are
    ``Y.T @ (w * posterior)``. Persons are processed in chunks, so memory stays at the sparse
    indicator matrix plus one chunk of posteriors; large problems use float32 for the products.
M-step
    Per item, the expected complete-data log-likelihood
    :math:`\sum_q \sum_k \bar r_{jkq} \log P_{jk}(\theta_q)` is maximised by Fisher scoring
    with step halving, vectorised over all items that share a model and a number of categories.
    Items use the slope-intercept parameterisation internally (:math:`a\theta + d`, the guessing
    parameter on the logit scale) and are reported in mirt's IRT parameterisation. The latent
    mean and SD of every group whose distribution is free are updated by maximising the expected
    log of the normalised discrete normal prior (an empirical-Bayes step; Bock & Zimowski, 1997).

References
----------
Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
application of an EM algorithm. *Psychometrika*, 46, 443-459. Bock, R. D. & Zimowski, M. F.
(1997). Multiple group IRT. In van der Linden & Hambleton (eds.), *Handbook of modern IRT*.
Varadhan, R. & Roland, C. (2008). Simple and globally convergent methods for accelerating the
convergence of any EM algorithm. *Scandinavian Journal of Statistics*, 35, 335-353. Oakes, D.
(1999). Direct calculation of the information matrix via the EM algorithm. *JRSS B*, 61, 479-482.
Chalmers, R. P. (2012). mirt: a multidimensional item response theory package for the R
environment. *Journal of Statistical Software*, 48(6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy.typing as npt

from scoring.calibration.assemble import assemble_params, assemble_result
from scoring.calibration.errors import SE_METHODS, compute_standard_errors
from scoring.calibration.estep import EStep
from scoring.calibration.girth import calibrate_girth
from scoring.calibration.identify import identify_scale, start_values
from scoring.calibration.prepare import prepare_data
from scoring.calibration.results import CalibrationResult, LatentDistribution
from scoring.calibration.squarem import MarginalLikelihood, ProgressCallback, iterate
from scoring.irt import quadrature_grid
from scoring.params import ItemParams

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "DEFAULT_PRIOR_C",
    "CalibrationResult",
    "LatentDistribution",
    "calibrate",
    "calibrate_girth",
]

DEFAULT_PRIOR_C: tuple[float, float] = (5.0, 17.0)
"""Beta(5, 17) prior on the 3PL lower asymptote: mode 0.2, mean 0.23 (BILOG-MG's choice for
multiple-choice items with about five options; mirt sets no prior by default)."""


def calibrate(
    responses: npt.ArrayLike | sp.spmatrix | sp.sparray,
    models: str | Sequence[str] = "2pl",
    *,
    item_ids: Sequence[str] | None = None,
    weights: npt.ArrayLike | None = None,
    fixed: ItemParams | None = None,
    groups: npt.ArrayLike | None = None,
    reference_group: Any = None,
    start: ItemParams | None = None,
    quadpts: int = 61,
    theta_limit: float = 6.0,
    tol: float = 1e-4,
    max_cycles: int = 500,
    prior_c: tuple[float, float] | None = DEFAULT_PRIOR_C,
    accelerate: bool = True,
    se: str = "auto",
    precision: str = "auto",
    chunk_rows: int | None = None,
    threads: int = 1,
    callback: ProgressCallback | None = None,
) -> CalibrationResult:
    """Calibrate items by marginal maximum likelihood with an (accelerated) EM algorithm.

    Parameters
    ----------
    responses
        Persons x items scores (integers 0..K), ``nan`` where an item was not administered. A
        ``scipy.sparse`` matrix is also accepted: its *stored* entries (explicit zeros included)
        are the administered responses, everything else is missing (lean for CAT designs).
    models
        One model for all items or one per item: ``rasch``/``1pl``, ``2pl``, ``3pl``, ``grm``,
        ``gpcm``. ``rasch`` follows mirt's "Rasch": slope 1 and, when every free item is Rasch and
        no anchor fixes the scale, a free latent SD; a Rasch item scored 0..K is the partial credit
        model. Entries for anchor items are ignored.
    item_ids
        Item ids (default ``item1..itemJ``); anchors in ``fixed`` are matched by id.
    weights
        Per-person sampling weights (non-negative). They multiply each person's log-likelihood, so
        a weight of 2 counts like two identical persons; standard errors treat them that way too
        (rescale weights to sum to the sample size for design-based use).
    fixed
        Anchor items whose parameters stay fixed; anchors absent from ``item_ids`` are ignored.
        With anchors, the mean and SD of every group are estimated, so the free items land on
        the anchors' scale.
    groups
        Per-person group labels. Each group gets its own normal latent distribution; the
        reference group (``reference_group``, default the first label in sorted order) is N(0, 1)
        unless anchors identify the scale (its SD is free for an all-Rasch calibration).
    start
        Starting values for (some of) the free items, matched by id (like mirt's ``pars=``).
    quadpts, theta_limit
        Quadrature: ``quadpts`` equally spaced nodes on ``[-theta_limit, theta_limit]`` (mirt: 61, 6).
    tol
        Convergence when the largest change of an (internal, slope-intercept) parameter over one
        EM cycle is below ``tol`` (mirt's criterion and default).
    max_cycles
        Limit on EM cycles (M-steps). Reaching it warns (:class:`ConvergenceWarning`) and sets
        ``converged=False``.
    prior_c
        ``(alpha, beta)`` of a Beta prior on the 3PL lower asymptote (default Beta(5, 17), mode
        0.2); ``None`` for none (maximum likelihood, often unstable).
    accelerate
        Use SQUAREM (Varadhan & Roland, 2008, scheme S3 with step-length adaptation and a
        monotonicity safeguard); ``False`` runs the plain EM.
    se
        Standard errors. ``"observed"``: the observed information, i.e. the Hessian of the
        marginal log-likelihood, obtained as central differences of its analytic gradient (Fisher's
        identity); equivalent to Oakes' (1999) identity that mirt uses, and costs 2 E-steps per
        parameter. ``"xpd"``: the cross-product (empirical information) of the per-person score
        vectors (one pass over the data; asymptotically equivalent, less accurate in small
        samples). ``"auto"`` (default) takes ``observed`` when that costs under about 5 seconds,
        else ``xpd``. ``"none"`` skips them. Covariances of the IRT parameters follow by the
        delta method.
    precision
        ``"double"``, ``"single"`` (float32 products; the counts are still summed in float64) or
        ``"auto"`` (single above one million responses; the reported log-likelihood is
        always evaluated in float64).
    chunk_rows
        Persons per E-step chunk (default: about one million responses, at most 32,768 persons).
    threads
        Python threads over E-step chunks (numpy releases the GIL in its products and ufuncs). The
        default 1 is best on a shared machine, where BLAS threads already compete for the cores.
    callback
        Called after every SQUAREM iteration (or EM cycle) as ``callback(cycles, loglik, change)``.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    DataError
        Non-integer scores, an item without responses (:class:`EmptyItemError`) or a free item
        whose responses fall in one category, or with an empty category between 0 and its
        highest score (:class:`SingleCategoryError`).
    ModelError
        A dichotomous model for an item scored above 1.
    """
    if se not in SE_METHODS:
        raise ValueError(f"se must be 'auto', 'observed', 'xpd' or 'none', not {se!r}")
    nodes = quadrature_grid(quadpts, theta_limit)
    data = prepare_data(responses, models, item_ids=item_ids, weights=weights, groups=groups,
                        reference_group=reference_group, fixed=fixed)
    layout = identify_scale(data, nodes, fixed, prior_c)
    x0 = start_values(layout, data, start)
    engine = EStep(data.indptr, data.cats, data.offsets, data.weights, data.group_index, len(data.labels),
                   precision, chunk_rows, threads, nodes, data.dense)
    likelihood = MarginalLikelihood(layout, engine)
    em = iterate(layout, likelihood, x0, tol=tol, max_cycles=max_cycles, accelerate=accelerate, callback=callback)
    params = assemble_params(layout, data, fixed, em.x)
    errors = compute_standard_errors(se, layout, likelihood, em.x, data, chunk_rows)
    return assemble_result(layout, data, params, em, errors)
