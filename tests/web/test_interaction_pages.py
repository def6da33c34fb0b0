"""The interactive item types on the student pages and the JSON API: each control, answered by
form and by JSON and scored; tampered answers refused with nothing stored; keys and rules never
in a page or a JSON body."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from assess.models import BlueprintRow, Response
from itembank.models import ItemVersion
from tests.itembank import samples
from tests.web.conftest import TEST_SPEC, Db, db_counts, item_id, login, make_app, post_form

SPEC = dataclasses.replace(TEST_SPEC, min_items=7, max_items=7)
N = 8  # seven operational items and the pilot

# per type: a right answer as form fields and as a JSON answer, and tampered ones of each
RIGHT_FORM: dict[str, dict[str, Any]] = {
    "ordering": {f"position-{i + 1}": k for i, k in enumerate("ABCD")},
    "matching": {"match-A": "1", "match-B": "2", "match-C": "1"},
    "inline_choice": {"gap-1": "B", "gap-2": "A"},
    "numeric": {"entry": "２０元"},
    "text": {"entry": "ＱＲ 码"},
    "hotspot": {"answer": ["R1", "R3"]},
    "inbox_sim": {"action-M1": "keep", "action-M2": "report", "action-M3": "reply"},
    "search_sim": {"query-1": "蚕", "query-2": "吃什么", "chosen": "R3", "searched": "蚕 吃什么"},
}
TAMPERED_FORM: dict[str, dict[str, Any]] = {
    "ordering": {"position-1": "A", "position-2": "B", "position-3": "C", "position-4": "E"},
    "matching": {"match-A": "1", "match-B": "7", "match-C": "1"},
    "inline_choice": {"gap-1": "B", "gap-2": "A", "gap-3": "A"},
    "numeric": {"entry": "2" * 21},
    "text": {"entry": "码", "answer": "A"},
    "hotspot": {"answer": ["R1", "R9"]},
    "inbox_sim": {"action-M1": "keep", "action-M2": "shred", "action-M3": "reply"},
    "search_sim": {"query-1": "蚕", "query-2": "病毒", "chosen": "R3"},
}
RIGHT_JSON: dict[str, Any] = {
    "ordering": ["A", "B", "C", "D"],
    "matching": {"A": "1", "B": "2", "C": "1"},
    "inline_choice": {"1": "B", "2": "A"},
    "numeric": "20",
    "text": "二维码",
    "hotspot": ["R3", "R1"],
    "inbox_sim": {"M1": "keep", "M2": "report", "M3": "reply"},
    "search_sim": {
        "query": ["蚕", "吃什么"],
        "chosen": "R3",
        "opened": ["R1", "R3"],
        "searches": [["蚕"], ["蚕", "吃什么"]],
    },
}
TAMPERED_JSON: dict[str, list[Any]] = {
    "ordering": [["A", "B", "C"], ["A", "A", "B", "C"], {"1": "A"}],
    "matching": [{"A": "3"}, {"Z": "1"}, ["A=1"]],
    "inline_choice": [{"1": "C"}, {"9": "A"}, "B"],
    "numeric": ["9" * 21, ["20"]],
    "text": ["码" * 31, {"entry": "二维码"}],
    "hotspot": [["R5"], {"R1": "1"}, "R1,R3"],
    "inbox_sim": [{"M4": "keep"}, {"M1": "print"}, ["keep", "report", "reply"]],
    "search_sim": [
        {"query": ["病毒"], "chosen": "R3"},
        {"query": ["蚕"], "chosen": "R9"},
        {"query": ["蚕"], "opened": ["R7"]},
        {"query": "蚕", "chosen": "R3"},
        {"score": 2},
    ],
}
SECRETS = (
    "1=B",
    "A=1",
    "tolerance",
    "accepted",
    "QR码",
    "normalise",
    "rationale",
    "rubric",
    "score_map",
    "expected",
    "query_required",
    "best",
)


def kind_of(html: str) -> str:
    if 'name="position-1"' in html:
        return "ordering"
    if 'name="match-A"' in html:
        return "matching"
    if 'name="gap-1"' in html:
        return "inline_choice"
    if 'name="query-1"' in html:
        return "search_sim"
    if 'name="action-M1"' in html:
        return "inbox_sim"
    if 'name="entry"' in html:
        return "numeric" if 'inputmode="decimal"' in html else "text"
    assert 'class="hotspot"' in html, html[:3000]
    return "hotspot"


@pytest.fixture
def idb(db: Db) -> Db:
    with Session(db.engine) as session:
        samples.install_interactive(session)
        session.execute(
            update(BlueprintRow)
            .where(col(BlueprintRow.assessment_id) == db.world.assessment_id)
            .values(spec=SPEC.to_json())
        )
        session.commit()
    return db


@pytest.fixture
def iclient(idb: Db, tmp_path: Path) -> Iterator[TestClient[Litestar]]:
    with TestClient(make_app(idb, tmp_path)) as c:
        yield c


def _scores(db: Db) -> dict[str, tuple[int, int]]:
    with Session(db.engine) as s:
        rows = s.exec(
            select(Response.score, ItemVersion.type, ItemVersion.max_score, ItemVersion.interaction).join(
                ItemVersion, col(ItemVersion.id) == col(Response.item_version_id)
            )
        ).all()
    out = {}
    for score, type_, top, interaction in rows:
        kind = ("numeric" if interaction["kind"] == "numeric" else "text") if type_ == "entry" else type_
        out[kind] = (score, top)
    return out


def test_every_interactive_type_by_form_tampering_refused(iclient: TestClient[Litestar], idb: Db) -> None:
    login(iclient, idb.world.pupils[0])
    assert post_form(iclient, "/start", {}).status_code == 303
    seen = set()
    for _ in range(N):
        page = iclient.get("/test", follow_redirects=False)
        assert page.status_code == 200
        html = page.text
        kind = kind_of(html)
        seen.add(kind)
        for secret in SECRETS:
            assert secret not in html, (kind, secret)
        for name in re.findall(r'<select id="([^"]+)"', html):
            assert f'<label for="{name}">' in html  # every select has its label
        vid = item_id(html)
        before = db_counts(idb.engine)
        bad = post_form(iclient, "/test/answer", {"item": str(vid), **TAMPERED_FORM[kind]})
        assert bad.status_code == 400, (kind, bad.status_code)
        assert db_counts(idb.engine) == before
        good = post_form(iclient, "/test/answer", {"item": str(vid), **RIGHT_FORM[kind]})
        assert good.status_code == 303, (kind, good.text[:500])
    assert seen == set(RIGHT_FORM)
    assert all(score == top for score, top in _scores(idb).values())
    assert set(_scores(idb)) == set(RIGHT_FORM)


def test_a_step_placed_twice_is_a_problem_to_fix_not_a_score(iclient: TestClient[Litestar], idb: Db) -> None:
    login(iclient, idb.world.pupils[0])
    post_form(iclient, "/start", {})
    for _ in range(N):
        html = iclient.get("/test").text
        if kind_of(html) == "ordering":
            before = db_counts(idb.engine)
            form = {
                "item": str(item_id(html)),
                "position-1": "A",
                "position-2": "A",
                "position-3": "C",
                "position-4": "D",
            }
            again = post_form(iclient, "/test/answer", form)
            assert again.status_code == 422 and "每个步骤只能放在一个位置" in again.text
            missing = post_form(iclient, "/test/answer", {"item": str(item_id(html)), "position-1": "A"})
            assert missing.status_code == 422 and "还有位置没有排好" in missing.text
            assert db_counts(idb.engine) == before
            return
        post_form(iclient, "/test/answer", {"item": str(item_id(html)), **RIGHT_FORM[kind_of(html)]})
    raise AssertionError("no ordering item was shown")


def _json_kind(item: dict[str, Any]) -> str:
    if item["type"] == "entry":
        return "numeric" if item["interaction"]["inputmode"] == "decimal" else "text"
    return str(item["type"])


def test_every_interactive_type_by_json_tampering_refused(iclient: TestClient[Litestar], idb: Db) -> None:
    pupil = idb.world.pupils[1]
    token = iclient.post("/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()["token"]
    started = iclient.post("/api/v1/start", headers={"Authorization": f"Bearer {token}"}).json()
    token, state = started["token"], started["sitting"]
    auth = {"Authorization": f"Bearer {token}"}
    seen = set()
    while state["status"] == "in_progress":
        item = state["item"]
        body = json.dumps(item, ensure_ascii=False)
        for secret in SECRETS:
            assert secret not in body, (item["type"], secret)
        assert '"rule"' not in body and '"key":[' not in body.replace(" ", "")
        kind = _json_kind(item)
        seen.add(kind)
        before = db_counts(idb.engine)
        for bad in TAMPERED_JSON[kind]:
            refused = iclient.post("/api/v1/answer", json={"item_id": item["id"], "answer": bad}, headers=auth)
            assert refused.status_code in (400, 422), (kind, bad, refused.status_code)
        assert db_counts(idb.engine) == before
        answered = iclient.post(
            "/api/v1/answer", json={"item_id": item["id"], "answer": RIGHT_JSON[kind]}, headers=auth
        )
        assert answered.status_code == 200, answered.text
        state = answered.json()
    assert seen == set(RIGHT_JSON)
    assert all(score == top for score, top in _scores(idb).values())


def test_search_shows_ranked_results_and_stores_nothing(iclient: TestClient[Litestar], idb: Db) -> None:
    login(iclient, idb.world.pupils[2])
    post_form(iclient, "/start", {})
    for _ in range(N):
        html = iclient.get("/test").text
        if kind_of(html) != "search_sim":
            post_form(iclient, "/test/answer", {"item": str(item_id(html)), **RIGHT_FORM[kind_of(html)]})
            continue
        assert "选好词语后点击“搜索”" in html and 'name="chosen"' not in html  # no results before a search
        before = db_counts(idb.engine)
        form = {"item": str(item_id(html)), "query-1": "蚕", "query-2": "吃什么", "search": "1"}
        shown = post_form(iclient, "/test/answer", form)
        assert shown.status_code == 200 and db_counts(idb.engine) == before
        keys = re.findall(r'name="chosen" value="(R\d)"', shown.text)
        assert keys[0] == "R3" and sorted(keys) == ["R1", "R2", "R3", "R4"]  # R3 holds both words
        assert 'name="searched" value="蚕 吃什么"' in shown.text and "selected" in shown.text
        bad = post_form(iclient, "/test/answer", {**form, "query-3": "病毒"})
        assert bad.status_code == 400 and db_counts(idb.engine) == before
        return
    raise AssertionError("no search item was shown")
