"""The Litestar application: :func:`create_app` builds it (``uvicorn web.app:create_app --factory``).

Routes
------
``/login``, ``/instructions``, ``/practice``, ``/start``, ``/test``, ``/test/answer``, ``/finish``
    The student journey as server-rendered pages with htmx (``controllers/student.py``).
``/api/v1/...``
    The same journey as JSON for other front ends (``controllers/api.py``), documented by the
    OpenAPI schema at ``/schema`` (``/schema/openapi.json``; Swagger UI served locally,
    ``web/openapi.py``).
``/console/...``
    The consoles of bureaus, schools, researchers and admins (``controllers/console_*.py``):
    staff login with password and TOTP, the area tree, profiles and downloads, registration,
    ticket cards, the live monitor, accounts and the audit log.
``/api/v1/staff/...``
    The staff operations as JSON (``controllers/staff_api.py``; bearer tokens only).
``/healthz``
    Liveness plus a database round trip.
``/static/...``
    htmx (vendored), the style sheet and the page script; nothing comes from a CDN.

Every route declares who may use it (``opt={"access": ...}``, the matrix in :mod:`web.access`),
and one app-wide guard enforces it; a route without a rule is refused.

All state lives in the database and in the signed session cookie, so any number of workers
sharing ``INFOLIT_SECRET_KEY`` and ``INFOLIT_DATABASE_URL`` can serve one assessment.
"""

from __future__ import annotations

import gc
import hashlib
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
from jinja2 import Environment, FileSystemLoader
from litestar import Litestar, Request, Router
from litestar.datastructures import CacheControlHeader, State
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.routes import HTTPRoute
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import configure_mappers

from assess import sitting
from assess.research.queue import Consumer, JobQueue, job_settings_from_env
from assess.throttle import LoginGuard
from itembank.db import WalCheckpointer, get_engine, make_engine
from itembank.settings import Settings, get_settings
from reports.render_html import profile_html
from web.access import check_access
from web.controllers.api import ApiController
from web.controllers.console_admin import ConsoleAdminController, beijing
from web.controllers.console_assessments import ConsoleAssessmentsController
from web.controllers.console_auth import ConsoleAuthController
from web.controllers.console_bank import BankApiController, ConsoleBankController
from web.controllers.console_common import console_exception_handlers, provide_chosen
from web.controllers.console_publish import ConsolePublishController, PublishApiController
from web.controllers.console_research import ConsoleResearchController, ResearchApiController
from web.controllers.console_scale import ConsoleScaleController, ScaleApiController
from web.controllers.console_school import ConsoleSchoolController
from web.controllers.console_tree import ConsoleTreeController
from web.controllers.errors import exception_handlers
from web.controllers.health import healthz
from web.controllers.staff_api import StaffApiController
from web.controllers.student import StudentController
from web.deps import dependencies
from web.logging import RequestLogMiddleware, configure_logging, log_event, log_unrouted
from web.openapi import LocalSwaggerPlugin
from web.profiles import ProfileSource, default_profiles
from web.security import (
    TokenSigner,
    WebSettings,
    check_secret_key,
    csrf_config,
    get_web_settings,
    security_headers,
)
from web.staff import close_uploads, provide_actor, staff_throttles
from web.sweep import ExpirySweeper

__all__ = ["STATIC_DIR", "TEMPLATE_DIR", "clock", "create_app", "static_url"]

STATIC_DIR = Path(__file__).with_name("static")
TEMPLATE_DIR = Path(__file__).with_name("templates")


@lru_cache(maxsize=64)
def _fingerprint(name: str) -> str:
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    """The URL of a static file with a content fingerprint, so it may be cached for long."""
    return f"/static/{name}?v={_fingerprint(name)}"


def clock(seconds: int | None) -> str:
    """Seconds as ``MM:SS`` (``H:MM:SS`` from an hour); ``--:--`` when unknown."""
    if seconds is None:
        return "--:--"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _templates(debug: bool) -> TemplateConfig[JinjaTemplateEngine]:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=debug,
    )
    env.globals["static"] = static_url
    env.filters["clock"] = clock
    env.filters["beijing"] = beijing
    env.globals["profile_html"] = profile_html  # a stored profile as the reports' HTML fragment
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def _refuse_odd_path(request: Request[Any, Any, Any]) -> None:
    """Static files: a path with a NUL or another control character names no file (the file system would raise)."""
    if any(ch < " " or ch == "\x7f" for ch in request.scope["path"]):
        raise NotFoundException()


def _warm_fonts() -> None:
    """Build the report fonts now, so the first profile page or PDF does not wait for them."""
    from reports.exceptions import ReportError
    from reports.fonts import font_files

    try:
        font_files()
    except ReportError as exc:  # a profile page will say the same when asked for
        log_event("fonts_unavailable", error=str(exc))


async def _startup(app: Litestar) -> None:
    # bound to this event loop: at most four argon2 verifications at once per worker
    app.state.verify_slots = anyio.CapacityLimiter(4)
    # console jobs (a ZIP of profiles) run one at a time per worker, beside the requests
    app.state.jobs = ThreadPoolExecutor(max_workers=1, thread_name_prefix="infolit-job")
    # the reports' Chinese fonts are built once per machine (about 30 s): first, before any ZIP job
    app.state.jobs.submit(_warm_fonts)
    # SQLite: the WAL is checkpointed in a thread, never inside a request's commit
    app.state.checkpointer = WalCheckpointer(app.state.engine).start()
    # abandoned sittings are closed and scored now and then (assess.expiry)
    app.state.sweeper = ExpirySweeper(app.state.engine, app.state.web.expire_every_seconds).start()
    # research jobs (calibration runs): the queue, and a consumer beside the app unless turned off
    app.state.job_queue = _job_queue(app)
    if app.state.web.job_consumer:
        app.state.job_consumer = await anyio.to_thread.run_sync(Consumer(app.state.job_queue).start)

    # the ORM's mappers are configured on their first query: now, not in the first login's request;
    # the login's statements compiled, its connection opened (nothing of the data is kept)
    configure_mappers()
    try:
        sitting.warm_up(app.state.engine)
        app.state.login_guard.open()
    except (SQLAlchemyError, app.state.engine.dialect.loaded_dbapi.Error) as exc:  # no database yet: the first login
        log_event("warm_up_failed", error=str(exc)[:200])
    # what start-up built (modules, routes, templates) lives as long as the worker: out of the
    # collector's way, so a full collection during a login wave walks only what requests made
    gc.collect()
    gc.freeze()


def _job_queue(app: Litestar) -> JobQueue:
    settings: Settings = app.state.settings
    return JobQueue(engine=app.state.engine, database_url=settings.database_url, data_dir=settings.data_dir,
                    settings=job_settings_from_env())  # fmt: skip


async def _shutdown(app: Litestar) -> None:
    consumer = app.state.get("job_consumer")
    if consumer is not None:
        await anyio.to_thread.run_sync(consumer.stop)
    if app.state.get("job_queue") is not None:
        app.state.job_queue.close()
    app.state.login_guard.close()  # its kept connection goes back to the pool
    sweeper = app.state.get("sweeper")
    if sweeper is not None:
        await anyio.to_thread.run_sync(sweeper.stop)
    checkpointer = app.state.get("checkpointer")
    if checkpointer is not None:
        await anyio.to_thread.run_sync(checkpointer.stop)
    if app.state.get("jobs") is not None:
        app.state.jobs.shutdown(wait=False, cancel_futures=True)


def _routers() -> list[Router]:
    """The app's routes, each group with its access rule or its own (see :mod:`web.access`)."""
    static = create_static_files_router(
        path="/static",
        directories=[STATIC_DIR],
        cache_control=CacheControlHeader(max_age=86_400, public=True),
        before_request=_refuse_odd_path,
        opt={"access": "public"},
    )
    return [
        Router(path="/", route_handlers=[StudentController, ApiController], opt={"access": "student"}),
        Router(path="/", route_handlers=[healthz], opt={"access": "public"}),
        static,
        Router(
            path="/",
            route_handlers=[
                ConsoleAuthController,
                ConsoleTreeController,
                ConsoleSchoolController,
                ConsoleAdminController,
                ConsoleAssessmentsController,
                ConsoleResearchController,
                ConsolePublishController,
                StaffApiController,
                ResearchApiController,
                PublishApiController,
                ConsoleScaleController,
                ScaleApiController,
                ConsoleBankController,
                BankApiController,
            ],
            dependencies={
                "actor": Provide(provide_actor, sync_to_thread=False),
                "chosen": Provide(provide_chosen, sync_to_thread=False),
            },
            exception_handlers=console_exception_handlers(),
        ),
    ]


def _chain(guards: tuple[Any, ...]) -> Any:
    async def run_guards(connection: Any, handler: Any) -> None:
        for guard in guards:
            await guard(connection, handler)

    return run_guards


def _guards_in_one_call(app: Litestar) -> Litestar:
    """Run each route's guards as one: Litestar hands every guard its own copy of the route handler.

    A student API route has three (the access rule, the cross-site refusal, the JSON check), and
    three copies of a handler cost more than the three checks (22 us each). The guards now share
    one copy, in the same order; none of them changes the handler.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            guards = handler.resolve_guards()
            if len(guards) > 1:
                handler._resolved_guards = [_chain(tuple(guards))]
    return app


def create_app(
    *,
    settings: Settings | None = None,
    engine: Engine | None = None,
    web: WebSettings | None = None,
    profiles: ProfileSource | None = None,
) -> Litestar:
    """Build the app; settings default to the process settings read once from the environment.

    Parameters
    ----------
    settings
        Database URL, secret key, session length, debug (``itembank.settings``).
    engine
        The database engine (default: the process engine for ``settings``).
    web
        Cookie and login-throttle settings (:class:`web.security.WebSettings`).
    profiles
        Where the consoles' profiles come from (default :func:`web.profiles.default_profiles`).

    Raises
    ------
    web.exceptions.InsecureSecretKey
        The secret key is shorter than 32 bytes.
    """
    if settings is None:
        settings = get_settings()
        engine = engine or get_engine()
    check_secret_key(settings.secret_key)
    engine = engine or make_engine(settings.database_url)
    web = web or get_web_settings()
    configure_logging()
    state = State(
        {
            "engine": engine,
            "settings": settings,
            "web": web,
            "signer": TokenSigner(settings.secret_key),
            "login_guard": LoginGuard.create(
                engine=engine,
                max_failures=web.login_max_failures,
                max_failures_per_client=web.login_max_failures_per_ip,
                window_seconds=web.login_window_seconds,
                client_backoff_seconds=web.login_backoff_seconds,
            ),
            "staff_throttles": staff_throttles(engine, web),
            "profiles": profiles or default_profiles(),
            "jobs": None,
            "verify_slots": None,
            "checkpointer": None,
            "sweeper": None,
            "job_queue": None,
            "job_consumer": None,
        }
    )
    app = Litestar(
        route_handlers=_routers(),
        guards=[check_access],
        dependencies=dependencies(),
        plugins=[HTMXPlugin()],
        template_config=_templates(settings.debug),
        csrf_config=csrf_config(settings.secret_key, secure=web.secure_cookies),
        exception_handlers=exception_handlers(),
        middleware=[RequestLogMiddleware, close_uploads],
        before_send=[security_headers(https=web.secure_cookies)],
        after_exception=[log_unrouted],
        on_startup=[_startup],
        on_shutdown=[_shutdown],
        openapi_config=OpenAPIConfig(
            title="InfoLit student API",
            version="1.0",
            description="The student journey of the InfoLit assessment as JSON: log in, start, "
            "get the item on screen, answer it, finish. No key, rubric or parameter is ever returned.",
            path="/schema",
            openapi_router=Router("/schema", route_handlers=[], include_in_schema=False, opt={"access": "public"}),
            render_plugins=[LocalSwaggerPlugin()],
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", description="from /login")
                }
            ),
        ),
        logging_config=None,
        debug=settings.debug,
        state=state,
    )
    return _guards_in_one_call(app)
