from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from itembank import services
from itembank.db import session_scope
from itembank.exceptions import FrameworkError, FrameworkInUseError
from itembank.formats import parse_json
from itembank.framework import DEFAULT_FRAMEWORK, parse_framework, read_framework
from itembank.models import Dimension, Framework, GradeBand, Indicator, Item, Literacy
from tests.itembank import samples


def _default_doc() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_FRAMEWORK.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------ the default
def test_default_framework_has_four_dimensions_with_three_to_five_indicators() -> None:
    spec = read_framework()
    assert [d.name for d in spec.dimensions] == ["信息意识与认知", "信息科学知识", "信息应用与创新", "信息道德与法律"]
    assert all(3 <= len(d.indicators) <= 5 for d in spec.dimensions)
    assert [x.name for x in spec.literacies] == ["信息意识", "计算思维", "数字化学习与创新", "信息社会责任"]
    assert spec.band_codes == ("3-4", "5-6", "7-9", "10-12")
    for ind in spec.indicators:
        assert ind.code.startswith(ind.dimension + ".")
        assert ind.name and ind.name_en and ind.literacies
    assert spec.indicator("D2.3") is not None and spec.indicator("D2.3").name_en.startswith("algorithms")
    assert spec.source == str(DEFAULT_FRAMEWORK)


def test_document_round_trips_through_json(tmp_path: Path) -> None:
    spec = read_framework()
    path = tmp_path / "fw.json"
    path.write_text(json.dumps(spec.to_document(), ensure_ascii=False), encoding="utf-8")
    again = read_framework(path)
    assert again.to_document() == spec.to_document()
    assert parse_framework(spec.to_document()).dimensions == spec.dimensions


# ------------------------------------------------------------------------------------ errors
def _write_toml_with_bad_literacy(tmp_path: Path) -> Path:
    text = DEFAULT_FRAMEWORK.read_text(encoding="utf-8")
    # D3.1 is dimensions[2].indicators[0], tagged ["L1", "L3"]: make the second tag unknown.
    assert 'code = "D3.1"' in text
    head, tail = text.split('code = "D3.1"', 1)
    tail = tail.replace('literacies = ["L1", "L3"]', 'literacies = ["L1", "L9"]', 1)
    path = tmp_path / "province.toml"
    path.write_text(head + 'code = "D3.1"' + tail, encoding="utf-8")
    return path


def test_error_names_file_path_and_problem(tmp_path: Path) -> None:
    path = _write_toml_with_bad_literacy(tmp_path)
    with pytest.raises(FrameworkError) as info:
        read_framework(path)
    report = info.value
    assert report.source == str(path)
    assert [p.where for p in report.problems] == ["dimensions[2].indicators[0].literacies[1]"]
    assert "unknown literacy 'L9'" in report.problems[0].message
    assert f"{path}: dimensions[2].indicators[0].literacies[1]: unknown literacy 'L9'" in report.lines()[0]
    assert str(path) in str(report)


def test_every_problem_is_reported_at_once() -> None:
    doc = _default_doc()
    del doc["name_en"]
    doc["colour"] = "blue"
    doc["dimensions"][0]["indicators"][1]["code"] = "D1.1"  # duplicate
    doc["dimensions"][1]["indicators"][0]["literacies"] = []
    doc["grade_bands"][0]["grades"] = [3, "four"]
    doc["dimensions"][3]["name"] = 4
    with pytest.raises(FrameworkError) as info:
        parse_framework(doc, source="mine.toml")
    where = {p.where: p.message for p in info.value.problems}
    assert where["name_en"] == "missing required field"
    assert where["colour"].startswith("unknown field")
    assert "duplicate" in where["dimensions[0].indicators[1].code"]
    assert where["dimensions[1].indicators[0].literacies"] == "must not be empty"
    assert "school grade" in where["grade_bands[0].grades[1]"]
    assert "must be a string" in where["dimensions[3].name"]
    assert len(info.value.problems) == 6


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("f.yaml", b"code: x", "YAML is not supported"),
        ("f.txt", b"x", "unknown file type"),
        ("f.toml", b"", "the file is empty"),
        ("f.toml", b"code = ", "not valid TOML"),
        ("f.json", b"{", "not valid JSON"),
        ("f.toml", 'name = "信息"'.encode("gbk"), "not valid UTF-8"),
        ("f.json", b"[]", "must be a table/object"),
    ],
)
def test_unreadable_files_get_one_clear_problem(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(FrameworkError) as info:
        read_framework(path)
    assert len(info.value.problems) == 1
    assert message in info.value.problems[0].message
    assert info.value.source == str(path)


# ------------------------------------------------------------------------------------ storing
def test_load_stores_the_framework_and_is_idempotent(engine: Engine) -> None:
    with session_scope(engine) as session:
        assert services.active_framework(session=session) is None
        first = services.load_framework(session=session)
    assert first.outcome == "created"
    with session_scope(engine) as session:
        assert services.load_framework(session=session).outcome == "unchanged"
        stored = services.active_framework(session=session)
        assert stored is not None and stored.to_document() == read_framework().to_document()
        assert len(session.exec(select(Dimension)).all()) == 4
        assert len(session.exec(select(Indicator)).all()) == 17
        assert len(session.exec(select(Literacy)).all()) == 4
        assert [b.code for b in session.exec(select(GradeBand).order_by(GradeBand.position)).all()] == [
            "3-4", "5-6", "7-9", "10-12",
        ]  # fmt: skip
        d23 = session.exec(select(Indicator).where(Indicator.code == "D2.3")).one()
        assert d23.literacies == ["L2"] and d23.name == "算法与计算思维"


def test_loading_a_changed_file_of_the_same_version_updates_it(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        services.load_framework(session=session)
    doc = _default_doc()
    doc["dimensions"][0]["indicators"][0]["name_en"] = "noticing information needs"
    doc["dimensions"][3]["indicators"].append(
        {"code": "D4.5", "name": "数字公民", "name_en": "digital citizenship", "literacies": ["L4"]}
    )
    path = tmp_path / "fixed.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with session_scope(engine) as session:
        assert services.load_framework(session=session, path=path).outcome == "updated"
    with session_scope(engine) as session:
        assert len(session.exec(select(Framework)).all()) == 1
        assert len(session.exec(select(Indicator)).all()) == 18
        assert session.exec(select(Indicator).where(Indicator.code == "D1.1")).one().name_en.startswith("noticing")
        assert len(session.exec(select(Dimension)).all()) == 4


def _province(doc: dict[str, Any]) -> dict[str, Any]:
    doc["code"] = "province-x"
    doc["name"] = "某省学生信息素养评价指标体系"
    # move D1.4 to dimension D3 and rename a dimension
    d14 = doc["dimensions"][0]["indicators"].pop(3)
    doc["dimensions"][2]["indicators"].append(d14)
    doc["dimensions"][1]["name"] = "信息科学与技术知识"
    return doc


def test_a_different_framework_replaces_the_active_one(engine: Engine, tmp_path: Path) -> None:
    bundle = samples.bundle()
    bundle["items"][2]["indicator"] = "D1.4"  # the true/false item
    with session_scope(engine) as session:
        services.import_items(session=session, bundle=parse_json(json.dumps(bundle).encode()))
    path = tmp_path / "province.json"
    path.write_text(json.dumps(_province(_default_doc()), ensure_ascii=False), encoding="utf-8")
    with session_scope(engine) as session:
        result = services.load_framework(session=session, path=path)
    assert result.outcome == "created" and result.items_moved == 1
    with session_scope(engine) as session:
        active = services.active_framework(session=session)
        assert active is not None and active.code == "province-x"
        assert active.dimensions[1].name == "信息科学与技术知识"
        frameworks = session.exec(select(Framework)).all()
        assert sorted((f.code, f.active) for f in frameworks) == [("infolit-default", False), ("province-x", True)]
        moved = session.exec(select(Item).where(Item.indicator == "D1.4")).one()
        assert moved.dimension == "D3"
        # and back again
        assert services.load_framework(session=session).outcome == "activated"
        assert session.exec(select(Item).where(Item.indicator == "D1.4")).one().dimension == "D1"


def test_a_framework_missing_used_indicators_is_refused(engine: Engine, tmp_path: Path) -> None:
    with session_scope(engine) as session:
        services.import_items(session=session, bundle=parse_json(json.dumps(samples.bundle()).encode()))
    doc = _default_doc()
    doc["code"] = "small"
    doc["dimensions"][3]["indicators"] = doc["dimensions"][3]["indicators"][:2]  # drops D4.3
    doc["grade_bands"] = doc["grade_bands"][1:]  # drops 3-4
    path = tmp_path / "small.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(FrameworkInUseError) as info, session_scope(engine) as session:
        services.load_framework(session=session, path=path)
    messages = [str(p) for p in info.value.problems]
    assert any(m.startswith("sub-indicator D4.3: used by 2 item(s) (T4.3-001, T4.3-002)") for m in messages)
    assert any(m.startswith("grade band 3-4: used by 1 item(s) (T2.1-001)") for m in messages)
    with session_scope(engine) as session:
        active = services.active_framework(session=session)
        assert active is not None and active.code == "infolit-default"


# ------------------------------------------------------------------------------------ grade bands
def test_grade_bands_carry_their_grades_and_cut_scores() -> None:
    spec = read_framework()
    assert [(b.code, b.cuts) for b in spec.grade_bands] == [
        ("3-4", (330.0, 400.0, 470.0)),
        ("5-6", (370.0, 440.0, 510.0)),
        ("7-9", (420.0, 490.0, 560.0)),
        ("10-12", (470.0, 540.0, 610.0)),
    ]
    assert [spec.band_for_grade(g).code for g in (3, 4, 5, 6, 7, 9, 10, 12)] == [  # type: ignore[union-attr]
        "3-4", "3-4", "5-6", "5-6", "7-9", "7-9", "10-12", "10-12",
    ]  # fmt: skip
    assert spec.band_for_grade(2) is None and spec.band("7-9") is spec.grade_bands[2]
    doc = spec.to_document()
    del doc["grade_bands"][1]["cuts"]  # cuts are optional
    again = parse_framework(doc)
    assert again.grade_bands[1].cuts is None and "cuts" not in again.to_document()["grade_bands"][1]


def test_a_grade_in_two_bands_and_bad_cut_scores_are_refused() -> None:
    doc = _default_doc()
    doc["grade_bands"][1]["grades"] = [4, 5, 6]  # 4 is in 3-4 already
    doc["grade_bands"][0]["cuts"] = [330, 400]
    doc["grade_bands"][2]["cuts"] = [420, 410, 560]
    doc["grade_bands"][3]["cuts"] = ["high", 1, 2]
    with pytest.raises(FrameworkError) as info:
        parse_framework(doc, source="bands.toml")
    where = {p.where: p.message for p in info.value.problems}
    assert where["grade_bands[1].grades[0]"] == "grade 4 is already in grade band '3-4'"
    assert "three scale scores" in where["grade_bands[0].cuts"]
    assert where["grade_bands[2].cuts"] == "must be ascending, got [420, 410, 560]"
    assert "three scale scores" in where["grade_bands[3].cuts"]
    assert len(info.value.problems) == 4


def test_the_stored_framework_is_read_once_per_session_and_again_after_a_load(engine: Engine, tmp_path: Path) -> None:
    doc = _default_doc()
    doc["code"] = "bands-x"
    doc["grade_bands"] = [{"code": "1-6", "name": "小学", "grades": [1, 2, 3, 4, 5, 6]},
                          {"code": "7-12", "name": "中学", "grades": [7, 8, 9, 10, 11, 12]}]  # fmt: skip
    path = tmp_path / "bands.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with session_scope(engine) as session:
        assert services.current_framework(session=session).code == "infolit-default"  # none stored: the default
        services.load_framework(session=session, path=path)
        current = services.current_framework(session=session)
        assert current.code == "bands-x" and current.band_for_grade(4).code == "1-6"  # type: ignore[union-attr]
    with session_scope(engine) as session:
        assert services.current_framework(session=session).band_codes == ("1-6", "7-12")
