"""The app the console browser tests serve: the real one (``web.app.create_app``) as a factory.

``uvicorn tests.web.console_app:create_console_app --factory`` with the usual ``INFOLIT_*``
environment. The console world's profiles were stored with suppression off
(:func:`tests.console_world.store_console_profiles`), so every number shows, however few students.
"""

from __future__ import annotations

from litestar import Litestar

from web.app import create_app


def create_console_app() -> Litestar:
    """:func:`web.app.create_app` with the process settings."""
    return create_app()
