"""The access matrix: every route of the app has a rule, and every staff route answers each role as its rule says.

The test enumerates the app's routes (so a new route is covered without touching this file) and
fails for one without a rule. Then, for every staff route and every role, it sends a request with
path parameters inside that user's own scope: a role the rule admits must not be refused (no 401
or 403, nothing 5xx), any other role must get 403. Then, for every route that names a node of
the people tree, a user the rule admits asks for a node outside its scope: 404, and nothing of
that node in the body.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar, get
from litestar.testing import TestClient
from sqlmodel import Session, select

from assess.accounts.models import StaffUser
from assess.accounts.roles import ROLE_CODES
from tests.console_world import FAR_MARKERS, NEXT_MARKERS, leaked, password_hash
from tests.web.conftest import ConsoleDb, console_post, make_console_app, staff_login
from web.access import ACCESS, check_access, rule_of

# one user of each role, and the nodes inside its scope its requests name
USERS = {"admin": "root", "researcher": "lab", "bureau": "prov99", "school": "school2"}
OWN = {
    "root": {"code_area": "99", "code_school": "SNEXT01"},
    "lab": {"code_area": "99", "code_school": "SNEXT01"},
    "prov99": {"code_area": "99", "code_school": "SNEXT01"},
    "school2": {"code_area": "990102", "code_school": "SNEXT01"},  # its county: not visible to a school
}
# a bureau of one county, and what lies outside it (the county next door, the far province)
OUTSIDE = {"code_area": "990102", "code_school": "SNEXT01", "student": "NXT-04", "username": "school2"}
LAST = (
    "/api/v1/staff/logout",
    "/console/account/logout-everywhere",
    "/console/logout",
)  # end sessions: asked last, in this order


def routes(app: Litestar) -> Iterator[tuple[str, str, Any]]:
    """Every (path, method, handler) of the app, Litestar's automatic OPTIONS handlers aside."""
    for route in app.routes:
        for handler in route.route_handlers:
            for method in sorted(getattr(handler, "http_methods", ()) or ("WS",)):
                if method == "OPTIONS" and getattr(handler.fn, "__name__", "") == "options_handler":
                    continue
                yield route.path, method, handler


def test_every_route_has_a_rule(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path)
    found = list(routes(app))
    missing = [(p, m) for p, m, h in found if rule_of(h) is None]
    assert missing == []
    names = {rule_of(h)[0] for _, _, h in found}  # type: ignore[index]
    assert names == set(ACCESS), f"rules no route uses: {set(ACCESS) - names}"
    assert len(found) > 60


def test_a_route_without_a_rule_is_refused_and_caught(cdb: ConsoleDb, tmp_path: Path) -> None:
    @get("/console/forgotten", sync_to_thread=False)
    def forgotten() -> str:
        return "open"

    app = Litestar(route_handlers=[forgotten], guards=[check_access], openapi_config=None)
    assert [p for p, _, h in routes(app) if rule_of(h) is None] == ["/console/forgotten"]
    with TestClient(app) as client:
        response = client.get("/console/forgotten")
    assert response.status_code == 403 and "open" not in response.text


def _fill(path: str, values: dict[str, Any]) -> str:
    """A concrete URL for a route path, the node parameters taken from ``values``."""
    kind = "code_school" if "/schools/" in path else "code_area"

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "code":
            return str(values[kind])
        return str(values[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)


def _ask(client: TestClient[Litestar], method: str, url: str, bearer: str | None) -> Any:
    if url.startswith("/api/"):
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        if method == "GET":
            return client.get(url, headers=headers)
        return client.post(url, json={}, headers=headers)
    if method == "GET":
        return client.get(url, follow_redirects=False)
    if url.split("?")[0].endswith(("/roster", "/bank/import")):  # an upload: the body is checked before the handler
        return console_post(client, url, files={"file": ("roster.csv", b"province_code\n", "text/csv")})
    return console_post(client, url)


def _api_token(client: TestClient[Litestar], username: str) -> str:
    from tests.console_world import PASSWORD

    response = client.post("/api/v1/staff/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _add_victim(cdb: ConsoleDb) -> None:
    """A school account the user-management requests may disable and reset."""
    with Session(cdb.engine) as s:
        school2 = s.exec(select(StaffUser).where(StaffUser.username == "school2")).one()
        s.add(
            StaffUser(
                username="victim",
                role="school",
                school_id=school2.school_id,
                scope_path=school2.scope_path,
                password_hash=password_hash(),
            )
        )
        s.commit()


def test_every_staff_route_answers_each_role_as_the_matrix_says(cdb: ConsoleDb, tmp_path: Path) -> None:
    _add_victim(cdb)
    app = make_console_app(cdb, tmp_path)
    staff = [(p, m, rule_of(h)) for p, m, h in routes(app) if not rule_of(h)[1].public]  # type: ignore[index]
    staff.sort(key=lambda r: (LAST.index(r[0]) if r[0] in LAST else -1, r[0], r[1]))
    assert {p for p, _, _ in staff} >= {"/console/areas/{code:str}", "/console/users", "/api/v1/staff/users"}
    outcomes: dict[tuple[str, str, str], int] = {}
    for role_code in ROLE_CODES:
        username = USERS[role_code]
        values = {
            **OWN[username],
            "fmt": "csv",
            "student_id": cdb.console.students["NXT-04"],
            "username": "victim",
            "job_token": "no-such-job",
            "staged": "no-such-file",
            "run_id": 999,
            "name": "no-such-calibration",
            "job_id": 999,
            "study_id": 999,
            "number": 999,
        }
        with TestClient(app) as client:
            staff_login(client, username)
            bearer = _api_token(client, username)
            for path, method, found in staff:
                assert found is not None
                name, rule = found
                response = _ask(client, method, _fill(path, values), bearer)
                outcomes[(path, method, role_code)] = response.status_code
                if role_code in rule.roles():
                    assert response.status_code not in (401, 403) and response.status_code < 500, (
                        f"{role_code} {method} {path} ({name}): {response.status_code} {response.text[:300]}"
                    )
                else:
                    assert response.status_code == 403, f"{role_code} {method} {path} ({name}): {response.status_code}"
    # the matrix is not trivial: an admin passes everywhere, every other role is refused somewhere
    for role_code in ROLE_CODES:
        codes = [s for (_, _, r), s in outcomes.items() if r == role_code]
        assert any(s < 400 for s in codes) and (403 not in codes if role_code == "admin" else 403 in codes), role_code


def test_without_a_session_a_staff_route_asks_for_login(cdb: ConsoleDb, tmp_path: Path) -> None:
    app = make_console_app(cdb, tmp_path)
    values = {
        **OWN["root"],
        "fmt": "csv",
        "student_id": 1,
        "username": "victim",
        "job_token": "x",
        "staged": "y",
        "run_id": 1,
        "name": "x",
        "job_id": 1,
        "study_id": 1,
        "number": 1,
    }
    with TestClient(app) as client:
        for path, method, handler in routes(app):
            found = rule_of(handler)
            assert found is not None
            if found[1].public:
                continue
            response = _ask(client, method, _fill(path, values), None)
            if path.startswith("/api/"):
                assert response.status_code == 401, (method, path)
            elif method == "GET":
                assert response.status_code == 303 and response.headers["location"] == "/console/login", (method, path)
            else:  # a form without a session: the CSRF check or the sign-in refuses it, nothing runs
                assert response.status_code in (303, 403), (method, path, response.status_code)


@pytest.mark.parametrize("who", ["county1", "school1"])
def test_a_node_outside_ones_scope_is_not_found_and_nothing_of_it_shows(
    cdb: ConsoleDb, tmp_path: Path, who: str
) -> None:
    app = make_console_app(cdb, tmp_path)
    own = {"county1": {"code_area": "990101", "code_school": "SWEB001"}, "school1": {"code_school": "SWEB001"}}[who]
    asked = 0
    with TestClient(app) as client:
        staff_login(client, who)
        bearer = _api_token(client, who)
        for path, method, handler in sorted(
            routes(app), key=lambda r: (LAST.index(r[0]) if r[0] in LAST else -1, r[0])
        ):
            found = rule_of(handler)
            assert found is not None
            name, rule = found
            role_code = "bureau" if who == "county1" else "school"
            if rule.scope != "node" or role_code not in rule.roles():
                continue
            values: dict[str, Any] = {
                "fmt": "csv",
                "job_token": "x",
                "staged": "y",
                "username": OUTSIDE["username"],
                "student_id": cdb.console.students[OUTSIDE["student"]],
            }
            if "{code" in path:  # the node in the path is the one outside
                values.update({"code_area": OUTSIDE["code_area"], "code_school": OUTSIDE["code_school"]})
            elif "{username" not in path:
                continue  # a list filtered by scope (checked by the leak test)
            else:
                values.update(own)
            for variant in [values] if "{student_id" not in path else [values, {**values, **own}]:
                response = _ask(client, method, _fill(path, variant), bearer)
                asked += 1
                assert response.status_code == 404, (
                    f"{who} {method} {path}: {response.status_code} {response.text[:200]}"
                )
                assert not leaked(response.text, NEXT_MARKERS + FAR_MARKERS), (method, path)
    assert asked >= (20 if who == "county1" else 10)
