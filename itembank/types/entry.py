"""``entry``: a short numeric or text answer typed by the student, scored 0/1 by a declared rule.

``interaction = {"kind": "numeric"|"text", "label", "unit" (optional), "max_length": 1..200}``;
``rule`` (private) is ``{"value", "tolerance" >= 0}`` for numeric and ``{"accepted": [...],
"normalise": subset of ["width", "space", "case", "punct"]}`` for text; ``key`` is ``null``.

Text normalisation, applied to the answer and to every accepted answer alike: ``width`` is NFKC
(full-width letters, digits and signs become half-width), ``space`` removes all whitespace
(U+3000 included), ``case`` case-folds, ``punct`` drops punctuation, ASCII and CJK alike. A
numeric answer may use full-width digits, a leading sign, one decimal point (``.`` or ``．``),
thousands separators ``,`` in groups of three and the declared unit as a suffix; anything else
scores 0. Any answer longer than ``max_length`` characters is refused (it cannot come from the
page's input), never scored.
"""

from __future__ import annotations

import math
import random
import re
import string
import unicodedata
from collections.abc import Mapping
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, one_value, require

__all__ = ["ENTRY", "NORMALISATIONS", "Entry", "normalise", "parse_number"]

NORMALISATIONS: tuple[str, ...] = ("width", "space", "case", "punct")
"""Normalisations a text rule may declare, applied in this order."""
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?")
_ASCII_PUNCT = frozenset(string.punctuation)


def normalise(text: str, steps: frozenset[str] | set[str] | list[str]) -> str:
    """``text`` after the declared normalisation ``steps`` (see the module docstring)."""
    if "width" in steps:
        text = unicodedata.normalize("NFKC", text)
    if "space" in steps:
        text = "".join(ch for ch in text if not ch.isspace())
    if "case" in steps:
        text = text.casefold()
    if "punct" in steps:
        text = "".join(ch for ch in text if ch not in _ASCII_PUNCT and not unicodedata.category(ch).startswith("P"))
    return text.strip()


def parse_number(text: str, unit: str = "") -> float | None:
    """The number a numeric answer writes, or ``None`` when it is not one (see the module docstring)."""
    text = unicodedata.normalize("NFKC", text).strip()
    unit = unicodedata.normalize("NFKC", unit).strip()
    if unit and text.endswith(unit):
        text = text[: -len(unit)].strip()
    if not any(ch.isdigit() for ch in text) or not _NUMBER.fullmatch(text):
        return None
    return float(text.replace(",", ""))


class Entry(ItemType):
    """A typed answer."""

    name = "entry"
    label = "填空题"
    needs = frozenset({"interaction", "rule"})

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        if data.get("key") is not None:
            chk.add("key", "an entry item has no key (its rule scores it)")
        raw = data.get("interaction")
        interaction: dict[str, Any] | None = None
        if raw is not None and chk.fields(raw, "interaction", ("kind", "label", "unit", "max_length")):
            kind = raw.get("kind")
            if kind not in ("numeric", "text"):
                chk.add("interaction.kind", f"must be 'numeric' or 'text', got {kind!r}")
            label = chk.text(raw, "label", "interaction.label")
            length = chk.integer(raw.get("max_length"), "interaction.max_length")
            if length is not None and not 1 <= length <= 200:
                chk.add("interaction.max_length", f"must lie in 1..200, got {length}")
            interaction = {"kind": kind, "label": label, "max_length": length}
            if raw.get("unit") is not None:
                interaction["unit"] = chk.text(raw, "unit", "interaction.unit")
        rule = self._rule(chk, data.get("rule"), interaction)
        return {"interaction": interaction, "rule": rule}, 1

    def _rule(self, chk: Checker, raw: Any, interaction: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None or interaction is None or interaction["kind"] not in ("numeric", "text"):
            return None
        if interaction["kind"] == "numeric":
            if not chk.fields(raw, "rule", ("value", "tolerance")):
                return None
            value = chk.number(raw.get("value"), "rule.value")
            tolerance = chk.number(raw.get("tolerance"), "rule.tolerance")
            if tolerance is not None and tolerance < 0:
                chk.add("rule.tolerance", f"must be 0 or more, got {tolerance}")
            return {"value": value, "tolerance": tolerance}
        if not chk.fields(raw, "rule", ("accepted", "normalise")):
            return None
        steps = chk.listof(raw.get("normalise", []), "rule.normalise") or []
        for i, step in enumerate(steps):
            if step not in NORMALISATIONS:
                chk.add(
                    f"rule.normalise[{i}]", f"unknown normalisation {step!r} (expected: {', '.join(NORMALISATIONS)})"
                )
        accepted = chk.string_list(raw.get("accepted"), "rule.accepted", minimum=1, maximum=50) or []
        limit = interaction.get("max_length") or 200
        for i, text in enumerate(accepted):
            if len(text) > limit:
                chk.add(f"rule.accepted[{i}]", f"longer than max_length {limit}")
            elif not normalise(text, set(steps)):
                chk.add(f"rule.accepted[{i}]", "is empty after normalisation")
        ordered = [s for s in NORMALISATIONS if s in steps]
        return {"accepted": accepted, "normalise": ordered}

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        interaction = version.interaction or {}
        rule = version.rule or {}
        if response is None:
            return 0
        if not isinstance(response, str):
            raise InvalidResponseError(f"an entry answer is text, got {type(response).__name__}")
        if len(response) > int(interaction.get("max_length") or 200):
            raise InvalidResponseError(f"the answer is longer than {interaction.get('max_length')} characters")
        if not response.strip():
            return 0
        if interaction.get("kind") == "numeric":
            number = parse_number(response, str(interaction.get("unit", "")))
            if number is None:
                return 0
            return int(abs(number - float(rule["value"])) <= float(rule["tolerance"]) * (1 + 1e-12) + 1e-12)
        steps = set(rule.get("normalise", []))
        accepted = {normalise(a, steps) for a in rule.get("accepted", [])}
        return int(normalise(response, steps) in accepted)

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        interaction = version.interaction or {}
        rule = version.rule or {}
        if interaction.get("kind") == "numeric":
            value = float(rule["value"])
            if not score:
                value += 2 * float(rule["tolerance"]) + 1 + abs(value)
            text = f"{value:.10g}"
            if "e" in text or math.isinf(value):
                text = f"{value:.0f}"
            return text + (str(interaction.get("unit", "")) if rnd.random() < 0.5 else "")
        accepted = list(rule.get("accepted", []))
        if score:
            return rnd.choice(accepted)
        steps = set(rule.get("normalise", []))
        taken = {normalise(a, steps) for a in accepted}
        for wrong in ("不知道", "没有", "随便", "x"):
            if normalise(wrong, steps) not in taken:
                return wrong
        raise ValueError("every fallback answer is accepted")

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset({"entry"})

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        text = one_value(form, "entry")
        filled = text is not None and text.strip() != ""
        require(filled, skip, "你还没有填写答案。如果确实不会，可以点击“跳过，提交”。")
        return text if filled else None

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        interaction = version.interaction or {}
        numeric = interaction.get("kind") == "numeric"
        return {
            "label": str(interaction.get("label", "")),
            "unit": str(interaction.get("unit", "")),
            "max_length": int(interaction.get("max_length") or 200),
            "inputmode": "decimal" if numeric else "text",
        }


ENTRY = Entry()
