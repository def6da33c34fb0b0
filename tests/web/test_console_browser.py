"""The consoles in a real headless Chromium (Debian's ``chromium`` via Playwright), audited with axe-core.

A bureau user logs in, sees only its area, opens a school's profile and downloads its PDF and the
ZIP of every school profile; a school user uploads a roster with one bad row, sees the report,
fixes the file, confirms it, prints the ticket cards, and watches the live monitor while a
student takes the test in another browser context; an admin creates a bureau user, who must then
change the one-time password. Every console page is screenshotted (desktop, and a tablet for the
school's pages) under ``test-artifacts/screenshots/`` as ``console-*.png`` and audited for
WCAG 2.1 A and AA: any violation fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from assess.people_file import COLUMNS
from tests.console_world import NEXT_MARKERS, PASSWORD, leaked
from tests.web.conftest import SECRET, ConsoleDb
from tests.web.serving import serve
from tests.web.test_browser import VIEWPORTS, audit, choose, item_state, shot, submit

pytestmark = pytest.mark.browser

VIEWS = {
    **VIEWPORTS,
    "tablet": {"viewport": {"width": 800, "height": 1280}, "device_scale_factor": 1, "has_touch": True},
}


@pytest.fixture
def server(cdb: ConsoleDb, tmp_path: Path) -> Iterator[str]:
    """The console app under uvicorn on a free loopback port, over the test's database copy."""
    cdb.engine.dispose()
    env = {"INFOLIT_DATABASE_URL": cdb.url, "INFOLIT_DATA_DIR": str(tmp_path / "data"), "INFOLIT_SECRET_KEY": SECRET}
    with serve("tests.web.console_app:create_console_app", env, tmp_path / "server.log") as base:
        yield base


class Tab:
    """One browser context and page, its screenshots and its accessibility findings."""

    def __init__(self, browser: Any, view: str, base: str) -> None:
        from tests.web.test_browser import AXE

        self.context = browser.new_context(locale="zh-CN", accept_downloads=True, **VIEWS[view])
        self.context.add_init_script(script=AXE)
        self.page = self.context.new_page()
        self.page.set_default_timeout(20_000)
        self.view, self.base = view, base
        self.a11y: list[str] = []
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console", lambda m: self.errors.append(f"{m.text} @ {self.page.url}") if m.type == "error" else None
        )

    def go(self, path: str) -> None:
        self.page.goto(self.base + path)

    def look(self, name: str) -> None:
        shot(self.page, self.view, f"console-{name}")
        self.a11y += audit(self.page, f"{self.view}-console-{name}")

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.go("/console/login")
        self.page.get_by_label("用户名").fill(username)
        self.page.get_by_label("密码").fill(password)
        self.page.get_by_role("button", name="登录").click()
        self.page.wait_for_load_state()

    def download(self, click: Any) -> bytes:
        with self.page.expect_download() as info:
            click()
        path = info.value.path()
        return Path(path).read_bytes()

    def close(self) -> None:
        self.context.close()
        expected = ("status of 401", "status of 403", "status of 404", "status of 422")  # pages that refuse on purpose
        real = [e for e in self.errors if not any(x in e for x in expected)]
        assert real == [], real
        assert self.a11y == [], "\n".join(self.a11y)


def _pdf_text(raw: bytes) -> str:
    import io

    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(raw)).pages)


def test_a_bureau_sees_only_its_area_opens_a_school_and_downloads_its_pdf(browser: Any, server: str) -> None:
    tab = Tab(browser, "desktop", server)
    tab.go("/console/login")
    tab.look("01-login")
    tab.login("county1", "wrong-password")
    assert "用户名或密码不正确" in tab.page.locator(".alert").inner_text()
    tab.look("02-login-error")
    tab.login("county1")
    tab.page.wait_for_url(f"{server}/console/areas")
    assert tab.page.get_by_role("heading", level=1).inner_text().startswith("测试区")
    html = tab.page.content()
    assert "测试路第一中学" in html and not leaked(html, NEXT_MARKERS)
    tab.look("10-bureau-area")
    tab.page.get_by_role("link", name="参测进度").click()
    tab.page.wait_for_url(re.compile(r".*/participation.*"))
    tab.look("11-participation")
    tab.page.go_back()
    tab.page.get_by_role("link", name="测试路第一中学").first.click()
    tab.page.wait_for_url(re.compile(r".*/console/schools/SWEB001.*"))
    assert "本校结果" in tab.page.content()
    tab.look("12-school-profile")
    pdf = tab.download(lambda: tab.page.get_by_role("link", name="PDF 报告").click())
    assert pdf.startswith(b"%PDF") and "测试路第一中学" in _pdf_text(pdf)
    tab.go("/console/areas/990101")
    tab.page.get_by_role("button", name="生成全部学校报告（ZIP）").click()
    tab.page.wait_for_url(re.compile(r".*/console/jobs/.*"))
    tab.page.get_by_role("link", name=re.compile("下载")).wait_for()
    tab.look("13-zip-job")
    archive = tab.download(lambda: tab.page.get_by_role("link", name=re.compile("下载")).click())
    assert archive[:2] == b"PK"
    tab.go("/console/schools/SNEXT01")  # a school of the county next door: not found, and nothing of it
    assert "没有找到" in tab.page.content() and not leaked(tab.page.content(), NEXT_MARKERS)
    tab.look("14-not-found")
    tab.close()


ROW = {
    "province_code": "99",
    "province": "测试省",
    "region": "东部",
    "city_code": "9901",
    "city": "测试市",
    "county_code": "990101",
    "county": "测试区",
    "school_code": "SWEB001",
    "school": "测试路第一中学",
    "locale": "urban",
    "sector": "public",
    "grade": "8",
    "class": "8年级3班",
    "student_code": "",
    "gender": "F",
}


def _roster(path: Path, bad: bool) -> Path:
    rows = [{**ROW, "student_code": f"NEWB-{i:02d}", "gender": "FM"[i % 2]} for i in range(1, 6)]
    if bad:
        rows[2]["grade"] = "15"
    path.write_text("\n".join([",".join(COLUMNS), *(",".join(r[c] for c in COLUMNS) for r in rows)]) + "\n")
    return path


def test_a_school_registers_prints_tickets_and_watches_a_student(
    browser: Any, server: str, cdb: ConsoleDb, tmp_path: Path
) -> None:
    tab = Tab(browser, "tablet", server)
    tab.login("school1")
    tab.page.wait_for_url(f"{server}/console/schools/SWEB001")
    tab.look("20-school-home")
    tab.page.get_by_role("link", name=re.compile("登记学生")).click()
    tab.look("21-roster")
    tab.page.get_by_label("登记表文件").set_input_files(str(_roster(tmp_path / "名单.csv", bad=True)))
    tab.page.get_by_role("button", name="上传并检查").click()
    tab.page.locator("#problems").wait_for()
    assert "第 4 行 · 年级（grade）" in tab.page.locator("#problems").inner_text()
    tab.look("22-roster-problems")
    tab.page.get_by_label("登记表文件").set_input_files(str(_roster(tmp_path / "名单.csv", bad=False)))
    tab.page.get_by_role("button", name="上传并检查").click()
    tab.page.get_by_role("heading", name="检查通过：请确认登记").wait_for()
    assert "新登记学生 5 名" in tab.page.locator("main").inner_text()
    tab.look("23-roster-preview")
    tab.page.get_by_role("button", name="确认登记").click()
    tab.page.get_by_role("heading", name="登记完成").wait_for()
    tab.look("24-roster-done")
    tab.page.get_by_role("link", name="去打印准考证").click()
    tab.page.get_by_role("heading", name=re.compile("打印准考证")).wait_for()
    tab.look("25-tickets")
    cards = tab.download(lambda: tab.page.get_by_role("button", name="打印8年级3班的准考证").click())
    text = _pdf_text(cards)
    assert cards.startswith(b"%PDF") and "NEWB-01" in text and re.search(r"\d{6}", text)
    tab.go("/console/schools/SWEB001/students")
    tab.look("26-students")
    tab.page.get_by_role("button", name="重置 NEWB-01 的 PIN 码").click()
    tab.page.get_by_role("heading", name="新的 PIN 码").wait_for()
    tab.look("27-new-pin")
    tab.go("/console/schools/SWEB001/monitor")
    tab.look("28-monitor")

    pupil = cdb.world.pupils[0]  # a student of this school takes the test on a phone meanwhile
    student = Tab(browser, "phone", server)
    student.go("/login")
    student.page.get_by_label("准考证号").fill(pupil.ticket)
    student.page.get_by_label("密码").fill(pupil.pin)
    student.page.get_by_label("密码").press("Enter")
    student.page.wait_for_url(f"{server}/instructions")
    student.page.get_by_role("button", name="跳过练习，开始测评").click()
    student.page.wait_for_url(f"{server}/test")
    row = tab.page.locator('tr[data-student="WEB001"]')
    row.and_(tab.page.locator('[data-state="in_progress"]')).wait_for(timeout=20_000)  # the board polls every 5 s
    assert row.locator("td").nth(1).inner_text() == "1"
    item, kind, _ = item_state(student.page)
    choose(student.page, kind, keyboard=False)
    submit(student.page, keyboard=False, before=item)
    tab.page.wait_for_function(
        "() => { const r = document.querySelector('tr[data-student=\"WEB001\"]');"
        " return r && r.querySelectorAll('td')[1].innerText.trim() === '2'; }",
        timeout=20_000,
    )
    tab.look("29-monitor-live")
    tab.page.get_by_role("button", name="让 WEB001 换一台设备继续").click()
    tab.page.locator(".notice").filter(has_text="已让学生 WEB001").wait_for()
    tab.look("30-monitor-moved")
    student.page.reload()
    assert "另一台设备" in student.page.content()
    student.context.close()
    tab.close()


def test_an_admin_creates_a_bureau_user(browser: Any, server: str) -> None:
    tab = Tab(browser, "desktop", server)
    tab.login("root")
    tab.page.wait_for_url(f"{server}/console/areas")
    tab.look("40-admin-areas")
    tab.page.get_by_role("link", name="账号管理").click()
    tab.look("41-users")
    tab.page.get_by_label("用户名（小写字母、数字和 . _ -）").fill("chen.jing")
    tab.page.get_by_label(re.compile("^名称")).fill("测试市教育局 陈老师")
    tab.page.get_by_label("角色").select_option("bureau")
    tab.page.get_by_label(re.compile("^所属地区或学校的代码")).fill("9901")
    tab.page.get_by_role("button", name="创建账号").click()
    tab.page.get_by_role("heading", name="账号已创建").wait_for()
    one_time = tab.page.locator(".big-pin").inner_text().strip()
    tab.look("42-user-created")
    tab.page.get_by_role("link", name="审计日志").click()
    assert "创建账号" in tab.page.content()
    tab.look("43-audit")
    tab.page.get_by_role("link", name="我的账号").click()
    tab.page.get_by_role("button", name="启用动态验证码").click()
    tab.page.locator("img.qr").wait_for()
    tab.look("44-account-totp")
    tab.close()

    new = Tab(browser, "desktop", server)
    new.login("chen.jing", one_time)
    new.page.wait_for_url(f"{server}/console/account")
    assert "初始密码" in new.page.content()
    new.look("45-must-change-password")
    new.page.get_by_label("当前密码").fill(one_time)
    new.page.get_by_label(re.compile("^新密码")).fill("Chen-jing-own-9")
    new.page.get_by_role("button", name="保存新密码").click()
    new.page.get_by_text("新密码已保存").wait_for()
    new.go("/console/areas")
    assert new.page.get_by_role("heading", level=1).inner_text().startswith("测试市")
    new.look("46-new-bureau-area")
    new.close()
