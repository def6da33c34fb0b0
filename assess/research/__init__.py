"""Research services: background jobs (a huey queue), calibration runs and their results, the bank browser.

Stands on the live core (:mod:`assess.calibration`, :mod:`itembank`) and never the other way round.
"""
