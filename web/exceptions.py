"""Errors of the web layer (the sitting's own refusals are :mod:`assess.exceptions`)."""

from __future__ import annotations

from assess.exceptions import AnswerRejected, LoginThrottled

__all__ = ["AnswerMissing", "LoginThrottled"]  # LoginThrottled lives in assess.exceptions (the throttle's)


class AnswerMissing(AnswerRejected):
    """An empty answer form sent without saying "skip this item" (nothing was stored)."""

