"""Every character of the starter bank shows on a machine with only a CJK font (issue 12, defect 10).

The stimuli had 11 emoji (📎, 😂, ...), which Chromium drew as empty boxes on a Linux machine whose
only font is Noto Sans CJK (a school computer, the CI machine). Chat messages now write them the
way Chinese chat apps show them as text ([文件], [破涕为笑]).
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

BANK = Path(__file__).resolve().parents[2] / "itembank" / "bank"
CJK_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _characters() -> set[str]:
    found: set[str] = set()
    for path in sorted(BANK.glob("*.json")):
        for text in _strings(json.loads(path.read_text(encoding="utf-8"))):
            found.update(text)
    return found


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x27BF or cp in (0xFE0F, 0x200D)


def test_the_bank_has_no_emoji() -> None:
    emoji = sorted(ch for ch in _characters() if _is_emoji(ch))
    assert emoji == [], [f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}" for ch in emoji]


def test_every_character_is_in_the_cjk_font() -> None:
    """Checked against the font itself where fontTools and Noto Sans CJK are there (CI installs the font)."""
    ttlib = pytest.importorskip("fontTools.ttLib")
    if not CJK_FONT.exists():
        pytest.skip("Noto Sans CJK is not installed (apt-get install fonts-noto-cjk)")
    font = ttlib.TTCollection(str(CJK_FONT)).fonts[0]
    cmap = font.getBestCmap()
    missing = sorted(ch for ch in _characters() if ch not in "\n\r\t" and ord(ch) not in cmap)
    assert missing == [], [f"U+{ord(ch):04X} {unicodedata.name(ch, '?')}" for ch in missing]
