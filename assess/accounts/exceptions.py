"""Errors of staff accounts; each is a clear refusal (Chinese, fit for the console) that changed nothing.

Every class derives from :class:`assess.exceptions.AssessError`, so the web layer's handlers and
the CLI treat them like the rest of ``assess``. :class:`OutOfScope` is deliberately a
:class:`LookupError`: something outside the user's scope is answered like something that does not
exist (HTTP 404), so a request cannot even learn that it exists.
"""

from __future__ import annotations

from assess.exceptions import AssessError, LoginFailed

__all__ = [
    "AccountError",
    "AccountInvalid",
    "Forbidden",
    "OutOfScope",
    "StaffLoginFailed",
    "StaffThrottled",
]


class AccountError(AssessError):
    """Base class of the account errors."""


class AccountInvalid(AccountError, ValueError):
    """A user, password, role or scope that cannot be accepted (a bad username, a weak password...)."""


class Forbidden(AccountError, PermissionError):
    """The user's role does not allow this action at all (HTTP 403: the guard's answer)."""


class OutOfScope(AccountError, LookupError):
    """The thing named is outside the user's scope, or does not exist: both answer 404."""


class StaffLoginFailed(AccountError, LoginFailed):
    """Wrong username or password, a wrong or reused TOTP code, a disabled account."""


class StaffThrottled(StaffLoginFailed):
    """Too many login attempts for this account or from this address; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
