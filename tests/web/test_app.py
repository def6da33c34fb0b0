"""The app around the pages: health, OpenAPI, static files, headers, request logs, the serve command."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.testing import TestClient

from itembank.settings import Settings
from tests.web.conftest import SECRET, Db, login, make_app
from web.app import clock, create_app, static_url
from web.logging import REQUEST_LOGGER, JsonFormatter
from web.security import SessionToken, TokenSigner, web_settings_from_env


def test_healthz_checks_the_database(client: TestClient[Litestar]) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_a_dead_database(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "x.db"
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{missing}", secret_key=SECRET)
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{missing}")  # its folder does not exist: connecting fails
    with TestClient(create_app(settings=settings, engine=engine)) as client:
        response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "error"


def test_a_worker_checkpoints_sqlite_in_a_thread_while_it_runs(app: Litestar) -> None:
    with TestClient(app) as client:
        checkpointer = app.state.checkpointer
        assert checkpointer._thread is not None and checkpointer._thread.is_alive()
        assert client.get("/healthz").status_code == 200
        thread = checkpointer._thread
    assert not thread.is_alive()  # stopped (after a last checkpoint) when the worker shuts down
    assert checkpointer.runs >= 1


def test_openapi_documents_the_json_api_only(client: TestClient[Litestar]) -> None:
    schema = client.get("/schema/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/v1/login", "/api/v1/start", "/api/v1/item", "/api/v1/answer", "/api/v1/finish", "/healthz"):
        assert path in paths, path
    assert not any(p.startswith(("/test", "/login", "/practice")) for p in paths)
    assert "BearerToken" in schema.json()["components"]["securitySchemes"]
    assert client.get("/schema").status_code == 200


def test_openapi_documents_the_refusals(client: TestClient[Litestar]) -> None:
    """401 and 409 (and the others a route gives) with the API's one error body (issue 12, defect 9)."""
    schema = client.get("/schema/openapi.json").json()
    for path, method in [("/api/v1/start", "post"), ("/api/v1/item", "get"), ("/api/v1/answer", "post")]:
        responses = schema["paths"][path][method]["responses"]
        for code in ("401", "409"):
            body = responses[code]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorOut"}, (path, code)
    login = schema["paths"]["/api/v1/login"]["post"]["responses"]
    assert {"400", "401", "403", "409", "415", "429"} <= set(login)
    error_out = schema["components"]["schemas"]["ErrorOut"]
    assert set(error_out["properties"]) == {"status_code", "error", "detail", "problems"}  # problems: a refused file's
    assert set(error_out["required"]) == {"status_code", "error", "detail"}


def test_the_schema_page_loads_nothing_from_another_site(client: TestClient[Litestar]) -> None:
    """Swagger UI's files come from the swagger-ui-py package through this app (offline networks)."""
    page = client.get("/schema")
    assert page.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "<script>" not in page.text  # nothing inline: the CSP allows scripts of this site only
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        asset = client.get(f"/schema/assets/{name}")
        assert asset.status_code == 200 and len(asset.content) > 10_000, name
    assert client.get("/schema/assets/swagger-editor-bundle.js").status_code == 404  # only what the page uses


def test_static_files_are_vendored_and_cacheable(client: TestClient[Litestar]) -> None:
    for name in ("htmx.min.js", "app.js", "app.css"):
        response = client.get(static_url(name))
        assert response.status_code == 200 and len(response.content) > 500, name
        assert "max-age=86400" in response.headers["cache-control"]
    page = client.get("/login").text
    assert static_url("htmx.min.js") in page and "cdn" not in page.lower()
    assert "<script>" not in page and " style=" not in page  # nothing inline: the CSP forbids it


def test_security_headers(client: TestClient[Litestar]) -> None:
    response = client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    csrf_cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "infolit_csrf" in v)
    assert "HttpOnly" in csrf_cookie and "SameSite=lax" in csrf_cookie.replace("Lax", "lax")


def test_request_logs_are_json_lines(client: TestClient[Litestar], db: Db) -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(REQUEST_LOGGER)
    logger.addHandler(handler)
    try:
        client.get("/login")
        login(client, db.world.pupils[0])
        client.get("/instructions")
        client.get("/nowhere")
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("GET", "/login", 200),
        ("POST", "/login", 303),
        ("GET", "/instructions", 200),
        ("GET", "/nowhere", 404),
    ]
    assert all(r["event"] == "request" and r["ts"].endswith("Z") for r in lines)
    assert lines[2]["student"] == db.world.pupils[0].id and lines[2]["ms"] >= 0
    assert db.world.pupils[0].pin not in buffer.getvalue()


def test_token_signing_round_trip_and_tampering() -> None:
    signer = TokenSigner("k")
    token = SessionToken(1, 2, "abcdef0123456789", 3, 4_000_000_000)
    value = signer.sign(token)
    assert signer.read(value) == token
    assert TokenSigner("other").read(value) is None
    assert signer.read(value.replace("v1.1.", "v1.9.")) is None
    assert signer.read(signer.sign(SessionToken(1, 2, "d", None, 10))) is None  # expired
    assert signer.read(signer.sign(SessionToken(1, 2, "d", None, 4_000_000_000))) == SessionToken(
        1, 2, "d", None, 4_000_000_000
    )
    for junk in ("", "x", "a.b.c", "." * 10, "v1.a.b.c.d.e.f", "x" * 500):
        assert signer.read(junk) is None
    # a verified token is remembered, but its expiry is still judged on every read
    short = signer.sign(SessionToken(1, 2, "d", 3, 1_000))
    assert signer.read(short, now=999) == SessionToken(1, 2, "d", 3, 1_000)
    assert signer.read(short, now=1_001) is None
    assert signer.read(short, now=1_000) is not None
    assert signer.read(short[:-1] + ("A" if short[-1] != "A" else "B"), now=999) is None  # still checked


def test_web_settings_from_env() -> None:
    assert web_settings_from_env({}).secure_cookies is False
    custom = web_settings_from_env({"INFOLIT_SECURE_COOKIES": "1", "INFOLIT_LOGIN_MAX_FAILURES": "7"})
    assert custom.secure_cookies is True and custom.login_max_failures == 7


@pytest.mark.parametrize(("seconds", "text"), [(None, "--:--"), (0, "00:00"), (65, "01:05"), (3725, "1:02:05")])
def test_clock(seconds: int | None, text: str) -> None:
    assert clock(seconds) == text


def test_serve_command_runs_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    from web import workers
    from web.commands.serve import serve_command

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setattr(workers, "serve", lambda options, n: seen.update(options=options, n=n) or 0)
    monkeypatch.setattr(workers, "available", lambda: True)
    monkeypatch.delenv("INFOLIT_SECRET_KEY", raising=False)
    result = CliRunner().invoke(serve_command, ["--port", "8123"])
    assert result.exit_code == 0, result.output
    assert seen["app"] == "web.app:create_app" and seen["factory"] is True
    assert seen["proxy_headers"] is False and seen["forwarded_allow_ips"] is None  # X-Forwarded-For from no one
    assert seen["port"] == 8123 and seen["workers"] == 1 and seen["host"] == "127.0.0.1"
    import os

    key = os.environ["INFOLIT_SECRET_KEY"]
    assert key  # one key shared by the workers of this run
    seen.clear()
    # several workers: one SO_REUSEPORT socket each (web.workers), under the same key
    result = CliRunner().invoke(serve_command, ["--port", "8124", "--workers", "2"])
    assert result.exit_code == 0, result.output
    assert seen["n"] == 2 and "app" not in seen
    options = seen["options"]
    assert (options.app, options.factory, options.port, options.host) == ("web.app:create_app", True, 8124, "127.0.0.1")
    assert os.environ["INFOLIT_SECRET_KEY"] == key
    monkeypatch.setattr(workers, "serve", lambda options, n: 1)
    failed = CliRunner().invoke(serve_command, ["--port", "8125", "--workers", "2"])
    assert failed.exit_code != 0 and "工作进程无法启动" in failed.output
    monkeypatch.delenv("INFOLIT_SECRET_KEY")
    from itembank.settings import get_settings

    get_settings.cache_clear()


def test_app_from_the_environment(env_db: str) -> None:
    app = create_app()
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_two_apps_with_one_secret_accept_each_others_cookies(db: Db, tmp_path: Path) -> None:
    with TestClient(make_app(db, tmp_path)) as one, TestClient(make_app(db, tmp_path)) as two:
        login(one, db.world.pupils[0])
        for name, value in one.cookies.items():
            two.cookies.set(name, value, domain="testserver.local")
        assert two.get("/instructions").status_code == 200


@pytest.mark.parametrize("key", ["", "short", "x" * 31, "密" * 10])
def test_a_short_secret_key_is_refused_at_startup(tmp_path: Path, key: str) -> None:
    from web.exceptions import InsecureSecretKey

    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key=key)
    with pytest.raises(InsecureSecretKey, match="at least 32"):
        create_app(settings=settings)


def test_serve_refuses_a_short_secret_key_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from itembank.settings import get_settings
    from web.commands.serve import serve_command

    monkeypatch.setenv("INFOLIT_SECRET_KEY", "too-short")
    monkeypatch.setenv("INFOLIT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(serve_command, ["--port", "8126"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "INFOLIT_SECRET_KEY is 9 bytes long; it must have at least 32" in result.output
    create_app(settings=Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'y.db'}", secret_key="k" * 32))
