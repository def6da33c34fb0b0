"""Bank editing and data out in the researcher console over HTTP: item form, status, import, framework, files, API."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import func
from sqlmodel import Session, col, select

from assess.research.dataout import assessment_source, long_csv, wide_csv
from itembank.models import Framework, Item, ItemVersion
from itembank.services import lock_item_version
from tests.assess.research.conftest import build_trial
from tests.itembank import samples
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login

NEW = {
    "type": "single_choice", "code": "D4.3-901", "indicator": "D4.3", "grade_bands": ["7-9"], "author": "测试",
    "stem": "收到陌生链接，最稳妥的做法是？", "option_A": "立即点开", "option_B": "问清来源再决定",
    "option_C": "转发给同学",
    "key": "B", "rationale": "B 正确。", "enemies": "", "model": "2pl", "a": "1.1", "b": "0.2", "c": "0",
}  # fmt: skip


def _item(cdb: ConsoleDb, code: str) -> tuple[Item, list[ItemVersion]] | None:
    with Session(cdb.engine) as s:
        item = s.exec(select(Item).where(Item.code == code)).first()
        if item is None:
            return None
        versions = list(
            s.exec(select(ItemVersion).where(ItemVersion.item_id == item.id).order_by(col(ItemVersion.number)))
        )
        return item, versions


def _items(cdb: ConsoleDb) -> int:
    with Session(cdb.engine) as s:
        return int(s.exec(select(func.count()).select_from(Item)).one())


def test_a_new_item_is_checked_previewed_and_saved_as_a_draft(cdb: ConsoleDb, tmp_path: Path) -> None:
    before = _items(cdb)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        form = client.get("/console/bank/new?type=single_choice")
        assert form.status_code == 200 and 'id="item-form"' in form.text and "单选题" in form.text
        assert 'name="option_F"' in form.text and 'href="/console/bank/new?type=partial_credit"' in form.text
        fragment = client.get("/console/bank/new?type=true_false", headers={"HX-Request": "true"})
        assert "<html" not in fragment.text and 'value="T"' in fragment.text and 'name="option_A"' not in fragment.text
        bad = console_post(client, "/console/bank/new", {**NEW, "key": "", "stem": "", "a": "很高"})
        assert bad.status_code == 422 and 'id="item-problems"' in bad.text
        assert 'data-field="stem"' in bad.text and "题干（stem）：不能为空" in bad.text
        assert 'data-field="params"' in bad.text and "须为数字（现在是 &#39;很高&#39;）" in bad.text
        assert 'data-field="key"' in bad.text and 'value="收到陌生链接' not in bad.text  # the stem was emptied
        assert 'value="立即点开"' in bad.text  # what was typed comes back
        preview = console_post(client, "/console/bank/new", {**NEW, "action": "preview"})
        assert preview.status_code == 200 and 'id="preview"' in preview.text and "问清来源再决定" in preview.text
        assert "尚未保存" in preview.text and _items(cdb) == before
        saved = console_post(client, "/console/bank/new", {**NEW, "action": "save"})
        assert saved.status_code == 303 and saved.headers["location"] == "/console/bank/items/D4.3-901?saved=created"
        page = client.get(saved.headers["location"])
        assert "已新建题目（草稿）" in page.text and "草稿" in page.text and 'id="status-form"' in page.text
        taken = console_post(client, "/console/bank/new", {**NEW, "action": "save"})
        assert taken.status_code == 400 and "已被占用" in taken.text
    found = _item(cdb, "D4.3-901")
    assert found is not None and found[0].status == "draft" and found[1][0].key == ["B"] and _items(cdb) == before + 1


def test_an_edit_changes_an_unanswered_version_and_versions_an_answered_one(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        form = client.get("/console/bank/items/D2.2-010/edit")
        assert form.status_code == 200 and "组合题" in form.text and 'name="part1_prompt"' in form.text
        values = _form_fields(form.text)
        first = console_post(
            client, "/console/bank/items/D2.2-010/edit", {**values, "stem": "新的题干。", "action": "save"}
        )
        assert first.headers["location"] == "/console/bank/items/D2.2-010?saved=updated"
        found = _item(cdb, "D2.2-010")
        assert found is not None and [v.stem for v in found[1]] == ["新的题干。"]
        with Session(cdb.engine) as s:
            lock_item_version(session=s, version_id=int(found[1][0].id or 0))
            s.commit()
        second = console_post(
            client, "/console/bank/items/D2.2-010/edit", {**values, "stem": "第二版。", "action": "save"}
        )
        assert second.headers["location"] == "/console/bank/items/D2.2-010?saved=new_version"
        page = client.get(second.headers["location"])
        assert "已保存为新版本" in page.text and "第 2 版（现行）" in page.text
        broken = console_post(client, "/console/bank/items/D2.2-010/edit", {**values, "score_map": "0;2;1;2"})
        assert broken.status_code == 422 and 'data-field="score_map"' in broken.text
        assert client.get("/console/bank/items/NOPE/edit").status_code == 404
    found = _item(cdb, "D2.2-010")
    assert found is not None and [v.stem for v in found[1]] == ["新的题干。", "第二版。"]


def _form_fields(html: str) -> dict[str, Any]:
    """The values an edit form was filled with (inputs, checked boxes and radios, selected options, textareas)."""
    import re

    out: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or name.group(1) == "_csrf_token":
            continue
        kind = re.search(r'type="([^"]+)"', tag)
        if kind and kind.group(1) in ("checkbox", "radio") and " checked" not in tag:
            continue
        text = value.group(1) if value else ""
        key = name.group(1)
        out[key] = (
            [*out[key], text] if key in out and key == "grade_bands" else [text] if key == "grade_bands" else text
        )
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        out[name] = body
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        if chosen:
            out[name] = chosen.group(1)
    return {k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'") if isinstance(v, str) else v
            for k, v in out.items()}  # fmt: skip


def test_status_moves_follow_the_rule_and_a_refusal_says_why(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        console_post(client, "/console/bank/new", {**NEW, "action": "save"})
        page = client.get("/console/bank/items/D4.3-901")
        assert '<option value="pilot">试测</option>' in page.text and 'value="operational"' not in page.text
        skipped = console_post(client, "/console/bank/items/D4.3-901/status", {"status": "operational"})
        assert skipped.status_code == 409 and "须先经过试测" in skipped.text
        moved = console_post(client, "/console/bank/items/D4.3-901/status", {"status": "pilot"})
        assert moved.status_code == 303 and moved.headers["location"].endswith("?saved=status")
        refused = console_post(client, "/console/bank/items/D4.3-901/status", {"status": "operational"})
        assert refused.status_code == 409 and "参数标定" in refused.text
        assert console_post(client, "/console/bank/items/D4.3-901/status", {"status": "retired"}).status_code == 303
        assert "状态不能再更改" in client.get("/console/bank/items/D4.3-901").text
        assert console_post(client, "/console/bank/items/NOPE/status", {"status": "pilot"}).status_code == 404
    found = _item(cdb, "D4.3-901")
    assert found is not None and found[0].status == "retired"


def test_an_import_shows_its_report_or_its_summary_and_writes_only_on_confirm(cdb: ConsoleDb, tmp_path: Path) -> None:
    before = _items(cdb)
    bad_doc = samples.bundle()
    bad_doc["items"][1]["key"] = ["Q"]
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        assert 'id="import-form"' in client.get("/console/bank/import").text
        bad = console_post(client, "/console/bank/import", files={"file": ("bad.json", json.dumps(bad_doc).encode())})
        assert bad.status_code == 422 and 'id="problems"' in bad.text and "第 2 题 · 答案（key[0]）" in bad.text
        wrong = console_post(client, "/console/bank/import", files={"file": ("bank.txt", b"x")})
        assert wrong.status_code == 400 and "不支持的文件类型" in wrong.text
        assert _items(cdb) == before
        good = console_post(client, "/console/bank/import",
                            files={"file": ("bank.json", json.dumps(samples.bundle()).encode())})  # fmt: skip
        assert (
            good.status_code == 200
            and 'id="confirm-form"' in good.text
            and "新建题目 <strong>5</strong> 道" in good.text
        )
        assert _items(cdb) == before  # nothing before the confirmation
        token = _hidden(good.text, "token")
        plan = _hidden(good.text, "plan")
        stale = console_post(client, "/console/bank/import/confirm", {"token": token, "plan": "0" * 64})
        assert stale.status_code == 409 and "重新预览" in stale.text and _items(cdb) == before
        done = console_post(client, "/console/bank/import/confirm", {"token": token, "plan": plan})
        assert done.status_code == 200 and 'id="import-done"' in done.text
        again = console_post(client, "/console/bank/import/confirm", {"token": token, "plan": plan})
        assert again.status_code == 409 and "重新上传" in again.text
    assert _items(cdb) == before + len(samples.ITEMS)


def _hidden(html: str, name: str) -> str:
    import re

    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_framework_form_saves_a_new_version(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        page = client.get("/console/bank/framework")
        assert page.status_code == 200 and 'name="dim0_name"' in page.text and 'name="band0_name"' in page.text
        unchanged = console_post(client, "/console/bank/framework", {})
        assert unchanged.status_code == 400 and "没有改动" in unchanged.text
        saved = console_post(client, "/console/bank/framework", {"dim0_name": "信息意识（修订）", "band0_name": "中段"})
        assert (
            saved.status_code == 200
            and 'id="framework-saved"' in saved.text
            and 'value="信息意识（修订）"' in saved.text
        )
        empty = console_post(client, "/console/bank/framework", {"dim0_name": ""})
        assert empty.status_code == 400 and 'id="framework-error"' in empty.text
        orphaning = console_post(client, "/console/bank/framework", {"ind0_0_remove": "1"})  # D1.1 has items
        assert orphaning.status_code == 400 and "二级指标 D1.1：有" in orphaning.text and "道题在使用" in orphaning.text
    with Session(cdb.engine) as s:
        active = s.exec(select(Framework).where(col(Framework.active).is_(True))).one()
        assert active.document["dimensions"][0]["name"] == "信息意识（修订）"
        assert active.document["grade_bands"][0]["name"] == "中段"
        assert int(s.exec(select(func.count()).select_from(Framework)).one()) == 2


def test_data_out_downloads_match_the_database_and_carry_no_identity(cdb: ConsoleDb, tmp_path: Path) -> None:
    from tests.console_world import PASSWORD

    build_trial(cdb.engine, n_students=60)
    with Session(cdb.engine) as s:
        source = assessment_source(session=s, code="FT1")
        wide = "".join(wide_csv(session=s, source=source))
        long = "".join(long_csv(session=s, source=source))
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        page = client.get("/console/data")
        assert page.status_code == 200 and "/console/data/assessments/FT1/wide.csv" in page.text
        assert "/console/data/calibrations/provisional/parameters.json" in page.text
        got = client.get("/console/data/assessments/FT1/wide.csv")
        assert (
            got.status_code == 200
            and got.text == wide
            and "FT1_responses_wide.csv" in got.headers["content-disposition"]
        )
        assert client.get("/console/data/assessments/FT1/long.csv").text == long
        assert client.get("/console/data/assessments/FT1/other.csv").status_code == 404
        assert client.get("/console/data/assessments/NOPE/wide.csv").status_code == 404
        params = client.get("/console/data/calibrations/provisional/parameters.csv")
        assert params.status_code == 200 and len(list(csv.DictReader(io.StringIO(params.text)))) >= 385
        doc = client.get("/console/data/calibrations/provisional/parameters.json").json()
        assert doc["calibration"] == "provisional" and len(doc["items"]) >= 385
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        api = client.get("/api/v1/staff/data/assessments/FT1/responses?format=long", headers=auth)
        assert api.status_code == 200 and api.text == long
        assert client.get("/api/v1/staff/data/calibrations/provisional/parameters", headers=auth).json() == doc
    with Session(cdb.engine) as s:
        from assess.models import Student

        identity = {x for st in s.exec(select(Student)).all() for x in (st.code, st.ticket)}
    cells = set(wide.replace("\r\n", ",").split(",")) | set(long.replace("\r\n", ",").split(","))
    assert not cells & identity


def test_the_json_api_creates_edits_and_moves_an_item(cdb: ConsoleDb, tmp_path: Path) -> None:
    from tests.console_world import PASSWORD

    doc = {**samples.ITEMS[2], "code": "D2.1-901", "status": "operational"}
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        bad = client.post("/api/v1/staff/bank/items", json={**doc, "key": ["X"]}, headers=auth)
        assert bad.status_code == 400 and any("key" in p for p in bad.json()["problems"])
        made = client.post("/api/v1/staff/bank/items", json=doc, headers=auth)
        assert made.status_code == 201 and made.json() == {"code": "D2.1-901", "outcome": "created", "version": 1,
                                                            "status": "draft"}  # fmt: skip
        edited = client.post("/api/v1/staff/bank/items/D2.1-901", json={**doc, "stem": "改过。"}, headers=auth)
        assert edited.status_code == 200 and edited.json()["outcome"] == "updated"
        moved = client.post("/api/v1/staff/bank/items/D2.1-901/status", json={"status": "pilot"}, headers=auth)
        assert moved.status_code == 200 and moved.json()["status"] == "pilot"
        refused = client.post("/api/v1/staff/bank/items/D2.1-901/status", json={"status": "draft"}, headers=auth)
        assert refused.status_code == 400 and "不能退回" in refused.json()["detail"]
        assert client.post("/api/v1/staff/bank/items/NOPE", json=doc, headers=auth).status_code == 404


def test_the_json_api_previews_and_confirms_an_import_and_edits_the_framework(cdb: ConsoleDb, tmp_path: Path) -> None:
    from tests.console_world import PASSWORD

    before = _items(cdb)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        token = client.post("/api/v1/staff/login", json={"username": "lab", "password": PASSWORD}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        bad_doc = samples.bundle()
        bad_doc["items"][0]["grade_bands"] = ["13-14"]
        bad = client.post("/api/v1/staff/bank/imports", json={"filename": "x.json", "content": json.dumps(bad_doc)},
                          headers=auth).json()  # fmt: skip
        assert bad["token"] == "" and bad["total_problems"] == 1 and "items[0].grade_bands[0]" in bad["problems"][0]
        plan = client.post("/api/v1/staff/bank/imports", json={"filename": "x.json",
                           "content": json.dumps(samples.bundle())}, headers=auth).json()  # fmt: skip
        assert len(plan["created"]) == 5 and plan["token"] and _items(cdb) == before
        wrong = client.post(f"/api/v1/staff/bank/imports/{plan['token']}", json={"plan": "x"}, headers=auth)
        assert wrong.status_code == 400 and _items(cdb) == before
        done = client.post(f"/api/v1/staff/bank/imports/{plan['token']}", json={"plan": plan["plan"]}, headers=auth)
        assert done.status_code == 200 and done.json()["created"] == plan["created"] and _items(cdb) == before + 5
        doc = client.get("/api/v1/staff/bank/framework", headers=auth).json()
        doc["grade_bands"][1]["name"] = "高段"
        edited = client.post("/api/v1/staff/bank/framework", json=doc, headers=auth)
        assert edited.status_code == 200 and edited.json()["grade_bands"][1]["name"] == "高段"
        assert edited.json()["version"] != doc["version"]
        dropped = edited.json()
        dropped["dimensions"][0]["indicators"] = []
        refused = client.post("/api/v1/staff/bank/framework", json=dropped, headers=auth)
        assert refused.status_code == 400 and refused.json()["problems"]
