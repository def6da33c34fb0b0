"""``search_sim``: a simulated search-results page; the student builds a query, searches, opens results and chooses one.

``interaction = {"words": 4-12 given words (no spaces), "results": [{"key": "R1", "title", "url",
"snippet"}, ...] (3-8, keys R1, R2 ... in order), "prompt": the task (Markdown)}``; ``rule``
(private) = ``{"query_required": [words the query must hold], "query_forbidden": [words it must
not], "best": [result keys], "acceptable": [result keys], "acceptable_scores": 0 or 1 (optional,
default 0)}``; ``key`` is ``null``.

Scoring: m = (the query holds every required word and no forbidden one) + (the chosen result is
in ``best``, or in ``acceptable`` when ``acceptable_scores`` is 1). ``all_or_nothing`` scores 1
for m = 2; ``per_step`` scores ``score_map[m]`` (length 3).

The answer is ``{"query": ["蚕", "桑叶"], "chosen": "R3", "opened": ["R1", "R3"], "searches":
[["蚕"], ["蚕", "桑叶"]]}`` (``opened`` and ``searches`` optional): the actions are recorded with
the answer, checked against the item (only its words, only its results), and only the query and
the choice are scored. Searching re-renders the item with the results ranked by
:func:`ranked` (not an answer); before any search no result is shown.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.render import render_inline, render_markdown
from itembank.types.base import (
    Checker,
    Content,
    FormFields,
    ItemType,
    Scorable,
    one_value,
    require,
    score_units,
    units_for_score,
)
from itembank.types.units import check_unit_scoring

__all__ = ["MAX_SEARCHES", "QUERY_SLOTS", "SEARCH_SIM", "SearchSim", "ranked"]

QUERY_SLOTS = 5
"""Words a query may hold (a ``<select>`` per slot on the page, order kept)."""
MAX_SEARCHES = 30
"""Searches and opened results an answer may record."""
_RESULT_FIELDS = ("key", "title", "url", "snippet")


def _words(version: Scorable) -> list[str]:
    return [str(w) for w in (version.interaction or {}).get("words", [])]


def _results(version: Scorable) -> list[dict[str, Any]]:
    return list((version.interaction or {}).get("results", []))


def ranked(version: Scorable, query: Sequence[str]) -> list[str]:
    """Result keys for ``query``, most relevant first: by how many query words the title and snippet hold.

    Ties keep the item's order; an empty query finds nothing.
    """
    if not query:
        return []
    scored = []
    for i, r in enumerate(_results(version)):
        text = f"{r.get('title', '')} {r.get('snippet', '')}"
        scored.append((-sum(1 for w in query if w in text), i, str(r["key"])))
    return [key for _, _, key in sorted(scored)]


def _query(value: Any, words: Sequence[str], what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidResponseError(f"{what} is a list of the given words")
    if len(value) > QUERY_SLOTS or any(not isinstance(w, str) or w not in words for w in value):
        raise InvalidResponseError(f"{what} holds at most {QUERY_SLOTS} of the given words ({', '.join(words)})")
    if len(set(value)) != len(value):
        raise InvalidResponseError(f"{what} names a word twice")
    return list(value)


class SearchSim(ItemType):
    """A search page to act in."""

    name = "search_sim"
    label = "模拟搜索"
    needs = frozenset({"interaction", "rule", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = ("all_or_nothing", "per_step")

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        if data.get("key") is not None:
            chk.add("key", "a search_sim item has no key (its rule scores it)")
        raw = data.get("interaction")
        interaction: dict[str, Any] | None = None
        if raw is not None and chk.fields(raw, "interaction", ("words", "results", "prompt")):
            words = chk.string_list(raw.get("words"), "interaction.words", minimum=4, maximum=12) or []
            for i, w in enumerate(words):
                if any(ch.isspace() for ch in w):
                    chk.add(f"interaction.words[{i}]", f"a given word holds no space, got {w!r}")
            interaction = {
                "words": words,
                "results": self._check_results(chk, raw.get("results")),
                "prompt": chk.text(raw, "prompt", "interaction.prompt"),
            }
        rule = self._check_rule(chk, data.get("rule"), interaction)
        scoring, score_map, rubric, top = check_unit_scoring(chk, data, self.scorings, 2, "steps done")
        content = {"interaction": interaction, "rule": rule, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def _check_results(self, chk: Checker, raw: Any) -> list[dict[str, str]]:
        listed = chk.listof(raw, "interaction.results")
        if listed is None:
            return []
        if not 3 <= len(listed) <= 8:
            chk.add("interaction.results", f"needs 3 to 8 results, got {len(listed)}")
        out = []
        for i, result in enumerate(listed):
            path = f"interaction.results[{i}]"
            if not chk.fields(result, path, _RESULT_FIELDS):
                continue
            if result.get("key") != f"R{i + 1}":
                chk.add(
                    f"{path}.key", f"result keys go R1, R2 ... in order: expected 'R{i + 1}', got {result.get('key')!r}"
                )
            out.append({"key": f"R{i + 1}", **{n: chk.text(result, n, f"{path}.{n}") for n in _RESULT_FIELDS[1:]}})
        return out

    def _check_rule(self, chk: Checker, raw: Any, interaction: dict[str, Any] | None) -> dict[str, Any] | None:
        allowed = ("query_required", "query_forbidden", "best", "acceptable", "acceptable_scores")
        if raw is None or not chk.fields(raw, "rule", allowed):
            return None
        words = interaction["words"] if interaction else []
        keys = [r["key"] for r in interaction["results"]] if interaction else []
        rule: dict[str, Any] = {}
        for name, valid, minimum in (
            ("query_required", words, 1),
            ("query_forbidden", words, 0),
            ("best", keys, 1),
            ("acceptable", keys, 0),
        ):
            listed = chk.listof(raw.get(name, []), f"rule.{name}") or []
            if len(listed) < minimum:
                chk.add(f"rule.{name}", f"needs at least {minimum} entry")
            for i, v in enumerate(listed):
                if interaction is not None and v not in valid:
                    chk.add(f"rule.{name}[{i}]", f"{v!r} is not one of {', '.join(valid)}")
            rule[name] = [str(v) for v in listed]
        if set(rule["query_required"]) & set(rule["query_forbidden"]):
            chk.add("rule.query_forbidden", "a word cannot be both required and forbidden")
        if set(rule["best"]) & set(rule["acceptable"]):
            chk.add("rule.acceptable", "a result cannot be both best and acceptable")
        scores = raw.get("acceptable_scores", 0)
        if scores not in (0, 1) or isinstance(scores, bool):
            chk.add("rule.acceptable_scores", f"must be 0 or 1, got {scores!r}")
        rule["acceptable_scores"] = int(scores) if scores in (0, 1) else 0
        return rule

    def parse(self, version: Scorable, response: Any) -> dict[str, Any]:
        """The answer checked against the item (:class:`InvalidResponseError` when it does not fit)."""
        if response is None:
            return {"query": [], "chosen": None, "opened": [], "searches": []}
        if not isinstance(response, Mapping) or not set(response) <= {"query", "chosen", "opened", "searches"}:
            raise InvalidResponseError('a search answer is {"query", "chosen", "opened", "searches"}')
        words, keys = _words(version), [str(r["key"]) for r in _results(version)]
        chosen = response.get("chosen")
        if chosen is not None and chosen not in keys:
            raise InvalidResponseError(f"{chosen!r} is not a result of this item")
        opened = response.get("opened") or []
        searches = response.get("searches") or []
        if isinstance(opened, str) or not isinstance(opened, Sequence) or len(opened) > MAX_SEARCHES:
            raise InvalidResponseError("opened is a list of result keys")
        if any(o not in keys for o in opened):
            raise InvalidResponseError("opened names a result this item does not have")
        if isinstance(searches, str) or not isinstance(searches, Sequence) or len(searches) > MAX_SEARCHES:
            raise InvalidResponseError("searches is a list of queries")
        return {
            "query": _query(response.get("query"), words, "the query"),
            "chosen": chosen,
            "opened": list(opened),
            "searches": [_query(q, words, "a search") for q in searches],
        }

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        answer = self.parse(version, response)
        rule = version.rule or {}
        query = set(answer["query"])
        query_ok = bool(query) and set(rule.get("query_required", [])) <= query
        query_ok = query_ok and not query & set(rule.get("query_forbidden", []))
        chosen = answer["chosen"]
        choice_ok = chosen in rule.get("best", []) or (
            rule.get("acceptable_scores") == 1 and chosen in rule.get("acceptable", [])
        )
        return score_units(version, int(query_ok) + int(choice_ok), 2)

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        rule = version.rule or {}
        m = units_for_score(version, score, 2)
        good = list(rule.get("query_required", []))
        wrong = [w for w in _words(version) if w not in good][:1]  # lacks a required word
        best = list(rule.get("best", []))
        others = [
            str(r["key"])
            for r in _results(version)
            if r["key"] not in best and r["key"] not in rule.get("acceptable", [])
        ]
        query_ok = m == 2 or (m == 1 and rnd.random() < 0.5)
        choice_ok = m == 2 or (m == 1 and not query_ok)
        query = good if query_ok else wrong
        chosen = rnd.choice(best) if choice_ok else (rnd.choice(others) if others else None)
        return {
            "query": query,
            "chosen": chosen,
            "opened": [chosen] if chosen else [],
            "searches": [query] if query else [],
        }

    def form_fields(self, version: Scorable) -> frozenset[str]:
        """Names of the form fields this type reads."""
        return frozenset({"chosen", "opened", "searched", *(f"query-{i + 1}" for i in range(QUERY_SLOTS))})

    def query_from_form(self, version: Scorable, form: FormFields) -> list[str]:
        """The query the slots ``query-1`` .. ``query-5`` build, in slot order (empty slots skipped)."""
        slots = [one_value(form, f"query-{i + 1}") for i in range(QUERY_SLOTS)]
        return _query([w for w in slots if w is not None], _words(version), "the query")

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        chosen = one_value(form, "chosen")
        require(
            chosen is not None,
            skip,
            "你还没有选择要提交的搜索结果。请先搜索，再选出最合适的一条；如果确实不会，可以点击“跳过，提交”。",
        )
        answer = {
            "query": self.query_from_form(version, form),
            "chosen": chosen,
            "opened": form.values("opened")[:MAX_SEARCHES],
            "searches": [s.split(" ") for s in form.values("searched")[:MAX_SEARCHES]],
        }
        self.parse(version, answer)
        return answer if chosen is not None or answer["query"] else None

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        interaction = version.interaction or {}
        return {
            "prompt_html": render_markdown(str(interaction.get("prompt", ""))),
            "words": _words(version),
            "slots": list(range(1, QUERY_SLOTS + 1)),
            "results": {
                str(r["key"]): {
                    "title_html": render_inline(str(r["title"])),
                    "url": str(r["url"]),
                    "snippet_html": render_inline(str(r["snippet"])),
                }
                for r in _results(version)
            },
        }


SEARCH_SIM = SearchSim()
