"""What the student's pages and the JSON API show: view models built from the sitting's position.

A view holds only what a student may see: the rendered stem, stimulus and option texts of the
item on screen, the position, the time left, the level reached when the blueprint shows it.
:func:`sitting_view` is the one builder, from an :class:`assess.position.Position` (which carries
the item's key for scoring: it stops here), and :func:`item_view` renders an item snapshot as
sanitised HTML. Nothing here reaches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assess.position import Position, VersionSnapshot
from assess.scales import LEVEL_DESCRIPTIONS
from itembank.exceptions import InvalidResponseError
from itembank.render import render_item
from itembank.types import REGISTRY

__all__ = [
    "PRACTICE",
    "ItemView",
    "OptionView",
    "PartView",
    "PracticeFeedback",
    "ResultView",
    "TestView",
    "item_view",
    "practice_feedback",
    "sitting_view",
]


@dataclass(frozen=True)
class OptionView:
    """One option: the value to send back (``A``, ``T``) and its rendered text."""

    value: str
    html: str


@dataclass(frozen=True)
class PartView:
    """One part of a partial-credit task (``number`` from 1)."""

    number: int
    prompt_html: str
    options: tuple[OptionView, ...]


@dataclass(frozen=True)
class ItemView:
    """The item on screen, as the student may see it (sanitised HTML; no key, rubric or parameter).

    ``id`` is the item version id the answer must name; ``type`` is one of
    :data:`itembank.models.ITEM_TYPES` and ``label`` its Chinese name. ``interaction`` is the
    public data of an interactive type's control (:meth:`itembank.types.base.ItemType.public`:
    rendered targets, gaps, regions, the entry's label), empty for the choice types.
    """

    id: int
    type: str
    stem_html: str
    stimulus_title_html: str
    stimulus_html: str
    options: tuple[OptionView, ...]
    parts: tuple[PartView, ...]
    label: str = ""
    interaction: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ResultView:
    """The encouraging result shown at the end when the blueprint allows it (a level, no number)."""

    level: str
    description: str


@dataclass(frozen=True)
class TestView:
    """Where a sitting stands.

    Attributes
    ----------
    status
        ``not_started``, ``in_progress``, ``finished`` or ``expired`` (time ran out).
    number
        The number of the item on screen (from 1), or of items answered once finished.
    min_items, max_items
        The test's length bounds (it is adaptive: it stops between them).
    time_limit_minutes, remaining_seconds
        The limit, and the seconds left by the server's clock (``None`` unless in progress).
    item
        The item on screen, if any.
    result
        The level reached, when finished and the blueprint shows results.
    assessed
        Once ended: whether the sitting had enough scored answers to be assessed (fewer than the
        blueprint's minimum: no score and no level, :mod:`assess.scoring_rule`); ``None`` before.
    """

    __test__ = False  # not a pytest test class

    status: str
    number: int
    min_items: int
    max_items: int
    time_limit_minutes: int
    remaining_seconds: int | None
    item: ItemView | None
    result: ResultView | None
    assessed: bool | None = None


_RENDERED: dict[tuple[int, str, int | None, str | None], ItemView] = {}


def item_view(item: VersionSnapshot) -> ItemView:
    """Render an item version for the student, cached by content hash.

    A version's text may change only while it is unlocked (never shown), and then its hash changes
    with it, so a cached rendering is never stale.
    """
    key = (item.id, item.content_hash, item.stimulus_version_id, item.stimulus_hash)
    hit = _RENDERED.get(key)
    if hit is not None:
        return hit
    rendered = render_item(
        type=item.type,
        stem=item.stem,
        options=item.options,
        parts=item.parts,
        stimulus_title=item.stimulus_title,
        stimulus_body=item.stimulus_body,
    )
    kind = REGISTRY.get(item.type)
    view = ItemView(
        id=item.id,
        type=item.type,
        label=kind.label if kind is not None else "",
        interaction=kind.public(item) if kind is not None else {},
        stem_html=rendered.stem_html,
        stimulus_title_html=rendered.stimulus_title_html,
        stimulus_html=rendered.stimulus_html,
        options=tuple(OptionView(v, h) for v, h in rendered.options),
        parts=tuple(
            PartView(i + 1, p.prompt_html, tuple(OptionView(v, h) for v, h in p.options))
            for i, p in enumerate(rendered.parts)
        ),
    )
    if len(_RENDERED) > 4096:
        _RENDERED.clear()
    _RENDERED[key] = view
    return view


def sitting_view(position: Position) -> TestView:
    """The view of a sitting's position (the one builder for pages and API alike)."""
    spec = position.spec
    # shortest and longest test the student may see (pilot items included), and the time limit
    low, high, minutes = spec.min_items + spec.pilot_items, spec.max_items + spec.pilot_items, spec.time_limit_minutes
    if position.item is None:
        level = position.level if spec.show_result else None
        result = ResultView(level, LEVEL_DESCRIPTIONS.get(level, "")) if level and position.assessed else None
        return TestView(position.status, position.position, low, high, minutes, None, None, result, position.assessed)
    item = item_view(position.item)
    return TestView("in_progress", position.position + 1, low, high, minutes, position.remaining_seconds, item, None)


# ============================================================================================ practice
PRACTICE = ItemView(
    id=0,
    type="single_choice",
    stem_html="<p>练习题：小明想知道“长城大约有多长”。下面哪种做法最合适？</p>",
    stimulus_title_html="",
    stimulus_html="",
    options=(
        OptionView("A", "在搜索框里输入“长城 长度”进行搜索"),
        OptionView("B", "打开一个游戏网站"),
        OptionView("C", "随便点开一条广告"),
    ),
    parts=(),
    label="单选题",
)
"""The unscored practice item shown after the instructions (its answer lives only on the server)."""

_PRACTICE_RIGHT = "A"


@dataclass(frozen=True)
class PracticeFeedback:
    """What the practice page says about an answer, and whether it was ``right``, ``wrong`` or ``none``.

    The page styles each outcome in its own colours (a wrong answer is not shown in the success
    colours).
    """

    text: str
    outcome: str


def practice_feedback(value: str | None) -> PracticeFeedback:
    """What the practice page says about an answer.

    Raises
    ------
    InvalidResponseError
        A value the practice item does not offer.
    """
    if value is None or value == "":
        return PracticeFeedback(
            "你没有选择答案。正式测评中，如果确实不会，也可以跳过；跳过的题目不能再回来作答。", "none"
        )
    if value not in {o.value for o in PRACTICE.options}:
        raise InvalidResponseError("not an option of the practice item")
    if value == _PRACTICE_RIGHT:
        return PracticeFeedback("答对了！用准确的关键词搜索，最容易找到需要的信息。", "right")
    return PracticeFeedback("这次没选对。用准确的关键词（如“长城 长度”）搜索，最容易找到需要的信息。", "wrong")
