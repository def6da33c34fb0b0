"""``hotspot``: choose the parts of a scene (an image or a rendered scenario) that answer the question.

``interaction = {"scene": Markdown, "image": optional {"src": "/static/items/NAME.svg", "width",
"height"}, "regions": [{"key": "R1", "label": accessible text, "shape": optional {"x","y","w","h"}
in image pixels}, ...]}`` (2-12 regions); ``key`` = the correct region keys (one or more). Scored
``all_or_nothing`` (exactly the key) or ``hits`` (m = max(0, correct chosen - wrong chosen),
``score_map`` of length len(key)+1). The answer is the list of chosen region keys; the form sends
``answer`` once per checked region.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from typing import Any

from itembank.exceptions import InvalidResponseError
from itembank.render import render_inline, render_markdown
from itembank.types.base import Checker, Content, FormFields, ItemType, Scorable, require, score_units, units_for_score
from itembank.types.single_choice import selection
from itembank.types.units import check_unit_scoring

__all__ = ["HOTSPOT", "Hotspot", "hits"]

REGION_RE = re.compile(r"^R\d{1,2}$")
IMAGE_RE = re.compile(r"^/static/items/[a-z0-9][a-z0-9_-]{0,63}\.svg$")


def region_keys(version: Scorable) -> list[str]:
    """The region keys of a hotspot item, in display order."""
    return [str(r["key"]) for r in (version.interaction or {}).get("regions", [])]


def hits(chosen: set[str], key: set[str]) -> int:
    """Correct regions chosen minus wrong ones, at least 0."""
    return max(0, len(chosen & key) - len(chosen - key))


class Hotspot(ItemType):
    """Parts of a scene to pick."""

    name = "hotspot"
    label = "点选题"
    needs = frozenset({"interaction", "key", "scoring"})
    allows = frozenset({"score_map", "rubric"})
    scorings = ("all_or_nothing", "hits")

    def validate(self, chk: Checker, data: Mapping[str, Any]) -> tuple[Content, int | None]:
        """Check this type's content fields; return them normalised and the max score (``None`` if unknown)."""
        raw = data.get("interaction")
        interaction: dict[str, Any] | None = None
        regions: list[dict[str, Any]] | None = None
        if raw is not None and chk.fields(raw, "interaction", ("scene", "image", "regions")):
            interaction = {"scene": chk.text(raw, "scene", "interaction.scene")}
            image = self._image(chk, raw.get("image"))
            if image is not None:
                interaction["image"] = image
            regions = self._regions(chk, raw.get("regions"), image)
            interaction["regions"] = regions or []
        key = None
        if data.get("key") is not None:
            listed = chk.listof(data["key"], "key")
            valid = [r["key"] for r in regions or []]
            if listed is not None:
                if not listed:
                    chk.add("key", "a hotspot item needs at least one correct region")
                for i, k in enumerate(listed):
                    if regions is not None and k not in valid:
                        chk.add(f"key[{i}]", f"{k!r} is not a region (regions: {', '.join(valid)})")
                if len(set(map(str, listed))) != len(listed):
                    chk.add("key", "a region is listed twice")
                key = sorted(map(str, listed), key=lambda k: valid.index(k) if k in valid else len(valid))
        units = len(key) if key else None
        scoring, score_map, rubric, top = check_unit_scoring(chk, data, self.scorings, units, "net hits")
        content = {"interaction": interaction, "key": key, "scoring": scoring}
        return {**content, "score_map": score_map, "rubric": rubric}, top

    def _image(self, chk: Checker, raw: Any) -> dict[str, Any] | None:
        if raw is None or not chk.fields(raw, "interaction.image", ("src", "width", "height")):
            return None
        src = chk.text(raw, "src", "interaction.image.src")
        if src and not IMAGE_RE.match(src):
            chk.add(
                "interaction.image.src",
                f"must be an SVG under /static/items/ (like /static/items/mail.svg), got {src!r}",
            )
        size = {}
        for name in ("width", "height"):
            value = chk.integer(raw.get(name), f"interaction.image.{name}")
            if value is not None and not 16 <= value <= 2000:
                chk.add(f"interaction.image.{name}", f"must lie in 16..2000 pixels, got {value}")
            size[name] = value or 0
        return {"src": src, **size}

    def _regions(self, chk: Checker, raw: Any, image: dict[str, Any] | None) -> list[dict[str, Any]] | None:
        listed = chk.listof(raw, "interaction.regions")
        if listed is None:
            return None
        if not 2 <= len(listed) <= 12:
            chk.add("interaction.regions", f"needs 2 to 12 regions, got {len(listed)}")
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, region in enumerate(listed):
            path = f"interaction.regions[{i}]"
            if not chk.fields(region, path, ("key", "label", "shape")):
                continue
            rkey = region.get("key")
            if not isinstance(rkey, str) or not REGION_RE.match(rkey) or rkey in seen:
                chk.add(f"{path}.key", f"region keys are distinct R1, R2 ..., got {rkey!r}")
            seen.add(str(rkey))
            entry: dict[str, Any] = {"key": str(rkey), "label": chk.text(region, "label", f"{path}.label")}
            if region.get("shape") is not None:
                entry["shape"] = self._shape(chk, region["shape"], f"{path}.shape", image)
            out.append(entry)
        return out

    def _shape(self, chk: Checker, raw: Any, path: str, image: dict[str, Any] | None) -> dict[str, float]:
        if image is None:
            chk.add(path, "a region has a shape only on an image")
        if not chk.fields(raw, path, ("x", "y", "w", "h")):
            return {}
        shape = {n: chk.number(raw.get(n), f"{path}.{n}") for n in ("x", "y", "w", "h")}
        x, y, w, h = (shape[n] or 0.0 for n in ("x", "y", "w", "h"))
        if image is not None and not (
            0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= image["width"] and y + h <= image["height"]
        ):
            chk.add(path, f"must lie inside the {image['width']}x{image['height']} image with a positive size")
        return {"x": x, "y": y, "w": w, "h": h}

    def score(self, version: Scorable, response: Any) -> int:
        """Score a response by this type's rule (:class:`InvalidResponseError` when it does not fit)."""
        chosen = selection(response, region_keys(version), "hotspot")
        key = set(version.key or [])
        if version.scoring == "all_or_nothing":
            return int(chosen == key)
        return score_units(version, hits(chosen, key), len(key))

    def answer_for_score(self, version: Scorable, score: int, rnd: random.Random) -> Any:
        """An answer a student could have given that earns ``score``."""
        key = list(version.key or [])
        wrong = [r for r in region_keys(version) if r not in key]
        if version.scoring == "all_or_nothing":
            return key if score else (rnd.sample(wrong, 1) if wrong else key[:-1])
        net = units_for_score(version, score, len(key))
        return sorted(rnd.sample(key, net))

    def form_answer(self, version: Scorable, form: FormFields, skip: bool) -> Any:
        """The answer a posted form gives (:class:`IncompleteAnswer` when unanswered and not skipped)."""
        chosen = form.values("answer")
        require(bool(chosen), skip, "你还没有选择任何部分。如果确实不会，可以点击“跳过，提交”。")
        if not set(chosen) <= set(region_keys(version)):
            raise InvalidResponseError("a region this item does not have")
        return sorted(set(chosen), key=region_keys(version).index) or None

    def public(self, version: Scorable) -> dict[str, Any]:
        """What the student page shows of this type's own data (rendered HTML, no key or rule)."""
        interaction = version.interaction or {}
        image = interaction.get("image")
        regions = [
            {
                "key": str(r["key"]),
                "label_html": render_inline(str(r["label"])),
                "shape": r.get("shape") if image else None,
            }
            for r in interaction.get("regions", [])
        ]
        return {"scene_html": render_markdown(str(interaction.get("scene", ""))), "image": image, "regions": regions}


HOTSPOT = Hotspot()
