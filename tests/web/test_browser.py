"""The student journey in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

The app runs under uvicorn in a subprocess on a free loopback port over a prepared SQLite copy
of the test world. A student logs in, reads the instructions, does the practice item, answers
items of every type (some with the keyboard only), loses the network once, reloads mid-test and
resumes at the same item with the timer running on, and finishes. Every page's source is checked
for keys, rationales and rubrics, and audited with axe-core (WCAG 2.1 A and AA rules: labels,
contrast, landmarks, names of controls) on both viewports. Screenshots of every page on a desktop
(1280x800) and a phone (390x844) viewport are saved under ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from itembank.models import Item, ItemVersion
from tests.web.conftest import N_ITEMS, SECRET, Db, Pupil
from tests.web.serving import REPO, serve

pytestmark = pytest.mark.browser

SHOTS = REPO / "test-artifacts" / "screenshots"
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
TYPES = {"single_choice", "multiple_response", "true_false", "partial_credit"}
# axe-core, as the axe-playwright-python wheel carries it (a dev dependency; no CDN, no npm)
AXE = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
AXE_RULES = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


@pytest.fixture
def server(db: Db, tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, over the test's database copy."""
    db.engine.dispose()
    env = {"INFOLIT_DATABASE_URL": db.url, "INFOLIT_DATA_DIR": str(tmp_path / "data"), "INFOLIT_SECRET_KEY": SECRET}
    with serve("web.app:create_app", env, tmp_path / "server.log") as base:
        yield base


class Secrets:
    """Everything a page must never contain, read from the database."""

    def __init__(self, db: Db) -> None:
        with Session(db.engine) as s:
            self.versions = {int(v.id or 0): v for v in s.exec(select(ItemVersion)).all()}
            self.rationale = {
                int(v.id or 0): item.rationale
                for v, item in s.exec(select(ItemVersion, Item).join(Item, col(Item.id) == ItemVersion.item_id)).all()
            }

    def check(self, html: str, shown: int | None) -> None:
        assert not re.search(r"data-(key|answer|correct|score)|\bkey=|rubric|rationale|theta", html, re.I), (
            "a key field"
        )
        for text in self.rationale.values():
            assert not text or text[:20] not in html, "a rationale"
        for version in self.versions.values():
            for level in version.rubric or []:
                assert str(level["description"])[:20] not in html, "a rubric"
        if shown is not None:
            version = self.versions[shown]
            assert not re.search(r"<input[^>]*\bchecked", html), "an answer is pre-selected"
            if version.key:
                assert f'"{version.key[0]}"]' not in html and repr(version.key) not in html
            for part in version.parts or []:
                assert f'"key": "{part["key"]}"' not in html


def shot(page: Any, view: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / f"{view}-{name}.png"), full_page=True)


def new_context(browser: Any, view: str) -> Any:
    """A browser context for ``view`` whose every document gets axe-core (as an init script, so
    the pages' own Content-Security-Policy stays in force)."""
    context = browser.new_context(locale="zh-CN", **VIEWPORTS[view])
    context.add_init_script(script=AXE)
    return context


def audit(page: Any, where: str) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, one line per rule and element."""
    result = page.evaluate("rules => axe.run(document, rules)", AXE_RULES)
    return [
        f"{where}: {v['id']} ({v['impact']}) {node['target']}: {v['help']}"
        for v in result["violations"]
        for node in v["nodes"]
    ]


def item_state(page: Any) -> tuple[int, str, str]:
    """(item version id, type, stem text) of the item on screen."""
    item = int(page.locator('input[name="item"]').get_attribute("value"))
    if page.locator('input[name="part-0"]').count():
        kind = "partial_credit"
    elif page.locator('input[type="checkbox"][name="answer"]').count():
        kind = "multiple_response"
    elif page.locator('input[name="answer"][value="T"]').count():
        kind = "true_false"
    else:
        kind = "single_choice"
    return item, kind, page.locator(".stem").inner_text()


def choose(page: Any, kind: str, keyboard: bool) -> None:
    """Pick an answer (by reading the DOM); with ``keyboard`` use Tab and Space only."""
    if keyboard and kind in ("single_choice", "true_false"):
        for _ in range(12):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement && document.activeElement.name") == "answer":
                break
        page.keyboard.press("Space")
        assert page.locator('input[name="answer"]:checked').count() == 1
        return
    if kind == "partial_credit":
        groups = page.locator("fieldset.part")
        for i in range(groups.count()):
            groups.nth(i).locator("label.choice").first.click()
    elif kind == "multiple_response":
        boxes = page.locator("label.choice")
        boxes.nth(0).click()
        boxes.nth(1).click()
    else:
        page.locator("label.choice").last.click()


def submit(page: Any, keyboard: bool, before: int) -> None:
    """Send the answer and wait for htmx to swap in the next item or the finish page."""
    page.evaluate("window.__stayed = true")  # survives an htmx swap, not a full page load
    if keyboard:
        page.keyboard.press("Enter")  # implicit submission from the focused control
    else:
        page.get_by_role("button", name="提交答案").click()
    page.wait_for_function(
        "b => { const i = document.querySelector('input[name=item]');"
        " return (i && Number(i.value) !== b) || document.querySelector('#finish-heading'); }",
        arg=before,
    )
    assert page.evaluate("window.__stayed === true"), "the answer reloaded the whole page"


def assert_no_lone_character(page: Any, view: str) -> None:
    """No line of the test bar holds a single character (the phone's 390 px wrapped "束" alone)."""
    lines = page.evaluate(
        """() => [...document.querySelectorAll('.test-bar .progress-block span')].flatMap(el => {
            const rows = new Map();
            for (const node of el.childNodes) {
                if (node.nodeType !== Node.TEXT_NODE) continue;
                for (let i = 0; i < node.length; i++) {
                    const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                    const box = r.getBoundingClientRect();
                    if (!node.data[i].trim() || box.width === 0) continue;
                    const key = Math.round(box.top);
                    rows.set(key, (rows.get(key) || '') + node.data[i]);
                }
            }
            return [...rows.values()];
        })"""
    )
    assert lines and all(len(line) > 1 for line in lines), (view, lines)


def remaining(page: Any) -> int:
    return int(page.locator("[data-remaining]").get_attribute("data-remaining"))


def journey(browser: Any, base: str, pupil: Pupil, view: str, secrets: Secrets, *, full: bool) -> dict[str, Any]:
    context = new_context(browser, view)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console", lambda msg: errors.append(f"{msg.text} @ {page.url} {msg.location}") if msg.type == "error" else None
    )
    seen: dict[str, Any] = {"types": [], "items": [], "a11y": []}

    def look(name: str) -> None:
        shot(page, view, name)
        seen["a11y"] += audit(page, f"{view}-{name}")

    page.goto(f"{base}/login")
    assert page.title().startswith("登录")
    look("01-login")
    secrets.check(page.content(), None)
    page.get_by_label("准考证号").fill(pupil.ticket)
    page.get_by_label("密码").fill("wrong")
    page.get_by_label("密码").press("Enter")
    page.locator(".alert").wait_for()
    assert "密码不正确" in page.locator(".alert").inner_text()
    if full:
        look("02-login-error")
    page.get_by_label("密码").fill(pupil.pin)
    page.get_by_label("密码").press("Enter")
    page.wait_for_url(f"{base}/instructions")
    assert "限时 40 分钟" in page.content()
    look("03-instructions")
    secrets.check(page.content(), None)

    page.get_by_role("link", name="做练习题").click()
    page.wait_for_url(f"{base}/practice")
    page.get_by_role("heading", name=re.compile("练习题")).wait_for()
    look("04-practice")
    if full:  # a wrong practice answer is not shown in the success colours
        page.locator("label.choice").nth(1).click()
        page.get_by_role("button", name="提交练习答案").click()
        page.locator(".feedback", has_text="这次没选对").wait_for()
        colour = page.evaluate("() => getComputedStyle(document.querySelector('.feedback')).color")
        assert colour != "rgb(30, 123, 74)", colour  # --ok, the success green
        look("05-practice-wrong")
    page.locator("label.choice").first.click()
    page.get_by_role("button", name="提交练习答案").click()
    page.locator(".feedback").wait_for()
    look("05-practice-feedback")
    secrets.check(page.content(), None)
    page.get_by_role("button", name="开始正式测评").click()
    page.wait_for_url(f"{base}/test")
    page.locator('input[name="item"]').wait_for(state="attached")

    shots_of: set[str] = set()
    for n in range(N_ITEMS):
        item, kind, stem = item_state(page)
        # the item's number once (its heading); the bar counts the answers given
        assert page.locator(".item-heading").inner_text().startswith(f"第 {n + 1} 题")
        assert page.locator(".progress-label").inner_text() == f"已答 {n} 题"
        assert page.locator("#main").inner_text().count(f"第 {n + 1} 题") == 1
        assert_no_lone_character(page, view)
        seen["types"].append(kind)
        seen["items"].append(item)
        secrets.check(page.content(), item)
        if kind not in shots_of:
            shots_of.add(kind)
            look(f"10-item-{kind}")
        if page.locator(".stimulus").count() and "stimulus" not in shots_of:
            shots_of.add("stimulus")
            look("11-item-with-stimulus")
        if full and n == 3:
            # reload mid-test: the same item comes back and the timer runs on from the server's deadline
            left = remaining(page)
            time.sleep(1.2)
            page.reload()
            page.locator('input[name="item"]').wait_for(state="attached")
            again, _, stem_again = item_state(page)
            assert (again, stem_again) == (item, stem)
            assert left - 30 < remaining(page) <= left
            seen["reloaded"] = True
        if full and n == 4:
            # the network goes away: the page says so, and the same answer goes through afterwards
            choose(page, kind, keyboard=False)
            context.set_offline(True)
            page.get_by_role("button", name="提交答案").click()
            page.locator("#net-status").filter(has_text="网络连接中断").wait_for()
            look("20-network-lost")
            context.set_offline(False)
            submit(page, keyboard=False, before=item)
            continue
        keyboard = full and kind in ("single_choice", "true_false")
        if keyboard:
            page.locator("[data-focus]").focus()
        choose(page, kind, keyboard=keyboard)
        submit(page, keyboard, before=item)
        if page.locator("#finish-heading").count():
            break
    page.locator("#finish-heading").wait_for()
    assert page.url == f"{base}/finish"
    assert "你完成了测评" in page.content() and "你的表现" in page.content()
    look("30-finish")
    secrets.check(page.content(), None)
    offline = ("ERR_INTERNET_DISCONNECTED", "htmx:sendError", "htmx:afterRequest")  # the deliberate network loss
    refused = "the server responded with a status of 4"  # the deliberate wrong PIN
    seen["errors"] = [e for e in errors if not any(o in e for o in (*offline, refused))]
    context.close()
    return seen


def test_student_journey_in_chromium(browser: Any, server: str, db: Db) -> None:
    secrets = Secrets(db)
    desktop = journey(browser, server, db.world.pupils[0], "desktop", secrets, full=True)
    assert set(desktop["types"]) == TYPES
    assert len(desktop["items"]) == N_ITEMS == len(set(desktop["items"]))
    assert desktop.get("reloaded")
    assert desktop["errors"] == [], desktop["errors"]
    phone = journey(browser, server, db.world.pupils[1], "phone", secrets, full=False)
    assert set(phone["types"]) == TYPES and phone["errors"] == []
    assert desktop["a11y"] + phone["a11y"] == [], "\n".join(desktop["a11y"] + phone["a11y"])
    for view in VIEWPORTS:
        for name in ("01-login", "03-instructions", "04-practice", "30-finish"):
            assert (SHOTS / f"{view}-{name}.png").exists()
        assert len(list(SHOTS.glob(f"{view}-10-item-*.png"))) >= 4


def test_second_device_takes_over_in_chromium(browser: Any, server: str, db: Db) -> None:
    pupil = db.world.pupils[2]
    pages = []
    for _ in range(2):
        context = new_context(browser, "desktop")
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server}/login")
        page.get_by_label("准考证号").fill(pupil.ticket)
        page.get_by_label("密码").fill(pupil.pin)
        page.get_by_label("密码").press("Enter")
        page.wait_for_load_state()
        pages.append(page)
        if len(pages) == 1:
            page.wait_for_url(f"{server}/instructions")
            page.get_by_role("button", name="跳过练习，开始测评").click()
            page.locator('input[name="item"]').wait_for(state="attached")
    first, second = pages
    second.wait_for_url(f"{server}/test")
    first.locator("label.choice").first.click()
    first.get_by_role("button", name="提交答案").click()
    first.locator(".alert").filter(has_text="另一台设备").wait_for()
    shot(first, "desktop", "40-taken-over")
    assert audit(first, "desktop-40-taken-over") == []
    assert second.locator('input[name="item"]').count() == 1
    for page in pages:
        page.context.close()


def test_the_api_documentation_works_offline_under_the_csp(browser: Any, server: str) -> None:
    """/schema: Swagger UI from this server only (an offline school network), no CSP violation."""
    context = new_context(browser, "desktop")
    page = context.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    requested: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{server}/schema")
    page.locator(".opblock-summary-path", has_text="/api/v1/answer").first.wait_for()
    assert page.locator(".opblock").count() >= 6  # login, start, item, answer, finish, logout
    page.locator(".opblock-summary-path", has_text="/api/v1/answer").first.click()
    page.locator(".responses-table").first.wait_for()
    codes = set(page.locator(".responses-table .response-col_status").all_inner_texts())
    assert {"200", "401", "409"} <= {c.strip() for c in codes}
    shot(page, "desktop", "50-schema")
    context.close()
    assert errors == [], errors
    assert requested and all(url.startswith(server) for url in requested), [u for u in requested if server not in u]
