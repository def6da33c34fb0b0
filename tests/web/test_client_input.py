"""Whatever a client sends is a clear 4xx, never a 5xx, and no error names an exception class (issue 12, defect 4)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tests.web.conftest import Db, db_counts, make_app, post_form
from tests.web.test_student_pages import start

HUGE_IDS = [2**31 - 1, 2**31, 2**32 + 5, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1, 0, -1]
INTERNAL = {"DataError", "OverflowError", "RecursionError", "ValueError", "IntegrityError", "InternalServerError"}


@pytest.fixture
def api(any_db: Db, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(make_app(any_db, tmp_path)) as client:
        yield client


def _token(api: TestClient[Litestar], db: Db) -> str:
    pupil = db.world.pupils[0]
    token = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()["token"]
    started = api.post("/api/v1/start", headers={"Authorization": f"Bearer {token}"})
    return str(started.json()["token"])


def _clean_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if response.headers.get("content-type", "").startswith("application/json"):
        assert response.json().get("error") not in INTERNAL, response.text


@pytest.mark.parametrize("item_id", HUGE_IDS)
def test_an_item_id_out_of_range_through_the_api(api: TestClient[Litestar], any_db: Db, item_id: int) -> None:
    token = _token(api, any_db)
    before = db_counts(any_db.engine)
    response = api.post(
        "/api/v1/answer", headers={"Authorization": f"Bearer {token}"}, json={"item_id": item_id, "answer": "A"}
    )
    _clean_4xx(response)
    assert db_counts(any_db.engine) == before


@pytest.mark.parametrize("item_id", HUGE_IDS)
def test_an_item_id_out_of_range_through_the_form(any_db: Db, tmp_path: Path, item_id: int) -> None:
    with TestClient(make_app(any_db, tmp_path)) as client:
        start(client, any_db)
        before = db_counts(any_db.engine)
        for htmx in (False, True):
            _clean_4xx(post_form(client, "/test/answer", {"item": str(item_id), "answer": "A"}, htmx=htmx))
        assert db_counts(any_db.engine) == before


@pytest.mark.parametrize("depth", [200, 5_000, 100_000])
@pytest.mark.parametrize("route", ["/api/v1/login", "/api/v1/answer"])
def test_a_deeply_nested_json_body(api: TestClient[Litestar], any_db: Db, depth: int, route: str) -> None:
    token = _token(api, any_db)
    body = '{"ticket": ' + "[" * depth + "]" * depth + ', "pin": "1"}'
    if route.endswith("answer"):
        body = '{"item_id": 1, "answer": ' + "[" * depth + "]" * depth + "}"
    response = api.post(
        route, content=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    _clean_4xx(response)


@pytest.mark.parametrize(
    "path",
    ["/static/app.css%00.js", "/static/%00", "/static/app.css%00", "/static/%1b", "/login%00", "/api/v1/item%00"],
)
def test_a_nul_in_the_path(api: TestClient[Litestar], path: str) -> None:
    _clean_4xx(api.get(path))


def test_a_nul_in_the_ticket_through_the_form(any_db: Db, tmp_path: Path) -> None:
    with TestClient(make_app(any_db, tmp_path)) as client:
        _clean_4xx(post_form(client, "/login", {"ticket": "W8\x00", "pin": "123456"}))


def test_errors_name_no_exception_class_of_a_library(api: TestClient[Litestar]) -> None:
    """A refusal says what is wrong in words; the ``error`` field is a stable code, not a class name."""
    response = api.post("/api/v1/login", content="{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "BadRequest"  # was "ClientException", Litestar's class
    refused = api.post("/api/v1/answer", json={"item_id": 1})
    assert refused.status_code == 401 and refused.json()["error"] == "NotSignedIn"  # InfoLit's own, by name
