"""The login throttle counts failures in the database, so every worker sees the same counts."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from assess.models import LoginFailure
from assess.throttle import LoginThrottle
from tests.web.conftest import Db, make_app


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(LoginFailure)).scalar_one())


def test_a_window_of_failures_then_a_wait_then_a_fresh_window(any_db: Db) -> None:
    clock = Clock()
    throttle = LoginThrottle(any_db.engine, "ticket", limit=3, window_seconds=600, clock=clock)
    assert throttle.wait_seconds("T1") == 0
    assert [throttle.fail("T1") for _ in range(3)] == [2, 1, 0]
    clock.now += 100
    assert throttle.wait_seconds("T1") == 500  # until the window that began with the first failure ends
    assert throttle.wait_seconds("T2") == 0  # another ticket is not held up
    clock.now += 500
    assert throttle.wait_seconds("T1") == 0
    assert throttle.fail("T1") == 2  # a new window counts from one
    throttle.reset("T1")
    assert throttle.wait_seconds("T1") == 0 and _rows(any_db.engine) == 0


def test_windows_long_past_are_swept(any_db: Db) -> None:
    clock = Clock()
    throttle = LoginThrottle(any_db.engine, "client", limit=5, window_seconds=60, clock=clock)
    for key in ("a", "b", "c"):
        throttle.fail(key)
    assert _rows(any_db.engine) == 3
    clock.now += 200  # more than two windows later
    throttle.fail("d")
    assert _rows(any_db.engine) == 1


def test_two_workers_and_a_restart_share_the_counts(any_db: Db, tmp_path: Path) -> None:
    """Failures on one worker count on the other, and on a worker started afterwards."""
    pupil = any_db.world.pupils[0]
    wrong = {"ticket": pupil.ticket, "pin": "000000"}
    with (
        TestClient(make_app(any_db, tmp_path, login_max_failures=3)) as one,
        TestClient(make_app(any_db, tmp_path, login_max_failures=3)) as two,
    ):
        assert one.post("/api/v1/login", json=wrong).status_code == 401
        assert two.post("/api/v1/login", json=wrong).status_code == 401
        last = one.post("/api/v1/login", json=wrong)
        assert last.status_code == 401 and "尝试次数太多" in last.json()["detail"]
        right = {"ticket": pupil.ticket, "pin": pupil.pin}
        assert two.post("/api/v1/login", json=right).status_code == 429
    with TestClient(make_app(any_db, tmp_path, login_max_failures=3)) as restarted:
        blocked = restarted.post("/api/v1/login", json=right)
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def test_a_success_clears_the_tickets_failures(any_db: Db, tmp_path: Path) -> None:
    pupil = any_db.world.pupils[1]
    with TestClient(make_app(any_db, tmp_path, login_max_failures=3)) as api:
        for _ in range(2):
            assert api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": "000000"}).status_code == 401
        assert api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).status_code == 200
        with any_db.engine.connect() as conn:
            subjects = set(conn.execute(select(LoginFailure.subject)).scalars())  # type: ignore[call-overload]
        assert subjects == {"client:testclient"}  # the address keeps its count; the ticket starts afresh
