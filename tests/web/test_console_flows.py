"""The console's flows over HTTP: staff login (throttle, TOTP, one-time passwords), sessions, CSRF, audit,
registration with the problem report, ticket cards whose PINs log students in, PINs, unlock, the monitor.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyotp
from litestar import Litestar
from litestar.testing import TestClient
from pypdf import PdfReader
from sqlalchemy import text
from sqlmodel import Session, col, select

from assess.accounts.models import AuditEvent, StaffUser
from assess.models import LoginFailure, Student, TestSession
from assess.people_file import COLUMNS
from tests.console_world import PASSWORD
from tests.web.conftest import ConsoleDb, console_post, make_console_app, post_form, staff_login
from web.staff import STAFF_COOKIE


def _actions(cdb: ConsoleDb) -> list[str]:
    with Session(cdb.engine) as s:
        return [e.action for e in s.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()]


def test_login_throttle_logout_and_a_disabled_user(any_cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(any_cdb, tmp_path, staff_login_max_failures=3)
    with TestClient(app) as client:
        for _ in range(3):
            wrong = console_post(client, "/console/login", {"username": "county2", "password": "not-it"})
            assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
        held = console_post(client, "/console/login", {"username": "county2", "password": PASSWORD})
        assert held.status_code == 429 and int(held.headers["retry-after"]) > 0
    with TestClient(app) as client, TestClient(make_console_app(any_cdb, tmp_path)) as other:
        staff_login(client, "county1")
        staff_login(other, "county1")
        assert client.get("/console/areas").status_code == 200 and other.get("/console/areas").status_code == 200
        out = console_post(client, "/console/logout")
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        assert client.get("/console/areas", follow_redirects=False).status_code == 303  # this one is out
        assert other.get("/console/areas").status_code == 200  # the other device is not
        kept = str(other.cookies[STAFF_COOKIE])
    with TestClient(make_console_app(any_cdb, tmp_path)) as admin:
        staff_login(admin, "root")
        assert console_post(admin, "/console/users/county1/disable").status_code == 200
    with TestClient(make_console_app(any_cdb, tmp_path)) as other:
        other.cookies.set(STAFF_COOKIE, kept)
        assert other.get("/console/areas", follow_redirects=False).headers["location"] == "/console/login"
    actions = _actions(any_cdb)
    assert actions.count("login.failure") == 3 and "login.throttled" in actions and "user.disable" in actions


def test_a_form_without_its_csrf_token_changes_nothing(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "root")
        response = client.post("/console/users/school2/disable", follow_redirects=False)
        assert response.status_code == 403 and "安全校验" in response.text
        bad = client.post("/console/users/school2/disable", data={"_csrf_token": "forged"}, follow_redirects=False)
        assert bad.status_code == 403
    with Session(cdb.engine) as s:
        assert s.exec(select(StaffUser).where(StaffUser.username == "school2")).one().disabled_at is None


def test_an_admin_creates_a_bureau_user_who_must_change_the_one_time_password(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as admin:
        staff_login(admin, "root")
        bad = console_post(admin, "/console/users", {"username": "x", "role": "bureau", "node": "99"})
        assert bad.status_code == 400 and "用户名需" in bad.text
        made = console_post(admin, "/console/users", {"username": "Zhang.Fang", "display_name": "测试市教育局 张老师",
                                                     "role": "bureau", "node": "9901"})  # fmt: skip
        assert made.status_code == 200, made.text
        one_time = re.search(r'<p class="big-pin" aria-label="初始密码">(\w+)</p>', made.text)
        assert one_time is not None
    with TestClient(app) as client:
        staff_login(client, "zhang.fang", one_time.group(1))
        blocked = client.get("/console/areas", follow_redirects=False)
        assert blocked.status_code == 303 and blocked.headers["location"] == "/console/account"
        changed = console_post(client, "/console/account/password", {"current": one_time.group(1),
                                                                       "new": "Zhang-own-pass-7"})  # fmt: skip
        assert changed.status_code == 200 and "新密码已保存" in changed.text
        area = client.get("/console/areas")
        assert area.status_code == 200 and "测试市" in area.text
        # the tree starts at the user's own city: no way up to its province (which its profile only names
        # as the larger area it is compared with, as every profile is compared with its parent and the nation)
        assert 'href="/console/areas/99?' not in area.text and 'href="/console/areas/99"' not in area.text
    assert {"user.create", "user.change_password"} <= set(_actions(cdb))


def test_a_bureau_logs_in_with_its_second_factor(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path)
    with TestClient(app) as client:
        staff_login(client, "county2")
        page = console_post(client, "/console/account/totp")
        secret = re.search(r'<code class="secret">(\w+)</code>', page.text)
        assert secret is not None and "data:image/svg+xml;base64," in page.text
        code = pyotp.TOTP(secret.group(1)).now()
        assert "已启用" in console_post(client, "/console/account/totp/confirm", {"code": code}).text
        console_post(client, "/console/logout")
    with TestClient(app) as client:
        first = console_post(client, "/console/login", {"username": "county2", "password": PASSWORD})
        assert first.headers["location"] == "/console/login/totp"
        assert client.get("/console/areas", follow_redirects=False).headers["location"] == "/console/login"
        wrong = console_post(client, "/console/login/totp", {"code": "000000"})
        assert wrong.status_code == 401 and "不正确" in wrong.text
        with Session(cdb.engine) as s:  # the enrolment's code is spent; the next step's code signs in
            s.execute(text("UPDATE staff_totp SET last_step = last_step - 1"))
            s.commit()
        ok = console_post(client, "/console/login/totp", {"code": pyotp.TOTP(secret.group(1)).now()})
        assert ok.status_code == 303 and ok.headers["location"] == "/console"
        assert client.get("/console/areas").status_code == 200


def _csv(*rows: dict[str, str]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(r[c] for c in COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode()


ROW = {
    "province_code": "99", "province": "测试省", "region": "东部", "city_code": "9901", "city": "测试市",
    "county_code": "990102", "county": "隔壁区", "school_code": "SNEXT01", "school": "隔壁第二中学",
    "locale": "urban", "sector": "public", "grade": "8", "class": "8年级2班", "student_code": "NEW-01", "gender": "F",
}  # fmt: skip


def _upload(client: TestClient[Litestar], content: bytes, name: str = "名单.csv") -> object:
    return console_post(client, "/console/schools/SNEXT01/roster", files={"file": (name, content, "text/csv")})


def test_a_school_registers_a_roster_prints_tickets_and_its_students_log_in(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path)
    rows = [{**ROW, "student_code": f"NEW-{i:02d}"} for i in range(1, 4)]
    bad = [*rows[:2], {**rows[2], "gender": "X"}]
    with TestClient(app) as client:
        staff_login(client, "school2")
        report = _upload(client, _csv(*bad))
        assert report.status_code == 422  # type: ignore[attr-defined]
        assert "第 4 行 · 性别（gender）" in report.text and "未写入任何数据" in report.text  # type: ignore[attr-defined]
        with Session(cdb.engine) as s:
            assert s.exec(select(Student).where(col(Student.code).like("NEW-%"))).all() == []
        staged = _upload(client, _csv(*rows))
        assert staged.status_code == 303  # type: ignore[attr-defined]
        preview = client.get(staged.headers["location"])  # type: ignore[attr-defined]
        assert "新登记学生 <strong>3</strong> 名" in preview.text
        done = console_post(client, staged.headers["location"].split("?")[0])  # type: ignore[attr-defined]
        assert done.status_code == 200 and "新登记学生 3 名" in done.text
        tickets = client.get("/console/schools/SNEXT01/tickets")
        klass = re.search(r"8年级2班</th><td>3</td><td>3</td>", tickets.text)
        assert klass is not None
        class_id = re.findall(r'name="class_id" value="(\d+)"', tickets.text)[-1]
        pdf = console_post(client, "/console/schools/SNEXT01/tickets", {"class_id": class_id})
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
        again = client.get("/console/schools/SNEXT01/tickets")
        assert re.search(r"8年级2班</th><td>3</td><td>0</td>", again.text)
    with Session(cdb.engine) as s:
        new = {st.code: st.ticket for st in s.exec(select(Student).where(col(Student.code).like("NEW-%"))).all()}
    assert len(new) == 3
    pins = dict(re.findall(r"(\d{9,10})\s*PIN 码：\s*(\d{6})", text)) or {
        t: m.group(1) for t in new.values() if (m := re.search(re.escape(t) + r"\D+(\d{6})", text))
    }
    assert set(pins) == set(new.values()), text[:500]
    with TestClient(app) as student:  # a printed card logs its student in
        login = post_form(student, "/login", {"ticket": new["NEW-02"], "pin": pins[new["NEW-02"]]})
        assert login.status_code == 303, login.text
    assert {"registration.import", "tickets.print"} <= set(_actions(cdb))


def test_a_new_pin_unlock_and_the_monitor(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path, login_max_failures=3)
    nxt4 = cdb.console.students["NXT-04"]
    ticket = cdb.console.tickets["NXT-04"]
    with TestClient(app) as student:
        for _ in range(3):
            post_form(student, "/login", {"ticket": ticket, "pin": "000000"})
        assert post_form(student, "/login", {"ticket": ticket, "pin": "135792"}).status_code == 429
    with TestClient(app) as client:
        staff_login(client, "school2")
        board = client.get("/console/schools/SNEXT01/monitor")
        assert board.status_code == 200 and "登录已锁定" in board.text
        assert 'data-student="NXT-03" data-state="in_progress"' in board.text and "<td>4</td>" in board.text
        fragment = client.get("/console/schools/SNEXT01/monitor", headers={"HX-Request": "true"})
        assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="monitor-board"' in fragment.text
        unlocked = console_post(client, f"/console/schools/SNEXT01/students/{nxt4}/unlock", {"back": "monitor"})
        assert unlocked.status_code == 303 and unlocked.headers["location"].endswith("/monitor")
        fresh = console_post(client, f"/console/schools/SNEXT01/students/{nxt4}/pin")
        pin = re.search(r'aria-label="新 PIN 码">(\d{6})<', fresh.text)
        assert pin is not None
        moved = console_post(client, f"/console/schools/SNEXT01/monitor/{cdb.console.students['NXT-03']}/move")
        assert moved.status_code == 303 and "moved=NXT-03" in moved.headers["location"]
    with Session(cdb.engine) as s:
        assert s.exec(select(LoginFailure).where(LoginFailure.subject == f"ticket:{ticket}")).first() is None
        sitting = s.exec(select(TestSession).where(TestSession.student_id == cdb.console.students["NXT-03"])).one()
        assert sitting.device.startswith("released-")
    with TestClient(app) as student:
        assert post_form(student, "/login", {"ticket": ticket, "pin": "135792"}).status_code == 401  # the old PIN
        assert post_form(student, "/login", {"ticket": ticket, "pin": pin.group(1)}).status_code == 303
    assert {"student.unlock", "pin.reset", "student.move"} <= set(_actions(cdb))


def test_the_audit_log_is_for_admins(cdb: ConsoleDb, tmp_path: Path) -> None:
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "root")
        client.get("/console/areas/99/download/csv")
        log = client.get("/console/audit")
        assert log.status_code == 200 and "下载报告" in log.text and "登录成功" in log.text
        only = client.get("/console/audit?action=report.download")
        assert "下载报告" in only.text and "area:99" in only.text
    with TestClient(make_console_app(cdb, tmp_path)) as client:
        staff_login(client, "prov99")
        assert client.get("/console/audit").status_code == 403
