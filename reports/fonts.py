"""The Chinese fonts of the reports: Noto Sans SC Regular and Bold, embedded in every PDF as subsets.

Where they come from: the variable TrueType Noto Sans SC (SIL Open Font License) that the PyPI
package ``justmytype-intl-cjk`` carries. reportlab embeds TrueType (``glyf``) fonts as subsets,
but it cannot take a variable font's named instances (it would draw the default master, Thin)
nor CFF-flavoured OpenType such as Debian's ``fonts-noto-cjk``; its CID fonts (STSong-Light) are
not embedded at all. So static Regular (``wght`` 400) and Bold (700) instances are made once with
fontTools' ``varLib.instancer`` (about 15 s each on this machine) and kept in a cache folder:
``$INFOLIT_FONT_DIR``, else ``$XDG_CACHE_HOME/infolit/fonts``, else ``~/.cache/infolit/fonts``.
The layout tables reportlab does not read (GSUB, GPOS, GDEF, BASE, vertical metrics) are left out
of the instances, which halves the build. A file lock keeps two processes from building at once
(the second waits, then finds the files); each file is written under a temporary name and renamed,
so a killed build leaves no half font behind.

:func:`register_fonts` registers both with reportlab (once per process) under :data:`REGULAR` and
:data:`BOLD`; the PDFs and the charts use no other font.
"""

from __future__ import annotations

import fcntl
import importlib.resources
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from reports.exceptions import FontUnavailable

__all__ = ["BOLD", "REGULAR", "SVG_FONT_FAMILY", "FontFiles", "font_dir", "font_files", "register_fonts"]

REGULAR = "InfoLitSans"
"""reportlab name of the regular weight (Noto Sans SC 400)."""
BOLD = "InfoLitSans-Bold"
"""reportlab name of the bold weight (Noto Sans SC 700)."""
SVG_FONT_FAMILY = (
    "'Noto Sans SC', 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif"
)
"""The font family charts name in SVG (a browser uses the first it has)."""

_PACKAGE = "justmytype_intl_cjk"
_SOURCE = "fonts/ofl/notosanssc/NotoSansSC[wght].ttf"
_WEIGHTS = {"Regular": 400.0, "Bold": 700.0}
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "BASE", "vhea", "vmtx")
_BUILD = 1  # bump when the way instances are made changes: old cache files are then ignored


@dataclass(frozen=True)
class FontFiles:
    """The static instances on disk."""

    regular: Path
    bold: Path


def font_dir() -> Path:
    """The cache folder of the font instances (see the module docstring)."""
    explicit = os.environ.get("INFOLIT_FONT_DIR")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "infolit" / "fonts"


def _source() -> Path:
    try:
        path = Path(str(importlib.resources.files(_PACKAGE) / _SOURCE))
    except ModuleNotFoundError:
        raise FontUnavailable(
            f"中文字体缺失：需要 Python 包 justmytype-intl-cjk（pip install justmytype-intl-cjk），找不到 {_PACKAGE}"
        ) from None
    if not path.is_file():
        raise FontUnavailable(f"中文字体缺失：{path} 不存在（请重新安装 justmytype-intl-cjk）")
    return path


def _targets(folder: Path, source: Path) -> dict[str, Path]:
    tag = f"b{_BUILD}-{source.stat().st_size}"
    return {style: folder / f"NotoSansSC-{style}-{tag}.ttf" for style in _WEIGHTS}


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".build.lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _instance(source: Path, weight: float, target: Path) -> None:
    """One static instance of the variable font at ``weight``, written whole to ``target``."""
    from fontTools.ttLib import TTFont
    from fontTools.varLib import instancer

    font = TTFont(str(source))
    for tag in _UNUSED_TABLES:
        if tag in font:
            del font[tag]
    static = instancer.instantiateVariableFont(font, {"wght": weight}, updateFontNames=True, optimize=False)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        static.save(str(tmp))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def font_files(*, progress: Callable[[str], None] | None = None) -> FontFiles:
    """The Regular and Bold instances, built into :func:`font_dir` the first time (about 30 s).

    Raises
    ------
    FontUnavailable
        The source font's package is not installed, or the cache folder cannot be written.
    """
    source = _source()
    folder = font_dir()
    targets = _targets(folder, source)
    if not all(p.is_file() for p in targets.values()):
        try:
            with _locked(folder):
                for style, path in targets.items():
                    if not path.is_file():  # another process may have built it while we waited
                        if progress is not None:
                            progress(f"首次使用：生成中文字体 Noto Sans SC {style}（约 15 秒，只需一次）")
                        _instance(source, _WEIGHTS[style], path)
        except OSError as exc:
            raise FontUnavailable(
                f"无法在 {folder} 生成中文字体：{exc}（可用 INFOLIT_FONT_DIR 指定可写的文件夹）"
            ) from exc
    return FontFiles(regular=targets["Regular"], bold=targets["Bold"])


@cache
def register_fonts() -> FontFiles:
    """Register :data:`REGULAR` and :data:`BOLD` (and their family) with reportlab, once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    files = font_files()
    pdfmetrics.registerFont(TTFont(REGULAR, str(files.regular)))
    pdfmetrics.registerFont(TTFont(BOLD, str(files.bold)))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)
    return files
