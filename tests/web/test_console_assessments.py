"""Testing rounds in the console and the staff API: list, create from a file, open, close (admins, researchers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from assess.assessment_file import example_file
from assess.models import Assessment, TestSession
from itembank.calibrations import bank_params, store_calibration
from itembank.db import session_scope
from itembank.models import PROVISIONAL
from tests.console_world import PASSWORD
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login


def publish_copy(cdb: Any) -> None:
    """The bank's provisional parameters stored again as a published calibration named ``published``."""
    with session_scope(cdb.engine) as s:
        params = bank_params(session=s, calibration=PROVISIONAL)
        store_calibration(session=s, name="published", params=params, status="operational")


def round_text(code: str = "NEW-1") -> str:
    """A file of a grade-8 round on the web world's small band (nine items)."""
    return (
        example_file(code=code, grades=(8,))
        .replace('# calibration = "..."', 'calibration = "published"')
        .replace("min_items = 24", "min_items = 4")
        .replace("max_items = 30", "max_items = 6")
        .replace("pilot_items = 2", "pilot_items = 1")
        .replace("min_items = 5, max_items = 9", "min_items = 0, max_items = 6")
    )


@pytest.fixture
def admin(cdb: ConsoleDb, tmp_path: Path) -> Any:
    publish_copy(cdb)
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, "root")
        yield client


def _count(cdb: ConsoleDb, table: Any) -> int:
    with Session(cdb.engine) as s:
        return len(s.exec(select(table)).all())


def test_an_admin_sees_every_round_and_the_menu_names_the_page(admin: TestClient[Litestar]) -> None:
    page = admin.get("/console/assessments")
    assert page.status_code == 200
    for code in ("WEB-OPEN", "WEB-CLOSED", "WEB-LATER"):
        assert f'data-round="{code}"' in page.text
    assert 'href="/console/assessments" aria-current="page"' in page.text
    assert 'name="text"' in page.text and "code = " in page.text  # the example file to edit


def test_a_file_with_problems_is_listed_and_nothing_is_written(admin: TestClient[Litestar], cdb: ConsoleDb) -> None:
    before = (_count(cdb, Assessment), _count(cdb, AuditEvent))
    bad = round_text().replace("grades = [8]", "grades = [8, 13]").replace("max_items = 6", "max_items = 0")
    response = console_post(admin, "/console/assessments", {"text": bad}, files={"file": ("", b"", "text/plain")})
    assert response.status_code == 422
    assert 'id="problems"' in response.text and "未写入任何数据" in response.text
    assert "grades" in response.text and "1 到 12" in response.text
    assert (_count(cdb, Assessment), _count(cdb, AuditEvent)) == before  # no round, no event


def test_an_uploaded_file_creates_a_round_then_htmx_opens_it(admin: TestClient[Litestar], cdb: ConsoleDb) -> None:
    made = console_post(
        admin, "/console/assessments", files={"file": ("round.toml", round_text().encode(), "application/toml")}
    )
    assert made.status_code == 200, made.text
    assert "已创建测评批次 NEW-1" in made.text and 'data-round="NEW-1" data-state="scheduled"' in made.text
    opened = console_post(admin, "/console/assessments/NEW-1/open", headers={"HX-Request": "true"})
    assert opened.status_code == 200
    assert "<html" not in opened.text and 'id="assessments-card"' in opened.text  # only the card
    assert 'data-round="NEW-1" data-state="open"' in opened.text
    again = console_post(admin, "/console/assessments/NEW-1/open")
    assert again.status_code == 409 and "已经在开放中" in again.text
    with Session(cdb.engine) as s:
        actions = [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.actor == "root")).all()]
    assert actions.count("assessment.create") == 1 and actions.count("assessment.open") == 1


def test_closing_a_window_with_sittings_under_way_ends_and_scores_them(
    admin: TestClient[Litestar], cdb: ConsoleDb
) -> None:
    with Session(cdb.engine) as s:
        running = s.exec(
            select(TestSession).where(
                TestSession.assessment_id == cdb.console.assessment_id, TestSession.status == "in_progress"
            )
        ).all()
    assert running, "the console world has a sitting in progress"
    closed = console_post(admin, f"/console/assessments/{cdb.console.assessment_code}/close")
    assert closed.status_code == 200, closed.text
    assert f"测评 {cdb.console.assessment_code} 已关闭；结束了 {len(running)} 场未交卷的作答" in closed.text
    with Session(cdb.engine) as s:
        for ts in running:
            now = s.get(TestSession, ts.id)
            assert now is not None and now.status == "expired" and now.assessed is not None
    assert f'data-round="{cdb.console.assessment_code}" data-state="closed"' in closed.text
    reopened = console_post(
        admin, f"/console/assessments/{cdb.console.assessment_code}/open", {"until": "2099-01-01T08:00"}
    )
    assert reopened.status_code == 200 and "已开放" in reopened.text


@pytest.mark.parametrize("username", ["prov99", "school2"])
def test_bureaus_and_schools_cannot_administer_rounds(cdb: ConsoleDb, tmp_path: Path, username: str) -> None:
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, username)
        assert client.get("/console/assessments").status_code == 403
        assert 'href="/console/assessments"' not in client.get("/console/account").text
        assert console_post(client, f"/console/assessments/{cdb.console.assessment_code}/close").status_code == 403
    with Session(cdb.engine) as s:
        assert s.exec(select(TestSession).where(TestSession.status == "expired")).all() == []


def test_the_staff_api_creates_opens_and_closes(cdb: ConsoleDb, tmp_path: Path) -> None:
    publish_copy(cdb)
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        bad = client.post("/api/v1/staff/assessments", json={"content": "code = 1\n"}, headers=auth)
        assert bad.status_code == 400 and bad.json()["error"] == "AssessmentFileError"
        assert any(p.startswith("code：") for p in bad.json()["problems"]) and len(bad.json()["problems"]) >= 3
        made = client.post("/api/v1/staff/assessments", json={"content": round_text("API-1")}, headers=auth)
        assert made.status_code == 201, made.text
        assert made.json()["status"] == "scheduled" and made.json()["bands"] == [["7-9", "adaptive"]]
        opened = client.post("/api/v1/staff/assessments/API-1/open", json={}, headers=auth)
        assert opened.status_code == 200 and opened.json()["status"] == "open"
        listed = client.get("/api/v1/staff/assessments", headers=auth).json()
        assert {a["code"] for a in listed} >= {"API-1", "WEB-OPEN"}
        closed = client.post("/api/v1/staff/assessments/API-1/close", headers=auth)
        assert closed.status_code == 200 and closed.json()["assessment"]["status"] == "closed"
        assert client.post("/api/v1/staff/assessments/API-1/close", headers=auth).status_code == 409
        assert client.post("/api/v1/staff/assessments/NOPE/close", headers=auth).status_code == 404
        bureau = client.post("/api/v1/staff/login", json={"username": "prov99", "password": PASSWORD}).json()["token"]
        refused = client.get("/api/v1/staff/assessments", headers={"Authorization": f"Bearer {bureau}"})
        assert refused.status_code == 403


def test_an_answer_sent_after_the_close_is_refused_and_the_sitting_is_scored_on_the_rest(
    cdb: ConsoleDb, tmp_path: Path
) -> None:
    from assess.models import Response
    from tests.web.test_student_api import bearer, some_answer

    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        for pupil in cdb.world.pupils:  # one the console world has not started
            login = client.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()
            if login["status"] == "not_started":
                break
        else:
            pytest.fail("no pupil left to start")
        started = client.post("/api/v1/start", headers=bearer(login["token"])).json()
        token, state = started["token"], started["sitting"]
        for _ in range(2):  # two answers: the worker's fast path now holds the sitting
            answered = client.post(
                "/api/v1/answer",
                headers=bearer(token),
                json={"item_id": state["item"]["id"], "answer": some_answer(state["item"])},
            )
            assert answered.status_code == 200, answered.text
            state = answered.json()
        staff = client.post("/api/v1/staff/login", json={"username": "root", "password": PASSWORD}).json()["token"]
        closed = client.post(f"/api/v1/staff/assessments/{cdb.console.assessment_code}/close", headers=bearer(staff))
        assert closed.status_code == 200 and closed.json()["expired"] >= 1
        late = client.post(
            "/api/v1/answer",
            headers=bearer(token),
            json={"item_id": state["item"]["id"], "answer": some_answer(state["item"])},
        )
        assert late.status_code == 409, late.text
    with Session(cdb.engine) as s:
        assert s.exec(select(TestSession).where(TestSession.status == "in_progress")).all() == []
        mine = s.exec(
            select(TestSession).where(
                TestSession.assessment_id == cdb.console.assessment_id, TestSession.student_id == pupil.id
            )
        ).one()
        assert mine.status == "expired"
        assert len(s.exec(select(Response).where(Response.session_id == mine.id)).all()) == 2  # the late one is not
        assert mine.assessed is False  # two answers: fewer than the blueprint's minimum, kept but not assessed
