"""The JSON API takes JSON only, and nothing from another site (issue 12, defect 3).

Without these, any web page could make a student's own browser post logins to ``/api/v1/login``
(a ``text/plain`` body is a "simple" cross-site request: no preflight) and lock the student out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func, select

from assess.models import LoginFailure
from tests.web.conftest import Db, make_app


@pytest.fixture
def api(db: Db, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(make_app(db, tmp_path)) as client:
        yield client


def _failures(db: Db) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(LoginFailure)).scalar_one())


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_login_that_is_not_json_is_refused_before_anything_is_counted(
    api: TestClient[Litestar], db: Db, content_type: str
) -> None:
    body = json.dumps({"ticket": db.world.pupils[0].ticket, "pin": "000000"})
    response = api.post("/api/v1/login", content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert "application/json" in response.json()["detail"]
    assert _failures(db) == 0


def test_an_answer_that_is_not_json_is_refused(api: TestClient[Litestar], db: Db) -> None:
    pupil = db.world.pupils[0]
    token = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()["token"]
    response = api.post(
        "/api/v1/answer",
        content=json.dumps({"item_id": 1, "answer": "A"}),
        headers={"Content-Type": "text/plain", "Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.local.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "https://other.testserver.local"},
    ],
)
def test_a_cross_site_login_is_refused_before_anything_is_counted(
    api: TestClient[Litestar], db: Db, headers: dict[str, str]
) -> None:
    response = api.post("/api/v1/login", json={"ticket": db.world.pupils[0].ticket, "pin": "000000"}, headers=headers)
    assert response.status_code == 403, response.text
    assert _failures(db) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {},  # another front end (no browser): no Origin at all
        {"Origin": "http://testserver.local"},
        {"Sec-Fetch-Site": "same-origin", "Origin": "http://testserver.local"},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar, a bookmark
        {"Content-Type": "application/json; charset=utf-8"},
    ],
)
def test_same_site_and_non_browser_logins_go_through(
    api: TestClient[Litestar], db: Db, headers: dict[str, str]
) -> None:
    pupil = db.world.pupils[0]
    body = json.dumps({"ticket": pupil.ticket, "pin": pupil.pin})
    response = api.post("/api/v1/login", content=body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == 200, response.text


def test_a_cross_site_start_is_refused(api: TestClient[Litestar], db: Db) -> None:
    pupil = db.world.pupils[0]
    token = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()["token"]
    response = api.post("/api/v1/start", headers={"Authorization": f"Bearer {token}", "Origin": "https://evil.example"})
    assert response.status_code == 403
