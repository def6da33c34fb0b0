"""Errors of the web layer (the sitting's own refusals are :mod:`assess.exceptions`)."""

from __future__ import annotations

from assess.exceptions import AnswerRejected, AssessError, LoginFailed, NotSignedIn

__all__ = ["AnswerMissing", "LoginThrottled", "PasswordChangeDue", "StaffNotSignedIn"]


class AnswerMissing(AnswerRejected):
    """An empty answer form sent without saying "skip this item" (nothing was stored)."""


class LoginThrottled(LoginFailed):
    """Too many failed logins for this ticket or from this address; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StaffNotSignedIn(NotSignedIn):
    """A console page or staff API call without a live staff session (pages go to the staff login)."""


class PasswordChangeDue(AssessError):
    """The staff user signed in with a one-time password and must set its own before anything else."""
