"""Logins sent at once: the throttle counts every attempt before its PIN is checked.

Each test fires its logins in one event loop (``anyio`` task group) so that every attempt has
passed the throttle before the first argon2 verification, run in a worker thread, returns: a
throttle that counts failures only after the check lets them all through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar.testing import TestClient

from assess.exceptions import LoginFailed, LoginThrottled
from itembank.models import utcnow
from tests.web.conftest import Db, make_app
from web import auth
from web.app import create_app  # noqa: F401 - the app module wires the guard the same way

LIMIT = 5


def _guard(db: Db) -> Any:
    from assess.throttle import LoginGuard

    return LoginGuard.create(engine=db.engine, max_failures=LIMIT, max_failures_per_client=10_000, window_seconds=900)


async def _burst(db: Db, guard: Any, attempts: list[tuple[str, str]]) -> list[str]:
    """Run the logins concurrently; the outcome of each, in order: ok, failed or throttled."""
    outcomes: list[str] = [""] * len(attempts)
    slots = anyio.CapacityLimiter(4)

    async def one(k: int, ticket: str, pin: str) -> None:
        try:
            await auth.login(
                engine=db.engine, ticket=ticket, pin=pin, client="10.0.0.9", guard=guard, now=utcnow(), limiter=slots
            )
            outcomes[k] = "ok"
        except LoginThrottled:
            outcomes[k] = "throttled"
        except LoginFailed:
            outcomes[k] = "failed"

    async with anyio.create_task_group() as tg:
        for k, (ticket, pin) in enumerate(attempts):
            tg.start_soon(one, k, ticket, pin)
    return outcomes


def test_three_hundred_wrong_pins_at_once_check_only_the_limit(any_db: Db) -> None:
    pupil = any_db.world.pupils[0]
    outcomes = anyio.run(_burst, any_db, _guard(any_db), [(pupil.ticket, "000000")] * 300)
    assert outcomes.count("failed") == LIMIT
    assert outcomes.count("throttled") == 300 - LIMIT


def test_a_right_pin_at_the_end_of_a_burst_is_refused(any_db: Db) -> None:
    pupil = any_db.world.pupils[1]
    attempts = [(pupil.ticket, "000000")] * 59 + [(pupil.ticket, pupil.pin)]
    outcomes = anyio.run(_burst, any_db, _guard(any_db), attempts)
    assert outcomes[-1] == "throttled"
    assert "ok" not in outcomes


def test_a_success_clears_the_count_so_the_student_can_log_in_again(any_db: Db) -> None:
    pupil = any_db.world.pupils[2]
    guard = _guard(any_db)
    attempts = [(pupil.ticket, "000000")] * (LIMIT - 1) + [(pupil.ticket, pupil.pin)]
    assert anyio.run(_burst, any_db, guard, attempts[:-1]) == ["failed"] * (LIMIT - 1)
    assert anyio.run(_burst, any_db, guard, attempts[-1:]) == ["ok"]
    # the count is gone: a wrong PIN now leaves the student LIMIT - 1 more tries, not none
    assert anyio.run(_burst, any_db, guard, [(pupil.ticket, "000000")] * LIMIT) == ["failed"] * LIMIT
    assert anyio.run(_burst, any_db, guard, [(pupil.ticket, pupil.pin)]) == ["throttled"]


@pytest.mark.parametrize("workers", [2])
def test_concurrent_http_logins_on_two_apps(any_db: Db, tmp_path: Path, workers: int) -> None:
    """Two apps (two workers' guards on one database), wrong PINs sent from threads at once."""
    pupil = any_db.world.pupils[3]
    statuses: list[int] = []
    clients = [TestClient(make_app(any_db, tmp_path, login_max_failures=LIMIT)) for _ in range(workers)]
    for c in clients:
        c.__enter__()
    try:

        async def fire() -> None:
            async def one(k: int) -> None:
                client = clients[k % workers]
                response = await anyio.to_thread.run_sync(
                    lambda: client.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": "000000"})
                )
                statuses.append(response.status_code)

            async with anyio.create_task_group() as tg:
                for k in range(40):
                    tg.start_soon(one, k)

        anyio.run(fire)
    finally:
        for c in clients:
            c.__exit__(None, None, None)
    assert statuses.count(401) == LIMIT
    assert statuses.count(429) == 40 - LIMIT
