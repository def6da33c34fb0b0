"""Testing rounds in a real headless Chromium: an admin creates a round from a file, opens and closes it.

Every page is screenshotted under ``test-artifacts/screenshots/`` (as ``*-console-5x-*.png``) and
audited with axe-core (WCAG 2.1 A and AA), as in ``tests/web/test_console_browser.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve
from tests.web.test_console_assessments import publish_copy, round_text
from tests.web.test_console_browser import Tab

pytestmark = pytest.mark.browser


@pytest.fixture
def rounds_server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app over a database with a published calibration to create rounds on."""
    publish_copy(cdb)
    cdb.engine.dispose()
    env = {"INFOLIT_DATABASE_URL": cdb.url, "INFOLIT_DATA_DIR": str(tmp_path / "data"), "INFOLIT_SECRET_KEY": SECRET}
    with serve("tests.web.console_app:create_console_app", env, tmp_path / "server.log") as base:
        yield base


def test_an_admin_creates_and_opens_a_round(browser: Any, rounds_server: str) -> None:
    tab = Tab(browser, "desktop", rounds_server)
    tab.login("root")
    tab.page.wait_for_url(f"{rounds_server}/console/areas")
    tab.page.get_by_role("link", name="测评批次").click()
    tab.page.get_by_role("heading", name="测评批次", level=1).wait_for()
    assert tab.page.locator('tr[data-round="WEB-OPEN"][data-state="open"]').count() == 1
    tab.look("50-assessments")

    editor = tab.page.get_by_label("或直接编辑（没有上传文件时使用这里的内容）")
    editor.fill(round_text("BR-1").replace("grades = [8]", "grades = [8, 13]"))
    tab.page.get_by_role("button", name="检查并创建").click()
    tab.page.locator("#problems").wait_for()
    assert "1 到 12" in tab.page.locator("#problems").inner_text()
    assert tab.page.locator('tr[data-round="BR-1"]').count() == 0
    tab.look("51-assessment-problems")

    tab.page.get_by_label("或直接编辑（没有上传文件时使用这里的内容）").fill(round_text("BR-1"))
    tab.page.get_by_role("button", name="检查并创建").click()
    tab.page.get_by_text("已创建测评批次 BR-1").wait_for()
    assert tab.page.locator('tr[data-round="BR-1"][data-state="scheduled"]').count() == 1
    tab.look("52-assessment-created")

    url = tab.page.url
    tab.page.get_by_role("button", name="现在开放 BR-1").click()  # htmx swaps the card in place
    tab.page.locator('tr[data-round="BR-1"][data-state="open"]').wait_for()
    assert tab.page.url == url and "测评 BR-1 已开放" in tab.page.content()
    tab.look("53-assessment-opened")

    tab.page.once("dialog", lambda dialog: dialog.accept())  # htmx asks before closing
    tab.page.get_by_role("button", name="现在关闭 BR-1").click()
    tab.page.locator('tr[data-round="BR-1"][data-state="closed"]').wait_for()
    tab.look("54-assessment-closed")
    tab.page.get_by_role("link", name="审计日志").click()
    for label in ("创建测评批次", "开放测评", "关闭测评"):
        assert label in tab.page.content()
    tab.close()
