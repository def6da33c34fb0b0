"""The staff login throttle claims an attempt before it is checked, so parallel guesses get no more checks."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from assess.accounts.exceptions import StaffThrottled
from assess.accounts.throttle import AttemptThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 5_000_000.0

    def __call__(self) -> float:
        return self.now


def test_claims_count_up_to_the_limit_then_wait_out_the_window(engine: Engine) -> None:
    clock = Clock()
    throttle = AttemptThrottle(engine, "staff", limit=3, window_seconds=600, clock=clock)
    assert [throttle.claim("zhang").left for _ in range(3)] == [2, 1, 0]
    clock.now += 100
    with pytest.raises(StaffThrottled) as info:
        throttle.claim("zhang")
    assert info.value.retry_after == 500 and "分钟" in str(info.value)
    assert throttle.claim("li").count == 1  # another account is not held up
    clock.now += 500
    assert throttle.claim("zhang").count == 1  # a fresh window
    throttle.release("zhang")
    assert throttle.attempts("zhang") == 0
    throttle.claim("zhang")
    throttle.clear("zhang")
    assert throttle.attempts("zhang") == 0


def test_fifty_parallel_attempts_get_exactly_the_limit(engine: Engine) -> None:
    throttle = AttemptThrottle(engine, "staff", limit=5, window_seconds=600)

    def attempt(_: int) -> bool:
        try:
            throttle.claim("target")
        except StaffThrottled:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        passed = list(pool.map(attempt, range(50)))
    assert sum(passed) == 5
    assert throttle.attempts("target") == 50  # every attempt was counted, refused or not
