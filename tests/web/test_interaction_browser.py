"""The interactive item types in a real headless Chromium, on a desktop and a 390 px phone viewport.

A student answers one item of every new type (ordering and entry with the keyboard alone, the
hotspot by clicking the outlined part of the scene and its checkbox), each page audited with
axe-core (WCAG 2.1 A/AA) and screenshotted under ``test-artifacts/screenshots/``; no page is
wider than the phone's viewport; the stored scores are the top score of each item.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from assess.models import Response
from itembank.models import ItemVersion
from tests.web.conftest import SECRET, Db, Pupil
from tests.web.serving import serve
from tests.web.test_browser import SHOTS, VIEWPORTS, audit, new_context, shot
from tests.web.test_interaction_pages import SECRETS, idb  # noqa: F401  (the fixture)

pytestmark = pytest.mark.browser


@pytest.fixture
def iserver(idb: Db, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    idb.engine.dispose()
    env = {"INFOLIT_DATABASE_URL": idb.url, "INFOLIT_DATA_DIR": str(tmp_path / "data"), "INFOLIT_SECRET_KEY": SECRET}
    with serve("web.app:create_app", env, tmp_path / "server.log") as base:
        yield base


def kind_on(page: Any) -> str:
    if page.locator('select[name="position-1"]').count():
        return "ordering"
    if page.locator('select[name="match-A"]').count():
        return "matching"
    if page.locator('select[name="gap-1"]').count():
        return "inline_choice"
    if page.locator('select[name="query-1"]').count():
        return "search_sim"
    if page.locator('input[name="action-M1"]').count():
        return "inbox_sim"
    if page.locator('input[name="entry"]').count():
        return "numeric" if page.locator('input[name="entry"]').get_attribute("inputmode") == "decimal" else "text"
    assert page.locator(".hotspot").count()
    return "hotspot"


def tab_to(page: Any, name: str) -> None:
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.name") == name:
            return
    raise AssertionError(f"Tab never reached {name}")


def answer(page: Any, kind: str, look: Any) -> None:
    """The right answer; ordering and entry with the keyboard alone, submitted with Enter."""
    if kind == "ordering":
        for i, letter in enumerate("ABCD"):
            tab_to(page, f"position-{i + 1}")
            page.keyboard.press(letter)  # a closed select takes the option its typed letter starts
        assert [page.locator(f'select[name="position-{i + 1}"]').input_value() for i in range(4)] == list("ABCD")
        page.get_by_role("button", name="提交答案").focus()
        page.keyboard.press("Enter")
        return
    if kind in ("numeric", "text"):
        tab_to(page, "entry")
        page.keyboard.type("２０元" if kind == "numeric" else "ＱＲ 码")
        page.keyboard.press("Enter")  # implicit submission from the text field
        return
    if kind == "matching":
        for premise, target in (("A", "1"), ("B", "2"), ("C", "1")):
            page.select_option(f'select[name="match-{premise}"]', target)
    elif kind == "search_sim":
        page.select_option('select[name="query-1"]', "蚕")
        page.select_option('select[name="query-2"]', "吃什么")
        page.get_by_role("button", name="搜索").click()
        page.locator('details[data-result="R3"]').wait_for()
        page.locator('details[data-result="R3"] summary').click()  # open it: recorded with the answer
        look("search_sim-results")
        page.locator('input[name="chosen"][value="R3"]').check()
    elif kind == "inbox_sim":
        for message, action in (("M1", "保留"), ("M2", "举报"), ("M3", "回复")):
            page.locator(f'article.mail:has(input[name="action-{message}"]) label.choice', has_text=action).click()
    elif kind == "inline_choice":
        page.select_option('select[name="gap-1"]', "B")
        page.select_option('select[name="gap-2"]', "A")
    else:
        page.locator('.hotspot-region[data-region="R1"] rect').click()  # the scene's outlined part
        assert page.locator('input[name="answer"][value="R1"]').is_checked()
        page.locator('label.choice[data-region="R3"]').click()
    page.get_by_role("button", name="提交答案").click()


def journey(browser: Any, base: str, pupil: Pupil, view: str) -> tuple[set[str], list[str], list[str]]:
    context = new_context(browser, view)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/login")
    page.get_by_label("准考证号").fill(pupil.ticket)
    page.get_by_label("密码").fill(pupil.pin)
    page.get_by_label("密码").press("Enter")
    page.wait_for_url(f"{base}/instructions")
    page.get_by_role("button", name="跳过练习，开始测评").click()
    page.wait_for_url(f"{base}/test")
    seen: set[str] = set()
    problems: list[str] = []
    while not page.locator("#finish-heading").count():
        page.locator('input[name="item"]').wait_for(state="attached")
        before = int(page.locator('input[name="item"]').get_attribute("value"))
        kind = kind_on(page)
        seen.add(kind)
        html = page.content()
        problems.extend(f"{view}-{kind}: {s} in the page" for s in SECRETS if s in html)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > VIEWPORTS[view]["viewport"]["width"]:
            problems.append(f"{view}-{kind}: the page is {width} px wide")
        shot(page, view, f"40-item-{kind}")
        problems.extend(audit(page, f"{view}-{kind}"))

        def look(name: str) -> None:
            shot(page, view, f"41-item-{name}")
            problems.extend(audit(page, f"{view}-{name}"))

        answer(page, kind, look)
        page.wait_for_function(
            "b => { const i = document.querySelector('input[name=item]');"
            " return (i && Number(i.value) !== b) || document.querySelector('#finish-heading'); }",
            arg=before,
        )
    context.close()
    return seen, problems, errors


def test_every_interactive_type_in_chromium(browser: Any, iserver: str, idb: Db) -> None:  # noqa: F811
    kinds = {"ordering", "matching", "inline_choice", "numeric", "text", "hotspot", "search_sim", "inbox_sim"}
    for n, view in enumerate(VIEWPORTS):
        seen, problems, errors = journey(browser, iserver, idb.world.pupils[n], view)
        assert seen == kinds and problems == [] and errors == [], (view, seen, problems, errors)
        assert len(list(SHOTS.glob(f"{view}-40-item-*.png"))) >= len(kinds)
    with Session(idb.engine) as s:
        rows = s.exec(
            select(Response.score, ItemVersion.max_score).join(
                ItemVersion, col(ItemVersion.id) == col(Response.item_version_id)
            )
        ).all()
    assert len(rows) == 2 * len(kinds) and all(score == top for score, top in rows)
