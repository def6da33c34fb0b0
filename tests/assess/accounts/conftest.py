from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts.login import actor_of
from assess.accounts.models import StaffUser
from assess.accounts.scope import Actor
from tests.console_world import ConsoleWorld, build_console_world


@pytest.fixture
def cworld(engine: Engine) -> ConsoleWorld:
    return build_console_world(engine)


@pytest.fixture
def actor(engine: Engine, cworld: ConsoleWorld) -> Callable[[str], Actor]:
    """The signed-in actor of a console-world user, by username."""

    def make(username: str) -> Actor:
        with Session(engine) as s:
            user = s.exec(select(StaffUser).where(StaffUser.username == username)).one()
            return actor_of(s, user, client="203.0.113.9")

    return make
