"""The HTML fragment of a profile: well formed, accessible, safe under the consoles' CSP, the same numbers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

from reports.files import available_formats
from reports.formatting import format_ci, format_score, format_share
from reports.profile import Profile
from reports.render_html import profile_html, render_profile_html
from tests.reports.small import small_profiles

SVG = "{http://www.w3.org/2000/svg}"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def _tree(html: str) -> ET.Element:
    """The fragment parsed as XML: it is written well formed, so this must succeed."""
    return ET.fromstring(html)


def test_the_fragment_is_one_chinese_section_without_script_or_inline_style(county: Profile) -> None:
    html = profile_html(county)
    root = _tree(html)
    assert root.tag == "section" and root.get("lang") == "zh-CN"
    tags = _tags(html)
    assert all(tag not in ("script", "style", "link", "iframe") for tag, _ in tags)
    assert all("style" not in attrs and not any(a.startswith("on") for a in attrs) for _, attrs in tags)
    ids = [attrs["id"] for _, attrs in tags if attrs.get("id")]
    assert len(ids) == len(set(ids))
    for _, attrs in tags:  # every aria reference points at an element of the fragment
        for ref in (attrs.get("aria-labelledby") or "").split():
            assert ref in ids


def test_tables_have_captions_and_header_scopes(county: Profile) -> None:
    root = _tree(profile_html(county))
    tables = list(root.iter("table"))
    assert len(tables) >= 8
    for table in tables:
        assert table.find("caption") is not None and (table.find("caption").text or "").strip()  # type: ignore[union-attr]
        heads = table.findall("./thead/tr/th")
        assert heads and all(th.get("scope") == "col" for th in heads)
        for tr in table.findall("./tbody/tr"):
            first = tr[0]
            assert first.tag == "th" and first.get("scope") == "row"
            width = sum(int(c.get("colspan", "1")) for c in tr)
            assert width == len(heads)


def test_charts_are_labelled_images(county: Profile) -> None:
    root = _tree(profile_html(county))
    svgs = list(root.iter(f"{SVG}svg"))
    assert len(svgs) == 6  # levels, comparison, caterpillar, percentiles, dimensions, gaps
    for svg in svgs:
        assert svg.get("role") == "img"
        title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
        assert title is not None and desc is not None and title.text and desc.text
        assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"


def test_the_numbers_are_those_of_the_profile(school: Profile) -> None:
    html = profile_html(school)
    assert school.identity.name in html
    assert format_score(school.mean.estimate) in html and format_ci(school.mean) in html
    assert format_share(school.pass_rate.estimate) in html
    for sentence in (*school.headline, *school.strengths, *school.weaknesses):
        assert sentence in html
    gender = next(g for g in school.gaps if g.kind == "gender")
    assert f"隐去：{gender.difference.suppressed}" in html


def test_a_withheld_school_says_why_and_shows_no_numbers() -> None:
    p = small_profiles().get("school", "51010207")
    html = profile_html(p)
    assert "结果不予报告" in html and "学生不足10人（8人）" in html
    assert "<svg" not in html and "平均量表分" not in html


def test_school_names_are_left_out_when_the_viewer_may_not_see_them(county: Profile) -> None:
    assert county.spread is not None
    names = [s.name for s in county.spread.schools if s.name]
    assert all(n in profile_html(county) for n in names)
    hidden = profile_html(county.without_school_names())
    assert not any(n in hidden for n in names)


def test_text_is_escaped(school: Profile) -> None:
    evil = replace(school, identity=replace(school.identity, name='<script>alert("x")</script>&'))
    html = profile_html(evil)
    assert "<script>" not in html and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;" in html
    _tree(html)


def test_html_is_a_registered_format(school: Profile) -> None:
    assert available_formats()["html"] is render_profile_html
    assert render_profile_html(school).decode("utf-8") == profile_html(school)
    assert re.search(r'id="profile-school-32010101"', profile_html(school))
