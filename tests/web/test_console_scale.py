"""The scale in the researcher console over HTTP: a bookmark study from the form to an adopted version; the JSON API."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from tests.assess.standards.conftest import build_bank
from tests.console_world import PASSWORD
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login

STUDY = {"name": "初中书签", "band": "7-9", "assessment": "IMP", "calibration": ""}
PANEL = {"王老师": (1, 2, 3), "李老师": (1, 3, 4), "张老师": (2, 3, 4)}


def test_a_researcher_runs_a_bookmark_study_and_adopts_its_cuts(cdb: ConsoleDb, tmp_path: Path) -> None:
    build_bank(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        home = client.get("/console/research/scale")
        assert home.status_code == 200 and "生效的量表：第 1 版" in home.text and 'id="study-form"' in home.text
        assert "<td>420.0</td><td>490.0</td><td>560.0</td><td>指标框架</td>" in home.text
        assert 'href="/console/research/scale" aria-current="page"' in home.text
        refused = console_post(client, "/console/research/scale/studies", {**STUDY, "band": "99"})
        assert refused.status_code == 400 and "指标框架中没有年级段 99" in refused.text
        made = console_post(client, "/console/research/scale/studies", STUDY)
        assert made.status_code == 303
        url = made.headers["location"]
        page = client.get(url)
        assert page.status_code == 200 and "有序题册（共 4 页）" in page.text and "第 1 轮还没有书签" in page.text
        for who, pages in PANEL.items():
            form = {"round": "1", "panellist": who, **{f"page{k + 1}": str(p) for k, p in enumerate(pages)}}
            assert console_post(client, f"{url}/bookmarks", form).status_code == 303
        bad = console_post(client, f"{url}/bookmarks", {"round": "1", "panellist": "赵", "page1": "3", "page2": "2",
                                                        "page3": "4"})  # fmt: skip
        assert bad.status_code == 400 and "书签须从低到高" in bad.text
        board = client.get(f"{url}?round=1", headers={"HX-Request": "true"})
        assert board.status_code == 200 and "<html" not in board.text and 'id="round-board"' in board.text
        cuts = re.findall(r"<td>(\d+\.\d)</td><td>\d+\.\d</td><td>\d+\.\d</td></tr>", board.text)
        assert cuts == ["470.8", "609.0", "696.1"]
        assert "<td>33.3%</td><td>33.3%</td><td>16.7%</td><td>16.7%</td>" in board.text  # 2, 2, 1, 1 of 6
        assert "处于“良好”水平的学生通常能够" in board.text
        saved = console_post(client, f"{url}/described", {"round": "1", "level1": "能查找与辨别常见信息。"})
        assert saved.status_code == 303
        assert "能查找与辨别常见信息。</textarea>" in client.get(f"{url}?round=1").text
        adopted = console_post(client, f"{url}/adopt", {"round": "1", "name": "2026 初中"})
        assert adopted.status_code == 303 and adopted.headers["location"] == "/console/research/scale"
        home = client.get("/console/research/scale")
        assert (
            "生效的量表：第 2 版 2026 初中" in home.text
            and "<td>470.8</td><td>609.0</td><td>696.1</td><td>本版本</td>" in home.text
        )
        assert "已采用为第 2 版" in home.text and "重新启用" in home.text
        assert client.get("/console/research/scale/studies/99").status_code == 404
        back = console_post(client, "/console/research/scale/versions/1/activate")
        assert back.status_code == 303 and "生效的量表：第 1 版" in client.get("/console/research/scale").text
    with Session(cdb.engine) as s:
        actions = list(s.exec(select(AuditEvent.action)).all())
    assert actions.count("scale.adopt") == 2 and actions.count("standard.bookmarks") == 3


def test_the_json_api_sets_cuts_by_bookmarks(cdb: ConsoleDb, tmp_path: Path) -> None:
    build_bank(cdb.engine)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        base = "/api/v1/staff/research"
        assert client.get(f"{base}/scale", headers=auth).json()["cuts"]["7-9"] == [420.0, 490.0, 560.0]
        made = client.post(f"{base}/standard-setting/studies", json={"name": "api", "band": "7-9", "assessment": "IMP"},
                           headers=auth)  # fmt: skip
        assert made.status_code == 201 and [p["page"] for p in made.json()["booklet"]] == [1, 2, 3, 4]
        sid = made.json()["id"]
        for who, pages in PANEL.items():
            got = client.post(f"{base}/standard-setting/studies/{sid}/bookmarks", headers=auth,
                              json={"round": 1, "panellist": who, "pages": list(pages)})  # fmt: skip
            assert got.status_code == 200 and got.json()["rounds"] == [1]
        bad = client.post(f"{base}/standard-setting/studies/{sid}/bookmarks", headers=auth,
                          json={"round": 1, "panellist": "赵", "pages": [1, 9, 10]})  # fmt: skip
        assert bad.status_code == 400 and "书签页码须在 1 到 4 之间" in bad.json()["detail"]
        r = client.get(f"{base}/standard-setting/studies/{sid}/rounds/1", headers=auth).json()
        assert [round(c, 1) for c in r["cuts"]] == [470.8, 609.0, 696.1] and r["impact_n"] == 6
        assert r["impact"] == {"待提高": 2 / 6, "合格": 2 / 6, "良好": 1 / 6, "优秀": 1 / 6} and not r["weighted"]
        assert sorted(r["boundaries"][1]["pages"]) == [2, 3, 3] and r["boundaries"][1]["median_page"] == 3
        assert client.get(f"{base}/standard-setting/studies/{sid}/rounds/2", headers=auth).status_code == 400
        levels = client.get(f"{base}/standard-setting/studies/{sid}/levels?round=1", headers=auth).json()
        assert [len(x["pages"]) for x in levels] == [0, 2, 1, 1] and levels[0]["lower"] is None
        assert levels[1]["lower"] == levels[0]["upper"] and levels[3]["upper"] is None
        saved = client.post(f"{base}/standard-setting/studies/{sid}/described", json={"texts": {"优秀": "能创造。"}},
                            headers=auth)  # fmt: skip
        assert saved.status_code == 200 and saved.json()[3]["text"] == "能创造。"
        bad_level = client.post(f"{base}/standard-setting/studies/{sid}/described", json={"texts": {"满分": "x"}},
                                headers=auth)  # fmt: skip
        assert bad_level.status_code == 400
        adopted = client.post(f"{base}/standard-setting/studies/{sid}/rounds/1/adopt", json={}, headers=auth)
        assert adopted.status_code == 200 and adopted.json()["number"] == 2
        assert adopted.json()["cuts"]["7-9"] == [470.8, 609.0, 696.1]
        assert adopted.json()["described"] == {"7-9": {"优秀": "能创造。"}}
        versions = client.get(f"{base}/scale/versions", headers=auth).json()
        assert [(v["number"], v["active"]) for v in versions] == [(2, True), (1, False)]
        assert client.post(f"{base}/scale/versions/7/activate", headers=auth).status_code == 404
        edited = client.post(f"{base}/scale/versions", json={"name": "api 版", "cuts": {"3-4": [300, 380, 460]}},
                             headers=auth)  # fmt: skip
        assert edited.status_code == 201 and edited.json()["number"] == 3
        assert edited.json()["cuts"]["3-4"] == [300, 380, 460] and edited.json()["cuts"]["7-9"] == [470.8, 609.0, 696.1]
        wrong = client.post(f"{base}/scale/versions", json={"levels": ["a"]}, headers=auth)
        assert wrong.status_code == 400 and "四个互不相同" in wrong.json()["detail"]


def _version_form(**changes: str) -> dict[str, str]:
    from assess.scales import LEVEL_DESCRIPTIONS, LEVELS, cut_scores_for_band

    form = {"name": "改名版", "baseline_mean": "", "baseline_sd": "", "pass_level": "1"}
    for k, lv in enumerate(LEVELS):
        form[f"name{k}"], form[f"description{k}"] = lv, LEVEL_DESCRIPTIONS[lv]
    for band in ("3-4", "5-6", "7-9", "10-12"):
        for k, c in enumerate(cut_scores_for_band(band).cuts):
            form[f"cut-{band}-{k}"] = f"{c:.1f}"
    return {**form, **changes}


def test_the_version_form_adopts_an_edited_scale(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        assert 'id="version-form"' in client.get("/console/research/scale").text
        refused = console_post(client, "/console/research/scale/versions", _version_form(**{"cut-7-9-1": "400.0"}))
        assert refused.status_code == 400 and "年级段 7-9 的分数线须从低到高严格递增" in refused.text
        half = console_post(client, "/console/research/scale/versions", _version_form(baseline_mean="0.3"))
        assert half.status_code == 400 and "同时给出" in half.text
        form = _version_form(name1="达标", description3="真棒。", baseline_mean="0.1", baseline_sd="0.9",
                             **{"cut-7-9-0": "425.5"})  # fmt: skip
        assert console_post(client, "/console/research/scale/versions", form).status_code == 303
        home = client.get("/console/research/scale").text
        assert (
            "生效的量表：第 2 版 改名版" in home and "待提高、达标、良好、优秀" in home and "达到“达标”即为达标" in home
        )
        assert "<td>425.5</td><td>490.0</td><td>560.0</td><td>本版本</td>" in home
        assert (
            "<td>330.0</td><td>400.0</td><td>470.0</td><td>指标框架</td>" in home
        )  # untouched bands stay the framework's
        assert "真棒。</textarea>" in home and "均值 0.1，标准差 0.9" in home
