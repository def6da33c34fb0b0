"""The run page's diagnostics (S-X2, not reached, options, drift, dimensions) and the item page's statistics."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient

from assess.research.runs import RunSpec
from tests.assess.research.test_diagnostics import build_booklet_trial
from tests.assess.research.test_runs import _run
from tests.web.conftest import ConsoleDb, make_console_app, staff_login


def test_the_run_page_shows_the_diagnostics_and_the_item_page_its_statistics(cdb: ConsoleDb, tmp_path: Path) -> None:
    trial = build_booklet_trial(cdb.engine, n_students=800)
    first = _run(cdb.engine, RunSpec(name="题本一", assessment="FT2", model="2pl"))
    second = _run(cdb.engine, RunSpec(name="题本二", assessment="FT2", model="2pl"))
    code = next(c for c in trial.codes if c in trial.keyed)
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "lab")
        page = client.get(f"/console/research/runs/{first}?item={code}")
        assert page.status_code == 200
        text = page.text
        # S-X2 of every item, the not-reached rates, no comparison for the first run
        table = text[text.index('id="parameters"') : text.index("</table>", text.index('id="parameters"'))]
        assert len(re.findall(r"（\d+）p = \d\.\d{3}", table)) == 16
        assert "本次 16 道题中 16 道有 S-X2" in text
        assert "没有可比较的标定" in text
        # the chosen item's options: the trace plot and the table, its key marked
        assert f"题目 {code} 的选项分析" in text and 'id="run-option-plot"' in text and 'id="run-options"' in text
        assert f"{trial.keyed[code]}（答案）" in text
        assert text.count('role="img"') == 3  # test information, item curves, options
        # the dimensions: reliabilities, latent correlations, the model comparison and its verdict
        assert 'id="dimension-correlations"' in text and 'id="dimension-fit"' in text
        assert len(re.findall(r"<th scope=\"row\">D\d</th>", text)) == len(set(trial.dimension.values()))
        assert 'id="dimension-verdict"' in text and "似然比" in text
        # the second run compares with the first: the drift table and its plot
        later = client.get(f"/console/research/runs/{second}").text
        assert "与“题本一”比较 16 道共同题" in later and 'id="drift-table"' in later and 'id="drift-plot"' in later
        # the item page: exposure in the assessment, the newest run's statistics and options
        item = client.get(f"/console/bank/items/{code}").text
        exposure = item[item.index('id="item-exposure"') :]
        assert re.search(r"FT2 试测二</th><td>\d+</td><td>800</td><td>\d+\.\d%</td>", exposure)
        assert f"/console/research/runs/{second}?item={code}" in item and "题本二" in item
        assert 'id="item-stats"' in item and "p = " in item and 'id="item-distractors"' in item
        assert 'id="item-option-plot"' in item
        never = client.get("/console/bank/items/D2.2-010").text
        assert "还没有在任何测评批次中施测" in never and "还没有包含这道题的标定任务" in never
