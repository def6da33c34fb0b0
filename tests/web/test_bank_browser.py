"""Editing the bank in a real headless Chromium (Debian's ``chromium``), audited with axe-core.

A researcher creates an item from the form (preview first, then save), edits it, moves it to the
pilot status, then uploads a broken item file and reads its report, uploads a good one, reads what
it would do and confirms it; then downloads
the wide response file from the data-out page. Screenshots go to ``test-artifacts/screenshots/``
as ``*-console-bank-*.png``; any WCAG 2.1 A/AA violation fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.assess.research.conftest import build_trial
from tests.itembank import samples
from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve_console
from tests.web.test_console_browser import Tab

pytestmark = pytest.mark.browser


@pytest.fixture
def server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app under uvicorn over a copy of the console world with a small field trial."""
    build_trial(cdb.engine, n_students=30)
    cdb.engine.dispose()
    with serve_console(cdb.url, tmp_path, SECRET) as base:
        yield base


def test_a_researcher_creates_edits_and_pilots_an_item_then_imports_a_file(
    browser: Any, server: str, tmp_path: Path
) -> None:
    tab = Tab(browser, "desktop", server)
    page = tab.page
    tab.login("lab")
    page.get_by_role("link", name="题库").first.click()
    page.wait_for_url(f"{server}/console/bank")
    page.get_by_role("link", name="新建题目").click()
    page.wait_for_url(f"{server}/console/bank/new")
    page.locator("#f-code").fill("D4.3-950")
    page.get_by_label("二级指标").select_option("D4.3")
    page.locator('input[name="grade_bands"][value="7-9"]').check()
    page.locator("#f-author").fill("浏览器测试")
    page.locator("#f-stem").fill("收到陌生人发来的链接，最稳妥的做法是？")
    for key, text in zip("ABC", ("立即点开", "先问清来源", "转发给同学"), strict=True):
        page.locator(f"#f-option-{key}").fill(text)
    page.get_by_label("B 是正确答案").check()
    page.locator("#f-rationale").fill("B 正确：先核实来源。")
    page.get_by_role("button", name="预览").click()
    page.wait_for_load_state()
    assert page.locator("#preview").get_by_text("先问清来源").count() == 1
    tab.look("bank-01-preview")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r".*/console/bank/items/D4.3-950\?saved=created$"))
    assert "已新建题目" in page.locator("#item-saved").inner_text()
    tab.look("bank-02-created")

    page.get_by_role("link", name="编辑题目").click()
    page.wait_for_url(f"{server}/console/bank/items/D4.3-950/edit")
    page.locator("#f-stem").fill("")
    page.get_by_role("button", name="保存").click()
    page.wait_for_load_state()
    assert "不能为空" in page.locator('[data-field="stem"]').inner_text()  # refused next to its field
    tab.look("bank-03-problem")
    page.locator("#f-stem").fill("收到陌生链接时，应该怎么做？")
    page.get_by_role("button", name="保存").click()
    page.wait_for_url(re.compile(r".*saved=updated$"))
    assert "应该怎么做" in page.locator("#preview").inner_text()

    page.get_by_label("状态改为").select_option("pilot")
    page.get_by_role("button", name="更改状态").click()
    page.wait_for_url(re.compile(r".*saved=status$"))
    assert page.locator(".facts").get_by_text("试测").count() == 1
    tab.look("bank-04-pilot")

    broken = samples.bundle()
    broken["items"][2]["key"] = ["X"]
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    path = tmp_path / "items.json"
    path.write_text(json.dumps(samples.bundle(), ensure_ascii=False), encoding="utf-8")
    tab.go("/console/bank")
    page.get_by_role("link", name="导入题目文件").click()
    page.locator("#file").set_input_files(str(bad))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    assert "第 3 题 · 答案" in page.locator("#problems").inner_text()  # the report, nothing written
    tab.look("bank-05-import-report")
    page.locator("#file").set_input_files(str(path))
    page.get_by_role("button", name="上传并检查").click()
    page.wait_for_load_state()
    assert "新建题目 5 道" in page.locator("#import-summary").inner_text()
    tab.look("bank-06-import-preview")
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_load_state()
    assert "已导入" in page.locator("#import-done").inner_text()
    tab.go("/console/bank/items/T4.3-001")
    assert page.locator("#preview").count() == 1

    tab.go("/console/data")
    wide = tab.download(lambda: page.get_by_role("link", name="宽格式 CSV").first.click())
    assert wide.decode("utf-8").startswith("person,")
    tab.look("bank-07-data")
    tab.close()
