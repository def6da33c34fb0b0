"""Fixtures shared by the reports tests: one small national simulation per test session.

:func:`national_db` runs the simulation once (2,000 students, SQLite) and is never written to;
each module that needs it takes its own copy (:func:`tests.reports.national.copy_national`), so
one module's stored plausible values cannot change what another module finds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assess.simulate.pipeline import NationalRun, run_national_simulation
from itembank.db import make_engine
from web import migrate


@pytest.fixture(scope="session")
def national_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NationalRun]:
    path = tmp_path_factory.mktemp("national-pristine") / "national.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    # the smallest run whose bank is deep enough for every band's minimum (bench/demo_minimum.py)
    run = run_national_simulation(engine, students=2000, field_trial=1000, seed=3)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, run
