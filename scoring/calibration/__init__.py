"""The calibration engine behind :func:`scoring.calibrate`, one module per step.

1. :mod:`~scoring.calibration.prepare`: check the responses, weights, groups and items, and lay
   the responses out person by person for the E-step;
2. :mod:`~scoring.calibration.identify`: batches of free items (one per item model), anchors,
   the identification of the latent scale, and the starting values;
3. :mod:`~scoring.calibration.estep` and :mod:`~scoring.calibration.squarem`: EM cycles,
   the M-step in :mod:`~scoring.calibration.batch` (items) and
   :mod:`~scoring.calibration.latent` (latent distributions) over the flat parameter vector of
   :mod:`~scoring.calibration.parameters`, accelerated by SQUAREM;
4. :mod:`~scoring.calibration.assemble`: the parameter table and the result;
5. :mod:`~scoring.calibration.errors`: standard errors (observed or cross-product information,
   delta method).

:mod:`~scoring.calibration.girth` runs girth's estimators for comparison. Everything public is
re-exported by :mod:`scoring.calibrate` and :mod:`scoring`.
"""
