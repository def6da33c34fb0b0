"""Errors of the reports package.

Every :class:`ReportError` is a clear refusal that wrote nothing; its message names what is wrong
and is fit to show the user (the CLI prints it as one line).
"""

from __future__ import annotations

__all__ = [
    "FontUnavailable",
    "GroupSuppressed",
    "NoScores",
    "NotCalibrated",
    "ReportError",
    "UnknownAssessment",
    "UnknownGroup",
]


class ReportError(Exception):
    """Base class of every reports error; the message is fit to show a user."""


class UnknownAssessment(ReportError, LookupError):
    """No assessment has the code given."""


class UnknownGroup(ReportError, LookupError):
    """No school or area of the assessment has the code given (or it is not of the level asked for)."""


class NotCalibrated(ReportError):
    """The assessment has no calibration to draw plausible values from."""


class NoScores(ReportError):
    """The assessment has no finished, scored sessions (or no plausible values drawn from them)."""


class GroupSuppressed(ReportError):
    """The group asked for is below the suppression threshold: its profile carries no numbers."""


class FontUnavailable(ReportError):
    """The Chinese font the PDFs embed cannot be found or built (its package missing, its cache not writable)."""
