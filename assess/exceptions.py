"""Errors of the assess package: each is a clear, user-facing refusal that changed nothing."""

from __future__ import annotations

__all__ = [
    "AnswerRejected",
    "AssessError",
    "BankFileError",
    "CalibrationRefused",
    "ExposureRefused",
    "KeyConfigError",
    "LoginFailed",
    "NotFound",
    "RegistrationError",
    "SessionClosed",
    "SessionNotFound",
    "SimulationError",
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
    """A registration file with problems; ``problems`` lists each with its row."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.problems = problems


class NotFound(AssessError, LookupError):
    """Something a request names is not in the database.

    An assessment, its calibration, adaptive blueprint or scored responses, or (for the demo's
    students) a county.
    """


class ExposureRefused(AssessError, ValueError):
    """Exposure control cannot be set: students have sat the assessment, or the target is not in (0, 1]."""


class CalibrationRefused(AssessError, ValueError):
    """An assessment's responses cannot be calibrated (no item has enough responses)."""


class SimulationError(AssessError, ValueError):
    """Bad input to a simulation or a CAT study: no examinees, an unknown grade, too few ability bands."""


class BankFileError(AssessError, ValueError):
    """An item-bank file the CAT study cannot read: not a bank file, or an item without its code or parameters."""


class KeyConfigError(AssessError, ValueError):
    """The server key (``INFOLIT_SERVER_KEYS``) is missing where it must be set, or is malformed."""
