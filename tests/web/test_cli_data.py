"""`infolit data export` and `infolit items status` via CliRunner; the wide file goes through `infolit calibrate`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from assess.calibration import response_matrix
from itembank.db import get_engine
from itembank.models import Item
from scoring.io import read_items, read_responses
from tests.assess.research.conftest import build_trial
from web.commands.data import data_group
from web.commands.items import items_group
from web.commands.scoring import calibrate_command


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_wide_file_calibrates_and_the_other_files_are_written(env_db: str, tmp_path: Path) -> None:
    trial = build_trial(get_engine(), n_students=300)
    wide = tmp_path / "responses.csv"
    done = CliRunner().invoke(data_group, ["export", "wide", "FT1", str(wide)])
    assert done.exit_code == 0, done.output
    assert "12 item columns" in done.output
    table = read_responses(wide)
    with Session(get_engine()) as s:
        truth = response_matrix(session=s, assessment_id=trial.assessment_id)
        codes = set(s.exec(select(Item.code)).all())
    assert table.responses.shape == truth.scores.shape and set(table.item_ids) <= codes
    out = tmp_path / "items.csv"
    fitted = CliRunner().invoke(calibrate_command, [str(wide), "--out", str(out), "--model", "2pl"])
    assert fitted.exit_code == 0, fitted.output
    params = read_items(out)
    assert params.ids == table.item_ids and len(params.ids) == 12
    truth_b = [float(trial.b[trial.codes.index(code)]) for code in params.ids]  # the simulation's known difficulties
    assert float(np.corrcoef(params.b[:, 0], truth_b)[0, 1]) > 0.8  # about 250 answers an item: SE(b) near 0.2
    long = CliRunner().invoke(data_group, ["export", "long", "FT1", "-"])
    assert long.exit_code == 0 and len(list(csv.DictReader(io.StringIO(long.output)))) == 300 * 10
    json_out = tmp_path / "provisional.json"
    written = CliRunner().invoke(data_group, ["export", "parameters", "provisional", str(json_out)])
    assert written.exit_code == 0 and json.loads(json_out.read_text(encoding="utf-8"))["calibration"] == "provisional"
    as_csv = CliRunner().invoke(data_group, ["export", "parameters", "provisional", "-", "--format", "csv"])
    assert as_csv.output.startswith("item,version,model,a,b1")
    missing = CliRunner().invoke(data_group, ["export", "wide", "NOPE", "-"])
    assert missing.exit_code == 1 and "没有测评批次 NOPE" in missing.output


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_items_status_moves_one_step_and_explains_a_refusal(env_db: str) -> None:
    trial = build_trial(get_engine(), n_students=5)
    pilot = trial.pilot[0]
    refused = CliRunner().invoke(items_group, ["status", pilot, "draft"])
    assert refused.exit_code == 1 and "不能退回" in refused.output
    moved = CliRunner().invoke(items_group, ["status", pilot, "retired"])
    assert moved.exit_code == 0 and f"item {pilot}: pilot -> retired" in moved.output
