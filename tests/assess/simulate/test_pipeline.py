from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.simulate.pipeline import run_national_simulation
from itembank.models import Calibration, ItemParameter


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_calibration_progress_shows_the_change_of_each_cycle(engine: Engine) -> None:
    seen: list[tuple[int, float]] = []
    # the census-like population: a small trial leaves an item with too few answers for its 3PL (a
    # slope at a bound, an EstimationWarning, an error here); with the 445-item bank a 750- or even
    # 1,100-student trial does, a 2,000-student one gives each item about twice the answers; this test is about the
    # calibration's progress, not the sample (tests/reports/test_sample_frame.py runs that)
    run = run_national_simulation(
        engine,
        students=3000,
        field_trial=2000,
        seed=3,
        calibration_progress=lambda c, ch: seen.append((c, ch)),
        sample=False,
    )
    cycles = [c for c, _ in seen]
    changes = [ch for _, ch in seen]
    assert cycles == sorted(cycles) and cycles[-1] == run.calibration_cycles
    # the largest parameter change of the cycle: small and positive, not the log-likelihood (about -20,000)
    assert all(0.0 <= ch < 5.0 for ch in changes), changes[:5]
    assert changes[0] > changes[-2] > 0.0
    assert run.calibration_converged and changes[-1] == 0.0  # scoring reports 0 once converged
    # the calibration was stored and published by the operational service, and is close to the truth
    with Session(engine) as session:
        row = session.exec(select(Calibration).where(Calibration.name == run.calibration)).one()
        assert row.status == "operational" and row.source.startswith("field trial assessment")
        assert session.exec(select(ItemParameter).where(ItemParameter.calibration_id == row.id)).first()
    assert run.median_abs_error_b < 0.3
