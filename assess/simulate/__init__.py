"""Simulation and research on top of the live core: nothing in the core imports this package.

Modules, in the order a national run uses them:

``population``
    The national sample in the database (areas, schools, classes, students with true
    abilities) and abilities alone for CAT studies; the grade means of the vertical scale.
``answers``
    Simulated answers as students give them, stored as sessions and responses.
``field_trial``
    Rotated booklets for a subsample, linked across grades.
``adaptive``
    Adaptive sessions for simulated examinees, in memory and into the database.
``pipeline``
    The national run end to end (``infolit simulate`` and ``infolit demo``).

and for CAT studies (``infolit cat-study``): ``bankfiles`` (the bank files as engine input),
``measures`` (what a study measures), ``methods`` (a linear form, catsim) and ``study``.
"""
