"""Errors raised by :mod:`itembank`.

Every error is a subclass of :class:`ItemBankError`, so a caller (the CLI, a web controller) can
catch the whole family at once. Errors about a file carry every problem found, each with the row
(CSV) or the path inside the document (JSON, TOML) where it sits, so a researcher can fix a file
in one pass instead of one error per attempt.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "ConflictError",
    "FrameworkError",
    "FrameworkInUseError",
    "IncompleteAnswer",
    "InvalidResponseError",
    "ItemBankError",
    "MissingParametersError",
    "NotFoundError",
    "Problem",
    "ValidationReport",
]


@dataclass(frozen=True)
class Problem:
    """One problem in a file: where it is (``row 4, key`` or ``items[3].options[1]``) and what is wrong."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class ItemBankError(Exception):
    """Base class of every error raised by the item bank."""


class ValidationReport(ItemBankError, ValueError):
    """A file (or a set of records) failed validation; nothing was written.

    Attributes
    ----------
    source
        The file name (or another label) the problems refer to.
    problems
        The problems found, in file order (an import lists the first 50).
    more
        How many more problems there are beyond ``problems``.
    """

    def __init__(self, source: str, problems: Iterable[Problem], *, more: int = 0) -> None:
        self.source = source
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.more = more
        super().__init__(self._summary())

    @property
    def total(self) -> int:
        """How many problems there are (listed and left out)."""
        return len(self.problems) + self.more

    def _summary(self) -> str:
        n = self.total
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        tail = f"\n  ...and {self.more:,} more" if self.more else ""
        return head + "".join(f"\n  {p}" for p in self.problems) + tail

    def lines(self) -> list[str]:
        """One line per problem, ``source: where: message``, ready to print."""
        return [f"{self.source}: {p}" for p in self.problems]


class FrameworkError(ValidationReport):
    """A framework file is malformed; each problem names the path inside the file.

    Paths look like ``dimensions[2].indicators[0].literacies[1]``.
    """


class FrameworkInUseError(ValidationReport):
    """A different framework cannot replace the active one: items use indicators or bands it lacks."""


class ConflictError(ItemBankError, ValueError):
    """The request clashes with what is stored: a calibration name taken, a reserved name, ..."""


class NotFoundError(ItemBankError, LookupError):
    """An item, version, stimulus, calibration or framework that was asked for does not exist."""


class MissingParametersError(ItemBankError, LookupError):
    """Some items have no parameters in the calibration that was asked for.

    Attributes
    ----------
    calibration
        Name of the calibration.
    codes
        Codes of the items without parameters.
    """

    def __init__(self, calibration: str, codes: Iterable[str]) -> None:
        self.calibration = calibration
        self.codes: tuple[str, ...] = tuple(codes)
        shown = ", ".join(self.codes[:10]) + (" ..." if len(self.codes) > 10 else "")
        super().__init__(f"{len(self.codes)} item(s) have no parameters in calibration {calibration!r}: {shown}")


class InvalidResponseError(ItemBankError, ValueError):
    """A response does not fit the item: an option it does not have, the wrong number of parts, ..."""


class IncompleteAnswer(ItemBankError):
    """A posted form leaves (part of) the item unanswered and the student did not choose to skip.

    The message is the Chinese sentence the page shows (nothing was stored).
    """
