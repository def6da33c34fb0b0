"""Reading a QTI 3.0 content package into drafts (the writer and the mapping are :mod:`itembank.qti`).

:func:`parse_qti` turns a ZIP file into a :class:`~itembank.validate.RawBundle` of drafts in the
canonical JSON shape, so a QTI package is validated and imported exactly as a JSON file is
(nothing is written when any problem is found). Problems name the file in the package and the
element: a package InfoLit cannot represent is refused, never approximated:

- not a ZIP file, no ``imsmanifest.xml``, XML that is not well-formed, a DOCTYPE (entities are
  never expanded), an element outside the QTI 3.0 namespaces, more entries or bytes than the limits;
- a resource type other than items, stimuli and web content (a test, a section, ...);
- an item without InfoLit's metadata (indicator, grade bands, ... : QTI has no place for them);
- an interaction InfoLit has no type for, or not the interactions its type has (several choice
  interactions are only read as a partial-credit item);
- response processing or declarations other than the ones InfoLit's scoring rule writes (the
  reader rebuilds them from the draft and compares canonical XML), e.g. a ``map_response``
  template, other mapped values, a custom operator InfoLit does not define;
- an image the package refers to but does not hold, or one not shipped under ``web/static/items/``;
- a stimulus reference to a stimulus neither in the package nor named by a resource.
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from itembank.exceptions import Problem
from itembank.qti import CP, IL, MEDIA_DIR, QTI, declarations, response_processing
from itembank.tabular import ReadLimits
from itembank.validate import Draft, Origin, RawBundle

__all__ = ["parse_qti"]

_ITEM = "imsqti_item_xmlv3p0"
_STIMULUS = "imsqti_stimulus_xmlv3p0"
_MAX_ENTRY = 8 * 2**20
_INTERACTIONS = {
    "single_choice": "qti-choice-interaction",
    "multiple_response": "qti-choice-interaction",
    "true_false": "qti-choice-interaction",
    "partial_credit": "qti-choice-interaction",
    "ordering": "qti-order-interaction",
    "matching": "qti-match-interaction",
    "inline_choice": "qti-inline-choice-interaction",
    "entry": "qti-text-entry-interaction",
    "hotspot": "qti-hotspot-interaction",
    "search_sim": "qti-portable-custom-interaction",
    "inbox_sim": "qti-portable-custom-interaction",
}
_SEVERAL = {"partial_credit", "inline_choice"}


class _Refused(Exception):
    """One problem that stops reading the current file."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem(where, message)


def _q(tag: str) -> str:
    return f"{{{QTI}}}{tag}"


def _il(tag: str) -> str:
    return f"{{{IL}}}{tag}"


def _local(el: ET.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]


class _Package:
    """The ZIP file, read entry by entry within the limits."""

    def __init__(self, raw: bytes, limits: ReadLimits) -> None:
        try:
            self.zf = zipfile.ZipFile(BytesIO(raw))
        except (zipfile.BadZipFile, EOFError, ValueError):
            raise _Refused("", "not a ZIP file (a QTI content package is a ZIP file with imsmanifest.xml)") from None
        infos = self.zf.infolist()
        if len(infos) > 3 * limits.max_rows + 10:
            raise _Refused("", f"{len(infos):,} files in the package, more than the limit")
        if sum(i.file_size for i in infos) > limits.max_unpacked_bytes:
            raise _Refused("", "the package unpacks to more than the limit: split it")
        self.names = {i.filename for i in infos}

    def read(self, name: str) -> bytes:
        if name not in self.names:
            raise _Refused(name, "missing from the package")
        info = self.zf.getinfo(name)
        if info.file_size > _MAX_ENTRY:
            raise _Refused(name, f"{info.file_size:,} bytes, more than the limit of {_MAX_ENTRY:,} for one file")
        try:
            return self.zf.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
            raise _Refused(name, f"cannot be unpacked ({exc})") from None

    def xml(self, name: str) -> ET.Element:
        raw = self.read(name)
        if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
            raise _Refused(name, "holds a DOCTYPE or an entity declaration (refused: entities are never expanded)")
        try:
            return ET.fromstring(raw)
        except ET.ParseError as exc:
            line, column = exc.position
            raise _Refused(name, f"not well-formed XML (line {line}, column {column + 1})") from None
        except (LookupError, ValueError) as exc:  # an unknown encoding in the XML declaration, ...
            raise _Refused(name, f"not readable XML ({exc})") from None


def parse_qti(raw: bytes, *, source: str = "<qti>", limits: ReadLimits) -> RawBundle:
    """Read a QTI 3.0 content package into stimulus and item drafts, with every problem found."""
    try:
        pkg = _Package(raw, limits)
        manifest = pkg.xml("imsmanifest.xml")
    except _Refused as exc:
        return RawBundle(source, problems=(exc.problem,))
    if manifest.tag != f"{{{CP}}}manifest":
        where = f"imsmanifest.xml, <{_local(manifest)}>"
        return RawBundle(source, problems=(Problem(where, f"not a QTI 3.0 manifest (expected namespace {CP})"),))
    stimuli: list[Draft] = []
    items: list[Draft] = []
    problems: list[Problem] = []
    known = {r.get("identifier") for r in manifest.iter(f"{{{CP}}}resource")}
    for res in manifest.iter(f"{{{CP}}}resource"):
        kind, href, ident = res.get("type", ""), res.get("href", ""), res.get("identifier", "")
        try:
            if kind == _STIMULUS:
                stimuli.append(_stimulus(pkg, res, href))
            elif kind == _ITEM:
                items.append(_item(pkg, res, href, known))
            elif kind != "webcontent":
                raise _Refused(
                    f"imsmanifest.xml, resource {ident!r}",
                    f"resource type {kind!r}: InfoLit imports items and stimuli only",
                )
        except _Refused as exc:
            problems.append(exc.problem)
        except RecursionError:
            problems.append(Problem(href or ident, "nested too deeply to read"))
    if not items and not stimuli and not problems:
        problems.append(Problem("imsmanifest.xml", "the package holds no items"))
    return RawBundle(source, tuple(stimuli), tuple(items), tuple(problems))


def _meta(res: ET.Element, tag: str, where: str) -> ET.Element:
    found = res.find(f"{{{CP}}}metadata/{_il(tag)}")
    if found is None:
        raise _Refused(
            where,
            f"no InfoLit metadata (<il:{tag}> in the resource's metadata, namespace {IL}): "
            "QTI has no place for the indicator, grade bands, status and parameters InfoLit needs",
        )
    return found


def _stimulus(pkg: _Package, res: ET.Element, href: str) -> Draft:
    root = pkg.xml(href)
    if root.tag != _q("qti-assessment-stimulus"):
        raise _Refused(href, f"<{_local(root)}> where a qti-assessment-stimulus (QTI 3.0 namespace) was expected")
    kind = _meta(res, "stimulus", f"imsmanifest.xml, resource {res.get('identifier')!r}").get("kind")
    body = root.find(_q("qti-stimulus-body"))
    data: dict[str, Any] = {"code": root.get("identifier"), "kind": kind, "title": root.get("title")}
    if body is not None:
        data["body"] = _markdown(body, "infolit-stimulus")
    return Draft({k: v for k, v in data.items() if v is not None}, Origin(path=href))


def _markdown(parent: ET.Element, cls: str) -> str:
    """The text of InfoLit's Markdown ``div`` (class ``cls``), or all the text of ``parent``."""
    for div in parent.iter(_q("div")):
        if div.get("class") == cls:
            return div.text or ""
    return "".join(parent.itertext()).strip()


def _metadata_fields(meta: ET.Element) -> dict[str, Any]:
    def text(tag: str) -> str | None:
        el = meta.find(_il(tag))
        return None if el is None else el.text or ""

    data: dict[str, Any] = {"type": meta.get("type")}
    for name in ("indicator", "status", "author", "scoring", "rationale"):
        if (value := text(name)) is not None:
            data[name] = value
    data["grade_bands"] = [el.text or "" for el in meta.findall(_il("grade-band"))]
    data["enemies"] = [el.text or "" for el in meta.findall(_il("enemy"))]
    if (smap := text("score-map")) is not None:
        data["score_map"] = [int(s) if re.fullmatch(r"-?\d+", s) else s for s in smap.split()]
    levels = meta.findall(_il("rubric-level"))
    if levels:
        data["rubric"] = [{"score": _int(el.get("score")), "description": el.text or ""} for el in levels]
    if (rule := text("rule")) is not None:
        try:
            data["rule"] = json.loads(rule)
        except json.JSONDecodeError as exc:
            raise _Refused("il:rule", f"not valid JSON: {exc.msg}") from None
    params = meta.find(_il("params"))
    if params is not None:
        data["params"] = {
            "model": params.get("model"),
            "a": _float(params.get("a")),
            "b": [_float(b.text) for b in params.findall(_il("b"))],
            "c": _float(params.get("c")),
        }
    return data


def _int(value: str | None) -> int | str | None:
    return int(value) if value is not None and re.fullmatch(r"-?\d+", value) else value


def _float(value: str | None) -> float | str | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return value


def _item(pkg: _Package, res: ET.Element, href: str, known: set[str | None]) -> Draft:
    where = f"imsmanifest.xml, resource {res.get('identifier')!r}"
    data = _metadata_fields(_meta(res, "item", where))
    root = pkg.xml(href)
    if root.tag != _q("qti-assessment-item"):
        raise _Refused(href, f"<{_local(root)}> where a qti-assessment-item (QTI 3.0 namespace) was expected")
    data["code"] = root.get("identifier")
    ref = root.find(_q("qti-assessment-stimulus-ref"))
    if ref is not None:
        if ref.get("identifier") not in known:
            raise _Refused(
                f"{href}, qti-assessment-stimulus-ref", f"stimulus {ref.get('identifier')!r} is not in the package"
            )
        data["stimulus"] = ref.get("identifier")
    body = root.find(_q("qti-item-body"))
    if body is None:
        raise _Refused(href, "no qti-item-body")
    data["stem"] = _markdown(body, "infolit-stem")
    correct = _correct_responses(root)
    type_ = data.get("type")
    if type_ not in _INTERACTIONS:
        raise _Refused(f"{where}, il:item", f"unknown InfoLit type {type_!r}")
    interactions = _interactions(body, href, type_)
    try:
        _READERS[type_](data, interactions, correct, _Ctx(pkg, href, body))
    except (KeyError, ValueError, IndexError, StopIteration, TypeError, AttributeError) as exc:
        raise _Refused(href, f"the {type_} interaction is incomplete or malformed ({exc})") from None
    _check_scoring(root, data, href)
    return Draft({k: v for k, v in data.items() if v is not None}, Origin(path=href))


def _interactions(body: ET.Element, href: str, type_: str) -> list[ET.Element]:
    found = [el for el in body.iter() if _local(el).endswith("-interaction")]
    for el in found:
        if _local(el) not in set(_INTERACTIONS.values()):
            raise _Refused(f"{href}, <{_local(el)}>", "an interaction InfoLit has no item type for")
    expected = _INTERACTIONS[type_]
    wrong = [el for el in found if _local(el) != expected]
    if wrong or not found:
        seen = ", ".join(sorted({_local(el) for el in found})) or "none"
        raise _Refused(href, f"a {type_} item has one {expected}; this one has: {seen}")
    if len(found) > 1 and type_ not in _SEVERAL:
        raise _Refused(
            href,
            f"{len(found)} interactions in one item: InfoLit reads several only as a partial_credit item "
            "(choice interactions, one per part) or an inline_choice cloze",
        )
    return found


def _correct_responses(root: ET.Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for decl in root.findall(_q("qti-response-declaration")):
        values = decl.findall(f"{_q('qti-correct-response')}/{_q('qti-value')}")
        out[decl.get("identifier", "")] = [v.text or "" for v in values]
    return out


def _options(el: ET.Element, tag: str = "qti-simple-choice") -> list[dict[str, str]]:
    return [{"key": c.get("identifier", ""), "text": c.text or ""} for c in el.findall(_q(tag))]


def _strip_prefix(value: str, prefix: str) -> str:
    if not value.startswith(prefix):
        raise ValueError(f"identifier {value!r} does not start with {prefix!r}")
    return value[len(prefix) :]


@dataclass(frozen=True)
class _Ctx:
    """What a type's reader may need besides its interactions: the package, the file, the item body."""

    pkg: _Package
    href: str
    body: ET.Element


_Reader = Callable[[dict[str, Any], list[ET.Element], dict[str, list[str]], _Ctx], None]


def _read_choice(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    data["key"] = correct.get("RESPONSE", [])
    if data["type"] != "true_false":
        data["options"] = _options(els[0])


def _read_parts(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    parts = []
    for el in els:
        prompt = el.find(_q("qti-prompt"))
        key = correct.get(el.get("response-identifier", ""), [""])
        parts.append({"prompt": "" if prompt is None else prompt.text or "", "options": _options(el), "key": key[0]})
    data["parts"] = parts


def _read_ordering(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    data["options"] = _options(els[0])
    data["key"] = correct.get("RESPONSE", [])


def _read_matching(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    sets = els[0].findall(_q("qti-simple-match-set"))
    if len(sets) != 2:
        raise ValueError(f"{len(sets)} qti-simple-match-set, expected 2")
    data["options"] = _options(sets[0], "qti-simple-associable-choice")
    targets = _options(sets[1], "qti-simple-associable-choice")
    data["interaction"] = {"targets": [{"key": _strip_prefix(t["key"], "T"), "text": t["text"]} for t in targets]}
    pairs = [v.split() for v in correct.get("RESPONSE", [])]
    data["key"] = [f"{p}={_strip_prefix(t, 'T')}" for p, t in pairs]


def _read_inline(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    div = next((d for d in ctx.body.iter(_q("div")) if d.get("class") == "infolit-cloze"), None)
    if div is None:
        raise ValueError("no div of class infolit-cloze around the gaps")
    text, gaps, key = div.text or "", [], []
    for el in div:
        if el.tag != _q("qti-inline-choice-interaction"):
            raise ValueError(f"<{_local(el)}> inside the cloze text")
        gap = _strip_prefix(_strip_prefix(el.get("response-identifier", ""), "RESPONSE_"), "G")
        text += "{{" + gap + "}}" + (el.tail or "")
        gaps.append({"key": gap, "options": _options(el, "qti-inline-choice")})
        key.append(f"{gap}={correct[el.get('response-identifier', '')][0]}")
    data["interaction"] = {"text": text, "gaps": gaps}
    data["key"] = key


def _read_entry(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    el = els[0]
    p = next(p for p in ctx.body.iter(_q("p")) if el in list(p))
    kind = "numeric" if "infolit-numeric" in (p.get("class") or "").split() else "text"
    inter: dict[str, Any] = {"kind": kind, "label": "", "max_length": _int(el.get("expected-length"))}
    for span in p.findall(_q("span")):
        if span.get("class") == "infolit-label":
            inter["label"] = span.text or ""
        elif span.get("class") == "infolit-unit":
            inter["unit"] = span.text or ""
    data["interaction"] = {k: inter[k] for k in ("kind", "label", "unit", "max_length") if k in inter}
    data["key"] = None


def _read_hotspot(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    el = els[0]
    prompt = el.find(_q("qti-prompt"))
    inter: dict[str, Any] = {"scene": "" if prompt is None else _markdown(prompt, "infolit-scene")}
    img = el.find(_q("img"))
    if img is not None:
        inter["image"] = _image(img, ctx.pkg, ctx.href)
    regions = []
    for choice in el.findall(_q("qti-hotspot-choice")):
        region: dict[str, Any] = {"key": choice.get("identifier", ""), "label": choice.get("hotspot-label", "")}
        if choice.get("shape") == "rect":
            x1, y1, x2, y2 = (_number(c) for c in (choice.get("coords") or "").split(","))
            region["shape"] = {"x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1}
        elif choice.get("shape") != "default":
            raise ValueError(f"hotspot shape {choice.get('shape')!r}: InfoLit has rectangles only")
        regions.append(region)
    inter["regions"] = regions
    data["interaction"] = inter
    data["key"] = correct.get("RESPONSE", [])


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _image(img: ET.Element, pkg: _Package, href: str) -> dict[str, Any]:
    src = img.get("src", "")
    where = f"{href}, img"
    if src not in pkg.names:
        raise _Refused(where, f"external media missing: {src!r} is not in the package")
    name = Path(src).name
    shipped = MEDIA_DIR / name
    if not shipped.is_file() or shipped.read_bytes() != pkg.read(src):
        raise _Refused(
            where,
            f"InfoLit shows only images shipped under web/static/items/: copy {name} there (a file of that name "
            "there must hold the same bytes)",
        )
    return {
        "src": img.get("data-infolit-src") or f"/static/items/{name}",
        "width": _number(img.get("width", "")),
        "height": _number(img.get("height", "")),
    }


def _read_custom(data: dict[str, Any], els: list[ET.Element], correct: dict[str, list[str]], ctx: _Ctx) -> None:
    payload = els[0].find(f"{_q('qti-interaction-markup')}/{_il('interaction')}")
    if payload is None or payload.get("type") != data["type"]:
        raise ValueError(f"no <il:interaction type={data['type']!r}> in qti-interaction-markup")
    data["interaction"] = json.loads(payload.text or "")


_READERS: dict[str, _Reader] = {
    "single_choice": _read_choice,
    "multiple_response": _read_choice,
    "true_false": _read_choice,
    "partial_credit": _read_parts,
    "ordering": _read_ordering,
    "matching": _read_matching,
    "inline_choice": _read_inline,
    "entry": _read_entry,
    "hotspot": _read_hotspot,
    "search_sim": _read_custom,
    "inbox_sim": _read_custom,
}


def _canonical(elements: list[ET.Element]) -> list[str]:
    return [ET.canonicalize(ET.tostring(el, encoding="unicode"), strip_text=True) for el in elements]


def _check_scoring(root: ET.Element, data: dict[str, Any], href: str) -> None:
    """Refuse declarations or response processing other than the ones InfoLit's scoring rule writes."""
    try:
        expected = ET.Element(_q("qti-assessment-item"))
        declarations(expected, data)
        expected.append(response_processing(data))
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return  # the draft itself is wrong: validation reports it
    tags = {_q("qti-response-declaration"), _q("qti-outcome-declaration"), _q("qti-response-processing")}
    got = [el for el in root if el.tag in tags]
    if _canonical(got) != _canonical(list(expected)):
        rp = root.find(_q("qti-response-processing"))
        shown = "none" if rp is None else rp.get("template") or "custom rules"
        raise _Refused(
            f"{href}, qti-response-processing",
            f"response processing ({shown}) or declarations InfoLit cannot map to the scoring of a "
            f"{data['type']} item (scoring {data.get('scoring') or 'default'}, score_map "
            f"{data.get('score_map') or 'none'}); docs/qti.md lists the forms it reads",
        )
