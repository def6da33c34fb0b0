"""The student pages with Litestar's test client: every page in full and as an htmx fragment."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import TestClient
from sqlmodel import Session, col, select

from assess.models import Response, TestSession
from assess.scales import LEVEL_DESCRIPTIONS
from itembank.models import Item, ItemVersion
from tests.console_world import without_tokens
from tests.web.conftest import N_ITEMS, Db, csrf, item_id, login, post_form
from web.security import SESSION_COOKIE

HX = {"HX-Request": "true"}


def form_answer(html: str, *, pick: int = 0) -> dict[str, Any]:
    """A complete answer to the item in ``html``: option ``pick`` of each radio group, or two boxes."""
    data: dict[str, Any] = {"item": str(item_id(html))}
    boxes = re.findall(r'type="checkbox" name="answer" value="([^"]+)"', html)
    if boxes:
        data["answer"] = boxes[:2]
        return data
    groups: dict[str, list[str]] = {}
    for name, value in re.findall(r'type="radio" name="([^"]+)" value="([^"]+)"', html):
        groups.setdefault(name, []).append(value)
    for name, values in groups.items():
        data[name] = values[pick % len(values)]
    return data


def item_type(html: str) -> str:
    if 'name="part-0"' in html:
        return "partial_credit"
    if 'type="checkbox"' in html:
        return "multiple_response"
    if 'value="T"' in html and "正确" in html:
        return "true_false"
    return "single_choice"


def start(client: TestClient[Litestar], db: Db, n: int = 0) -> str:
    login(client, db.world.pupils[n])
    response = post_form(client, "/start", {})
    assert response.status_code == 303 and response.headers["location"] == "/test"
    page = client.get("/test")
    assert page.status_code == 200
    return page.text


def finish_test(client: TestClient[Litestar]) -> list[str]:
    types = []
    for _ in range(N_ITEMS + 2):
        page = client.get("/test", follow_redirects=False)
        if page.status_code == 303:
            assert page.headers["location"] == "/finish"
            return types
        types.append(item_type(page.text))
        response = post_form(client, "/test/answer", form_answer(page.text))
        assert response.status_code == 303, response.text
    raise AssertionError("the test did not end")


# ------------------------------------------------------------------------------------------- login
def test_login_page_full_and_fragment(client: TestClient[Litestar]) -> None:
    full = client.get("/login")
    assert full.status_code == 200
    assert "<!doctype html>" in full.text.lower() and 'id="main"' in full.text
    assert 'for="ticket"' in full.text and 'for="pin"' in full.text
    assert 'name="_csrf_token"' in full.text and "X-CSRFToken" in full.text
    fragment = client.get("/login", headers=HX)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and 'name="ticket"' in fragment.text
    assert "<title>登录" in fragment.text


def test_root_sends_a_stranger_to_login(client: TestClient[Litestar]) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 303) and response.headers["location"] == "/login"


def test_login_success_sets_a_safe_cookie(client: TestClient[Litestar], db: Db) -> None:
    response = login(client, db.world.pupils[0])
    assert response.headers["location"] == "/instructions"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie


def test_secure_cookie_setting(db: Db, tmp_path: Any) -> None:
    from tests.web.conftest import make_app

    with TestClient(make_app(db, tmp_path, secure_cookies=True), base_url="https://testserver.local") as client:
        token = csrf(client)
        response = client.post(
            "/login",
            data={"ticket": db.world.pupils[0].ticket, "pin": db.world.pupils[0].pin, "_csrf_token": token},
            follow_redirects=False,
        )
        cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v)
        assert "Secure" in cookie


def test_login_htmx_redirects_the_client(client: TestClient[Litestar], db: Db) -> None:
    pupil = db.world.pupils[0]
    response = post_form(client, "/login", {"ticket": pupil.ticket, "pin": pupil.pin}, htmx=True)
    assert response.status_code == 200
    assert response.headers["hx-redirect"] == "/instructions"


def test_login_messages(client: TestClient[Litestar], db: Db) -> None:
    w = db.world
    cases = [
        # an unknown ticket, a wrong PIN and a ticket without a PIN are told the same (issue 12, defect 5)
        ({"ticket": "NOPE123", "pin": "1"}, 401, "准考证号或密码不正确"),
        ({"ticket": w.pupils[0].ticket, "pin": "999999"}, 401, "准考证号或密码不正确"),
        ({"ticket": "", "pin": ""}, 401, "请输入准考证号和密码"),
        ({"ticket": w.no_pin_ticket, "pin": "1"}, 401, "准考证号或密码不正确"),
        ({"ticket": w.closed_ticket, "pin": w.pupils[0].pin}, 403, "没有向你开放的测评"),
        ({"ticket": w.upcoming_ticket, "pin": w.pupils[0].pin}, 403, "测评还没有开始"),
    ]
    for data, status, text in cases:
        for htmx in (False, True):
            response = post_form(client, "/login", data, htmx=htmx)
            assert response.status_code == status, (data, response.text)
            assert text in response.text
            assert ("<html" in response.text) is (not htmx)
    assert SESSION_COOKIE not in client.cookies


def test_ticket_with_spaces_is_accepted(client: TestClient[Litestar], db: Db) -> None:
    pupil = db.world.pupils[0]
    response = post_form(client, "/login", {"ticket": f" {pupil.ticket[:3]} {pupil.ticket[3:]} ", "pin": pupil.pin})
    assert response.status_code == 303


def test_login_after_finishing_says_so(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    finish_test(client)
    client.cookies.clear()
    response = post_form(client, "/login", {"ticket": db.world.pupils[0].ticket, "pin": db.world.pupils[0].pin})
    assert response.status_code == 409
    assert "已经完成了本次测评" in response.text


def test_throttle_per_ticket(db: Db, tmp_path: Any) -> None:
    from tests.web.conftest import make_app

    pupil = db.world.pupils[1]
    with TestClient(make_app(db, tmp_path, login_max_failures=3)) as client:
        statuses = [post_form(client, "/login", {"ticket": pupil.ticket, "pin": "000"}).status_code for _ in range(3)]
        assert statuses == [401, 401, 401]
        blocked = post_form(client, "/login", {"ticket": pupil.ticket, "pin": pupil.pin})
        assert blocked.status_code == 429 and "尝试次数太多" in blocked.text
        assert int(blocked.headers["retry-after"]) > 0
        other = post_form(client, "/login", {"ticket": db.world.pupils[2].ticket, "pin": pupil.pin})
        assert other.status_code == 303  # another ticket from the same address is not blocked


def test_throttle_per_address(db: Db, tmp_path: Any) -> None:
    from tests.web.conftest import make_app

    with TestClient(make_app(db, tmp_path, login_max_failures_per_ip=4)) as client:
        for i in range(5):  # past the limit, the address has one try per backoff slot (2 s)
            assert post_form(client, "/login", {"ticket": f"GUESS{i}", "pin": "1"}).status_code == 401
        blocked = post_form(client, "/login", {"ticket": db.world.pupils[0].ticket, "pin": db.world.pupils[0].pin})
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= 2  # a backoff, not the rest of the window


# ------------------------------------------------------------------------------------------- before the test
def test_pages_need_a_login(client: TestClient[Litestar]) -> None:
    for url in ("/instructions", "/practice", "/test", "/finish", "/test/time"):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", url
        fragment = client.get(url, headers=HX, follow_redirects=False)
        assert fragment.headers.get("hx-redirect") == "/login", url


def test_instructions_full_and_fragment(client: TestClient[Litestar], db: Db) -> None:
    login(client, db.world.pupils[0])
    full = client.get("/instructions")
    assert full.status_code == 200 and "<html" in full.text
    for text in ("测评说明", "不能返回修改", "限时 40 分钟", "10 题", "做练习题", "计时不会暂停"):
        assert text in full.text, text
    fragment = client.get("/instructions", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text and "测评说明" in fragment.text


def test_practice_full_fragment_and_feedback(client: TestClient[Litestar], db: Db) -> None:
    login(client, db.world.pupils[0])
    full = client.get("/practice")
    assert full.status_code == 200 and "练习题" in full.text and 'type="radio"' in full.text and "不计分" in full.text
    assert "<html" not in client.get("/practice", headers=HX).text
    right = post_form(client, "/practice", {"answer": "A"}, htmx=True)
    assert right.status_code == 200 and "答对了" in right.text and "开始正式测评" in right.text
    assert "feedback-right" in right.text
    wrong = post_form(client, "/practice", {"answer": "B"})
    assert wrong.status_code == 200 and "没选对" in wrong.text and "<html" in wrong.text
    assert "feedback-wrong" in wrong.text and "feedback-right" not in wrong.text  # not in the success colours
    bad = post_form(client, "/practice", {"answer": "Z"})
    assert bad.status_code == 400
    with Session(db.engine) as s:
        assert s.exec(select(TestSession)).all() == []  # practice starts nothing


# ------------------------------------------------------------------------------------------- the test
def test_start_with_htmx_swaps_in_the_first_item(client: TestClient[Litestar], db: Db) -> None:
    login(client, db.world.pupils[0])
    response = post_form(client, "/start", {}, htmx=True)
    assert response.status_code == 200
    assert response.headers["hx-push-url"] == "/test"
    assert "<html" not in response.text and "第 1 题" in response.text and 'name="item"' in response.text
    assert re.search(r'data-remaining="(\d+)"', response.text)


def test_item_page_full_and_fragment(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    assert "<html" in html and "第 1 题" in html and 'max="10"' in html and "剩余时间" in html
    remaining = int(re.search(r'data-remaining="(\d+)"', html).group(1))  # type: ignore[union-attr]
    assert 40 * 60 - 5 <= remaining <= 40 * 60
    fragment = client.get("/test", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert item_id(fragment.text) == item_id(html)
    assert client.get("/test/time").json()["status"] == "in_progress"


def test_every_type_has_its_control_and_labels(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    seen: dict[str, str] = {}
    for _ in range(N_ITEMS):
        page = client.get("/test", follow_redirects=False)
        if page.status_code != 200:
            break
        kind = item_type(page.text)
        seen.setdefault(kind, page.text)
        post_form(client, "/test/answer", form_answer(page.text))
    assert set(seen) == {"single_choice", "multiple_response", "true_false", "partial_credit"}
    assert "请选择一个答案" in seen["single_choice"]
    assert 'type="checkbox"' in seen["multiple_response"] and "可以选择多个" in seen["multiple_response"]
    assert ">正确<" in seen["true_false"] and ">错误<" in seen["true_false"]
    pc = seen["partial_credit"]
    assert "第 1 小题" in pc and "第 2 小题" in pc
    for html in seen.values():
        inputs = len(re.findall(r"<input type=\"(?:radio|checkbox)\"", html))
        labelled = len(re.findall(r"<label class=\"choice\">\s*<input", html))
        assert inputs == labelled > 0  # every control sits inside its label


def test_stimulus_is_shown_with_its_item(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    for _ in range(N_ITEMS):
        page = client.get("/test", follow_redirects=False)
        if page.status_code != 200:
            break
        if 'class="stimulus"' in page.text:
            assert "阅读材料" in page.text and 'aria-labelledby="stimulus-title"' in page.text
            return
        post_form(client, "/test/answer", form_answer(page.text))
    raise AssertionError("no item with a stimulus was shown")


def test_htmx_answer_swaps_in_the_next_item(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    first = item_id(html)
    response = post_form(client, "/test/answer", form_answer(html), htmx=True)
    assert response.status_code == 200
    assert "<html" not in response.text and "第 2 题" in response.text
    assert item_id(response.text) != first


def test_answer_without_javascript_redirects_to_the_next_item(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    response = post_form(client, "/test/answer", form_answer(html))
    assert response.status_code == 303 and response.headers["location"] == "/test"
    assert "第 2 题" in client.get("/test").text


def test_reload_resumes_the_same_item_with_the_same_deadline(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    post_form(client, "/test/answer", form_answer(html))
    second = client.get("/test").text
    with Session(db.engine) as s:
        before = s.exec(select(TestSession)).one()
    again = client.get("/test").text
    assert item_id(again) == item_id(second)
    assert "第 2 题" in again
    with Session(db.engine) as s:
        after = s.exec(select(TestSession)).one()
    assert after.deadline == before.deadline and after.position == before.position == 1


def test_a_new_login_resumes_the_sitting(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    post_form(client, "/test/answer", form_answer(html))
    on_screen = item_id(client.get("/test").text)
    client.cookies.clear()  # the tab and its cookies are gone
    response = login(client, db.world.pupils[0])
    assert response.headers["location"] == "/test"
    assert item_id(client.get("/test").text) == on_screen


def test_second_device_takes_over(db: Db, tmp_path: Any) -> None:
    from tests.web.conftest import make_app

    # two app instances on one database: two workers, as behind a load balancer
    with TestClient(make_app(db, tmp_path)) as first, TestClient(make_app(db, tmp_path)) as second:
        html = start(first, db)
        login(second, db.world.pupils[0])
        taken = second.get("/test")
        assert item_id(taken.text) == item_id(html)
        # the first device learns it on its next action, whatever it is
        stale = first.cookies[SESSION_COOKIE]
        for action in (
            lambda: first.get("/test"),
            lambda: first.get("/test", headers=HX),
            lambda: post_form(first, "/test/answer", form_answer(html)),
            lambda: post_form(first, "/test/answer", form_answer(html), htmx=True),
        ):
            first.cookies.set(SESSION_COOKIE, stale, domain="testserver.local")
            response = action()
            assert response.status_code == 409
            assert "另一台设备" in response.text
            cleared = [v for k, v in response.headers.multi_items() if k == "set-cookie" and SESSION_COOKIE in v]
            assert cleared and "Max-Age=0" in cleared[0]  # the next page asks for a login
            first.cookies.clear()
        # and the second device goes on
        assert post_form(second, "/test/answer", form_answer(taken.text)).status_code == 303
        with Session(db.engine) as s:
            assert len(s.exec(select(Response)).all()) == 1


def test_instructions_during_the_test_offer_to_continue(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    page = client.get("/instructions")
    assert "继续作答" in page.text and "做练习题" not in page.text
    assert client.get("/practice").status_code == 200


def test_finish_page_with_result(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    types = finish_test(client)
    assert set(types) == {"single_choice", "multiple_response", "true_false", "partial_credit"}
    assert len(types) == N_ITEMS
    full = client.get("/finish")
    assert full.status_code == 200 and "你完成了测评" in full.text and "<html" in full.text
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
    assert ts.status == "finished" and ts.level
    assert LEVEL_DESCRIPTIONS[ts.level] in full.text
    shown = without_tokens(full.text)  # a CSRF token can hold the score's digits by chance (CI saw '426')
    assert f"{ts.scale_score:.0f}" not in shown and f"{ts.theta:.2f}" not in shown
    fragment = client.get("/finish", headers=HX)
    assert "<html" not in fragment.text and "你完成了测评" in fragment.text
    assert client.get("/test", follow_redirects=False).headers["location"] == "/finish"
    assert client.get("/", follow_redirects=False).headers["location"] == "/finish"


def test_last_answer_with_htmx_swaps_in_the_finish_page(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    for _ in range(N_ITEMS - 1):
        post_form(client, "/test/answer", form_answer(client.get("/test").text))
    response = post_form(client, "/test/answer", form_answer(client.get("/test").text), htmx=True)
    assert response.status_code == 200 and response.headers["hx-push-url"] == "/finish"
    assert "你完成了测评" in response.text


def test_finish_page_without_result_when_the_blueprint_hides_it(client: TestClient[Litestar], db: Db) -> None:
    from assess.models import BlueprintRow

    with Session(db.engine) as s:
        row = s.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == db.world.assessment_id)).one()
        row.spec = {**row.spec, "show_result": False}
        s.add(row)
        s.commit()
    start(client, db)
    finish_test(client)
    page = client.get("/finish").text
    assert "你完成了测评" in page and "你的表现" not in page
    assert not any(d in page for d in LEVEL_DESCRIPTIONS.values())


def test_time_up_finishes_the_sitting(client: TestClient[Litestar], db: Db) -> None:
    start(client, db)
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
        ts.deadline = ts.started_at - timedelta(seconds=1)
        s.add(ts)
        s.commit()
    assert client.get("/test/time").json()["status"] == "expired"
    page = client.get("/finish")
    assert "时间到" in page.text


def test_logout_clears_the_cookie(client: TestClient[Litestar], db: Db) -> None:
    login(client, db.world.pupils[0])
    response = post_form(client, "/logout", {})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert client.get("/instructions", follow_redirects=False).headers["location"] == "/login"


def test_no_page_holds_a_key_or_rationale(client: TestClient[Litestar], db: Db) -> None:
    with Session(db.engine) as s:
        rationales = [r for r in s.exec(select(Item.rationale)).all() if r]
        rubric_texts = [
            str(part["description"])
            for rubric in s.exec(select(ItemVersion.rubric).where(col(ItemVersion.rubric).is_not(None))).all()
            for part in (rubric or [])
        ]
    pages = [client.get("/login").text]
    login(client, db.world.pupils[0])
    pages += [client.get("/instructions").text, client.get("/practice").text]
    html = start(client, db)
    for _ in range(N_ITEMS):
        pages.append(html)
        post_form(client, "/test/answer", form_answer(html))
        page = client.get("/test", follow_redirects=False)
        if page.status_code != 200:
            break
        html = page.text
    pages.append(client.get("/finish").text)
    for page in pages:
        assert not re.search(r"\bdata-key|\"key\"|correct|rubric|score|theta", page, re.IGNORECASE)
        for text in rationales + rubric_texts:
            assert text[:30] not in page


def test_item_text_is_sanitised(client: TestClient[Litestar], db: Db) -> None:
    hostile = 'Look <script>alert("x")</script> <img src=x onerror=alert(1)> [link](javascript:alert(1))'
    with Session(db.engine) as s:  # hostile text in every unanswered version, before anything is shown
        for version in s.exec(select(ItemVersion).where(col(ItemVersion.locked).is_(False))).all():
            version.stem = hostile
            version.content_hash = f"edited-for-the-test-{version.id}"
            s.add(version)
        s.commit()
    html = start(client, db)
    assert item_id(html)
    page = client.get("/test").text
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert 'href="javascript:' not in page  # the link is refused; its text stays inert


def test_the_finish_page_of_a_sitting_with_too_few_answers_shows_no_level(client: TestClient[Litestar], db: Db) -> None:
    html = start(client, db)
    post_form(client, "/test/answer", form_answer(html))
    with Session(db.engine) as s:  # the clock runs out after one answer
        ts = s.exec(select(TestSession)).one()
        ts.deadline = ts.started_at
        s.add(ts)
        s.commit()
    page = client.get("/finish")
    assert page.status_code == 200 and "时间到" in page.text
    assert "没有给出表现评价" in page.text and "你的表现" not in page.text
    assert not any(text in page.text for text in LEVEL_DESCRIPTIONS.values())
    with Session(db.engine) as s:
        ts = s.exec(select(TestSession)).one()
    assert ts.status == "expired" and ts.assessed is False and ts.level is None
