"""A PIN hashed with argon2id before the keyed hash still logs in, and is then stored keyed."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from assess.models import Student
from assess.pins import verify_pin
from tests.web.conftest import FAST_HASHER, Db, login, make_app, post_form


def _hash_of(db: Db, student_id: int) -> str:
    with Session(db.engine) as s:
        return str(s.exec(select(Student.pin_hash).where(col(Student.id) == student_id)).one())


def test_an_argon2_pin_of_before_logs_in_and_is_upgraded(any_db: Db, tmp_path: Path) -> None:
    pupil, other = any_db.world.pupils[0], any_db.world.pupils[1]
    with Session(any_db.engine) as s:
        legacy = FAST_HASHER.hash(pupil.pin)
        s.execute(update(Student).where(col(Student.id).in_([pupil.id, other.id])).values(pin_hash=legacy))
        s.commit()
    with TestClient(make_app(any_db, tmp_path)) as client:
        login(client, pupil)
    upgraded = _hash_of(any_db, pupil.id)
    assert upgraded.startswith("hs1$t1$") and verify_pin(upgraded, pupil.pin)
    assert _hash_of(any_db, other.id).startswith("$argon2id$")  # only the student who logged in
    with TestClient(make_app(any_db, tmp_path)) as client:
        assert post_form(client, "/login", {"ticket": other.ticket, "pin": "999999"}).status_code == 401
    assert _hash_of(any_db, other.id).startswith("$argon2id$")  # a wrong PIN upgrades nothing
    with TestClient(make_app(any_db, tmp_path)) as client:
        login(client, pupil)  # and the keyed hash logs in again
    assert _hash_of(any_db, pupil.id) == upgraded
