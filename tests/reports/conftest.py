"""Fixtures shared by the reports tests: one small national simulation per test session, and profiles.

:func:`national_db` runs the simulation once (2,000 students, SQLite) and is never written to;
:func:`national` gives each module that asks for it its own copy, so one module's stored plausible
values cannot change what another module finds. :func:`school` and :func:`county` are profiles of
the small synthetic assessment (tests/reports/small.py) that the rendering tests read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assess.simulate.pipeline import NationalRun, run_national_simulation
from itembank.db import make_engine
from reports.profile import Profile
from tests.reports.national import copy_national
from tests.reports.small import small_profiles
from web import migrate


@pytest.fixture(scope="session")
def national_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NationalRun]:
    path = tmp_path_factory.mktemp("national-pristine") / "national.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    # a small run whose trial calibrates every item of the 445-item bank without a slope at a bound
    # (with the 60 task items the 1,000-student trial gave about 40 answers an item, too few for
    # the 3PL items: an EstimationWarning, an error here); sample=False: these modules check
    # profiles against direct JKn computations of an unweighted run;
    # tests/reports/test_sample_frame.py covers the weighted, JK2 run of the sample design
    run = run_national_simulation(engine, students=3000, field_trial=2000, seed=3, sample=False)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, run


@pytest.fixture(scope="module")
def national(
    national_db: tuple[Path, NationalRun], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, NationalRun]:
    """This module's own copy of the simulated database."""
    return copy_national(national_db, tmp_path_factory.mktemp("national"))


@pytest.fixture(scope="module")
def school() -> Profile:
    """安平区实验中学 of the small assessment: reported, with strengths, a withheld gap, a flagged dimension."""
    return small_profiles().get("school", "32010101")


@pytest.fixture(scope="module")
def county() -> Profile:
    """安平区 of the small assessment: a county with six named schools."""
    return small_profiles().get("county", "320101")
