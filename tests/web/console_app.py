"""The app the console browser tests serve: the real one, with suppression off for the small test world.

``uvicorn tests.web.console_app:create_console_app --factory`` with the usual ``INFOLIT_*``
environment; only the profile source differs (every number shown, however few students).
"""

from __future__ import annotations

from litestar import Litestar

from reports.summary import SummaryRules
from scoring.survey import SuppressionRule
from web.app import create_app
from web.profiles import SummaryProfiles


def create_console_app() -> Litestar:
    """:func:`web.app.create_app` with profiles that suppress nothing."""
    loose = SuppressionRule(min_students=1, min_schools=1)
    return create_app(profiles=SummaryProfiles(rules=SummaryRules(school=loose, area=loose)))
