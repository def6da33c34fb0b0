"""Errors of the assess package.

Every :class:`AssessError` is a clear, user-facing refusal that changed nothing: its message is
fit to show the user (Chinese for students). :class:`EngineError` is the exception: it marks a
caller handing the CAT engine arrays that do not fit, a bug, never a user's input.
"""

from __future__ import annotations

__all__ = [
    "AdministrationRefused",
    "AnswerRejected",
    "AssessError",
    "BankEditRefused",
    "BankFileError",
    "BlueprintError",
    "CalibrationRefused",
    "EngineError",
    "ExposureRefused",
    "KeyConfigError",
    "LoginFailed",
    "LoginThrottled",
    "NotConfigured",
    "NotFound",
    "NotSignedIn",
    "RegistrationError",
    "SessionClosed",
    "SessionNotFound",
    "SimulationError",
    "StandardSettingRefused",
    "TakenOver",
    "TestFinished",
    "WindowClosed",
]


class AssessError(Exception):
    """Base class of every assess error; the message is fit to show a user (Chinese for students)."""


class LoginFailed(AssessError):
    """The ticket or its second factor is wrong, or too many attempts were made."""


class LoginThrottled(LoginFailed):
    """Too many login attempts for this ticket or from this address; ``retry_after`` in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotSignedIn(AssessError):
    """No signed-in student, or one whose student or assessment no longer exists: log in (again)."""


class WindowClosed(AssessError):
    """The assessment is not open now."""


class SessionNotFound(AssessError, LookupError):
    """No such test session (or not this student's), or the sitting has not been started."""


class SessionClosed(AssessError):
    """The session is finished, expired, or held by another device."""


class TakenOver(SessionClosed):
    """The sitting was taken over by a login on another device: this page or token is stale."""


class TestFinished(SessionClosed):
    """The student has already finished every assessment open to them now."""

    __test__ = False  # not a pytest test class


class AnswerRejected(AssessError, ValueError):
    """An answer to an item that is not on screen, or a change to an answer already stored."""


class NotFound(AssessError, LookupError):
    """Something a request names is not in the database.

    An assessment, its calibration, adaptive blueprint or scored responses, or (for the demo's
    students) a county.
    """


class NotConfigured(NotFound):
    """The assessment cannot be sat as it is set up.

    It has no calibration, no blueprint for the student's grade band, no calibrated items for the
    band, or the student's grade is in no grade band of the framework.
    """


class BlueprintError(AssessError, ValueError):
    """A blueprint that cannot be used; ``problems`` lists each issue with its JSON path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


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


class BankEditRefused(AssessError, ValueError):
    """An edit of the item bank that its rules refuse (a status change out of order, a code taken, a stale preview).

    ``problems`` lists an item's or a file's problems one by one, when the refusal is about them.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class AdministrationRefused(AssessError, ValueError):
    """An assessment cannot be opened or closed as asked (not ready to be sat, already open, already closed)."""


class ExposureRefused(AssessError, ValueError):
    """Exposure control cannot be set: students have sat the assessment, or the target is not in (0, 1]."""


class CalibrationRefused(AssessError, ValueError):
    """An assessment's responses cannot be calibrated (no item has enough responses)."""


class StandardSettingRefused(AssessError, ValueError):
    """A scale version or a bookmark study refused: bad bookmarks, an unknown round, nothing to adopt."""


class SimulationError(AssessError, ValueError):
    """Bad input to a simulation or a CAT study: no examinees, an unknown grade, too few ability bands."""


class BankFileError(AssessError, ValueError):
    """An item-bank file the CAT study cannot read: not a bank file, or an item without its code or parameters."""


class EngineError(ValueError):
    """The CAT engine was handed arrays that do not fit each other (a bug in the caller)."""


class KeyConfigError(AssessError, ValueError):
    """The server key (``INFOLIT_SERVER_KEYS``) is missing where it must be set, or is malformed."""
