"""IMS/1EdTech QTI 3.0 exchange: the bank as a QTI content package (writing; reading is :mod:`itembank.qti_read`).

A package is a ZIP file holding ``imsmanifest.xml`` (QTI 3.0 content packaging), one
``qti-assessment-item`` per item under ``items/``, one ``qti-assessment-stimulus`` per stimulus
under ``stimuli/`` (items refer to theirs with ``qti-assessment-stimulus-ref``, so a stimulus
shared by several items is written once), and the images of hotspot items under ``media/``.
What QTI has an element for is written there: the interaction of each type, the correct response,
mappings and the response processing. What it has none for (indicator, grade bands, status,
author, rationale, enemies, provisional parameters, rubric, scoring rule, ``score_map`` and the
private ``rule`` of entry and simulated-environment items) goes into the resource's metadata in
the manifest, in InfoLit's own namespace (:data:`IL`), so export, import and export again give
the same bytes. ``docs/qti.md`` lists the mapping per type and what the reader checks.

The writer is deterministic: fixed ZIP timestamps, entries in bank order, attributes in a fixed
order, numbers as ``repr(float)``. It uses the standard library's ElementTree: writing and
reading namespaced XML is all the exchange needs, and no XSD ships in a package we could
install (docs/qti.md), so lxml's schema validation would have nothing to validate against.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from itembank.validate import ItemSpec, StimulusSpec

__all__ = [
    "CP",
    "IL",
    "MEDIA_DIR",
    "QTI",
    "gap_id",
    "item_xml",
    "package_bytes",
    "response_processing",
    "target_id",
]

QTI = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
"""The QTI 3.0 assessment namespace."""
CP = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
"""The QTI 3.0 content-packaging namespace (imsmanifest.xml)."""
IL = "urn:infolit:qti-metadata:1"
"""InfoLit's namespace for what QTI has no element for."""
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MATCH_CORRECT = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/match_correct.xml"
CUSTOM_CLASS = "infolit:"
"""Prefix of the ``qti-custom-operator`` classes for the rules QTI's operators cannot express."""
MEDIA_DIR = Path(__file__).resolve().parents[1] / "web" / "static" / "items"
"""Where the images of hotspot items live (``/static/items/NAME.svg``)."""
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_SERIALISING = threading.Lock()

ET.register_namespace("il", IL)


def _q(tag: str) -> str:
    return f"{{{QTI}}}{tag}"


def _il(tag: str) -> str:
    return f"{{{IL}}}{tag}"


def _num(x: float) -> str:
    return repr(float(x))


def gap_id(key: str) -> str:
    """The QTI identifier of an InfoLit gap or part key (``1`` -> ``G1``: identifiers start with a letter)."""
    return f"G{key}"


def target_id(key: str) -> str:
    """The QTI identifier of a matching target (``1`` -> ``T1``)."""
    return f"T{key}"


def _sub(parent: ET.Element, tag: str, attrs: dict[str, str] | None = None, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs or {})
    if text is not None:
        el.text = text
    return el


def _markdown(parent: ET.Element, text: str, cls: str) -> ET.Element:
    """InfoLit's Markdown text in a ``div`` (shown as written; InfoLit renders it)."""
    return _sub(parent, _q("div"), {"class": cls, "data-infolit-format": "markdown"}, text)


# ============================================================================== responses per type
def responses(doc: dict[str, Any]) -> list[tuple[str, str, str, list[str]]]:
    """The response variables of an item: (identifier, cardinality, base type, correct values)."""
    t = doc["type"]
    key = doc.get("key") or []
    if t in {"single_choice", "true_false"}:
        return [("RESPONSE", "single", "identifier", list(key))]
    if t in {"multiple_response", "hotspot"}:
        return [("RESPONSE", "multiple", "identifier", list(key))]
    if t == "ordering":
        return [("RESPONSE", "ordered", "identifier", list(key))]
    if t == "matching":
        pairs = [k.split("=", 1) for k in key]
        return [("RESPONSE", "multiple", "directedPair", [f"{p} {target_id(g)}" for p, g in pairs])]
    if t == "inline_choice":
        correct = dict(k.split("=", 1) for k in key)
        gaps = doc["interaction"]["gaps"]
        return [(f"RESPONSE_{gap_id(g['key'])}", "single", "identifier", [correct[g["key"]]]) for g in gaps]
    if t == "partial_credit":
        return [
            (f"RESPONSE_{gap_id(str(i))}", "single", "identifier", [p["key"]]) for i, p in enumerate(doc["parts"], 1)
        ]
    if t == "entry":
        rule = doc.get("rule") or {}
        if doc["interaction"]["kind"] == "numeric":
            return [("RESPONSE", "single", "float", [_num(rule["value"])])]
        return [("RESPONSE", "single", "string", list(rule.get("accepted", [])[:1]))]
    return [("RESPONSE", "record", "", [])]  # search_sim, inbox_sim


def _units_expression(doc: dict[str, Any]) -> tuple[str, str] | None:
    """How the "units correct" m of an item are counted: ("map", "") or ("custom", name); None = template."""
    t, scoring = doc["type"], doc.get("scoring")
    if t in {"single_choice", "true_false"} or (scoring in {None, "all_or_nothing"} and t in _SINGLE_RESPONSE):
        return None
    if t in {"matching", "inline_choice", "partial_credit"} or (t == "hotspot" and scoring == "hits"):
        return ("map", "")
    names = {"multiple_response": "partial_subset", "ordering": "adjacent_pairs"}
    return ("custom", names.get(t, t))


_SINGLE_RESPONSE = {"multiple_response", "ordering", "hotspot"}


def score_map_of(doc: dict[str, Any]) -> list[int]:
    """The score for m = 0, 1, ... units: ``score_map`` where the item has one, else from its rule."""
    if doc.get("score_map") is not None:
        return [int(s) for s in doc["score_map"]]
    t, scoring = doc["type"], doc.get("scoring")
    if t == "multiple_response" and scoring == "partial":
        return [0, 1, 2]
    if t in {"inline_choice", "partial_credit"}:
        n = len(responses(doc))
    elif t == "inbox_sim":
        n = len((doc.get("rule") or {}).get("expected") or {})
    else:
        n = len(doc.get("key") or [])
    return [0] * n + [1] if n else [0, 1]


def _mapping(decl: ET.Element, correct: Sequence[str], *, hits: bool) -> None:
    attrs = {"default-value": "-1", "lower-bound": "0"} if hits else {"default-value": "0"}
    mapping = _sub(decl, _q("qti-mapping"), attrs)
    for value in correct:
        _sub(mapping, _q("qti-map-entry"), {"map-key": value, "mapped-value": "1"})


def declarations(root: ET.Element, doc: dict[str, Any]) -> None:
    """The response and outcome declarations of an item."""
    units = _units_expression(doc)
    for ident, cardinality, base, correct in responses(doc):
        attrs = {"identifier": ident, "cardinality": cardinality}
        if base:
            attrs["base-type"] = base
        decl = _sub(root, _q("qti-response-declaration"), attrs)
        if correct:
            cr = _sub(decl, _q("qti-correct-response"))
            for value in correct:
                _sub(cr, _q("qti-value"), text=value)
        if units is not None and units[0] == "map":
            _mapping(decl, correct, hits=doc["type"] == "hotspot")
    smap = score_map_of(doc)
    score = _sub(
        root,
        _q("qti-outcome-declaration"),
        {"identifier": "SCORE", "cardinality": "single", "base-type": "float", "normal-maximum": str(smap[-1])},
    )
    _sub(_sub(score, _q("qti-default-value")), _q("qti-value"), text="0")
    if units is not None:
        table = _sub(score, _q("qti-match-table"), {"default-value": "0"})
        for m, s in enumerate(smap):
            _sub(table, _q("qti-match-table-entry"), {"source-value": str(m), "target-value": str(s)})
        _sub(
            root,
            _q("qti-outcome-declaration"),
            {"identifier": "UNITS", "cardinality": "single", "base-type": "integer"},
        )
    maxs = _sub(
        root, _q("qti-outcome-declaration"), {"identifier": "MAXSCORE", "cardinality": "single", "base-type": "float"}
    )
    _sub(_sub(maxs, _q("qti-default-value")), _q("qti-value"), text=str(smap[-1]))


def response_processing(doc: dict[str, Any]) -> ET.Element:
    """The ``qti-response-processing`` of an item: match_correct, or units counted and looked up in SCORE's table."""
    units = _units_expression(doc)
    if units is None:
        return ET.Element(_q("qti-response-processing"), {"template": MATCH_CORRECT})
    rp = ET.Element(_q("qti-response-processing"))
    setter = _sub(rp, _q("qti-set-outcome-value"), {"identifier": "UNITS"})
    idents = [r[0] for r in responses(doc)]
    if units[0] == "map":
        parent = _sub(setter, _q("qti-sum")) if len(idents) > 1 else setter
        for ident in idents:
            _sub(parent, _q("qti-map-response"), {"identifier": ident})
    else:
        op = _sub(setter, _q("qti-custom-operator"), {"class": CUSTOM_CLASS + units[1]})
        for ident in idents:
            _sub(op, _q("qti-variable"), {"identifier": ident})
    lookup = _sub(rp, _q("qti-lookup-outcome-value"), {"identifier": "SCORE"})
    _sub(lookup, _q("qti-variable"), {"identifier": "UNITS"})
    return rp


# ============================================================================== the item body
def _choices(parent: ET.Element, options: Iterable[dict[str, str]], tag: str = "qti-simple-choice") -> None:
    for option in options:
        _sub(parent, _q(tag), {"identifier": option["key"]}, option["text"])


def _body_choice(body: ET.Element, doc: dict[str, Any]) -> None:
    t = doc["type"]
    if t == "true_false":
        ci = _sub(
            body,
            _q("qti-choice-interaction"),
            {"response-identifier": "RESPONSE", "max-choices": "1", "shuffle": "false"},
        )
        _choices(ci, [{"key": "T", "text": "正确"}, {"key": "F", "text": "错误"}])
        return
    max_choices = "1" if t == "single_choice" else "0"
    ci = _sub(
        body,
        _q("qti-choice-interaction"),
        {"response-identifier": "RESPONSE", "max-choices": max_choices, "shuffle": "false"},
    )
    _choices(ci, doc["options"])


def _body_parts(body: ET.Element, doc: dict[str, Any]) -> None:
    for i, part in enumerate(doc["parts"], 1):
        ci = _sub(
            body,
            _q("qti-choice-interaction"),
            {"response-identifier": f"RESPONSE_{gap_id(str(i))}", "max-choices": "1", "shuffle": "false"},
        )
        _sub(ci, _q("qti-prompt"), text=part["prompt"])
        _choices(ci, part["options"])


def _body_ordering(body: ET.Element, doc: dict[str, Any]) -> None:
    oi = _sub(body, _q("qti-order-interaction"), {"response-identifier": "RESPONSE", "shuffle": "false"})
    _choices(oi, doc["options"])


def _body_matching(body: ET.Element, doc: dict[str, Any]) -> None:
    premises, targets = doc["options"], doc["interaction"]["targets"]
    mi = _sub(
        body,
        _q("qti-match-interaction"),
        {"response-identifier": "RESPONSE", "max-associations": str(len(premises)), "shuffle": "false"},
    )
    first = _sub(mi, _q("qti-simple-match-set"))
    for p in premises:
        _sub(first, _q("qti-simple-associable-choice"), {"identifier": p["key"], "match-max": "1"}, p["text"])
    second = _sub(mi, _q("qti-simple-match-set"))
    for g in targets:
        attrs = {"identifier": target_id(g["key"]), "match-max": str(len(premises))}
        _sub(second, _q("qti-simple-associable-choice"), attrs, g["text"])


def _body_inline(body: ET.Element, doc: dict[str, Any]) -> None:
    """The cloze text with a ``qti-inline-choice-interaction`` where each ``{{n}}`` gap stands."""
    inter = doc["interaction"]
    div = _sub(body, _q("div"), {"class": "infolit-cloze", "data-infolit-format": "markdown"})
    gaps = {g["key"]: g for g in inter["gaps"]}
    text, last = inter["text"], None
    pos = 0
    for m in re.finditer(r"\{\{(\w+)\}\}", text):
        chunk = text[pos : m.start()]
        if last is None:
            div.text = chunk
        else:
            last.tail = chunk
        gap = gaps[m.group(1)]
        last = _sub(
            div,
            _q("qti-inline-choice-interaction"),
            {"response-identifier": f"RESPONSE_{gap_id(gap['key'])}", "shuffle": "false"},
        )
        _choices(last, gap["options"], "qti-inline-choice")
        pos = m.end()
    if last is None:
        div.text = text
    else:
        last.tail = text[pos:]


def _body_entry(body: ET.Element, doc: dict[str, Any]) -> None:
    inter = doc["interaction"]
    p = _sub(body, _q("p"), {"class": f"infolit-entry infolit-{inter['kind']}"})
    _sub(p, _q("span"), {"class": "infolit-label"}, inter["label"])
    _sub(
        p,
        _q("qti-text-entry-interaction"),
        {"response-identifier": "RESPONSE", "expected-length": str(inter["max_length"])},
    )
    if inter.get("unit") is not None:
        _sub(p, _q("span"), {"class": "infolit-unit"}, inter["unit"])


def _body_hotspot(body: ET.Element, doc: dict[str, Any]) -> None:
    inter = doc["interaction"]
    hi = _sub(body, _q("qti-hotspot-interaction"), {"response-identifier": "RESPONSE", "max-choices": "0"})
    prompt = _sub(hi, _q("qti-prompt"))
    _markdown(prompt, inter["scene"], "infolit-scene")
    image = inter.get("image")
    if image:
        name = image["src"].split("?", 1)[0].rsplit("/", 1)[-1]
        _sub(
            hi,
            _q("img"),
            {
                "src": f"media/{name}",
                "width": str(image["width"]),
                "height": str(image["height"]),
                "alt": "",
                "data-infolit-src": image["src"],
            },
        )
    for r in inter["regions"]:
        shape = r.get("shape")
        if shape:
            x, y, w, h = (shape[k] for k in ("x", "y", "w", "h"))
            attrs = {"identifier": r["key"], "shape": "rect", "coords": f"{x},{y},{x + w},{y + h}"}
        else:
            attrs = {"identifier": r["key"], "shape": "default", "coords": ""}
        attrs["hotspot-label"] = r["label"]
        _sub(hi, _q("qti-hotspot-choice"), attrs)


def _body_custom(body: ET.Element, doc: dict[str, Any]) -> None:
    """search_sim / inbox_sim: a portable custom interaction carrying InfoLit's public data as JSON."""
    kind = doc["type"].replace("_", "-")
    pci = _sub(
        body,
        _q("qti-portable-custom-interaction"),
        {
            "response-identifier": "RESPONSE",
            "custom-interaction-type-identifier": f"urn:infolit:{kind}",
            "module": f"infolit-{kind}",
        },
    )
    markup = _sub(pci, _q("qti-interaction-markup"))
    _sub(markup, _il("interaction"), {"type": doc["type"]}, _compact(doc["interaction"]))


_BODIES = {
    "single_choice": _body_choice,
    "multiple_response": _body_choice,
    "true_false": _body_choice,
    "partial_credit": _body_parts,
    "ordering": _body_ordering,
    "matching": _body_matching,
    "inline_choice": _body_inline,
    "entry": _body_entry,
    "hotspot": _body_hotspot,
    "search_sim": _body_custom,
    "inbox_sim": _body_custom,
}


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def item_xml(doc: dict[str, Any]) -> ET.Element:
    """The ``qti-assessment-item`` of an item in the canonical JSON shape."""
    root = ET.Element(
        _q("qti-assessment-item"),
        {
            "identifier": doc["code"],
            "title": doc["code"],
            "adaptive": "false",
            "time-dependent": "false",
            XML_LANG: "zh-CN",
        },
    )
    declarations(root, doc)
    if doc.get("stimulus"):
        _sub(
            root,
            _q("qti-assessment-stimulus-ref"),
            {"identifier": doc["stimulus"], "href": f"../stimuli/{doc['stimulus']}.xml"},
        )
    body = _sub(root, _q("qti-item-body"))
    _markdown(body, doc["stem"], "infolit-stem")
    _BODIES[doc["type"]](body, doc)
    root.append(response_processing(doc))
    return root


def stimulus_xml(stim: StimulusSpec) -> ET.Element:
    """The ``qti-assessment-stimulus`` of a stimulus (its kind is in the manifest's metadata)."""
    root = ET.Element(_q("qti-assessment-stimulus"), {"identifier": stim.code, "title": stim.title, XML_LANG: "zh-CN"})
    _markdown(_sub(root, _q("qti-stimulus-body")), stim.body, "infolit-stimulus")
    return root


# ============================================================================== the manifest
def item_metadata(parent: ET.Element, doc: dict[str, Any]) -> None:
    """InfoLit's fields of an item that QTI has no element for, under ``il:item``."""
    meta = _sub(parent, _il("item"), {"type": doc["type"]})
    _sub(meta, _il("indicator"), text=doc["indicator"])
    for band in doc["grade_bands"]:
        _sub(meta, _il("grade-band"), text=band)
    _sub(meta, _il("status"), text=doc["status"])
    _sub(meta, _il("author"), text=doc["author"])
    if doc.get("scoring") is not None:
        _sub(meta, _il("scoring"), text=doc["scoring"])
    if doc.get("score_map") is not None:
        _sub(meta, _il("score-map"), text=" ".join(str(s) for s in doc["score_map"]))
    for level in doc.get("rubric") or []:
        _sub(meta, _il("rubric-level"), {"score": str(level["score"])}, level["description"])
    if doc.get("rule") is not None:
        _sub(meta, _il("rule"), text=_compact(doc["rule"]))
    _sub(meta, _il("rationale"), text=doc["rationale"])
    for enemy in doc.get("enemies") or []:
        _sub(meta, _il("enemy"), text=enemy)
    p = doc["params"]
    params = _sub(meta, _il("params"), {"model": str(p["model"]), "a": _num(p["a"]), "c": _num(p["c"])})
    for b in p["b"]:
        _sub(params, _il("b"), text=_num(b))


def _resource(resources: ET.Element, ident: str, kind: str, href: str, deps: Sequence[str]) -> ET.Element:
    res = _sub(resources, f"{{{CP}}}resource", {"identifier": ident, "type": kind, "href": href})
    meta = _sub(res, f"{{{CP}}}metadata")
    _sub(meta, f"{{{CP}}}schema", text="QTI Item" if kind == "imsqti_item_xmlv3p0" else "QTI Stimulus")
    _sub(meta, f"{{{CP}}}schemaversion", text="3.0.0")
    _sub(res, f"{{{CP}}}file", {"href": href})
    for dep in deps:
        _sub(res, f"{{{CP}}}dependency", {"identifierref": dep})
    return meta


def _image_name(doc: dict[str, Any]) -> str | None:
    image = (doc.get("interaction") or {}).get("image") if doc["type"] == "hotspot" else None
    return image["src"].split("?", 1)[0].rsplit("/", 1)[-1] if image else None


def media_resource_id(name: str) -> str:
    """The manifest identifier of an image file."""
    return "MEDIA-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def manifest_xml(stimuli: Sequence[StimulusSpec], docs: Sequence[dict[str, Any]], media: Sequence[str]) -> ET.Element:
    """``imsmanifest.xml``: one resource per item, stimulus and image, with dependencies."""
    root = ET.Element(f"{{{CP}}}manifest", {"identifier": "INFOLIT-BANK"})
    meta = _sub(root, f"{{{CP}}}metadata")
    _sub(meta, f"{{{CP}}}schema", text="QTI Content")
    _sub(meta, f"{{{CP}}}schemaversion", text="3.0.0")
    _sub(root, f"{{{CP}}}organizations")
    resources = _sub(root, f"{{{CP}}}resources")
    for stim in stimuli:
        m = _resource(resources, stim.code, "imsqti_stimulus_xmlv3p0", f"stimuli/{stim.code}.xml", [])
        _sub(m, _il("stimulus"), {"kind": stim.kind})
    for doc in docs:
        deps = [doc["stimulus"]] if doc.get("stimulus") else []
        name = _image_name(doc)
        deps += [media_resource_id(name)] if name else []
        item_metadata(_resource(resources, doc["code"], "imsqti_item_xmlv3p0", f"items/{doc['code']}.xml", deps), doc)
    for name in media:
        res = _sub(
            resources,
            f"{{{CP}}}resource",
            {"identifier": media_resource_id(name), "type": "webcontent", "href": f"media/{name}"},
        )
        _sub(res, f"{{{CP}}}file", {"href": f"media/{name}"})
    return root


def _indent(elem: ET.Element, level: int = 0) -> None:
    """Indent like :func:`ET.indent`, but leave mixed content (the cloze text) exactly as it is."""
    if len(elem) == 0 or elem.get("class") == "infolit-cloze":
        return
    inner = "\n" + "  " * (level + 1)
    if not (elem.text or "").strip():
        elem.text = inner
    for child in elem:
        _indent(child, level + 1)
        if not (child.tail or "").strip():
            child.tail = inner
    if not (elem[-1].tail or "").strip():
        elem[-1].tail = "\n" + "  " * level


def xml_bytes(root: ET.Element, default_ns: str = QTI) -> bytes:
    """An element as a UTF-8 XML document, indented, with ``default_ns`` as the default namespace."""
    _indent(root)
    with _SERIALISING:  # the default prefix is ElementTree's global state; default_namespace= refuses attributes
        ET.register_namespace("", default_ns)
        text = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8")


def package_bytes(stimuli: Sequence[StimulusSpec], items: Sequence[ItemSpec], *, media_dir: Path = MEDIA_DIR) -> bytes:
    """The QTI 3.0 content package (a ZIP file) of ``items`` and ``stimuli``, always the same bytes for the same bank.

    Raises ``FileNotFoundError`` when a hotspot item's image is not under ``media_dir``.
    """
    docs = [i.to_document() for i in items]
    media = sorted({n for n in (_image_name(d) for d in docs) if n})
    entries: list[tuple[str, bytes]] = [("imsmanifest.xml", xml_bytes(manifest_xml(stimuli, docs, media), CP))]
    entries += [(f"stimuli/{s.code}.xml", xml_bytes(stimulus_xml(s))) for s in stimuli]
    entries += [(f"items/{d['code']}.xml", xml_bytes(item_xml(d))) for d in docs]
    entries += [(f"media/{n}", (media_dir / n).read_bytes()) for n in media]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return out.getvalue()
