"""Publishing in a real headless Chromium: open a finished run, review, publish, read the history, undo.

The field trial's calibration is run by the app's own consumer; the bank already holds an
operational calibration (OLD), so the review shows the Stocking-Lord constants. Screenshots go to
``test-artifacts/screenshots/`` as ``*-console-publish-*.png``; any WCAG 2.1 A/AA violation fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from itembank.models import Calibration
from tests.assess.research.conftest import build_trial
from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve_console
from tests.web.test_console_browser import Tab
from tests.web.test_console_publish import _world

pytestmark = pytest.mark.browser


@pytest.fixture
def server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app under uvicorn (with its job consumer) over a bank with OLD and a field trial of 400."""
    _world(cdb.engine)
    build_trial(cdb.engine, n_students=400)
    cdb.engine.dispose()
    with serve_console(cdb.url, tmp_path, SECRET) as base:
        yield base


def _status(cdb: ConsoleDb, name: str) -> str:
    with Session(cdb.engine) as s:
        return s.exec(select(Calibration.status).where(Calibration.name == name)).one()


def test_a_researcher_publishes_a_run_and_undoes_it(browser: Any, server: str, cdb: ConsoleDb) -> None:
    tab = Tab(browser, "desktop", server)
    tab.login("lab")
    tab.go("/console/research")
    tab.page.get_by_label("标定名称").fill("春季标定")
    tab.page.get_by_label("作答数据来自哪个测评批次").select_option("FT1")
    tab.page.get_by_label("二级计分题的模型").select_option("2pl")
    tab.page.get_by_role("button", name="开始标定").click()
    tab.page.wait_for_url(re.compile(r".*/console/research/runs/\d+$"))
    tab.page.get_by_text("已完成：400 名学生").wait_for(timeout=120_000)
    tab.page.get_by_role("link", name="审核并发布").click()
    tab.page.wait_for_url(re.compile(r".*/calibrations/.*/publish$"))
    constants = tab.page.locator("#link-constants").inner_text()
    assert "斜率 A" in constants and "截距 B" in constants and re.search(r"共同题\s+\d+ 道", constants)
    assert "现用标定“OLD”" in tab.page.locator("#link-summary").inner_text()
    tab.look("publish-01-review")
    tab.page.get_by_role("button", name="确认发布").click()
    tab.page.wait_for_url(f"{server}/console/research/publications")
    row = tab.page.locator("#publications tbody tr").first
    text = row.inner_text()
    assert "春季标定" in text and "生效中" in text and "OLD（Stocking-Lord）" in text
    assert _status(cdb, "春季标定") == "operational" and _status(cdb, "OLD") == "superseded"
    tab.look("publish-02-history")
    tab.page.get_by_role("button", name="撤销发布").click()
    tab.page.wait_for_url(f"{server}/console/research/publications")
    assert "已撤销" in tab.page.locator("#publications tbody tr").first.inner_text()
    assert tab.page.get_by_role("button", name="撤销发布").count() == 0
    assert _status(cdb, "春季标定") == "draft" and _status(cdb, "OLD") == "operational"
    tab.look("publish-03-undone")
    tab.close()
