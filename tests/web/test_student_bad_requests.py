"""Bad requests get a clear 4xx and change nothing (the database is compared before and after)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.models import Response, TestSession
from itembank.models import ItemVersion
from tests.web.conftest import Db, csrf, db_counts, item_id, login, post_form
from tests.web.test_student_pages import form_answer, start
from web.security import CSRF_COOKIE, SESSION_COOKIE


def refused(db: Db, send: Callable[[], Any], status: int, text: str | None = None) -> Any:
    before = db_counts(db.engine)
    response = send()
    assert response.status_code == status, response.text[:500]
    if text is not None:
        assert text in response.text
    assert db_counts(db.engine) == before
    return response


def other_version(db: Db, current: int) -> int:
    with Session(db.engine) as s:
        return next(v for v in s.exec(select(ItemVersion.id)).all() if v != current)


def current_version(db: Db) -> ItemVersion:
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        version = s.get(ItemVersion, ts.current_item_version_id)
        assert version is not None
        return version


@pytest.mark.parametrize("htmx", [False, True])
def test_answer_to_another_item(client: TestClient[Litestar], db: Db, htmx: bool) -> None:
    html = start(client, db)
    data = {**form_answer(html), "item": str(other_version(db, item_id(html)))}
    response = refused(db, lambda: post_form(client, "/test/answer", data, htmx=htmx), 409, "只能回答当前显示的题目")
    # the refusal shows the item that is on screen, so the student can go on
    assert item_id(response.text) == item_id(html)
    assert ("<html" in response.text) is (not htmx)


def test_answer_to_an_item_that_does_not_exist(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    refused(db, lambda: post_form(client, "/test/answer", {**form_answer(html), "item": "999999"}), 409)


@pytest.mark.parametrize("item", ["abc", "", "1.5", "-"])
def test_tampered_item_field(client: TestClient[Litestar], db: Db, item: str) -> None:
    html = start(client, db)
    refused(db, lambda: post_form(client, "/test/answer", {**form_answer(html), "item": item}), 400)


def test_missing_item_field(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    data = form_answer(html)
    del data["item"]
    refused(db, lambda: post_form(client, "/test/answer", data), 400)


def test_item_field_sent_twice(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    data = {**form_answer(html), "item": [str(item_id(html)), "1"]}
    refused(db, lambda: post_form(client, "/test/answer", data), 400)


def test_option_that_the_item_does_not_have(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    version = current_version(db)
    data: dict[str, Any] = {"item": str(version.id)}
    if version.type == "partial_credit":
        data.update({f"part-{i}": "Z" for i in range(len(version.parts or []))})
    else:
        data["answer"] = "Z"
    response = refused(db, lambda: post_form(client, "/test/answer", data), 400, "与这道题不符")
    assert item_id(response.text) == item_id(html)


def _move_to(client: TestClient[Litestar], db: Db, kind: str) -> str:
    html = start(client, db)
    for _ in range(12):
        if current_version(db).type == kind:
            return html
        post_form(client, "/test/answer", form_answer(html))
        html = client.get("/test").text
    raise AssertionError(f"no {kind} item")


def test_two_answers_to_a_single_choice_item(client: TestClient[Litestar], db: Db) -> None:
    html = _move_to(client, db, "single_choice")
    data = {"item": str(item_id(html)), "answer": ["A", "B"]}
    refused(db, lambda: post_form(client, "/test/answer", data), 400)


def test_partial_credit_with_a_part_it_does_not_have(client: TestClient[Litestar], db: Db) -> None:
    html = _move_to(client, db, "partial_credit")
    data = {**form_answer(html), "part-9": "A"}
    refused(db, lambda: post_form(client, "/test/answer", data), 400)
    data = {**form_answer(html), "answer": "A"}
    refused(db, lambda: post_form(client, "/test/answer", data), 400)


def test_parts_sent_to_a_choice_item(client: TestClient[Litestar], db: Db) -> None:
    html = _move_to(client, db, "single_choice")
    refused(db, lambda: post_form(client, "/test/answer", {**form_answer(html), "part-0": "A"}), 400)


@pytest.mark.parametrize("htmx", [False, True])
def test_empty_answer_asks_before_skipping(client: TestClient[Litestar], db: Db, htmx: bool) -> None:
    html = start(client, db)
    response = refused(
        db, lambda: post_form(client, "/test/answer", {"item": str(item_id(html))}, htmx=htmx), 422, "跳过，提交"
    )
    assert item_id(response.text) == item_id(html)
    assert 'name="skip" value="1"' in response.text
    # skipping on purpose stores an omitted answer (score 0) and moves on
    ok = post_form(client, "/test/answer", {"item": str(item_id(html)), "skip": "1"})
    assert ok.status_code == 303
    with Session(db.engine) as s:
        stored = s.exec(select(Response)).one()
    assert stored.score == 0 and stored.answer["value"] in (None, [None, None, None], [None, None, None, None])


def test_unfinished_parts_ask_before_skipping(client: TestClient[Litestar], db: Db) -> None:
    html = _move_to(client, db, "partial_credit")
    data = form_answer(html)
    del data["part-1"]
    refused(db, lambda: post_form(client, "/test/answer", data), 422, "还有小题没有作答")


def test_answer_after_time_is_up(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        ts.deadline = ts.started_at + timedelta(seconds=1) - timedelta(hours=1)
        s.add(ts)
        s.commit()
    response = refused(db, lambda: post_form(client, "/test/answer", form_answer(html)), 409, "作答时间已到")
    assert 'href="/finish"' in response.text
    with Session(db.engine) as s:
        assert s.exec(select(TestSession)).one().status == "in_progress"  # the refusal itself wrote nothing
    assert "时间到" in client.get("/finish").text  # the next page finishes the sitting


def test_changing_an_answer_already_given(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    first = form_answer(html, pick=0)
    assert post_form(client, "/test/answer", first).status_code == 303
    changed = form_answer(html, pick=1)
    refused(db, lambda: post_form(client, "/test/answer", changed), 409, "已经作答，不能修改")


def test_the_same_answer_again_is_harmless(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    data = form_answer(html)
    assert post_form(client, "/test/answer", data).status_code == 303
    before = db_counts(db.engine)
    again = post_form(client, "/test/answer", data, htmx=True)  # a retry after a lost response
    assert again.status_code == 200 and "第 2 题" in again.text
    assert db_counts(db.engine) == before


def test_answer_before_the_test_started(client: TestClient[Litestar], db: Db) -> None:
    login(client, db.world.pupils[0])
    with Session(db.engine) as s:
        version = s.exec(select(ItemVersion.id)).first()
    refused(db, lambda: post_form(client, "/test/answer", {"item": str(version), "answer": "A"}), 404)


def test_missing_csrf_token(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    data = form_answer(html)
    response = refused(db, lambda: client.post("/test/answer", data=data, follow_redirects=False), 403, "页面已过期")
    assert "<html" in response.text


def test_wrong_csrf_token(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    data = {**form_answer(html), "_csrf_token": "0" * 128}
    refused(db, lambda: client.post("/test/answer", data=data, follow_redirects=False), 403)
    headers = {"HX-Request": "true", "X-CSRFToken": "0" * 128}
    refused(db, lambda: client.post("/test/answer", data=form_answer(html), headers=headers), 403)


def test_csrf_token_of_another_browser(client: TestClient[Litestar], db: Db, tmp_path: Any) -> None:
    from tests.web.conftest import make_app

    html = start(client, db)
    with TestClient(make_app(db, tmp_path)) as other:
        foreign = csrf(other)
    assert foreign != client.cookies[CSRF_COOKIE]
    data = {**form_answer(html), "_csrf_token": foreign}
    refused(db, lambda: client.post("/test/answer", data=data, follow_redirects=False), 403)


def test_login_form_needs_csrf(client: TestClient[Litestar], db: Db) -> None:
    pupil = db.world.pupils[0]
    client.get("/login")
    response = client.post("/login", data={"ticket": pupil.ticket, "pin": pupil.pin}, follow_redirects=False)
    assert response.status_code == 403


@pytest.mark.parametrize("tamper", ["student", "signature", "device", "expired"])
def test_tampered_session_cookie(client: TestClient[Litestar], db: Db, tamper: str) -> None:
    html = start(client, db)
    value = client.cookies[SESSION_COOKIE]
    body, _, mac = value.rpartition(".")
    parts = body.split(".")
    if tamper == "student":
        parts[1] = str(db.world.pupils[1].id)
        forged = ".".join(parts) + "." + mac
    elif tamper == "signature":
        forged = body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    elif tamper == "device":
        parts[4] = "0" * 16
        forged = ".".join(parts) + "." + mac
    else:
        parts[5] = "1000"
        forged = ".".join(parts) + "." + mac
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, forged, domain="testserver.local")
    response = refused(db, lambda: post_form(client, "/test/answer", form_answer(html)), 303)
    assert response.headers["location"] == "/login"


def test_json_body_to_the_form_endpoint(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    token = csrf(client)
    headers = {"X-CSRFToken": token, "Content-Type": "application/json"}
    refused(db, lambda: client.post("/test/answer", content=b'{"item": 1', headers=headers), 400)


def test_unknown_page_is_a_clear_404(client: TestClient[Litestar]) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404 and "没有这个页面" in response.text
    assert client.delete("/test").status_code == 405


def test_no_key_in_an_error_page(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    response = post_form(client, "/test/answer", {"item": str(item_id(html))})
    assert response.status_code == 422
    assert not re.search(r"\bdata-key|\"key\"|rubric|score", response.text, re.IGNORECASE)
