"""Errors of the sample design: a malformed frame or design file, and a sample that cannot be drawn or weighted."""

from __future__ import annotations

from itembank.exceptions import ValidationReport

__all__ = ["DesignError", "FrameError", "SamplingError"]


class FrameError(ValidationReport):
    """A school frame (CSV/XLSX) is malformed; every problem is listed by row and column, nothing was read."""


class DesignError(ValidationReport):
    """A design file (TOML) is malformed, or does not fit the frame; every problem names its key."""


class SamplingError(ValueError):
    """A sample cannot be drawn or weighted as asked (the message says why and what to change)."""
