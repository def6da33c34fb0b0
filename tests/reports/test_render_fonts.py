"""The report fonts: static Noto Sans SC instances built once into a cache; clear errors when they cannot be."""

from __future__ import annotations

from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from reports import fonts
from reports.exceptions import FontUnavailable


def test_the_instances_are_static_regular_and_bold_and_built_once() -> None:
    first = fonts.font_files()
    messages: list[str] = []
    again = fonts.font_files(progress=messages.append)
    assert again == first and messages == []  # found in the cache: nothing built, nothing said
    for path, weight in ((first.regular, 400), (first.bold, 700)):
        font = TTFont(str(path), lazy=True)
        try:
            assert "fvar" not in font and "glyf" in font  # static TrueType: what reportlab embeds
            assert font["OS/2"].usWeightClass == weight
            assert ord("信") in font.getBestCmap() and ord("▲") in font.getBestCmap()
        finally:
            font.close()
    assert fonts.register_fonts() == first


def test_the_cache_folder_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INFOLIT_FONT_DIR", str(tmp_path / "mine"))
    assert fonts.font_dir() == tmp_path / "mine"
    monkeypatch.delenv("INFOLIT_FONT_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fonts.font_dir() == tmp_path / "xdg" / "infolit" / "fonts"


def test_a_missing_font_package_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "_PACKAGE", "no_such_font_package")
    with pytest.raises(FontUnavailable, match="justmytype-intl-cjk"):
        fonts.font_files()


def test_a_cache_folder_that_cannot_be_written_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INFOLIT_FONT_DIR", str(blocker / "fonts"))
    with pytest.raises(FontUnavailable, match="INFOLIT_FONT_DIR"):
        fonts.font_files()
    assert blocker.read_text() == "not a folder"


def test_two_builders_at_once_build_each_weight_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import threading
    import time

    built: list[float] = []

    def slow_instance(_source: Path, weight: float, target: Path) -> None:  # stands in for the 15 s build
        built.append(weight)
        time.sleep(0.2)
        target.write_bytes(b"font")

    monkeypatch.setenv("INFOLIT_FONT_DIR", str(tmp_path))
    monkeypatch.setattr(fonts, "_instance", slow_instance)
    results: list[fonts.FontFiles] = []
    threads = [threading.Thread(target=lambda: results.append(fonts.font_files())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(built) == [400.0, 700.0]  # the second caller waited on the lock, then found both files
    assert len(results) == 2 and results[0] == results[1] and results[0].regular.read_bytes() == b"font"
