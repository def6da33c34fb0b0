"""The root of the area tree shows the nation's profile to admins and researchers, and only to them."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from tests.console_world import FAR_MARKERS, PASSWORD, leaked
from tests.web.conftest import ConsoleDb, make_console_app, staff_login


@pytest.mark.parametrize("username", ["root", "lab"])
def test_the_root_shows_the_nations_profile_and_its_downloads(cdb: ConsoleDb, tmp_path: Path, username: str) -> None:
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, username)
        page = client.get("/console/areas")
        assert page.status_code == 200
        assert "全国概况" in page.text and 'href="/console/national/download/csv' in page.text
        csv = client.get("/console/national/download/csv")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
        assert "全国" in csv.content.decode("utf-8-sig")
        assert client.get("/console/national/download/exe").status_code == 404
        token = client.post("/api/v1/staff/login", json={"username": username, "password": PASSWORD}).json()["token"]
        api = client.get("/api/v1/staff/national/profile", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 200 and api.json()["profile"]["identity"]["level"] == "national"
    with Session(cdb.engine) as s:
        targets = [e.target for e in s.exec(select(AuditEvent).where(AuditEvent.actor == username)).all()]
    assert "area:national" in targets


@pytest.mark.parametrize("username", ["prov99", "school2"])
def test_a_bureau_or_a_school_cannot_reach_the_nations_profile(cdb: ConsoleDb, tmp_path: Path, username: str) -> None:
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, username)
        token = client.post("/api/v1/staff/login", json={"username": username, "password": PASSWORD}).json()["token"]
        api = client.get("/api/v1/staff/national/profile", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code in (403, 404) and "national" not in api.text.replace("NotFound", "")
        refused = client.get("/console/national/download/csv")
        assert refused.status_code in (403, 404)
        assert not leaked(refused.text, FAR_MARKERS)
        if username == "prov99":
            own = client.get("/console/areas")
            assert own.status_code == 200 and "全国概况" not in own.text
