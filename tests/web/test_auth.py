"""The login (web.auth): one answer at one cost for unknown tickets and wrong PINs; odd input; events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import update

from assess import pins
from assess.keys import get_server_keys
from assess.models import Student
from assess.pins import PIN_SCHEME, pin_hasher
from tests.web.conftest import Db, make_app


def _api_login(client: TestClient[Any], ticket: str, pin: str) -> Any:
    return client.post("/api/v1/login", json={"ticket": ticket, "pin": pin})


def test_unknown_ticket_no_pin_and_wrong_pin_read_the_same(db: Db, tmp_path: Path) -> None:
    """Status, message and the tries-left hint cannot tell whether a ticket exists."""
    pupil = db.world.pupils[0]
    tickets = {"wrong pin": pupil.ticket, "unknown": "W8999999", "no pin": db.world.no_pin_ticket}
    with TestClient(make_app(db, tmp_path, login_max_failures=5)) as client:
        seen = {
            kind: [
                (r.status_code, r.json()["detail"], r.json()["error"])
                for r in (_api_login(client, ticket, "135790") for _ in range(6))
            ]
            for kind, ticket in tickets.items()
        }
    assert seen["unknown"] == seen["wrong pin"] == seen["no pin"]
    assert [s for s, _, _ in seen["unknown"]] == [401] * 5 + [429]
    assert "准考证号或密码不正确" in seen["unknown"][0][1]
    assert "还可以再试 2 次" in seen["unknown"][2][1]


def test_an_unknown_ticket_costs_the_same_keyed_check_as_a_wrong_pin(
    db: Db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same work as a wrong PIN on a real hash: one keyed MAC under the current key (bench/login.py times it)."""
    pupil = db.world.pupils[0]
    with db.engine.begin() as conn:  # a real PIN hash, as registration makes them
        conn.execute(update(Student).where(Student.id == pupil.id).values(pin_hash=pin_hasher().hash(pupil.pin)))
    checked: list[tuple[str, str]] = []
    real = pins.verify_pin

    def spy(pin_hash: str, pin: str, **kw: Any) -> bool:
        scheme, key_id = pin_hash.split("$")[:2]
        checked.append((scheme, key_id))
        return real(pin_hash, pin, **kw)

    monkeypatch.setattr(pins, "verify_pin", spy)
    with TestClient(make_app(db, tmp_path)) as client:
        for ticket in ("W8999999", pupil.ticket, db.world.no_pin_ticket):
            assert _api_login(client, ticket, "135790").status_code == 401
    assert checked == [(PIN_SCHEME, get_server_keys().current)] * 3


@pytest.mark.parametrize("ticket", ["W8\x00000001", "W8000001\x00", "\x00", "W8\x1b[31m", "W8\x7f"])
def test_control_characters_in_a_ticket_are_a_plain_refusal(any_db: Db, tmp_path: Path, ticket: str) -> None:
    """A NUL cannot be sent to PostgreSQL: it is refused before any lookup, on both databases."""
    with TestClient(make_app(any_db, tmp_path)) as client:
        response = _api_login(client, ticket, "123456")
        assert response.status_code == 401 and "准考证号或密码不正确" in response.json()["detail"]
        page = client.get("/login")
        token = client.cookies["infolit_csrf"]
        form = client.post("/login", data={"ticket": ticket, "pin": "1\x00", "_csrf_token": token})
        assert page.status_code == 200 and form.status_code == 401


def test_failed_logins_are_logged_as_events_without_ticket_or_pin(
    db: Db, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pupil = db.world.pupils[0]
    with TestClient(make_app(db, tmp_path)) as client:
        capsys.readouterr()
        _api_login(client, pupil.ticket, "135790")
        _api_login(client, "W8999999", "135790")
        _api_login(client, db.world.closed_ticket, pupil.pin)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    refused = [line for line in lines if line.get("event") == "login_refused"]
    assert [(r["reason"], r["via"]) for r in refused] == [
        ("wrong_pin", "api"),
        ("unknown_ticket", "api"),
        ("WindowClosed", "api"),
    ]
    assert refused[0]["student"] == pupil.id and refused[1]["student"] is None
    text = json.dumps(refused, ensure_ascii=False)
    assert pupil.ticket not in text and "W8999999" not in text and "135790" not in text


def test_a_lab_behind_one_address_is_slowed_not_locked(db: Db, tmp_path: Path) -> None:
    """100 invented tickets from one address: a student behind it logs in a few seconds later, not 15 minutes."""
    pupil = db.world.pupils[0]
    app = make_app(db, tmp_path, login_max_failures_per_ip=20, login_backoff_seconds=2.0)
    clock = {"now": 1_000_000.0}
    app.state.login_guard.per_client._clock = lambda: clock["now"]
    with TestClient(app) as client:
        statuses = [_api_login(client, f"W7{k:06d}", "135790").status_code for k in range(100)]
        assert statuses[:20] == [401] * 20 and set(statuses[20:]) <= {401, 429}
        clock["now"] += 2.0
        assert _api_login(client, pupil.ticket, pupil.pin).status_code == 200
        busy = _api_login(client, db.world.pupils[1].ticket, pupil.pin)
        assert busy.status_code == 429 and int(busy.headers["retry-after"]) <= 2
        clock["now"] += 2.0
        assert _api_login(client, db.world.pupils[1].ticket, pupil.pin).status_code == 200
