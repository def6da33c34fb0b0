"""Fixtures of the web tests: a prepared assessment database, the app, and signed-in clients.

The world is built once per test session (starter bank, a school, students with real keyed
PINs, an open adaptive assessment for grade 8 plus a closed one for grade 11 and a future one for
grade 12) and copied for each test. The grade-8 test draws from a deliberately small band of nine
items, eight operational of every type (two with a stimulus) and one pilot, with a fixed length of
eight operational items: every sitting sees every item type and finishes in nine answers.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from litestar import Litestar
from litestar.testing import TestClient
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.blueprints import BlueprintSpec
from assess.models import Area, Assessment, BlueprintRow, School, SchoolClass, Student
from assess.pins import hash_pin
from assess.simulate.pipeline import ensure_bank
from itembank.db import make_engine, session_scope
from itembank.models import PROVISIONAL, Calibration, Item, ItemVersion, utcnow
from itembank.settings import Settings
from tests import pgserver
from tests.web.serving import chromium
from web.app import create_app
from web.security import CSRF_COOKIE, WebSettings

PIN = "246810"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
"""Cheap argon2 parameters, for PINs hashed the way they were before the keyed hash."""

BAND_ITEMS = (
    "D1.1-011",  # single choice
    "D1.1-013",  # single choice with a stimulus
    "D1.2-014",  # single choice
    "D1.1-015",  # multiple response
    "D1.4-007",  # multiple response with a stimulus
    "D1.1-012",  # true/false
    "D1.2-020",  # true/false with a stimulus
    "D2.2-010",  # partial credit (3 parts) with a stimulus
    "D2.1-021",  # partial credit (4 parts)
    "D2.4-019",  # pilot single choice
)
TEST_SPEC = BlueprintSpec(
    mode="adaptive",
    min_items=9,
    max_items=9,
    se_target=0.0,
    randomesque_k=1,
    pilot_items=1,
    time_limit_minutes=40,
    show_result=True,
)
N_ITEMS = 10  # nine operational and one pilot item per sitting
SECRET = "web-test-secret-key-at-least-32-bytes"


@dataclass(frozen=True)
class Pupil:
    """A student who can log in."""

    id: int
    ticket: str
    pin: str


@dataclass(frozen=True)
class World:
    """What the prepared database holds (ids are the same in every copy)."""

    pupils: tuple[Pupil, ...]
    no_pin_ticket: str
    closed_ticket: str
    upcoming_ticket: str
    assessment_id: int
    calibration_id: int


def build_world(engine: Engine) -> World:
    """Fill a migrated database with the web tests' world (see the module docstring)."""
    now = utcnow()
    with session_scope(engine) as s:
        ensure_bank(session=s)
    with session_scope(engine) as s:
        s.execute(update(Item).where(col(Item.code).not_in(BAND_ITEMS)).values(status="retired"))
        cal_id = int(s.exec(select(Calibration.id).where(Calibration.name == PROVISIONAL)).one())
        province = Area(code="99", name="测试省", level="province", region="东部", path="/99/")
        s.add(province)
        s.flush()
        city = Area(code="9901", name="测试市", level="city", region="东部", path="/99/9901/", parent_id=province.id)
        s.add(city)
        s.flush()
        county = Area(
            code="990101", name="测试区", level="county", region="东部", path="/99/9901/990101/", parent_id=city.id
        )
        s.add(county)
        s.flush()
        school = School(
            code="SWEB001",
            name="测试路第一中学",
            locale="urban",
            area_id=int(county.id or 0),
            path="/99/9901/990101/SWEB001/",
        )
        s.add(school)
        s.flush()
        klass = SchoolClass(school_id=int(school.id or 0), grade=8, name="8年级1班")
        s.add(klass)
        s.flush()
        pin_hash = hash_pin(PIN)

        def student(code: str, grade: int, ticket: str, pin_hash: str) -> Student:
            row = Student(
                code=code,
                grade=grade,
                gender="F",
                ticket=ticket,
                school_id=int(school.id or 0),
                class_id=klass.id if grade == 8 else None,
                pin_hash=pin_hash,
                path=school.path,
            )
            s.add(row)
            return row

        pupils = [student(f"WEB{i:03d}", 8, f"W8{i:06d}", pin_hash) for i in range(1, 9)]
        student("WEBNOPIN", 8, "W8NOPIN", "")
        student("WEB11", 11, "W11CLOSED", pin_hash)
        student("WEB12", 12, "W12LATER", pin_hash)
        s.flush()

        def assessment(code: str, grades: list[int], opens: Any, closes: Any, band: str) -> Assessment:
            row = Assessment(
                code=code,
                name="学生信息素养测评（测试）",
                opens_at=opens,
                closes_at=closes,
                grades=grades,
                calibration_id=cal_id,
            )
            s.add(row)
            s.flush()
            s.add(
                BlueprintRow(assessment_id=int(row.id or 0), grade_band=band, mode="adaptive", spec=TEST_SPEC.to_json())
            )
            return row

        open_now = assessment("WEB-OPEN", [8], now - timedelta(days=1), now + timedelta(days=10), "7-9")
        assessment("WEB-CLOSED", [11], now - timedelta(days=10), now - timedelta(days=5), "10-12")
        assessment("WEB-LATER", [12], now + timedelta(days=5), now + timedelta(days=10), "10-12")
        s.flush()
        return World(
            pupils=tuple(Pupil(int(p.id or 0), p.ticket, PIN) for p in pupils),
            no_pin_ticket="W8NOPIN",
            closed_ticket="W11CLOSED",
            upcoming_ticket="W12LATER",
            assessment_id=int(open_now.id or 0),
            calibration_id=cal_id,
        )


# ---------------------------------------------------------------------------------------- databases
@pytest.fixture(scope="session")
def sqlite_world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    path = tmp_path_factory.mktemp("web-world") / "world.db"
    shutil.copyfile(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    world = build_world(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, world


@pytest.fixture(scope="session")
def pg_world(pg_server: pgserver.PgServer, pg_template: str) -> tuple[str, World]:
    name = "infolit_web_template"
    admin = sa_create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    admin.dispose()
    engine = make_engine(pg_server.url(name))
    world = build_world(engine)
    engine.dispose()
    return name, world


@dataclass(frozen=True)
class Db:
    """A fresh copy of the world: its URL and an engine on it."""

    url: str
    engine: Engine
    world: World


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh copy of the world on SQLite and (marker ``postgres``) on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_db(request, tmp_path)
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    template, world = request.getfixturevalue("pg_world")
    name = f"w_{uuid.uuid4().hex[:12]}"
    admin = sa_create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = make_engine(server.url(name))
    try:
        yield Db(server.url(name), engine, world)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _sqlite_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    source, world = request.getfixturevalue("sqlite_world")
    target = tmp_path / "world.db"
    shutil.copyfile(source, target)
    engine = make_engine(f"sqlite:///{target}")
    try:
        yield Db(f"sqlite:///{target}", engine, world)
    finally:
        engine.dispose()


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A fresh SQLite copy of the world."""
    yield from _sqlite_db(request, tmp_path)


def make_app(database: Db, tmp_path: Path, **web: Any) -> Litestar:
    settings = Settings(data_dir=tmp_path / "data", database_url=database.url, secret_key=SECRET, session_minutes=120)
    return create_app(settings=settings, engine=database.engine, web=WebSettings(**web))


@pytest.fixture
def app(db: Db, tmp_path: Path) -> Litestar:
    return make_app(db, tmp_path)


@pytest.fixture
def client(app: Litestar) -> Iterator[TestClient[Litestar]]:
    with TestClient(app) as c:
        yield c


# ---------------------------------------------------------------------------------------- helpers
def csrf(client: TestClient[Litestar]) -> str:
    """The CSRF token (fetching a page first if the cookie is not set yet)."""
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    return str(client.cookies[CSRF_COOKIE])


def post_form(client: TestClient[Litestar], url: str, data: dict[str, Any], *, htmx: bool = False) -> Any:
    """POST a form the way the page does: with the CSRF field (and htmx's headers when asked)."""
    token = csrf(client)
    headers = {"HX-Request": "true", "X-CSRFToken": token} if htmx else {}
    return client.post(url, data={**data, "_csrf_token": token}, headers=headers, follow_redirects=False)


def login(client: TestClient[Litestar], pupil: Pupil) -> Any:
    response = post_form(client, "/login", {"ticket": pupil.ticket, "pin": pupil.pin})
    assert response.status_code == 303, response.text
    return response


def item_id(html: str) -> int:
    found = re.search(r'name="item" value="(\d+)"', html)
    assert found, html[:2000]
    return int(found.group(1))


def db_counts(engine: Engine) -> dict[str, Any]:
    """A snapshot of everything a request could change: responses and session rows."""
    from assess.models import Response, TestSession

    with Session(engine) as s:
        responses = [
            (r.session_id, r.item_version_id, r.position, repr(r.answer), r.score)
            for r in s.exec(select(Response).order_by(col(Response.id))).all()
        ]
        sessions = [
            (t.id, t.status, t.device, t.current_item_version_id, t.position, t.theta, str(t.deadline))
            for t in s.exec(select(TestSession).order_by(col(TestSession.id))).all()
        ]
        locked = s.exec(select(ItemVersion.id).where(col(ItemVersion.locked).is_(True))).all()
    return {"responses": responses, "sessions": sessions, "locked": sorted(locked)}


# ---------------------------------------------------------------------------------------- consoles
@dataclass(frozen=True)
class ConsoleDb:
    """A fresh copy of the web world with the console world (tests/console_world.py) added."""

    url: str
    engine: Engine
    world: World
    console: Any  # tests.console_world.ConsoleWorld


@pytest.fixture(scope="session")
def sqlite_console_world(
    sqlite_world: tuple[Path, World], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, World, Any]:
    from tests.console_world import build_console_world, store_console_profiles

    source, world = sqlite_world
    path = tmp_path_factory.mktemp("console-world") / "world.db"
    shutil.copyfile(source, path)
    engine = make_engine(f"sqlite:///{path}")
    console = build_console_world(engine)
    store_console_profiles(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path, world, console


@pytest.fixture(scope="session")
def pg_console_world(pg_server: pgserver.PgServer, pg_world: tuple[str, World]) -> tuple[str, World, Any]:
    from tests.console_world import build_console_world, store_console_profiles

    template, world = pg_world
    name = "infolit_console_template"
    admin = sa_create_engine(pg_server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    admin.dispose()
    engine = make_engine(pg_server.url(name))
    console = build_console_world(engine)
    store_console_profiles(engine)
    engine.dispose()
    return name, world, console


def _sqlite_console(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleDb]:
    source, world, console = request.getfixturevalue("sqlite_console_world")
    target = tmp_path / "console.db"
    shutil.copyfile(source, target)
    engine = make_engine(f"sqlite:///{target}")
    try:
        yield ConsoleDb(f"sqlite:///{target}", engine, world, console)
    finally:
        engine.dispose()


@pytest.fixture
def cdb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleDb]:
    """A fresh SQLite copy of the web world plus the console world."""
    yield from _sqlite_console(request, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_cdb(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ConsoleDb]:
    """The same on SQLite and (marker ``postgres``) on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_console(request, tmp_path)
        return
    server: pgserver.PgServer = request.getfixturevalue("pg_server")
    template, world, console = request.getfixturevalue("pg_console_world")
    name = f"c_{uuid.uuid4().hex[:12]}"
    admin = sa_create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    engine = make_engine(server.url(name))
    try:
        yield ConsoleDb(server.url(name), engine, world, console)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def make_console_app(database: Any, tmp_path: Path, **web: Any) -> Litestar:
    """The app over a console database (whose profiles were stored with suppression off, so they show numbers)."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database.url, secret_key=SECRET, session_minutes=120)
    return create_app(settings=settings, engine=database.engine, web=WebSettings(**web))


def staff_login(client: TestClient[Litestar], username: str, password: str | None = None) -> Any:
    """Sign a test client in to the console (the password of the console world by default)."""
    from tests.console_world import PASSWORD

    if CSRF_COOKIE not in client.cookies:
        client.get("/console/login")
    token = str(client.cookies[CSRF_COOKIE])
    response = client.post(
        "/console/login",
        data={"username": username, "password": password or PASSWORD, "_csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def console_post(client: TestClient[Litestar], url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a console form with its CSRF field."""
    if CSRF_COOKIE not in client.cookies:
        client.get("/console/login")
    token = str(client.cookies[CSRF_COOKIE])
    return client.post(url, data={**(data or {}), "_csrf_token": token}, follow_redirects=False, **kwargs)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one per test module (skipped, saying why, without it)."""
    with chromium() as launched:
        yield launched
