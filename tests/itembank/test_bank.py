"""The starter bank (itembank/bank/d1.json .. d4.json): coverage and integrity.

Runs once all four files exist; until then it is skipped with the list of missing files.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from itembank import services
from itembank.db import session_scope
from itembank.formats import bundle_document, read_bundles
from itembank.framework import read_framework
from itembank.render import render_inline, render_markdown
from itembank.validate import BankContext, ItemSpec, ValidatedBundle, validate_bundle
from tests.itembank.test_render import assert_safe

FILES = [services.STARTER_BANK / f"d{k}.json" for k in range(1, 5)]
MISSING = [p.name for p in FILES if not p.exists()]
pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"starter bank not written yet: missing {', '.join(MISSING)}")

FRAMEWORK = read_framework()
BANDS = FRAMEWORK.band_codes
# Where an item for its easiest band should sit on the vertical scale (docs/item-format.md), +- 0.5.
B_RANGE = {"3-4": (-2.5, 0.0), "5-6": (-1.8, 0.6), "7-9": (-1.0, 1.5), "10-12": (-0.3, 2.5)}
CJK = re.compile(r"[\u4e00-\u9fff]")
STATIC_ITEMS = Path(__file__).resolve().parents[2] / "web" / "static" / "items"


@cache
def bank() -> ValidatedBundle:
    return validate_bundle(read_bundles(FILES), BankContext(framework=FRAMEWORK))


def items() -> tuple[ItemSpec, ...]:
    return bank().items


def test_the_files_are_the_ones_the_loader_picks() -> None:
    assert services.starter_bank_files() == FILES


def test_every_file_validates_and_holds_one_dimension() -> None:
    for k, path in enumerate(FILES, start=1):
        valid = validate_bundle(read_bundles([path]), BankContext(framework=FRAMEWORK))
        assert {i.dimension for i in valid.items} == {f"D{k}"}, path.name


def test_size_and_coverage() -> None:
    all_items = items()
    assert len(all_items) >= 320
    per_dimension = Counter(i.dimension for i in all_items)
    assert set(per_dimension) == {"D1", "D2", "D3", "D4"}
    assert min(per_dimension.values()) >= 64, per_dimension
    covered = {(i.indicator, band) for i in all_items for band in i.grade_bands}
    missing = [(ind.code, band) for ind in FRAMEWORK.indicators for band in BANDS if (ind.code, band) not in covered]
    assert not missing, f"sub-indicator x grade band without items: {missing}"
    assert sum(i.type == "partial_credit" for i in all_items) >= 32
    types = Counter(i.type for i in all_items)
    assert set(types) == {"single_choice", "multiple_response", "true_false", "partial_credit", *NEW_TYPES}


# The interactive types (issue 17) and how many items of each the bank holds at least.
NEW_TYPES = {
    "ordering": 6,
    "matching": 6,
    "inline_choice": 6,
    "entry": 6,
    "hotspot": 6,
    "search_sim": 3,
    "inbox_sim": 3,
}


def test_the_interactive_types_are_there_and_spread() -> None:
    new = [i for i in items() if i.type in NEW_TYPES]
    assert len(new) >= 60, len(new)
    types = Counter(i.type for i in new)
    short = {t: (types[t], n) for t, n in NEW_TYPES.items() if types[t] < n}
    assert not short, f"too few items (have, need): {short}"
    assert {i.dimension for i in new} == {"D1", "D2", "D3", "D4"}
    per_band = Counter(band for i in new for band in i.grade_bands)
    assert set(per_band) == set(BANDS) and min(per_band.values()) >= 6, per_band
    for type_ in NEW_TYPES:
        of_type = [i for i in new if i.type == type_]
        assert len({i.dimension for i in of_type}) >= 2, f"{type_}: all items in one dimension"
        assert len({b for i in of_type for b in i.grade_bands}) >= 3, f"{type_}: fewer than three grade bands"
    polytomous = [i for i in new if i.max_score > 1]
    assert len(polytomous) >= 25 and len(new) - len(polytomous) >= 20
    assert {i.params["model"] for i in polytomous} <= {"gpcm", "grm"}
    assert {i.params["model"] for i in new if i.max_score == 1} <= {"2pl", "3pl"}


def test_hotspot_images_are_shipped_and_regions_lie_on_them() -> None:
    for item in items():
        image = (item.interaction or {}).get("image") if item.type == "hotspot" else None
        if not image:
            continue
        name = image["src"].rsplit("/", 1)[-1]
        svg = STATIC_ITEMS / name
        assert svg.is_file(), f"{item.code}: {name} is not under web/static/items/"
        text = svg.read_text(encoding="utf-8")
        assert "<script" not in text and f'width="{image["width"]}"' in text and f'height="{image["height"]}"' in text
        for region in item.interaction["regions"]:
            shape = region["shape"]
            assert shape["x"] + shape["w"] <= image["width"] and shape["y"] + shape["h"] <= image["height"], item.code


def test_shared_stimuli() -> None:
    uses = Counter(i.stimulus for i in items() if i.stimulus)
    on_shared = sum(n for n in uses.values() if n >= 2)
    assert on_shared >= 40, f"only {on_shared} items sit on a stimulus shared with another item"
    assert {s.code for s in bank().stimuli} == set(uses), "every stimulus is used by an item"


def test_codes_are_unique_and_follow_the_pattern() -> None:
    codes = [i.code for i in items()]
    assert len(codes) == len(set(codes))
    for item in items():
        assert re.fullmatch(rf"{re.escape(item.indicator)}-\d{{3}}", item.code), item.code
    stimulus_codes = [s.code for s in bank().stimuli]
    assert len(stimulus_codes) == len(set(stimulus_codes))


def test_keys_are_among_the_options() -> None:
    for item in items():
        if item.type in {"single_choice", "multiple_response"}:
            keys = {o["key"] for o in item.options or []}
            assert item.key and set(item.key) <= keys, item.code
            assert len(item.key) == 1 if item.type == "single_choice" else 2 <= len(item.key) <= len(keys)
            assert len({o["text"] for o in item.options or []}) == len(keys), f"{item.code}: repeated option"
        elif item.type == "true_false":
            assert item.key in (["T"], ["F"]), item.code
        elif item.type == "partial_credit":
            for part in item.parts or []:
                assert part["key"] in {o["key"] for o in part["options"]}, item.code
        if item.max_score > 1:
            assert item.rubric and len(item.rubric) == item.max_score + 1, item.code


def test_text_is_chinese_and_explained() -> None:
    for item in items():
        assert CJK.search(item.stem), item.code
        assert CJK.search(item.rationale), item.code
        for entry in item.rubric or []:
            assert CJK.search(entry["description"]), item.code


def test_provisional_parameters_are_plausible() -> None:
    for item in items():
        p = item.params
        polytomous = item.max_score > 1
        assert (0.5 <= p["a"] <= 1.8) if polytomous else (0.6 <= p["a"] <= 2.2), item.code
        assert 0.0 <= p["c"] <= 0.3, item.code
        easiest = min(item.grade_bands, key=BANDS.index)
        lo, hi = B_RANGE[easiest]
        centre = sum(p["b"]) / len(p["b"])
        assert lo - 0.5 <= centre <= hi + 0.5, f"{item.code}: b={p['b']} for band {easiest}"
        if p["model"] == "3pl":
            assert item.type == "single_choice" and 0.1 <= p["c"] <= 0.3, item.code


def _texts(item: ItemSpec) -> list[tuple[str, str]]:
    out = [("block", item.stem)] + [("inline", o["text"]) for o in item.options or []]
    for part in item.parts or []:
        out.append(("block", part["prompt"]))
        out += [("inline", o["text"]) for o in part["options"]]
    inter = item.interaction or {}
    for name in ("scene", "text", "prompt"):
        if name in inter:
            out.append(("block", inter[name]))
    for entry in inter.get("targets", []) + inter.get("regions", []) + inter.get("results", []):
        out += [("inline", entry[k]) for k in ("text", "label", "title", "snippet") if k in entry]
    for gap in inter.get("gaps", []):
        out += [("inline", o["text"]) for o in gap["options"]]
    for message in inter.get("messages", []):
        out += [("block", message["body"]), ("inline", message["subject"])]
    return out


def test_every_item_and_stimulus_renders_without_raw_html() -> None:
    for item in items():
        for kind, text in _texts(item):
            html = render_markdown(text) if kind == "block" else render_inline(text)
            assert_safe(html)
            assert "<script" not in html, item.code
    for stim in bank().stimuli:
        assert_safe(render_markdown(stim.body))
        assert_safe(render_inline(stim.title))


def test_the_bank_imports_exports_and_gives_parameters(engine: Engine) -> None:
    with session_scope(engine) as session:
        summary = services.import_starter_bank(session=session)
    assert len(summary.created) == len(items())
    with session_scope(engine) as session:
        assert not services.import_starter_bank(session=session).changed
        exported = services.export_items(session=session)
        params = services.bank_params(session=session)
    expected = bundle_document(
        sorted(bank().stimuli, key=lambda s: services.natural_key(s.code)),
        sorted(items(), key=lambda i: services.natural_key(i.code)),
    )
    assert json.loads(json.dumps(bundle_document(exported.stimuli, exported.items))) == _plain(expected)
    assert params.n_items == sum(i.status != "retired" for i in items())


def _plain(doc: Any) -> Any:
    return json.loads(json.dumps(doc))
