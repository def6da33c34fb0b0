"""A province's own grade bands end to end: framework, items, blueprints, login, test, scores.

The framework here has bands 3-5, 6-8 and 9-12 instead of the default 3-4, 5-6, 7-9, 10-12, so
grades 5, 6 and 9 each sit a band the default would put them elsewhere. The starter bank is
imported re-tagged with those bands, students are registered from rows, and each logs in over
the JSON API and answers to the end. Each band's blueprint has its own time limit, so the
deadline shows which blueprint a sitting used.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.banks import band_of_grade
from assess.blueprints import BlueprintSpec
from assess.engine import ContentRule
from assess.exceptions import NotConfigured
from assess.models import Assessment, BlueprintRow, Response, Student, TestSession
from assess.registration import register_students
from assess.scales import cut_scores_for_band
from assess.simulate.answers import answer_for_score
from itembank.db import session_scope
from itembank.formats import read_bundles
from itembank.framework import default_framework, parse_framework
from itembank.models import PROVISIONAL, Calibration, Item, ItemVersion, utcnow
from itembank.services import import_items, load_framework, starter_bank_files
from itembank.settings import Settings
from web.app import create_app
from web.controllers.errors import classify
from web.security import WebSettings

FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
BANDS = {"3-5": (3, 4, 5), "6-8": (6, 7, 8), "9-12": (9, 10, 11, 12)}
CUTS_3_5 = (340.0, 410.0, 480.0)  # given in the file; 6-8 and 9-12 take the derived default
MINUTES = {"3-5": 31, "6-8": 36, "9-12": 41}
GRADES = (5, 6, 9)  # the default framework puts them in 5-6, 5-6 and 7-9


def province_framework() -> Any:
    doc = default_framework().to_document()
    doc["code"], doc["version"] = "province-x", "2.0"
    doc["grade_bands"] = [
        {"code": code, "name": f"{code} 年级段", "grades": list(grades)} for code, grades in BANDS.items()
    ]
    doc["grade_bands"][0]["cuts"] = list(CUTS_3_5)
    return parse_framework(doc, source="province-x.toml")


def retagged_bank(tmp_path: Path) -> list[Path]:
    """The starter bank's files, each item tagged with the province bands that share its grades."""
    grades_of = {b.code: set(b.grades) for b in default_framework().grade_bands}
    out = []
    for path in starter_bank_files():
        doc = json.loads(path.read_text(encoding="utf-8"))
        for item in doc["items"]:
            grades = set().union(*(grades_of[b] for b in item["grade_bands"]))
            item["grade_bands"] = [code for code, g in BANDS.items() if grades & set(g)]
        target = tmp_path / path.name
        target.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        out.append(target)
    return out


def registration_rows() -> list[dict[str, str]]:
    base = {
        "province_code": "61", "province": "陕西省", "region": "西部", "city_code": "6101", "city": "西安市",
        "county_code": "610113", "county": "雁塔区", "school_code": "SX01", "school": "雁塔路学校",
        "locale": "urban", "sector": "public", "gender": "F",
    }  # fmt: skip
    return [
        {**base, "grade": str(g), "class": f"{g}年级1班", "student_code": f"SX{g:02d}{i}"}
        for g in GRADES
        for i in range(2)
    ]


@pytest.fixture
def province(engine: Engine, tmp_path: Path) -> Iterator[tuple[Engine, dict[str, tuple[int, str, str]]]]:
    """The province's framework, bank, assessment and students; tickets with PINs by student code."""
    with session_scope(engine) as s:
        assert load_framework(session=s, spec=province_framework()).outcome == "created"
        import_items(session=s, bundle=read_bundles(retagged_bank(tmp_path)))
        cal = s.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).one()
        now = utcnow()
        assessment = Assessment(
            code="SX-2026",
            name="陕西省学生信息素养测评",
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            grades=list(GRADES),
            calibration_id=cal.id,
        )
        s.add(assessment)
        s.flush()
        for band, minutes in MINUTES.items():
            spec = BlueprintSpec(
                min_items=6,
                max_items=8,
                se_target=0.5,
                time_limit_minutes=minutes,
                content=tuple(ContentRule(d, min_items=1, max_items=3) for d in ("D1", "D2", "D3", "D4")),
                randomesque_k=2,
                pilot_items=1,
            )
            s.add(
                BlueprintRow(
                    assessment_id=int(assessment.id or 0), grade_band=band, mode="adaptive", spec=spec.to_json()
                )
            )
        summary = register_students(session=s, rows=registration_rows(), assessment="SX-2026", hasher=FAST)
        tickets = {t.student_code: (t.grade, t.ticket, t.pin or "") for t in summary.tickets}
    yield engine, tickets


def test_a_provinces_own_grade_bands_run_sessions_to_the_end(
    province: tuple[Engine, dict[str, tuple[int, str, str]]], tmp_path: Path
) -> None:
    engine, tickets = province
    with Session(engine) as s:
        assert {g: band_of_grade(g, session=s) for g in GRADES} == {5: "3-5", 6: "6-8", 9: "9-12"}
    url = engine.url.render_as_string(hide_password=False)
    settings = Settings(data_dir=tmp_path / "data", database_url=url, secret_key="k", session_minutes=60)
    app: Litestar = create_app(settings=settings, engine=engine, web=WebSettings())
    rnd = random.Random(5)
    with TestClient(app) as api:
        for code, (_grade, ticket, pin) in sorted(tickets.items()):
            login = api.post("/api/v1/login", json={"ticket": ticket, "pin": pin})
            assert login.status_code == 200, login.text
            assert login.json()["status"] == "not_started", code
            started = api.post("/api/v1/start", headers={"Authorization": f"Bearer {login.json()['token']}"})
            assert started.status_code == 200, started.text
            headers = {"Authorization": f"Bearer {started.json()['token']}"}
            state = started.json()["sitting"]
            assert state["max_items"] == 9 and state["time_limit_minutes"] in MINUTES.values()
            while state["status"] == "in_progress":
                with Session(engine) as s:
                    version = s.get(ItemVersion, state["item"]["id"])
                    assert version is not None
                value = answer_for_score(version, rnd.randint(0, version.max_score), rnd)
                answered = api.post("/api/v1/answer", json={"item_id": version.id, "answer": value}, headers=headers)
                assert answered.status_code == 200, answered.text
                state = answered.json()
            assert state["status"] == "finished" and 6 <= state["number"] <= 9
            assert state["result"] is not None and state["result"]["level"]
    with Session(engine) as s:
        for code, (grade, _, _) in tickets.items():
            band = band_of_grade(grade, session=s)
            student = s.exec(select(Student).where(Student.code == code)).one()
            ts = s.exec(select(TestSession).where(TestSession.student_id == student.id)).one()
            assert ts.status == "finished" and 6 <= ts.n_scored <= 8 and ts.scale_score is not None
            assert ts.deadline is not None
            assert ts.deadline - ts.started_at == timedelta(minutes=MINUTES[band]), "the band's own blueprint"
            spec = next(b for b in province_framework().grade_bands if b.code == band)
            cuts = cut_scores_for_band(spec)
            assert ts.level == cuts.level(ts.scale_score) and ts.passed == cuts.passed(ts.scale_score)
            shown = s.exec(
                select(Item.grade_bands)
                .join(ItemVersion, col(ItemVersion.item_id) == col(Item.id))
                .join(Response, col(Response.item_version_id) == col(ItemVersion.id))
                .where(Response.session_id == ts.id)
            ).all()
            assert len(shown) == ts.position and all(band in bands for bands in shown), "only the band's items"
    assert cut_scores_for_band(province_framework().grade_bands[0]).cuts == CUTS_3_5


def test_an_assessment_set_up_wrong_is_a_409_that_tells_the_student_to_ask_the_teacher() -> None:
    status, message = classify(NotConfigured("测评 X 没有年级段 6-8 的测评方案"))
    assert status == 409 and "6-8" in message and "请告诉老师" in message
