"""Profiles into files: the formats that can be written, and writing them without leaving half a file.

:data:`FORMATS` maps a format name to the function that renders a profile to bytes. The long
table (CSV) is always there: one row per statistic (:meth:`reports.profile.Profile.rows`), the
columns of :data:`CSV_COLUMNS`, cells neutralised against spreadsheet formulas
(:func:`itembank.tabular.csv_bytes`). The PDF, XLSX and HTML renderers register here when their
modules are present. :func:`write_profile` writes to a temporary file and renames it, so a file
either appears whole or not at all.
"""

from __future__ import annotations

import importlib
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from itembank.tabular import csv_bytes
from reports.profile import Profile, StatisticRow

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "available_formats",
    "columns_csv",
    "profile_csv",
    "profiles_csv",
    "row_cells",
    "write_profile",
    "write_profiles_zip",
]

Renderer = Callable[[Profile], bytes]

CSV_COLUMNS: tuple[tuple[str, str], ...] = (
    ("level", "层级：school 学校 / county 区县 / city 地市 / province 省 / region 区域 / national 全国"),
    ("code", "学校或区域代码"),
    ("name", "学校或区域名称"),
    (
        "statistic",
        "统计量代码（mean 平均分，p10…p90 百分位数，level:水平 占比，pass_rate 达标率，gap:… 差距，vs:… 比较）",
    ),
    ("label", "统计量的中文说明"),
    ("estimate", "估计值（量表分；比例为 0–1 的小数）；隐去时为空"),
    ("se", "标准误（合计）"),
    ("se_sampling", "标准误的抽样部分"),
    ("se_measurement", "标准误的测量部分（合理值之间）"),
    ("df", "自由度"),
    ("ci_low", "95% 置信区间下限"),
    ("ci_high", "95% 置信区间上限"),
    ("n_students", "学生数"),
    ("n_schools", "学校数"),
    ("significant", "差异是否显著（|差异| > 1.96 倍标准误）；非差异统计量为空"),
    ("suppressed", "隐去原因；为空表示报告该数字"),
)
"""Columns of the long table, with their meaning (the data dictionary)."""


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "" if not math.isfinite(value) else round(value, 6)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    return value


def row_cells(r: StatisticRow) -> list[object]:
    """One long-table row as its cells, in :data:`CSV_COLUMNS` order (the CSV and the XLSX hold these).

    Numbers are rounded to 6 decimals, a withheld number is ``""``, significance ``是`` / ``否``.
    """
    return [_cell(getattr(r, name)) for name, _ in CSV_COLUMNS]


def profiles_csv(profiles: Iterable[Profile]) -> bytes:
    """The long table of many profiles (header row first)."""
    rows: list[list[object]] = [[name for name, _ in CSV_COLUMNS]]
    for p in profiles:
        rows.extend(row_cells(r) for r in p.rows())
    return csv_bytes(rows)


def profile_csv(profile: Profile) -> bytes:
    """One profile's long table."""
    return profiles_csv([profile])


def _optional(module: str, attribute: str) -> Renderer | None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, attribute, None)
    return fn if callable(fn) else None


def available_formats() -> dict[str, Renderer]:
    """Every format this build can write, by name (``csv`` always; ``pdf``, ``xlsx``, ``html`` when present)."""
    out: dict[str, Renderer] = {"csv": profile_csv}
    for name, module, attribute in (
        ("pdf", "reports.render_pdf", "render_profile_pdf"),
        ("xlsx", "reports.render_xlsx", "render_profile_xlsx"),
        ("html", "reports.render_html", "render_profile_html"),
    ):
        fn = _optional(module, attribute)
        if fn is not None:
            out[name] = fn
    return out


FORMATS: tuple[str, ...] = ("csv", "pdf", "xlsx", "html")
"""Every format a profile may be asked for (see :func:`available_formats` for those present)."""


def write_profile(profile: Profile, path: Path, render: Renderer) -> int:
    """Render ``profile`` and write it to ``path`` whole (temporary file, then rename); returns the bytes written."""
    data = render(profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)


def columns_csv() -> bytes:
    """The data dictionary of the long table: one row per column."""
    return csv_bytes([("column", "meaning"), *CSV_COLUMNS])


def write_profiles_zip(
    profiles: Sequence[Profile],
    path: Path,
    formats: Sequence[str],
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Every profile in every format as one ZIP (``LEVEL/CODE.FORMAT``, ``profiles.csv``, ``columns.csv``).

    The archive is built under a temporary name and renamed when complete (a console's background
    job and the CLI call this); ``progress(k)`` is called after each profile. Returns the number
    of profile files in it.

    Raises
    ------
    KeyError
        A format this build cannot write (see :func:`available_formats`).
    """
    have = available_formats()
    renderers = [(fmt, have[fmt]) for fmt in formats]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    n = 0
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for k, p in enumerate(profiles, start=1):
                for fmt, render in renderers:
                    zf.writestr(f"{p.identity.level}/{p.identity.code}.{fmt}", render(p))
                    n += 1
                if progress is not None:
                    progress(k)
            zf.writestr("profiles.csv", profiles_csv(profiles))
            zf.writestr("columns.csv", columns_csv())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return n
