"""Errors of the web layer (the sitting's own refusals are :mod:`assess.exceptions`)."""

from __future__ import annotations

from assess.exceptions import AnswerRejected, LoginFailed

__all__ = ["AnswerMissing", "LoginThrottled"]


class AnswerMissing(AnswerRejected):
    """An empty answer form sent without saying "skip this item" (nothing was stored)."""


class LoginThrottled(LoginFailed):
    """Too many failed logins for this ticket or from this address; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
