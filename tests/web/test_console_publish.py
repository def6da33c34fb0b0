"""Publishing in the researcher console over HTTP: review, publish, history, undo, rescoring; the JSON API."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.models import Assessment
from itembank.models import Calibration
from tests.assess.conftest import BLUEPRINT
from tests.assess.research.test_publish import TRUE_A, TRUE_B
from tests.assess.research.test_publish import _world as _bank_world
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login

SMALL = dataclasses.replace(BLUEPRINT, min_items=4, max_items=6, pilot_items=0, content=())
"""A test the web world's smaller bank can serve."""


def _world(engine: Any) -> None:
    _bank_world(engine, students=False, blueprint=SMALL)


def _status(cdb: ConsoleDb) -> dict[str, str]:
    with Session(cdb.engine) as s:
        return {c.name: c.status for c in s.exec(select(Calibration)) if c.name in ("OLD", "NEW")}


def _a1_calibration(cdb: ConsoleDb) -> str:
    with Session(cdb.engine) as s:
        a1 = s.exec(select(Assessment).where(Assessment.code == "A1")).one()
        cal = s.get(Calibration, a1.calibration_id)
        return cal.name if cal is not None else ""


def _token(client: TestClient[Litestar], username: str) -> dict[str, str]:
    from tests.console_world import PASSWORD

    token = client.post("/api/v1/staff/login", json={"username": username, "password": PASSWORD}).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_researcher_reviews_publishes_and_undoes_a_calibration(cdb: ConsoleDb, tmp_path: Path) -> None:
    _world(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        review = client.get("/console/research/calibrations/NEW/publish")
        assert review.status_code == 200 and 'id="publish-form"' in review.text
        assert f"{TRUE_A:.4f}" in review.text and f"{TRUE_B:.4f}" in review.text
        assert "Stocking-Lord" in review.text and "现用标定“OLD”" in review.text and "A1" in review.text
        fragment = client.get("/console/research/calibrations/NEW/publish", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="link-constants"' in fragment.text
        assert _status(cdb) == {"OLD": "operational", "NEW": "draft"}
        done = console_post(client, "/console/research/calibrations/NEW/publish")
        assert done.status_code == 303 and done.headers["location"] == "/console/research/publications"
        assert _status(cdb) == {"OLD": "superseded", "NEW": "operational"} and _a1_calibration(cdb) == "NEW"
        history = client.get("/console/research/publications")
        assert history.status_code == 200 and 'id="undo-form"' in history.text and "生效中" in history.text
        assert "A1 7-9" in history.text and "lab" in history.text
        again = console_post(client, "/console/research/calibrations/NEW/publish")
        assert again.status_code == 400 and "不是草稿" in again.text
        refused = client.get("/console/research/calibrations/OLD/publish")
        assert (
            refused.status_code == 200
            and 'id="publish-refused"' in refused.text
            and 'id="publish-form"' not in refused.text
        )
        assert client.get("/console/research/calibrations/NOPE/publish").status_code == 404
        undone = console_post(client, "/console/research/publications/undo")
        assert undone.status_code == 303
        assert _status(cdb) == {"OLD": "operational", "NEW": "draft"} and _a1_calibration(cdb) == "OLD"
        after = client.get("/console/research/publications")
        assert "已撤销" in after.text and 'id="undo-form"' not in after.text
        nothing = console_post(client, "/console/research/publications/undo")
        assert nothing.status_code == 400 and "没有可以撤销" in nothing.text


def test_other_roles_cannot_publish(cdb: ConsoleDb, tmp_path: Path) -> None:
    _world(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "prov99")
        assert client.get("/console/research/publications").status_code == 403
        assert console_post(client, "/console/research/calibrations/NEW/publish").status_code == 403
        assert console_post(client, "/console/research/publications/undo").status_code == 403
    assert _status(cdb) == {"OLD": "operational", "NEW": "draft"}


def _until_done(client: TestClient[Litestar], url: str, headers: dict[str, str], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(url, headers=headers).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish")


def test_the_json_api_plans_publishes_lists_undoes_and_rescores(cdb: ConsoleDb, tmp_path: Path) -> None:
    _world(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        auth = _token(client, "lab")
        plan = client.get("/api/v1/staff/research/calibrations/NEW/publication-plan", headers=auth)
        assert plan.status_code == 200
        body = plan.json()
        assert body["linked"] and abs(body["A"] - TRUE_A) < 1e-4 and abs(body["B"] - TRUE_B) < 1e-4
        assert "A1" in body["moves"]
        assert client.get("/api/v1/staff/research/calibrations/NOPE/publication-plan", headers=auth).status_code == 404
        done = client.post("/api/v1/staff/research/calibrations/NEW/publish", headers=auth)
        assert done.status_code == 200 and done.json()["status"] == "published" and done.json()["can_undo"]
        listed = client.get("/api/v1/staff/research/publications", headers=auth).json()
        assert [p["calibration"] for p in listed] == ["NEW"]
        refused = client.post("/api/v1/staff/research/calibrations/NEW/publish", headers=auth)
        assert refused.status_code == 400
        job = client.post("/api/v1/staff/research/rescores", headers=auth, json={"calibration": "NEW"})
        assert job.status_code == 202, job.text
        finished = _until_done(client, f"/api/v1/staff/research/rescores/{job.json()['id']}", auth)
        assert finished["status"] == "done" and "按 NEW 重新评分" in finished["log"]
        draft = client.post(
            "/api/v1/staff/research/rescores", headers=auth, json={"calibration": "OLD", "assessment": "NOPE"}
        )
        assert draft.status_code == 404
        undo = client.post("/api/v1/staff/research/publications/undo", headers=auth)
        assert undo.status_code == 200 and undo.json()["status"] == "undone"
        assert client.post("/api/v1/staff/research/publications/undo", headers=auth).status_code == 400
        bureau = _token(client, "prov99")
        assert client.post("/api/v1/staff/research/calibrations/NEW/publish", headers=bureau).status_code == 403
    assert _status(cdb) == {"OLD": "operational", "NEW": "draft"}


def test_rescoring_from_the_console_runs_as_a_job_with_its_page(cdb: ConsoleDb, tmp_path: Path) -> None:
    _world(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        refused = console_post(client, "/console/research/rescores", {"calibration": "NEW", "assessment": ""})
        assert refused.status_code == 400 and "没有发布过" in refused.text
        history = client.get("/console/research/publications")
        assert 'id="rescore-form"' in history.text and 'value="OLD"' in history.text
        started = console_post(client, "/console/research/rescores", {"calibration": "OLD", "assessment": ""})
        assert started.status_code == 303
        url = started.headers["location"]
        assert url.startswith("/console/research/rescores/")
        deadline = time.monotonic() + 60
        while True:
            board = client.get(url, headers={"HX-Request": "true"})
            assert board.status_code == 200 and "<html" not in board.text
            if 'id="rescore-board" hx-get' not in board.text:
                break
            assert time.monotonic() < deadline, "the rescoring did not finish"
            time.sleep(0.2)
        assert "重新评分已完成" in board.text and "按 OLD 重新评分" in board.text
        assert client.get("/console/research/rescores/9999").status_code == 404
