"""The JSON API (/api/v1) on SQLite and PostgreSQL: the whole journey and its refusals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.models import Response, TestSession
from itembank.models import ItemVersion
from tests.web.conftest import N_ITEMS, Db, db_counts, make_app


@pytest.fixture
def api(any_db: Db, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(make_app(any_db, tmp_path)) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def api_login(api: TestClient[Litestar], db: Db, n: int = 0) -> dict[str, Any]:
    pupil = db.world.pupils[n]
    response = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def some_answer(item: dict[str, Any], pick: int = 0) -> Any:
    if item["type"] == "partial_credit":
        return [p["options"][pick % len(p["options"])]["value"] for p in item["parts"]]
    values = [o["value"] for o in item["options"]]
    if item["type"] == "multiple_response":
        return values[:2]
    return values[pick % len(values)]


def test_whole_journey(api: TestClient[Litestar], any_db: Db) -> None:
    login = api_login(api, any_db)
    assert login["status"] == "not_started" and login["sitting"]["item"] is None
    token = login["token"]
    started = api.post("/api/v1/start", headers=bearer(token))
    assert started.status_code == 200
    token = started.json()["token"]
    state = started.json()["sitting"]
    assert state["status"] == "in_progress" and state["number"] == 1 and state["max_items"] == N_ITEMS
    assert 0 < state["remaining_seconds"] <= 40 * 60
    types = set()
    for _ in range(N_ITEMS):
        item = state["item"]
        types.add(item["type"])
        assert set(item) == {
            "id",
            "type",
            "label",
            "stem_html",
            "stimulus_title_html",
            "stimulus_html",
            "options",
            "parts",
            "interaction",
        }
        assert item["interaction"] == {}  # the choice types have no interaction data
        again = api.get("/api/v1/item", headers=bearer(token)).json()
        assert again["item"]["id"] == item["id"]  # a lost connection resumes the same item
        response = api.post(
            "/api/v1/answer", headers=bearer(token), json={"item_id": item["id"], "answer": some_answer(item)}
        )
        assert response.status_code == 200, response.text
        state = response.json()
        if state["status"] != "in_progress":
            break
    assert types == {"single_choice", "multiple_response", "true_false", "partial_credit"}
    assert state["status"] == "finished" and state["item"] is None
    assert state["result"]["description"] and state["number"] == N_ITEMS
    with Session(any_db.engine) as s:
        assert len(s.exec(select(Response)).all()) == N_ITEMS


def test_old_token_without_session_id_still_works(api: TestClient[Litestar], any_db: Db) -> None:
    token = api_login(api, any_db)["token"]
    api.post("/api/v1/start", headers=bearer(token))
    state = api.get("/api/v1/item", headers=bearer(token)).json()
    response = api.post(
        "/api/v1/answer",
        headers=bearer(token),
        json={"item_id": state["item"]["id"], "answer": some_answer(state["item"])},
    )
    assert response.status_code == 200 and response.json()["number"] == 2


def test_finish_hands_the_test_in(api: TestClient[Litestar], any_db: Db) -> None:
    token = api.post("/api/v1/start", headers=bearer(api_login(api, any_db)["token"])).json()["token"]
    response = api.post("/api/v1/finish", headers=bearer(token))
    assert response.status_code == 200 and response.json()["status"] == "finished"
    refused = api.post("/api/v1/answer", headers=bearer(token), json={"item_id": 1, "answer": "A"})
    assert refused.status_code == 409


def test_second_device_takes_over(api: TestClient[Litestar], any_db: Db) -> None:
    first = api.post("/api/v1/start", headers=bearer(api_login(api, any_db)["token"])).json()
    second = api_login(api, any_db)
    assert second["status"] == "in_progress"
    assert second["sitting"]["item"]["id"] == first["sitting"]["item"]["id"]
    before = db_counts(any_db.engine)
    item = first["sitting"]["item"]
    for response in (
        api.get("/api/v1/item", headers=bearer(first["token"])),
        api.post(
            "/api/v1/answer", headers=bearer(first["token"]), json={"item_id": item["id"], "answer": some_answer(item)}
        ),
    ):
        assert response.status_code == 409
        assert "另一台设备" in response.json()["detail"]
    assert db_counts(any_db.engine) == before
    ok = api.post(
        "/api/v1/answer", headers=bearer(second["token"]), json={"item_id": item["id"], "answer": some_answer(item)}
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"ticket": "NOPE", "pin": "1"}, 401),
        ({"ticket": "", "pin": ""}, 401),
        ({"ticket": "W11CLOSED", "pin": "246810"}, 403),
        ({"ticket": "W12LATER", "pin": "246810"}, 403),
        ({"ticket": 5}, 400),
        ("not json", 415),  # no Content-Type: application/json (issue 12, defect 3)
        ("{not json", 400),
    ],
)
def test_login_refusals(api: TestClient[Litestar], any_db: Db, body: Any, status: int) -> None:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    if body == "{not json":
        kwargs["headers"] = {"Content-Type": "application/json"}
    response = api.post("/api/v1/login", **kwargs)
    assert response.status_code == status
    assert response.json()["detail"]


def test_login_throttle_says_when_to_retry(any_db: Db, tmp_path: Path) -> None:
    with TestClient(make_app(any_db, tmp_path, login_max_failures=2)) as api:
        pupil = any_db.world.pupils[0]
        for _ in range(2):
            assert api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": "x"}).status_code == 401
        blocked = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin})
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0


def _started(api: TestClient[Litestar], db: Db) -> tuple[str, dict[str, Any]]:
    body = api.post("/api/v1/start", headers=bearer(api_login(api, db)["token"])).json()
    return body["token"], body["sitting"]["item"]


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda item, other: {"item_id": other, "answer": "A"}, id="another item"),
        pytest.param(lambda item, other: {"item_id": 10**9, "answer": "A"}, id="no such item"),
        pytest.param(lambda item, other: {"item_id": item["id"], "answer": "Z"}, id="no such option"),
        pytest.param(
            lambda item, other: {"item_id": item["id"], "answer": ["A", "B", "C", "D", "E", "F", "G"]}, id="too many"
        ),
        pytest.param(lambda item, other: {"item_id": "abc", "answer": "A"}, id="id not a number"),
        pytest.param(lambda item, other: {"answer": "A"}, id="no id"),
        pytest.param(lambda item, other: {"item_id": item["id"], "answer": {"x": 1}}, id="answer an object"),
        pytest.param(lambda item, other: {"item_id": item["id"], "answer": [1, 2]}, id="answer numbers"),
        pytest.param(lambda item, other: "{", id="broken json"),
    ],
)
def test_bad_answers_change_nothing(api: TestClient[Litestar], any_db: Db, make: Any) -> None:
    token, item = _started(api, any_db)
    with Session(any_db.engine) as s:
        other = next(v for v in s.exec(select(ItemVersion.id)).all() if v != item["id"])
    body = make(item, other)
    before = db_counts(any_db.engine)
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, str) else {"json": body}
    response = api.post("/api/v1/answer", headers={**bearer(token), "Content-Type": "application/json"}, **kwargs)
    assert 400 <= response.status_code < 500 and response.status_code != 401, response.text
    assert response.json()["detail"]
    assert db_counts(any_db.engine) == before


def test_answer_after_time_is_up(api: TestClient[Litestar], any_db: Db) -> None:
    token, item = _started(api, any_db)
    with Session(any_db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        ts.deadline = ts.started_at - timedelta(seconds=1)
        s.add(ts)
        s.commit()
    before = db_counts(any_db.engine)
    response = api.post(
        "/api/v1/answer", headers=bearer(token), json={"item_id": item["id"], "answer": some_answer(item)}
    )
    assert response.status_code == 409 and "作答时间已到" in response.json()["detail"]
    assert db_counts(any_db.engine) == before
    assert api.get("/api/v1/item", headers=bearer(token)).json()["status"] == "expired"


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer nonsense", "Basic abc", "Bearer v1.1.1.0.dev.9999999999.bad"])
def test_api_needs_a_valid_token(api: TestClient[Litestar], auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    for method, url in (("GET", "/api/v1/item"), ("POST", "/api/v1/start"), ("POST", "/api/v1/finish")):
        response = api.request(method, url, headers=headers)
        assert response.status_code == 401
        assert "登录" in response.json()["detail"]


def test_api_is_exempt_from_csrf_but_pages_are_not(api: TestClient[Litestar], any_db: Db) -> None:
    assert api.post("/api/v1/login", json={"ticket": "x", "pin": "y"}).status_code == 401  # no CSRF cookie needed
    assert api.post("/test/answer", data={"item": "1"}).status_code == 403


def test_no_key_in_any_api_response(api: TestClient[Litestar], any_db: Db) -> None:
    token, item = _started(api, any_db)
    bodies = []
    state: dict[str, Any] = {"item": item, "status": "in_progress"}
    while state["status"] == "in_progress":
        bodies.append(json.dumps(api.get("/api/v1/item", headers=bearer(token)).json(), ensure_ascii=False))
        state = api.post(
            "/api/v1/answer",
            headers=bearer(token),
            json={"item_id": state["item"]["id"], "answer": some_answer(state["item"])},
        ).json()
    bodies.append(json.dumps(state, ensure_ascii=False))
    for body in bodies:
        for word in ('"key"', "rationale", "rubric", "score", "theta", '"a"', '"b"', "params"):
            assert word not in body, word


def test_a_hand_in_at_once_is_not_assessed_and_shows_no_level(api: TestClient[Litestar], any_db: Db) -> None:
    """Issue 12, defect 2: POST /finish right after start stored scale 500, 良好, passed."""
    token = api_login(api, any_db)["token"]
    token = api.post("/api/v1/start", headers=bearer(token)).json()["token"]
    done = api.post("/api/v1/finish", headers=bearer(token))
    assert done.status_code == 200
    assert done.json()["status"] == "finished" and done.json()["result"] is None
    assert done.json()["assessed"] is False
    with Session(any_db.engine) as s:
        ts = s.exec(select(TestSession)).one()
    assert (ts.n_scored, ts.assessed, ts.scale_score, ts.level, ts.passed) == (0, False, None, None, None)
