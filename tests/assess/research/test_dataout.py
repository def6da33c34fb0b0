"""Data out: the wide and long response files and a calibration's parameters, checked against the database."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.calibration import response_matrix
from assess.console.results import pseudonym
from assess.exceptions import NotFound
from assess.models import Response, Student, TestSession
from assess.research import dataout
from assess.research.dataout import (
    LONG_COLUMNS,
    assessment_source,
    long_csv,
    parameters_csv,
    parameters_json,
    wide_csv,
)
from itembank.models import Calibration, Item, ItemParameter, ItemVersion
from scoring.io import read_responses
from tests.assess.research.conftest import Trial, build_trial


def _pii(s: Session) -> set[str]:
    """Everything that would identify a student: codes and tickets."""
    return {x for st in s.exec(select(Student)).all() for x in (st.code, st.ticket)}


def test_the_wide_file_is_the_response_matrix_under_pseudonyms(engine: Engine, tmp_path: Path) -> None:
    trial = build_trial(engine, n_students=120)
    with Session(engine) as s:
        source = assessment_source(session=s, code="FT1")
        assert [name for _, name in source.columns] == sorted(trial.codes, key=lambda c: c)  # one version each
        path = tmp_path / "responses.csv"
        path.write_text("".join(wide_csv(session=s, source=source)), encoding="utf-8")
        table = read_responses(path)
        truth = response_matrix(session=s, assessment_id=trial.assessment_id)
        codes = dict(s.exec(select(Student.id, Student.code)).all())
        order = {pseudonym(codes[int(sid)]): k for k, sid in enumerate(truth.student_ids)}
        by_version = {v: j for j, v in enumerate(truth.version_ids)}
        rows = [order[p] for p in table.person_ids]
        columns = [by_version[v] for v, _ in source.columns]
        np.testing.assert_array_equal(table.responses, truth.scores[np.ix_(rows, columns)])
        text = path.read_text(encoding="utf-8")
        assert not any(x in text.split(",") or f"\n{x}," in text for x in _pii(s))
        assert all(p.startswith("P") and len(p) == 11 for p in table.person_ids)


def test_the_long_file_has_one_row_per_response_with_its_exact_version(engine: Engine) -> None:
    trial: Trial = build_trial(engine, n_students=40)
    with Session(engine) as s:
        first = s.exec(select(Response).order_by(col(Response.id))).first()
        assert first is not None
        first.latency_ms = 4321
        s.add(first)
        sitting = s.get(TestSession, first.session_id)
        assert sitting is not None
        odd = s.get(Student, sitting.student_id)
        assert odd is not None
        odd.gender = "="  # a cell a spreadsheet would take for a formula
        s.add(odd)
        s.commit()
        source = assessment_source(session=s, code="FT1")
        text = "".join(long_csv(session=s, source=source))
        rows = list(csv.DictReader(io.StringIO(text)))
        assert tuple(rows[0]) == LONG_COLUMNS
        stored = s.exec(
            select(Student.code, Item.code, ItemVersion.number, Response)
            .join(TestSession, col(TestSession.id) == col(Response.session_id))
            .join(Student, col(Student.id) == col(TestSession.student_id))
            .join(ItemVersion, col(ItemVersion.id) == col(Response.item_version_id))
            .join(Item, col(Item.id) == col(ItemVersion.item_id))
        ).all()
        assert len(rows) == len(stored) == sum(1 for _ in s.exec(select(Response.id)).all())
        got = {(r["student"], r["item"], int(r["version"]), int(r["position"])): r for r in rows}
        for student, code, number, response in stored:
            row = got[(pseudonym(student), code, number, response.position)]
            assert row["score"] == ("" if response.score is None else str(response.score))
            assert json.loads(row["answer"].lstrip("'")) == response.answer
            assert row["pilot"] == str(int(response.pilot)) and (code in trial.pilot) == response.pilot
            assert row["latency_ms"] == ("" if response.latency_ms is None else str(response.latency_ms))
            assert row["session_status"] == "finished" and row["gender"] in ("F", "M", "'=") and row["grade"] == "8"
        assert any(r["latency_ms"] == "4321" and r["gender"] == "'=" for r in rows)
        assert not set(text.replace("\r\n", ",").split(",")) & _pii(s)


def test_files_stream_in_chunks(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    build_trial(engine, n_students=25)
    monkeypatch.setattr(dataout, "CHUNK_ROWS", 10)
    with Session(engine) as s:
        source = assessment_source(session=s, code="FT1")
        wide = list(wide_csv(session=s, source=source))
        assert len(wide) == 1 + 3 and sum(c.count("\r\n") for c in wide) == 26  # header + 10 + 10 + 5
        assert len(list(long_csv(session=s, source=source))) == 1 + 25  # 250 responses, 10 a chunk
        with pytest.raises(NotFound):
            assessment_source(session=s, code="NONE")


def test_a_calibrations_parameters_as_csv_and_json(engine: Engine) -> None:
    trial = build_trial(engine, n_students=5)
    with Session(engine) as s:
        cal = Calibration(name="run-1", status="draft", source="test")
        s.add(cal)
        s.flush()
        joined = select(Item.code, ItemVersion.id).join(ItemVersion, col(ItemVersion.item_id) == Item.id)
        versions = dict(s.exec(joined).all())
        for k, code in enumerate(trial.codes[:3]):
            s.add(ItemParameter(calibration_id=int(cal.id or 0), item_version_id=int(versions[code] or 0), model="2pl",
                                a=1.0 + k / 10, b=[k - 0.5], se_a=0.05, se_b=[0.1 + k / 100]))  # fmt: skip
        s.commit()
        rows = list(csv.DictReader(io.StringIO(parameters_csv(session=s, name="run-1"))))
        assert [r["item"] for r in rows] == sorted(trial.codes[:3])
        by_code = {r["item"]: r for r in rows}
        for k, code in enumerate(trial.codes[:3]):
            r = by_code[code]
            assert (r["version"], r["model"]) == ("1", "2pl") and r["se_c"] == ""
            assert [float(r[x]) for x in ("a", "b1", "se_a", "se_b1")] == pytest.approx(
                [1 + k / 10, k - 0.5, 0.05, 0.1 + k / 100], abs=1e-9
            )
        doc = json.loads(parameters_json(session=s, name="run-1"))
        assert doc["calibration"] == "run-1" and len(doc["items"]) == 3
        one = next(i for i in doc["items"] if i["code"] == trial.codes[1])
        assert one["params"] == {"model": "2pl", "a": 1.1, "b": [0.5], "c": 0.0} and one["se"]["b"] == [0.11]
        with pytest.raises(NotFound):
            parameters_csv(session=s, name="missing")
