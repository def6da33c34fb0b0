from __future__ import annotations

from dataclasses import fields
from html.parser import HTMLParser

from itembank.render import render_inline, render_item, render_markdown

SAFE_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "blockquote", "hr", "a", "img", "s",
    "table", "thead", "tbody", "tr", "th", "td", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def assert_safe(html: str) -> None:
    """Only the tags Markdown makes, no event handlers, no script URLs."""
    found = tags_of(html)
    assert set(found.tags) <= SAFE_TAGS, found.tags
    for name, value in found.attrs:
        assert not name.startswith("on"), name
        assert "javascript:" not in (value or "").lower()


def test_raw_html_is_escaped_not_rendered() -> None:
    html = render_markdown('点这里 <script>alert("x")</script> <img src=x onerror=alert(1)> <b>粗</b>')
    assert "&lt;script&gt;" in html and "<script" not in html and "<b>" not in html and "<img" not in html
    assert_safe(html)


def test_tables_and_emphasis_render() -> None:
    html = render_markdown("**发件人**：张三\n\n| 网站 | 可信度 |\n|---|---|\n| gov.cn | 高 |")
    assert "<strong>发件人</strong>" in html
    assert "<table>" in html and "<th>网站</th>" in html and "<td>gov.cn</td>" in html
    assert_safe(html)


def test_single_newlines_are_line_breaks() -> None:
    assert "<br />" in render_markdown("发件人：a\n主题：b")


def test_unsafe_links_are_not_links() -> None:
    html = render_markdown("[点我](javascript:alert(1)) [官网](https://www.gov.cn)")
    assert 'href="https://www.gov.cn"' in html and 'href="javascript' not in html
    assert_safe(html)


def test_inline_has_no_paragraph() -> None:
    assert render_inline("选 *A* <i>x</i>") == "选 <em>A</em> &lt;i&gt;x&lt;/i&gt;"


def test_render_item_shows_no_key_and_fixed_true_false_labels() -> None:
    item = render_item(
        type="partial_credit",
        stem="判断 <u>下列</u> 说法",
        parts=[{"prompt": "第一问", "options": [{"key": "A", "text": "是"}, {"key": "B", "text": "否"}], "key": "B"}],
        stimulus_title="**聊天**记录",
        stimulus_body="小明：在吗？\n小红：在。",
    )
    assert item.parts[0].options == (("A", "是"), ("B", "否"))
    assert "&lt;u&gt;" in item.stem_html and item.stimulus_title_html == "<strong>聊天</strong>记录"
    assert not {f.name for f in fields(item)} & {"key", "rubric", "rationale", "score_map"}
    tf = render_item(type="true_false", stem="对吗？")
    assert tf.options == (("T", "正确"), ("F", "错误")) and tf.stimulus_html == ""
