"""Safe Markdown to HTML for stems, stimuli and options.

Authors write Markdown (CommonMark plus pipe tables and strikethrough). Raw HTML in the source is
never rendered: markdown-it-py runs with ``html`` disabled, so ``<script>`` arrives on the page as
the text ``&lt;script&gt;``. Links with unsafe schemes (``javascript:``, ``vbscript:``,
``file:``, non-image ``data:``) are dropped by markdown-it's link validation. A single newline is
a line break, which is what authors of e-mails and chats in a scenario expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt

__all__ = ["RenderedItem", "RenderedPart", "render_inline", "render_item", "render_markdown"]


@lru_cache(maxsize=1)
def _md() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False}).enable(
        ["table", "strikethrough"]
    )


def render_markdown(text: str) -> str:
    """Render block Markdown (paragraphs, lists, tables...) to safe HTML."""
    return str(_md().render(text or ""))


def render_inline(text: str) -> str:
    """Render inline Markdown (an option, a title) to safe HTML without a wrapping paragraph."""
    return str(_md().renderInline(text or ""))


@dataclass(frozen=True)
class RenderedPart:
    """One part of a partial-credit task, rendered."""

    prompt_html: str
    options: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class RenderedItem:
    """An item as a student sees it: HTML fragments, no key, no rubric.

    Attributes
    ----------
    stimulus_title_html, stimulus_html
        The shared stimulus (empty strings when the item has none).
    stem_html
        The question.
    options
        ``(key, html)`` pairs for choice items; ``(("T", "正确"), ("F", "错误"))`` for true/false.
    parts
        The parts of a partial-credit task.
    """

    stem_html: str
    options: tuple[tuple[str, str], ...] = ()
    parts: tuple[RenderedPart, ...] = ()
    stimulus_title_html: str = ""
    stimulus_html: str = ""


def _options(options: Sequence[dict[str, Any]] | None) -> tuple[tuple[str, str], ...]:
    return tuple((str(o["key"]), render_inline(str(o["text"]))) for o in options or [])


def render_item(
    *,
    type: str,
    stem: str,
    options: Sequence[dict[str, Any]] | None = None,
    parts: Sequence[dict[str, Any]] | None = None,
    stimulus_title: str = "",
    stimulus_body: str = "",
) -> RenderedItem:
    """Render the student-facing parts of an item (never the key, rubric or rationale)."""
    rendered_options = (("T", "正确"), ("F", "错误")) if type == "true_false" else _options(options)
    rendered_parts = tuple(
        RenderedPart(prompt_html=render_markdown(str(p.get("prompt", ""))), options=_options(p.get("options")))
        for p in parts or []
    )
    return RenderedItem(
        stem_html=render_markdown(stem),
        options=rendered_options,
        parts=rendered_parts,
        stimulus_title_html=render_inline(stimulus_title) if stimulus_title else "",
        stimulus_html=render_markdown(stimulus_body) if stimulus_body else "",
    )
