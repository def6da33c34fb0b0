"""Errors of the assess package: each is a clear, user-facing refusal that changed nothing."""

from __future__ import annotations

__all__ = [
    "AnswerRejected",
    "AssessError",
    "LoginFailed",
    "RegistrationError",
    "SessionClosed",
    "SessionNotFound",
    "WindowClosed",
]


class AssessError(Exception):
    """Base class of every assess error; the message is fit to show a user (Chinese for students)."""


class LoginFailed(AssessError):
    """The ticket or its second factor is wrong, or too many attempts were made."""


class WindowClosed(AssessError):
    """The assessment is not open now."""


class SessionNotFound(AssessError, LookupError):
    """No such test session (or not this student's)."""


class SessionClosed(AssessError):
    """The session is finished, expired, or held by another device."""


class AnswerRejected(AssessError, ValueError):
    """An answer to an item that is not on screen, or a change to an answer already stored."""


class RegistrationError(AssessError, ValueError):
    """A registration file with problems; ``problems`` lists each with its row.

    ``problems`` holds the first ones in file order (50 by default); ``more`` counts those left
    out, so ``total`` is how many the file has.
    """

    def __init__(self, problems: list[str], *, more: int = 0) -> None:
        super().__init__(f"{len(problems) + more} problem(s): " + "; ".join(problems[:5]))
        self.problems = problems
        self.more = more

    @property
    def total(self) -> int:
        """How many problems the file has (listed and left out)."""
        return len(self.problems) + self.more
