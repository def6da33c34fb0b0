"""The researcher console in a real headless Chromium (Debian's ``chromium``), audited with axe-core.

A researcher logs in, starts a calibration of a small field trial from the form, watches its
progress (the run page polls itself with htmx while the app's own job consumer runs it), and reads
the result: the parameter table and the two plots drawn by ``reports.charts``; then browses the
bank with the filters (htmx swaps the list) and opens an item. Screenshots go to
``test-artifacts/screenshots/`` as ``*-console-research-*.png``; any WCAG 2.1 A/AA violation fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assess.research.conftest import build_trial
from tests.console_world import starter_bank_size
from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve_console
from tests.web.test_browser import SHOTS
from tests.web.test_console_browser import Tab

pytestmark = pytest.mark.browser


@pytest.fixture
def server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app under uvicorn (with its job consumer) over a copy holding a field trial of 1,500 students."""
    build_trial(cdb.engine, n_students=1500)
    cdb.engine.dispose()
    with serve_console(cdb.url, tmp_path, SECRET) as base:
        yield base


def test_a_researcher_calibrates_a_field_trial_and_reads_the_plots(browser: Any, server: str) -> None:
    tab = Tab(browser, "desktop", server)
    tab.login("lab")
    tab.page.get_by_role("link", name="参数标定").click()
    tab.page.wait_for_url(f"{server}/console/research")
    tab.look("research-01-home")
    tab.page.get_by_label("标定名称").fill("浏览器标定")
    tab.page.get_by_label("作答数据来自哪个测评批次").select_option("FT1")
    tab.page.get_by_label("二级计分题的模型").select_option("2pl")
    tab.page.get_by_role("button", name="开始标定").click()
    tab.page.wait_for_url(re.compile(r".*/console/research/runs/1$"))
    board = tab.page.locator("#run-board")
    assert board.get_attribute("hx-get") == "/console/research/runs/1"  # queued or running: the board polls
    assert tab.page.locator("#run-board progress").count() == 1
    tab.look("research-02-progress")
    tab.page.get_by_text("已完成：1500 名学生").wait_for(timeout=120_000)  # swapped in by htmx, no reload
    assert board.get_attribute("hx-get") is None
    charts = tab.page.locator("svg.chart[role=img]")
    assert charts.count() == 3  # test information, item curves, the chosen item's option traces
    assert "测验信息量与条件标准误" in charts.first.evaluate("e => e.textContent")
    assert tab.page.locator("#parameters tbody tr").count() == 12
    tab.look("research-03-results")
    tab.page.locator("#parameters tbody tr").nth(4).get_by_role("link").click()
    tab.page.wait_for_url(re.compile(r".*\?item=.*"))
    code = tab.page.url.split("item=")[1].split("#")[0]
    assert tab.page.get_by_role("heading", name=f"题目 {code} 的特征曲线与信息量").count() == 1
    tab.look("research-04-item-curves")
    figure = SHOTS / "desktop-console-research-test-information.png"
    tab.page.locator("figure.chart-figure").first.screenshot(path=str(figure))

    tab.page.get_by_role("link", name="题库").click()
    tab.page.wait_for_url(f"{server}/console/bank")
    assert f"共 {starter_bank_size()} 道题" in tab.page.locator("#bank-results").inner_text()
    tab.look("research-05-bank")
    tab.page.get_by_label("维度").select_option("D2")  # htmx swaps the list and pushes the URL
    tab.page.wait_for_url(re.compile(r".*dimension=D2.*"))
    tab.page.get_by_label("题型").select_option("partial_credit")
    tab.page.wait_for_url(re.compile(r".*type=partial_credit.*"))
    rows = tab.page.locator("#bank-results tbody th a")
    assert rows.count() > 0 and all(t.startswith("D2.") for t in rows.all_inner_texts())
    tab.look("research-06-bank-filtered")
    rows.first.click()
    tab.page.wait_for_url(re.compile(r".*/console/bank/items/.*"))
    assert tab.page.locator("#preview fieldset[disabled]").count() >= 1
    assert tab.page.locator("svg.chart[role=img]").count() == 1
    tab.look("research-07-item")
    tab.close()
