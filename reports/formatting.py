"""How the renderers print a profile's numbers: one place, so the PDF, the HTML and the charts agree.

Scale scores and their SEs to one decimal (``428.1``), shares as percentages to one decimal
(``89.2%``; their SEs in percentage points), differences with their sign (``+12.3``, ``−4.5``
with a true minus sign), intervals with an en dash (``420.0–436.2``; a share's interval clipped to 0–100%, where the
symmetric interval the statistics give can pass the bounds). A withheld number prints as
``—`` and, where there is room, its reason. The prose sentences of :mod:`reports.wording` round
further (whole points, whole percent), as a reader expects in a sentence.
"""

from __future__ import annotations

import math

from reports.profile import Stat

__all__ = [
    "MINUS",
    "WITHHELD",
    "format_ci",
    "format_count",
    "format_difference",
    "format_estimate",
    "format_rate",
    "format_se",
    "format_share",
    "format_signed",
    "format_score",
    "significance_mark",
    "withheld_text",
]

MINUS = "\u2212"
"""The minus sign of printed negative numbers."""
WITHHELD = "—"
"""What a withheld number prints as."""


def format_signed(x: float, digits: int = 1) -> str:
    """A number with its sign (``+12.3``, ``−4.5``; zero unsigned), ``—`` when not finite."""
    if not math.isfinite(x):
        return WITHHELD
    text = f"{abs(x):.{digits}f}"
    if float(text) == 0.0:
        return text
    return ("+" if x > 0 else MINUS) + text


def _num(x: float, digits: int = 1) -> str:
    return f"{x:.{digits}f}".replace("-", MINUS)


def format_score(x: float) -> str:
    """A scale score (or any score-unit number): one decimal, ``—`` when not finite."""
    return _num(x) if math.isfinite(x) else WITHHELD


def format_share(x: float) -> str:
    """A share 0..1 as a percentage with one decimal (``0.8923`` -> ``89.2%``)."""
    return f"{100 * x:.1f}%" if math.isfinite(x) else WITHHELD


def format_rate(x: float) -> str:
    """A response rate: whole percent (``—`` where nothing was sampled)."""
    return f"{100 * x:.0f}%" if math.isfinite(x) else WITHHELD


def format_count(n: int) -> str:
    """A count with thousands separators."""
    return f"{n:,}"


def format_estimate(s: Stat, *, share: bool = False) -> str:
    """The estimate of ``s`` as a score or a share, ``—`` when withheld."""
    if not s.reported:
        return WITHHELD
    return format_share(s.estimate) if share else format_score(s.estimate)


def format_se(s: Stat, *, share: bool = False) -> str:
    """The SE of ``s`` (a share's in percentage points, without the % sign)."""
    if not s.reported or not math.isfinite(s.se):
        return WITHHELD
    return f"{100 * s.se:.1f}" if share else f"{s.se:.1f}"


def format_ci(s: Stat, *, share: bool = False) -> str:
    """The 95% interval ``low–high``."""
    if not s.reported or not (math.isfinite(s.ci_low) and math.isfinite(s.ci_high)):
        return WITHHELD
    if share:  # a Wald interval of a share can pass 0 or 1; a reader is shown it within 0-100%
        return f"{_num(100 * max(s.ci_low, 0.0))}–{_num(100 * min(s.ci_high, 1.0))}%"
    return f"{format_score(s.ci_low)}–{format_score(s.ci_high)}"


def format_difference(s: Stat, *, share: bool = False) -> str:
    """A difference with its sign: scale points, or a share's in percentage points (``+3.1``)."""
    if not s.reported:
        return WITHHELD
    return format_signed(100 * s.estimate if share else s.estimate)


def significance_mark(difference: Stat, significant: bool) -> str:
    """``▲`` significantly above, ``▼`` significantly below, ``""`` otherwise."""
    if not significant or not difference.reported:
        return ""
    return "▲" if difference.estimate > 0 else "▼"


def withheld_text(s: Stat) -> str:
    """``—（reason）`` for a withheld number, ``""`` for a reported one."""
    if s.reported:
        return ""
    return f"{WITHHELD}（{s.suppressed}）" if s.suppressed else WITHHELD
