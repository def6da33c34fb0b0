"""schemathesis against the OpenAPI schema of the JSON API: generated requests, bounded, never a 5xx.

Every operation of ``/schema/openapi.json`` gets ``EXAMPLES`` requests that fit the schema and
``EXAMPLES`` that do not (schemathesis's positive and negative generation: wrong types, missing
fields, odd headers), sent to the app in process, on SQLite and PostgreSQL. Each is sent as
generated and again with a bearer token: a signed-in student's whose sitting has started for the
student API (generated calls may
finish or sign it out; the other students' go on), a signed-in staff user's (an admin, a
researcher, a province bureau) for the staff API, so the checks reach the sitting and the
consoles' data and not only the 401. No response may be a
server error, and a 405 must carry ``Allow``. (schemathesis's pytest plugin does not run under
this pytest, so its strategies are drawn with hypothesis directly.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from litestar import Litestar
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from tests.console_world import PASSWORD
from tests.web.conftest import ConsoleDb, make_console_app

EXAMPLES = 30
BASE = f"http://{asgi.HOST}"
OPERATIONS = [
    ("POST", "/api/v1/login"),
    ("POST", "/api/v1/start"),
    ("GET", "/api/v1/item"),
    ("POST", "/api/v1/answer"),
    ("POST", "/api/v1/finish"),
    ("POST", "/api/v1/logout"),
    ("GET", "/healthz"),
    ("POST", "/api/v1/staff/login"),
    ("POST", "/api/v1/staff/login/totp"),
    ("POST", "/api/v1/staff/logout"),
    ("GET", "/api/v1/staff/me"),
    ("GET", "/api/v1/staff/areas/{code}"),
    ("GET", "/api/v1/staff/areas/{code}/participation"),
    ("GET", "/api/v1/staff/areas/{code}/profile"),
    ("GET", "/api/v1/staff/schools/{code}/profile"),
    ("GET", "/api/v1/staff/users"),
    ("GET", "/api/v1/staff/national/profile"),
    ("GET", "/api/v1/staff/assessments"),
    ("POST", "/api/v1/staff/assessments"),
    ("POST", "/api/v1/staff/assessments/{code}/open"),
    ("POST", "/api/v1/staff/assessments/{code}/close"),
    ("GET", "/api/v1/staff/research/runs"),
    ("POST", "/api/v1/staff/research/runs"),
    ("GET", "/api/v1/staff/research/runs/{run_id}"),
    ("GET", "/api/v1/staff/research/calibrations/{name}/publication-plan"),
    ("POST", "/api/v1/staff/research/calibrations/{name}/publish"),
    ("GET", "/api/v1/staff/research/publications"),
    ("POST", "/api/v1/staff/research/publications/undo"),
    ("POST", "/api/v1/staff/research/rescores"),
    ("GET", "/api/v1/staff/research/rescores/{job_id}"),
    ("GET", "/api/v1/staff/research/scale"),
    ("GET", "/api/v1/staff/research/scale/versions"),
    ("POST", "/api/v1/staff/research/scale/versions"),
    ("POST", "/api/v1/staff/research/scale/versions/{number}/activate"),
    ("GET", "/api/v1/staff/research/standard-setting/studies"),
    ("POST", "/api/v1/staff/research/standard-setting/studies"),
    ("GET", "/api/v1/staff/research/standard-setting/studies/{study_id}"),
    ("POST", "/api/v1/staff/research/standard-setting/studies/{study_id}/bookmarks"),
    ("GET", "/api/v1/staff/research/standard-setting/studies/{study_id}/rounds/{number}"),
    ("POST", "/api/v1/staff/research/standard-setting/studies/{study_id}/rounds/{number}/adopt"),
    ("GET", "/api/v1/staff/research/standard-setting/studies/{study_id}/levels"),
    ("POST", "/api/v1/staff/research/standard-setting/studies/{study_id}/described"),
    ("POST", "/api/v1/staff/bank/items"),
    ("POST", "/api/v1/staff/bank/items/{code}"),
    ("POST", "/api/v1/staff/bank/items/{code}/status"),
    ("POST", "/api/v1/staff/bank/imports"),
    ("POST", "/api/v1/staff/bank/imports/{code}"),
    ("GET", "/api/v1/staff/bank/framework"),
    ("POST", "/api/v1/staff/bank/framework"),
    ("GET", "/api/v1/staff/data/assessments/{code}/responses"),
    ("GET", "/api/v1/staff/data/calibrations/{code}/parameters"),
]


@dataclass(frozen=True)
class Tokens:
    """Bearer tokens: students with a sitting under way, and signed-in staff users."""

    students: list[str]
    staff: list[str]

    def for_path(self, path: str) -> list[str]:
        return self.staff if path.startswith("/api/v1/staff/") else self.students


@pytest.fixture
def api_app(any_cdb: ConsoleDb, tmp_path: Path) -> Iterator[tuple[Litestar, Tokens]]:
    """The app over the web and console worlds, and bearer tokens of students and of staff.

    Requests go through schemathesis's own in-process client, which runs the app's startup once
    and keeps it up; the app is shut down when the test ends.
    """
    db = any_cdb
    app = make_console_app(db, tmp_path, login_max_failures=10_000, login_max_failures_per_ip=10_000)
    tokens = Tokens([], [])
    try:
        with asgi.get_client(app) as client:
            for pupil in db.world.pupils:
                login = client.post(f"{BASE}/api/v1/login", json={"ticket": pupil.ticket, "pin": pupil.pin}).json()
                started = client.post(f"{BASE}/api/v1/start", headers={"Authorization": f"Bearer {login['token']}"})
                tokens.students.append(str(started.json()["token"]))
            for user in ("root", "lab", "prov99"):
                login = client.post(f"{BASE}/api/v1/staff/login", json={"username": user, "password": PASSWORD})
                assert login.status_code == 200, login.text
                tokens.staff.append(str(login.json()["token"]))
        yield app, tokens
    finally:
        asgi.shutdown_lifespans()


def _schema(app: Litestar) -> Any:
    loaded = schemathesis.openapi.from_dict(app.openapi_schema.to_schema())
    loaded.app = app
    return loaded


def test_every_operation_of_the_schema_is_fuzzed(api_app: tuple[Litestar, Tokens]) -> None:
    schema = _schema(api_app[0])
    found = {(method.upper(), path) for path, methods in schema.raw_schema["paths"].items() for method in methods}
    assert found == set(OPERATIONS)


_LOGINS = ("/api/v1/login", "/api/v1/staff/login")
"""Operations that take no bearer token."""
_TOTP = "/api/v1/staff/login/totp"

CASES = [
    (method, path, mode)
    for method, path in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if path != "/healthz" or mode is GenerationMode.POSITIVE  # it takes nothing that could be wrong
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES, ids=[f"{m} {p} {g.value}" for m, p, g in CASES])
def test_no_generated_request_gets_a_server_error(
    api_app: tuple[Litestar, Tokens], method: str, path: str, mode: GenerationMode
) -> None:
    app, all_tokens = api_app
    tokens = all_tokens.for_path(path)
    operation = _schema(app)[path][method]
    sent: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # each case twice, as generated and signed in (an operation without inputs has one case only)
        for signed_in in (False, True) if path not in _LOGINS else (False,):
            headers = dict(case.headers or {})
            if signed_in:
                headers["Authorization"] = f"Bearer {tokens[len(sent) % len(tokens)]}"
            response = case.call(headers=headers)
            sent.append(response.status_code)
            assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code == 405:
                assert response.headers.get("allow")

    run()
    assert sent  # something was sent
    # the TOTP step takes the token of a login half done, which no signed-in user holds: 401 is right
    if mode is GenerationMode.POSITIVE and path.startswith("/api/v1/") and path not in (*_LOGINS, _TOTP):
        assert set(sent) - {401}, sent  # the signed-in half reached the sitting
