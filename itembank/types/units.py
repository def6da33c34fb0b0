"""Validation shared by the types scored over units (matches, gaps, messages): ``key`` pairs and unit scoring."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from itembank.types.base import Checker

__all__ = ["check_pairs", "check_unit_scoring"]


def check_pairs(chk: Checker, value: Any, names: Sequence[str] | None, allowed: Sequence[str]) -> list[str] | None:
    """A key ``["A=1", ...]``: one ``name=value`` per name, in name order, each value among ``allowed``."""
    if value is None:
        return None
    raw = chk.listof(value, "key")
    if raw is None:
        return None
    seen: dict[str, str] = {}
    for i, entry in enumerate(raw):
        left, eq, right = entry.partition("=") if isinstance(entry, str) else ("", "", "")
        if not eq:
            chk.add(f"key[{i}]", f"must be 'name=value' (like 'A=1'), got {entry!r}")
        elif names is not None and left not in names:
            chk.add(f"key[{i}]", f"{left!r} is not one of {', '.join(names)}")
        elif left in seen:
            chk.add(f"key[{i}]", f"{left!r} is keyed twice")
        elif allowed and right not in allowed:
            chk.add(f"key[{i}]", f"{right!r} is not one of {', '.join(allowed)}")
        else:
            seen[left] = right
    if names is not None and set(seen) != set(names) and len(seen) == len(raw):
        missing = [n for n in names if n not in seen]
        chk.add("key", f"needs one entry per {', '.join(names)}; missing {', '.join(missing)}")
    order = list(names or sorted(seen))
    return [f"{n}={seen[n]}" for n in order if n in seen]


def check_unit_scoring(
    chk: Checker, data: Mapping[str, Any], scorings: Sequence[str], units: int | None, what: str
) -> tuple[str | None, list[int] | None, list[dict[str, Any]] | None, int | None]:
    """``scoring``, ``score_map`` (over 0..``units``) and ``rubric``; the max score (``None`` when unknown)."""
    scoring = data.get("scoring")
    if scoring is not None and scoring not in scorings:
        chk.add("scoring", f"unknown scoring {scoring!r} (expected: {', '.join(scorings)})")
        scoring = None
    score_map = None
    if scoring is not None and scoring != "all_or_nothing":
        if data.get("score_map") is None:
            chk.add("score_map", f"missing: scoring {scoring} needs a score_map (a score per 0..n {what})")
        else:
            score_map = chk.score_map(data["score_map"], units, what, minimum_top=1)
    elif data.get("score_map") is not None:
        chk.add("score_map", "an item scored all_or_nothing has no score_map")
    top = int(score_map[-1]) if score_map else 1
    rubric = None
    if data.get("rubric") is not None:
        rubric = chk.rubric(data["rubric"], top)
    elif top > 1:
        chk.add("rubric", f"missing: a 0..{top} item needs a rubric")
    known = scoring is not None and (scoring == "all_or_nothing" or score_map is not None)
    return scoring, score_map, rubric, top if known else None
