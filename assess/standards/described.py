"""Described proficiency levels: drafted from the booklet pages that map into each level, edited by the researcher.

A page (an item's score point) maps into the level whose scale-score range holds its RP67
location (a location at a cut belongs to the level above it, as scores do). A level's draft lists
its pages and their sub-indicators and composes a Chinese description from the framework's
descriptions of the sub-indicators most of its pages measure. The researcher's edited text is kept
with the study and saved into the scale version the study's cuts are adopted as.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session

from assess.accounts import audit
from assess.accounts.scope import Actor
from assess.exceptions import StandardSettingRefused
from assess.scales import CutScores
from assess.standards.models import StandardSettingStudy
from assess.standards.study import study_view
from assess.standards.versions import active_scale
from itembank.framework_store import current_framework

__all__ = ["LevelDraft", "draft_levels", "save_described"]

MAX_STATEMENTS = 3
"""Sub-indicators a draft description names, most frequent first."""
MAX_TEXT = 2000
"""Longest description the researcher may save, in characters."""


@dataclass(frozen=True)
class LevelDraft:
    """A level of a band: its range, its pages, its sub-indicators (code, name, pages), the draft and the saved text."""

    level: str
    lower: float
    upper: float
    pages: tuple[dict[str, object], ...]
    indicators: tuple[tuple[str, str, int], ...]
    draft: str
    text: str


def draft_levels(*, session: Session, study: str | int, cuts: CutScores) -> list[LevelDraft]:
    """Each level's pages under ``cuts`` and a draft description from their sub-indicators."""
    view = study_view(session=session, study=study)
    framework = current_framework(session=session)
    scores = np.array([cuts.scale_score(float(str(p["theta"]))) for p in view.booklet])
    where = np.searchsorted(np.asarray(cuts.cuts), scores, side="right") if len(scores) else np.array([], dtype=int)
    bounds = [-np.inf, *cuts.cuts, np.inf]
    out = []
    for k, level in enumerate(cuts.levels):
        pages = tuple(p for p, w in zip(view.booklet, where.tolist(), strict=True) if w == k)
        counts: dict[str, int] = {}
        for p in pages:
            counts[str(p["indicator"])] = counts.get(str(p["indicator"]), 0) + 1
        ranked = sorted(counts, key=lambda c: (-counts[c], c))
        named = []
        for code in ranked:
            spec = framework.indicator(code)
            named.append((code, spec.name if spec else code, counts[code]))
        statements = []
        for code in ranked[:MAX_STATEMENTS]:
            spec = framework.indicator(code)
            text = (spec.description or spec.name) if spec else code
            statements.append(text.rstrip("。；;."))
        if statements:
            draft = f"处于“{level}”水平的学生通常能够：" + "；".join(statements) + "。"
        else:
            draft = f"没有题目落在“{level}”水平，请补充描述。"
        out.append(LevelDraft(level, float(bounds[k]), float(bounds[k + 1]), pages, tuple(named), draft,
                              view.described.get(level, "")))  # fmt: skip
    return out


def save_described(*, session: Session, actor: Actor, study: str | int, texts: dict[str, str]) -> None:
    """Save the researcher's descriptions of the levels with the study (the caller commits).

    Raises
    ------
    StandardSettingRefused
        A level the scale does not have, or a text longer than :data:`MAX_TEXT`.
    """
    view = study_view(session=session, study=study)
    levels = active_scale(session=session).levels
    unknown = [k for k in texts if k not in levels]
    if unknown:
        raise StandardSettingRefused(f"量表没有水平 {'、'.join(unknown)}")
    if any(len(t) > MAX_TEXT for t in texts.values()):
        raise StandardSettingRefused(f"水平描述不能超过 {MAX_TEXT} 个字")
    row = session.get(StandardSettingStudy, view.id)
    assert row is not None
    row.described = {k: t.strip() for k, t in texts.items() if t.strip()}
    session.add(row)
    session.flush()
    detail = {"levels": sorted(row.described)}
    audit.record(session, actor, "standard.describe", target=f"study:{view.id}", detail=detail)
