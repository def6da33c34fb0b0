"""Errors and warnings raised by :mod:`scoring`.

Every error is a subclass of :class:`ScoringError`, so a caller can catch the whole family at
once; the messages are one line and name the offending item, row or column.
"""

from __future__ import annotations

__all__ = [
    "ConvergenceWarning",
    "DataError",
    "EmptyItemError",
    "EncodingError",
    "EstimationWarning",
    "GirthUnavailableError",
    "ModelError",
    "NonNumericCellError",
    "ParameterError",
    "ScoringError",
    "ScoringWarning",
    "SingleCategoryError",
]


class ScoringError(Exception):
    """Base class of every error raised by the scoring package."""


class ParameterError(ScoringError, ValueError):
    """Item parameters are malformed: wrong shapes, a non-positive slope, c outside [0, 1), ..."""


class ModelError(ScoringError, ValueError):
    """An unknown IRT model name, or a model that does not fit the data (e.g. 2PL for a 0..3 item)."""


class DataError(ScoringError, ValueError):
    """A response matrix or a response file cannot be used as it is."""


class NonNumericCellError(DataError):
    """A cell of a response file is neither an integer score nor empty / ``NA``."""


class EmptyItemError(DataError):
    """An item has no responses at all, so nothing can be estimated for it."""


class SingleCategoryError(DataError):
    """An item's responses all fall in one category (or a score category in between is empty)."""


class EncodingError(DataError):
    """A file is not UTF-8 (with or without byte-order mark)."""


class GirthUnavailableError(ScoringError, RuntimeError):
    """girth has no estimator for the requested model, or its estimator fails in this environment."""


class ScoringWarning(UserWarning):
    """Base class of the warnings issued by the scoring package."""


class ConvergenceWarning(ScoringWarning):
    """An iterative estimator stopped at its cycle limit before meeting its tolerance."""


class EstimationWarning(ScoringWarning):
    """An estimate sits on a bound (e.g. a slope at its lower limit: the item discriminates negatively)."""
