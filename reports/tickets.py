"""Printable test tickets (准考证): a PDF of cut-out login cards, and the same list as CSV.

Each card carries what a student needs to log in and nothing that names it: the school, grade
and class (so a teacher can hand the cards out), the student code, the ticket (准考证号), the PIN
when it has just been issued, the login address, and short instructions in Chinese. Ten cards fit
on an A4 page (two columns, five rows) with dashed cut lines; by default each class starts on a
new page, so a class's cards come off the printer together.

Chinese text uses reportlab's built-in CID font ``STSong-Light`` (no font file is needed; PDF
readers supply the glyphs); tickets, PINs and addresses are set in Courier and Helvetica, so
``0`` and ``O`` cannot be confused.

The PINs are stored nowhere else: whoever holds this PDF (or the CSV) can log in as the students,
so it goes to the school and nowhere else. :func:`write_private` creates such files readable by
their owner only (mode 0600), whatever the umask. The CSV goes through
:func:`itembank.tabular.csv_bytes`, so a school or class named ``=HYPERLINK(...)`` is text to Excel.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from itertools import groupby
from pathlib import Path

from reportlab.lib.colors import Color
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

from assess.registration import IssuedTicket
from itembank.tabular import csv_bytes

__all__ = [
    "CARDS_PER_PAGE",
    "CJK_FONT",
    "TICKET_CSV_COLUMNS",
    "render_tickets",
    "tickets_csv",
    "write_private",
    "write_tickets",
]

CJK_FONT = "STSong-Light"
"""reportlab's built-in simplified-Chinese CID font."""
_COLUMNS, _ROWS = 2, 5
CARDS_PER_PAGE = _COLUMNS * _ROWS
"""Cards on one A4 page."""
TICKET_CSV_COLUMNS: tuple[str, ...] = (
    "school_code", "school", "grade", "class", "student_code", "ticket", "pin", "login_url",
)  # fmt: skip
"""Columns of :func:`tickets_csv`."""

_MARGIN = 12 * mm
_HEADER = 8 * mm
_PAD = 4 * mm
_GREY = Color(0.45, 0.45, 0.45)
_LIGHT = Color(0.7, 0.7, 0.7)
_INSTRUCTIONS = (
    "1. 用浏览器打开上面的登录网址，输入准考证号和PIN码登录。",
    "2. 断网或换电脑后，重新登录即可从中断处继续作答。",
    "3. 本卡仅限本人使用，请勿把PIN码告诉他人。",
)
_NO_PIN = "（未保存，见注册时发放的名单）"


def _register_font() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _fit(text: str, font: str, size: float, width: float) -> str:
    """``text`` cut (with an ellipsis) to ``width`` points in ``font`` at ``size``."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _shrink(text: str, font: str, size: float, width: float, smallest: float = 6.0) -> float:
    """The largest size up to ``size`` (not below ``smallest``) at which ``text`` fits ``width``."""
    while size > smallest and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 0.5
    return size


def _class_label(ticket: IssuedTicket) -> str:
    return f"{ticket.grade}年级 {ticket.class_name}"


def _order(tickets: Sequence[IssuedTicket]) -> list[IssuedTicket]:
    return sorted(tickets, key=lambda t: (t.school_code, t.grade, t.class_name, t.student_code))


def _pages(tickets: Sequence[IssuedTicket], page_per_class: bool) -> list[list[IssuedTicket]]:
    ordered = _order(tickets)
    groups = (
        [list(g) for _, g in groupby(ordered, key=lambda t: (t.school_code, t.grade, t.class_name))]
        if page_per_class
        else [ordered]
    )
    return [group[i : i + CARDS_PER_PAGE] for group in groups for i in range(0, len(group), CARDS_PER_PAGE)]


def _draw_card(c: Canvas, t: IssuedTicket, x: float, y: float, w: float, h: float, *, title: str, url: str) -> None:
    """One card with its lower-left corner at (x, y)."""
    left, inner = x + _PAD, w - 2 * _PAD
    top = y + h - _PAD
    c.setFillColorRGB(0, 0, 0)
    c.setFont(CJK_FONT, 11)
    c.drawString(left, top - 11, _fit(title, CJK_FONT, 11, inner - 60))
    c.setFont(CJK_FONT, 8)
    c.setFillColor(_GREY)
    c.drawRightString(x + w - _PAD, top - 10, "登录卡")
    c.setFillColorRGB(0, 0, 0)
    line = top - 26
    c.setFont(CJK_FONT, 9)
    code = f"（{t.school_code}）"
    room = inner - pdfmetrics.stringWidth("学校：" + code, CJK_FONT, 9)
    c.drawString(left, line, f"学校：{_fit(t.school_name, CJK_FONT, 9, room)}{code}")
    line -= 13
    c.drawString(left, line, f"班级：{_fit(_class_label(t), CJK_FONT, 9, inner / 2 - 30)}")
    c.drawString(left + inner / 2, line, "学号：")
    c.setFont("Helvetica", 9)
    c.drawString(left + inner / 2 + 27, line, _fit(t.student_code, "Helvetica", 9, inner / 2 - 27))
    for label, value in (("准考证号：", t.ticket), ("PIN 码：", t.pin)):
        line -= 19
        c.setFont(CJK_FONT, 10)
        c.drawString(left, line, label)
        if value is None:
            c.setFont(CJK_FONT, 8)
            c.setFillColor(_GREY)
            c.drawString(left + 52, line, "__________" + _NO_PIN)
            c.setFillColorRGB(0, 0, 0)
        else:
            c.setFont("Courier-Bold", 15)
            c.drawString(left + 52, line - 1, value)
    line -= 16
    c.setFont(CJK_FONT, 8)
    c.drawString(left, line, "登录网址：")
    size = _shrink(url, "Helvetica", 8.5, inner - 42)
    c.setFont("Helvetica", size)
    c.drawString(left + 42, line, _fit(url, "Helvetica", size, inner - 42))
    c.setFont(CJK_FONT, 7)
    c.setFillColor(_GREY)
    for k, text in enumerate(_INSTRUCTIONS):
        c.drawString(left, line - 12 - 9 * k, _fit(text, CJK_FONT, 7, inner))
    c.setFillColorRGB(0, 0, 0)


def _draw_cut_lines(c: Canvas, x0: float, y0: float, w: float, h: float) -> None:
    c.saveState()
    c.setStrokeColor(_LIGHT)
    c.setLineWidth(0.5)
    c.setDash(4, 3)
    for k in range(_COLUMNS + 1):
        c.line(x0 + k * w, y0, x0 + k * w, y0 + _ROWS * h)
    for k in range(_ROWS + 1):
        c.line(x0, y0 + k * h, x0 + _COLUMNS * w, y0 + k * h)
    c.restoreState()


def render_tickets(
    tickets: Sequence[IssuedTicket],
    *,
    login_url: str,
    title: str = "学生信息素养测评",
    page_per_class: bool = True,
    invariant: bool = False,
) -> bytes:
    """The ticket cards as PDF bytes, ten per A4 page, ordered by school, grade, class and code.

    Parameters
    ----------
    tickets
        The cards; a ticket without ``pin`` gets a blank PIN line (PINs are not stored).
    login_url
        The address students open (printed on every card).
    title
        The heading of each card (the assessment's name, say).
    page_per_class
        Start each class on a new page.
    invariant
        Leave out the creation time and random document id (byte-identical output for tests).
    """
    _register_font()
    page_w, page_h = A4
    card_w = (page_w - 2 * _MARGIN) / _COLUMNS
    card_h = (page_h - 2 * _MARGIN - _HEADER) / _ROWS
    x0, y0 = _MARGIN, _MARGIN
    buffer = io.BytesIO()
    c = Canvas(buffer, pagesize=A4, invariant=invariant, pageCompression=1)
    c.setTitle(f"{title} 准考证")
    c.setAuthor("InfoLit")
    c.setSubject("test tickets and PINs: keep safe")
    pages = _pages(tickets, page_per_class)
    for number, cards in enumerate(pages, start=1):
        first = cards[0]
        c.setFont(CJK_FONT, 8)
        c.setFillColor(_GREY)
        heading = f"{title}  {first.school_name}（{first.school_code}）"
        if page_per_class:
            heading += f"  {_class_label(first)}"
        c.drawString(_MARGIN, page_h - _MARGIN - 10, _fit(heading, CJK_FONT, 8, page_w - 2 * _MARGIN - 120))
        c.drawRightString(page_w - _MARGIN, page_h - _MARGIN - 10, f"沿虚线剪开  第 {number}/{len(pages)} 页")
        _draw_cut_lines(c, x0, y0, card_w, card_h)
        for k, t in enumerate(cards):
            col, row = k % _COLUMNS, k // _COLUMNS
            x = x0 + col * card_w
            y = y0 + (_ROWS - 1 - row) * card_h
            _draw_card(c, t, x, y, card_w, card_h, title=title, url=login_url)
        c.showPage()
    if not pages:
        c.setFont(CJK_FONT, 12)
        c.drawString(_MARGIN, page_h - _MARGIN - 20, "没有需要打印的准考证。")
        c.showPage()
    c.save()
    return buffer.getvalue()


def tickets_csv(tickets: Sequence[IssuedTicket], *, login_url: str) -> bytes:
    """The same cards as CSV (UTF-8 with a byte-order mark for Excel, CRLF line ends), same order.

    Cells that a spreadsheet could take for a formula are neutralised (:func:`itembank.tabular.csv_bytes`).
    """
    rows = (
        [t.school_code, t.school_name, t.grade, t.class_name, t.student_code, t.ticket, t.pin or "", login_url]
        for t in _order(tickets)
    )
    return csv_bytes([TICKET_CSV_COLUMNS, *rows])


def write_private(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` readable and writable by its owner only (0600), atomically.

    The bytes go to a new ``.part`` file created with mode 0600 (``O_EXCL``: never through a file
    someone else prepared) and then replace ``path``, so a reader never sees half a file and the
    PINs are never, even for a moment, in a file others can read.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o600)  # the mode given to open() is reduced by the umask, never widened
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_tickets(
    path: str | Path,
    tickets: Sequence[IssuedTicket],
    *,
    login_url: str,
    title: str = "学生信息素养测评",
    page_per_class: bool = True,
) -> Path:
    """Write the cards to ``path`` (mode 0600): PDF, or CSV when the name ends in ``.csv``; return the path."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        data = tickets_csv(tickets, login_url=login_url)
    else:
        data = render_tickets(tickets, login_url=login_url, title=title, page_per_class=page_per_class)
    return write_private(path, data)
