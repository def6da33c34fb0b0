"""Logout revokes the token on the server: a copy of it is refused afterwards (issue 12, defect 9)."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.models import TestSession
from tests.web.conftest import Db, item_id, make_app, post_form
from tests.web.test_student_pages import form_answer, start
from web.security import SESSION_COOKIE


def test_a_copied_cookie_is_refused_after_logout(any_db: Db, tmp_path: Path) -> None:
    with TestClient(make_app(any_db, tmp_path)) as student, TestClient(make_app(any_db, tmp_path)) as thief:
        html = start(student, any_db)
        post_form(student, "/test/answer", form_answer(html))
        thief.cookies.set(SESSION_COOKIE, student.cookies[SESSION_COOKIE], domain="testserver.local")
        on_screen = item_id(thief.get("/test").text)  # the copy works while the student is signed in
        assert post_form(student, "/logout", {}).status_code == 303
        for url in ("/test", "/instructions", "/finish"):
            refused = thief.get(url, follow_redirects=False)
            assert refused.status_code == 303 and refused.headers["location"] == "/login", url
        answer = post_form(thief, "/test/answer", {"item": str(on_screen), "answer": "A"})
        assert answer.status_code == 303 and answer.headers["location"] == "/login"
        with Session(any_db.engine) as s:
            assert len(s.exec(select(TestSession)).one().device) == 16  # held by no device now
        # the student logs in again and goes on at the same item
        pupil = any_db.world.pupils[0]
        again = post_form(student, "/login", {"ticket": pupil.ticket, "pin": pupil.pin})
        assert again.headers["location"] == "/test"
        assert item_id(student.get("/test").text) == on_screen


def test_a_copied_bearer_token_is_refused_after_logout(any_db: Db, tmp_path: Path) -> None:
    pupil = any_db.world.pupils[0]
    with TestClient(make_app(any_db, tmp_path)) as api:
        token = api.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()["token"]
        started = api.post("/api/v1/start", headers={"Authorization": f"Bearer {token}"}).json()
        token, item = started["token"], started["sitting"]["item"]
        auth = {"Authorization": f"Bearer {token}"}
        assert api.get("/api/v1/item", headers=auth).status_code == 200
        assert api.post("/api/v1/logout", headers=auth).status_code == 204
        assert api.get("/api/v1/item", headers=auth).status_code == 401
        value = item["options"][0]["value"] if item["options"] else None
        answered = api.post("/api/v1/answer", headers=auth, json={"item_id": item["id"], "answer": value})
        assert answered.status_code == 401  # the fast path's cache does not let the old device in
        assert api.post("/api/v1/finish", headers=auth).status_code == 401
        assert api.post("/api/v1/logout", headers=auth).status_code == 204  # signing out twice is harmless
        assert api.get("/api/v1/item", headers=auth).status_code == 401
