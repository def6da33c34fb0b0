"""The researcher console over HTTP: start a calibration, follow it, read its results; the bank; the JSON API.

The app runs its own job consumer (a thread beside it, as ``infolit serve`` does), so a run started
from the form is really queued, claimed and run while the test polls its page.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import func
from sqlmodel import Session, select

from assess.research.bank import PAGE_SIZE
from assess.research.models import CalibrationRun
from tests.assess.research.conftest import build_trial
from tests.console_world import starter_bank_size
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login

SPEC = {"name": "网页标定", "assessment": "FT1", "items": "all", "model": "2pl", "poly_model": "declared",
        "anchors": "none", "groups": "grade", "min_responses": "50"}  # fmt: skip


def _runs(cdb: ConsoleDb) -> int:
    with Session(cdb.engine) as s:
        return int(s.exec(select(func.count()).select_from(CalibrationRun)).one())


def _until_done(client: TestClient[Litestar], url: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    seen_running = False
    while time.monotonic() < deadline:
        board = client.get(url, headers={"HX-Request": "true"})
        assert board.status_code == 200
        if 'id="run-board" hx-get' in board.text:
            seen_running = True
            assert "<progress" in board.text
        else:
            return board, seen_running
        time.sleep(0.2)
    raise AssertionError(f"{url} did not finish")


def test_a_researcher_starts_a_calibration_and_reads_its_results(cdb: ConsoleDb, tmp_path: Path) -> None:
    build_trial(cdb.engine, n_students=400)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        home = client.get("/console/research")
        assert home.status_code == 200 and 'id="run-form"' in home.text and "参数标定" in home.text
        assert 'value="FT1"' in home.text
        refused = console_post(client, "/console/research/runs", {**SPEC, "items": "pilot"})
        assert refused.status_code == 400 and "正式题须锚定" in refused.text and 'value="网页标定"' in refused.text
        assert _runs(cdb) == 0
        started = console_post(client, "/console/research/runs", SPEC)
        assert started.status_code == 303 and started.headers["location"] == "/console/research/runs/1"
        board, _ = _until_done(client, "/console/research/runs/1")
        assert "已完成：400 名学生，12 道题" in board.text
        page = client.get("/console/research/runs/1")
        assert page.text.count('role="img"') == 3 and "测验信息量与条件标准误" in page.text  # + the options
        table = page.text[page.text.index('id="parameters"') :]
        codes = re.findall(r'\?item=([^"#]+)#item-curves', table)
        assert len(codes) == 12
        picked = client.get(f"/console/research/runs/1?item={codes[5]}")
        assert f"题目 {codes[5]} 的特征曲线与信息量" in picked.text
        again = console_post(client, "/console/research/runs", SPEC)
        assert again.status_code == 400 and "已经有名为" in again.text and _runs(cdb) == 1
        assert client.get("/console/research/runs/99").status_code == 404
        listed = client.get("/console/research")
        assert "/console/research/runs/1" in listed.text and "已完成" in listed.text


def test_other_roles_do_not_see_the_research_console(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "prov99")
        assert client.get("/console/research").status_code == 403
        assert client.get("/console/bank").status_code == 403
        assert console_post(client, "/console/research/runs", SPEC).status_code == 403
        assert "参数标定" not in client.get("/console/areas").text
    assert _runs(cdb) == 0


def test_the_json_api_starts_and_reports_a_run(cdb: ConsoleDb, tmp_path: Path) -> None:
    from tests.console_world import PASSWORD

    build_trial(cdb.engine, n_students=300)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        bad = client.post("/api/v1/staff/research/runs", json={"name": "x", "assessment": "FT1", "model": "9pl"},
                          headers=auth)  # fmt: skip
        assert bad.status_code == 400 and "二级计分题模型" in bad.json()["detail"]
        made = client.post("/api/v1/staff/research/runs", json={"name": "api-1", "assessment": "FT1"}, headers=auth)
        assert made.status_code == 202 and made.json()["status"] == "queued", made.text
        run_id = made.json()["id"]
        deadline = time.monotonic() + 90
        while (got := client.get(f"/api/v1/staff/research/runs/{run_id}", headers=auth).json())["status"] != "done":
            assert got["status"] in ("queued", "running") and time.monotonic() < deadline, got
            time.sleep(0.2)
        assert got["summary"]["n_students"] == 300 and len(got["parameters"]) == 12
        first = got["parameters"][0]
        assert first["se_a"] > 0 and 0 < first["p_value"] < 1 and first["b"] and first["se_b"][0] > 0
        assert got["code_version"].startswith("infolit ")
        assert [r["name"] for r in client.get("/api/v1/staff/research/runs", headers=auth).json()] == ["api-1"]
        assert client.get("/api/v1/staff/research/runs/77", headers=auth).status_code == 404


def test_the_bank_filters_sorts_and_pages_and_shows_an_item(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        page = client.get("/console/bank")
        n = starter_bank_size()
        pages = math.ceil(n / PAGE_SIZE)
        assert page.status_code == 200 and f"共 {n} 道题，第 1 / {pages} 页" in page.text
        d2 = client.get("/console/bank?dimension=D2&type=partial_credit")
        rows = re.findall(r'href="/console/bank/items/([^"]+)"', d2.text)
        assert rows and all(r.startswith("D2.") for r in rows)
        fragment = client.get("/console/bank?dimension=D2&sort=b&desc=1", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="bank-results"' in fragment.text
        bs = [float(x) for x in re.findall(r"<td>(-?\d+\.\d\d)</td>\s*<td class=\"detail\">", fragment.text)]
        assert bs == sorted(bs, reverse=True) and len(bs) > 5
        second = client.get("/console/bank?page=2")
        assert f"第 2 / {pages} 页" in second.text and 'rel="prev"' in second.text
        assert f"第 {pages} / {pages} 页" in client.get("/console/bank?page=999").text  # past the end: the last page
        item = client.get("/console/bank/items/D2.2-010")
        assert item.status_code == 200 and 'id="preview"' in item.text and "disabled" in item.text
        assert "provisional" in item.text and 'role="img"' in item.text and "第 1 版（现行）" in item.text
        assert client.get("/console/bank/items/NO-SUCH").status_code == 404
