"""Errors of the web layer (the sitting's own refusals are :mod:`assess.exceptions`)."""

from __future__ import annotations

from litestar.exceptions import HTTPException

from assess.exceptions import AnswerRejected, AssessError, LoginThrottled, NotSignedIn

__all__ = [  # LoginThrottled lives in assess.exceptions (the throttle's)
    "AnswerMissing",
    "BadJson",
    "CrossSiteRefused",
    "InsecureSecretKey",
    "LoginThrottled",
    "NotJson",
    "PasswordChangeDue",
    "StaffNotSignedIn",
]


class AnswerMissing(AnswerRejected):
    """An empty answer form sent without saying "skip this item" (nothing was stored)."""


class CrossSiteRefused(HTTPException):
    """A request to the JSON API sent by a page of another site (its ``Origin`` or ``Sec-Fetch-Site`` says so)."""

    status_code = 403


class BadJson(HTTPException):
    """A JSON body nested deeper than any request of the API needs (it would exhaust the decoder's stack)."""

    status_code = 400


class NotJson(HTTPException):
    """A body sent to the JSON API that does not say it is JSON (``Content-Type: application/json``)."""

    status_code = 415


class InsecureSecretKey(ValueError):
    """``INFOLIT_SECRET_KEY`` is too short to sign sessions and CSRF tokens safely."""


class StaffNotSignedIn(NotSignedIn):
    """A console page or staff API call without a live staff session (pages go to the staff login)."""


class PasswordChangeDue(AssessError):
    """The staff user signed in with a one-time password and must set its own before anything else."""
