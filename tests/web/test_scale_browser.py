"""The bookmark study in a real headless Chromium (Debian's ``chromium``), audited with axe-core.

A researcher opens the scale page, creates a study of band 7-9, enters three panellists'
bookmarks for round 1, sees the round's cuts and impact, switches rounds on the board (htmx) and
adopts round 1's cuts as a new scale version. Screenshots go to ``test-artifacts/screenshots/`` as
``*-console-scale-*.png``; any WCAG 2.1 A/AA violation fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assess.standards.conftest import build_bank
from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve_console
from tests.web.test_console_browser import Tab

pytestmark = pytest.mark.browser


@pytest.fixture
def server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app under uvicorn over a copy holding the three-item calibration and six sittings."""
    build_bank(cdb.engine)
    cdb.engine.dispose()
    with serve_console(cdb.url, tmp_path, SECRET) as base:
        yield base


def test_a_researcher_sets_cuts_by_bookmarks_and_adopts_them(browser: Any, server: str) -> None:
    tab = Tab(browser, "desktop", server)
    tab.login("lab")
    tab.page.get_by_role("link", name="量表与分数线").click()
    tab.page.wait_for_url(f"{server}/console/research/scale")
    tab.look("scale-01-home")
    tab.page.get_by_label("研究名称").fill("浏览器书签")
    tab.page.get_by_label("年级段").select_option("7-9")
    tab.page.get_by_label("影响数据来自哪个测评批次").select_option("IMP")
    tab.page.get_by_role("button", name="建立有序题册").click()
    tab.page.wait_for_url(re.compile(r".*/console/research/scale/studies/\d+$"))
    assert tab.page.locator("#booklet tbody tr").count() == 4
    for who, pages in (("王老师", "123"), ("李老师", "134"), ("张老师", "234")):
        tab.page.get_by_label("评委姓名").fill(who)
        for k, p in enumerate(pages):
            tab.page.locator(f"#bm-page{k + 1}").fill(p)
        tab.page.get_by_role("button", name="提交书签").click()
        tab.page.wait_for_url(re.compile(r".*\?round=1$"))
    assert tab.page.locator("#round-panel tbody tr").count() == 3
    assert "470.8" in tab.page.locator("#round-cuts").inner_text()
    assert tab.page.locator("#impact td").all_inner_texts() == ["33.3%", "33.3%", "16.7%", "16.7%"]
    tab.look("scale-02-round")
    tab.page.locator("#round-nav").get_by_role("link", name=re.compile("第 2 轮")).click()  # htmx swaps the board
    tab.page.get_by_text("第 2 轮还没有书签。").wait_for()
    tab.page.locator("#round-nav").get_by_role("link", name="第 1 轮").click()
    tab.page.locator("#impact").wait_for()
    tab.page.get_by_label("新量表版本的名称").fill("浏览器版")
    tab.page.get_by_role("button", name="采用第 1 轮的分数线").click()
    tab.page.wait_for_url(f"{server}/console/research/scale")
    assert "第 2 版 浏览器版" in tab.page.locator("#scale-heading ~ h2").first.inner_text()
    assert "470.8" in tab.page.locator("#scale-cuts").inner_text()
    tab.look("scale-03-adopted")
