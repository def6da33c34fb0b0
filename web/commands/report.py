"""``infolit report``: plausible values and school and regional profiles of an assessment.

``report pvs`` draws (or redraws) an assessment's plausible values; ``report all`` writes every
school and region profile as PDF and XLSX into a folder (``--workers N`` processes);
``report build`` writes every profile (or those of some levels, in any formats) into a folder or
one ZIP; ``report school`` and ``report region`` write one profile to a file (the format from
``--format`` or the file's suffix). Options are checked before anything is computed, and a file
is written whole or not at all: an unknown code, an assessment without scores or a group below its
threshold is one line on stderr and a non-zero exit, with nothing written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from itembank.db import get_engine, session_scope

if TYPE_CHECKING:  # types only: --help loads no aggregation code
    from reports.aggregate import ProfileSet
    from reports.bulk import BulkResult
    from reports.profile import Profile

__all__ = ["report_group"]

_LEVELS = ("school", "county", "city", "province", "region", "national")
_DESIGNS = ("auto", "jkn", "census")


def _formats(value: str) -> list[str]:
    from reports.files import FORMATS, available_formats

    asked = [f.strip().lower() for f in value.split(",") if f.strip()]
    unknown = [f for f in asked if f not in FORMATS]
    if unknown or not asked:
        raise click.BadParameter(f"unknown format {', '.join(unknown) or '(none)'}; choose from {', '.join(FORMATS)}")
    have = available_formats()
    missing = [f for f in asked if f not in have]
    if missing:
        raise click.UsageError(
            f"format {', '.join(missing)} cannot be written by this build yet (available: {', '.join(have)})"
        )
    return asked


def _levels(value: str | None) -> list[str] | None:
    if not value:
        return None
    asked = [v.strip() for v in value.split(",") if v.strip()]
    bad = [v for v in asked if v not in _LEVELS]
    if bad:
        raise click.BadParameter(f"unknown level {', '.join(bad)}; choose from {', '.join(_LEVELS)}")
    return asked


def _assessment_code(code: str | None) -> str:
    """The code given, or the newest operational assessment's."""
    if code:
        return code
    from sqlmodel import col, select

    from assess.models import Assessment

    with session_scope(get_engine()) as session:
        row = session.exec(
            select(Assessment.code).where(Assessment.purpose == "operational").order_by(col(Assessment.id).desc())
        ).first()
    if row is None:
        raise click.ClickException("没有正式测评；请用 --assessment 指定测评代码")
    return row


def _build(
    assessment: str, levels: list[str] | None, design: str, hide_names: bool, previous: str | None, link: float,
    *, store: bool = False,
) -> ProfileSet:  # fmt: skip
    """The profiles asked for; ``store``: every profile, kept in the database for the consoles."""
    from reports.aggregate import build_assessment_profiles
    from reports.exceptions import ReportError
    from reports.store import build_and_store

    try:
        with session_scope(get_engine()) as session:
            if store:
                built = build_and_store(
                    session=session, assessment_code=assessment, design=design,  # type: ignore[arg-type]
                    previous_code=previous, linking_error=link, progress=_say,
                )[0]  # fmt: skip
                from assess.accounts import audit
                from web.commands.operator import operator

                # the stored build is what the consoles serve: publishing, in the log with the build
                audit.record(
                    session, operator(), "report.publish", target=f"assessment:{assessment}",
                    detail={"design": design, "previous": previous},
                )  # fmt: skip
                return built
            return build_assessment_profiles(
                session=session, assessment_code=assessment, levels=levels, design=design,  # type: ignore[arg-type]
                show_school_names=not hide_names, previous_code=previous, linking_error=link, progress=_say,
            )  # fmt: skip
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("report")
def report_group() -> None:
    """School and regional profiles (PDF, XLSX, CSV, HTML) and the plausible values behind them."""


@report_group.command("pvs")
@click.argument("assessment")
@click.option("--pvs", "n_pvs", type=click.IntRange(min=2, max=50), default=10, show_default=True)
@click.option("--seed", type=int, default=20250601, show_default=True, help="Random seed of the draws.")
@click.option("--redraw", is_flag=True, help="Draw again even if stored values are current.")
def pvs_command(assessment: str, n_pvs: int, seed: int, redraw: bool) -> None:
    """Draw the plausible values of ASSESSMENT from the latent regression and store them."""
    from reports.exceptions import ReportError
    from reports.plausible import ensure_plausible_values
    from reports.tree import find_assessment, load_tree

    t0 = time.perf_counter()
    try:
        with session_scope(get_engine()) as session:
            tree = load_tree(session=session, assessment=find_assessment(session=session, code=assessment))
            run = ensure_plausible_values(
                session=session, tree=tree, n_pvs=n_pvs, seed=seed, redraw=redraw,
                progress=lambda m: click.echo(f"  {m}", err=True),
            )  # fmt: skip
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None
    dims = "，".join(f"{k} {v['reliability']:.2f}" for k, v in sorted(run.dimensions.items()))
    click.echo(
        f"测评 {assessment}：{run.n_students:,} 名学生，每人 {run.n_pvs} 个合理值（运行 {run.id}，"
        f"{time.perf_counter() - t0:.1f} 秒）；总分信度 {run.model.get('reliability', float('nan')):.2f}，各维度 {dims}"
    )


def _say(msg: str) -> None:
    click.echo(f"  {msg}", err=True)


def _write_all(profiles: Sequence[Profile], out: Path, formats: list[str], workers: int = 1) -> BulkResult:
    from reports.bulk import write_profile_files
    from reports.exceptions import ReportError

    with tqdm(total=len(profiles), desc="写出报告", unit="份", leave=False, disable=len(profiles) < 20) as bar:
        try:
            return write_profile_files(
                profiles, out, formats, workers=workers, progress=lambda _k: bar.update(1), font_progress=_say
            )
        except ReportError as exc:
            raise click.ClickException(str(exc)) from None


def _within(profiles: Sequence[Profile], code: str | None) -> list[Profile]:
    """The profiles of the group ``code`` and of everything below it (all without a code)."""
    if code is None:
        return list(profiles)
    chosen = [p for p in profiles if p.identity.code == code or any(a[1] == code for a in p.identity.ancestors)]
    if not chosen:
        raise click.ClickException(f"没有代码为 {code} 的学校或区域")
    return chosen


@report_group.command("build")
@click.argument("assessment")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder to write.")
@click.option(
    "--zip", "zip_path", type=click.Path(dir_okay=False, path_type=Path), default=None, help="One ZIP instead."
)
@click.option("--level", "level", default=None, help="Levels to write, comma-separated (default: all).")
@click.option("--within", default=None, help="Only this school or region and what lies below it.")
@click.option("--format", "fmt", default="csv", show_default=True, help="Formats, comma-separated: csv,pdf,xlsx,html.")
@click.option("--design", type=click.Choice(_DESIGNS), default="auto", show_default=True, help="Replicate design.")
@click.option("--hide-school-names", is_flag=True, help="Leave school names out of regional profiles.")
@click.option("--previous", default=None, help="Code of the previous round, for the change since then.")
@click.option("--linking-error", type=click.FloatRange(min=0.0), default=0.0, show_default=True)
@click.option("--workers", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Processes rendering in parallel (with --out).")  # fmt: skip
def build_command(
    assessment: str, out: Path | None, zip_path: Path | None, level: str | None, within: str | None, fmt: str,
    design: str, hide_school_names: bool, previous: str | None, linking_error: float, workers: int,
) -> None:  # fmt: skip
    """Build every profile of ASSESSMENT (each school and region), keep them for the consoles, write them.

    Every profile built (no --level, --within or --hide-school-names) is kept in the database,
    where the bureau and school consoles read it; with --out DIR they are also written into
    OUT/LEVEL/CODE.FORMAT (or with --zip FILE into one ZIP). OUT/profiles.csv holds every number
    of every profile as one long table (one row per group and statistic), OUT/columns.csv says
    what each column means. ``--within 320101 --level school --zip FILE`` gives every school
    profile of a county as one ZIP.
    """
    from reports.files import write_profiles_zip

    if out is not None and zip_path is not None:
        raise click.UsageError("give one of --out DIR or --zip FILE, not both")
    formats, levels = _formats(fmt), _levels(level)
    whole = levels is None and within is None and not hide_school_names
    if out is None and zip_path is None and not whole:
        raise click.UsageError("give --out DIR or --zip FILE (only a build of every profile is kept for the consoles)")
    t0 = time.perf_counter()
    result = _build(assessment, levels, design, hide_school_names, previous, linking_error, store=whole)
    t_build = time.perf_counter() - t0
    profiles = _within(list(result), within)
    withheld = sum(1 for p in profiles if not p.reported)
    kept = "，已保存供控制台查看" if whole else ""
    if zip_path is None and out is None:
        click.echo(
            f"测评 {assessment}：{len(profiles)} 份报告（其中 {withheld} 份因人数不足隐去数字）{kept}；"
            f"共 {t_build:.1f} 秒"
        )
        return
    if zip_path is not None:
        _fonts_ready(formats)
        with tqdm(total=len(profiles), desc="写出报告", unit="份", leave=False) as bar:
            n = write_profiles_zip(profiles, zip_path, formats, progress=lambda _k: bar.update(1))
        where = zip_path
    else:
        assert out is not None
        n = _write_all(profiles, out, formats, workers).files
        _write_tables(profiles, out)
        where = out
    click.echo(
        f"测评 {assessment}：{len(profiles)} 份报告（其中 {withheld} 份因人数不足隐去数字）{kept}，"
        f"{n} 个文件写入 {where}；统计 {t_build:.1f} 秒，共 {time.perf_counter() - t0:.1f} 秒"
    )


def _fonts_ready(formats: Sequence[str]) -> None:
    """Build the Chinese fonts now (once per machine, with a message) if a format needs them."""
    if not any(f in ("pdf", "html") for f in formats):
        return
    from reports.exceptions import ReportError
    from reports.fonts import font_files

    try:
        font_files(progress=_say)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from None


def _write_tables(profiles: Sequence[Profile], out: Path) -> None:
    """OUT/profiles.csv (every number of every profile) and OUT/columns.csv (what each column means)."""
    from reports.files import columns_csv, profiles_csv, write_profile

    write_profile(profiles[0], out / "profiles.csv", lambda _p: profiles_csv(profiles))
    write_profile(profiles[0], out / "columns.csv", lambda _p: columns_csv())


@report_group.command("all")
@click.option("--assessment", default=None, help="Assessment code (default: the newest operational one).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write.")
@click.option("--format", "fmt", default="pdf,xlsx", show_default=True, help="Formats, comma-separated.")
@click.option("--workers", type=click.IntRange(min=1, max=64), default=1, show_default=True,
              help="Processes rendering in parallel.")  # fmt: skip
@click.option("--design", type=click.Choice(_DESIGNS), default="auto", show_default=True, help="Replicate design.")
@click.option("--hide-school-names", is_flag=True, help="Leave school names out of regional profiles.")
def all_command(
    assessment: str | None, out: Path, fmt: str, workers: int, design: str, hide_school_names: bool
) -> None:
    """Every school and region profile of the assessment, PDF and XLSX, into OUT/LEVEL/CODE.FORMAT.

    OUT/profiles.csv and OUT/columns.csv hold every number as one long table and its dictionary.
    A profile below its threshold is written too: its PDF says why it carries no numbers. The
    profiles are also kept in the database for the consoles (unless --hide-school-names).
    """
    formats = _formats(fmt)
    code = _assessment_code(assessment)
    t0 = time.perf_counter()
    result = _build(code, None, design, hide_school_names, None, 0.0, store=not hide_school_names)
    t_build = time.perf_counter() - t0
    profiles = list(result)
    done = _write_all(profiles, out, formats, workers)
    _write_tables(profiles, out)
    withheld = sum(1 for p in profiles if not p.reported)
    per_file = "，".join(
        f"{f} {1000 * done.render_seconds[f] / max(1, done.files_by_format[f]):.0f} 毫秒/份" for f in formats
    )
    click.echo(
        f"测评 {code}：{len(profiles)} 份报告（其中 {withheld} 份因人数不足隐去数字），{done.files} 个文件"
        f"（{done.bytes / 2**20:.1f} MiB）写入 {out}；统计 {t_build:.1f} 秒，写出 {done.seconds:.1f} 秒"
        f"（{done.workers} 个进程；{per_file}）"
    )


def _one(kind: str, code: str, assessment: str | None, fmt: str | None, out: Path, design: str, hide: bool) -> None:
    from reports.files import available_formats, write_profile

    if fmt is None:  # from the file's suffix: x.pdf is a PDF
        fmt = out.suffix.lstrip(".").lower() or "csv"
    formats = _formats(fmt)
    if len(formats) != 1:
        raise click.BadParameter(f"one format for one file, got {', '.join(formats)}")
    code_a = _assessment_code(assessment)
    levels = ["school"] if kind == "school" else list(_LEVELS[1:])
    result = _build(code_a, levels, design, hide, None, 0.0)
    p = _school(result, code) if kind == "school" else _region(result, code)
    if not p.reported:
        raise click.ClickException(f"{p.identity.level_name} {p.identity.name}（{code}）{p.suppressed}，不生成报告")
    _fonts_ready(formats)
    size = write_profile(p, out, available_formats()[formats[0]])
    click.echo(f"{p.identity.level_name} {p.identity.name}（{code}）：{out}，{size:,} 字节")


def _school(result: ProfileSet, code: str) -> Profile:
    if ("school", code) not in result.profiles:
        raise click.ClickException(f"测评 {result.assessment.code} 没有代码为 {code} 的参测学校")
    return result.profiles[("school", code)]


def _region(result: ProfileSet, code: str) -> Profile:
    for level in _LEVELS[1:]:
        if (level, code) in result.profiles:
            return result.profiles[(level, code)]
    raise click.ClickException(
        f"测评 {result.assessment.code} 没有代码为 {code} 的区域"
        "（区县、地市、省的代码，或 east、central、west、national）"
    )


@report_group.command("school")
@click.argument("code")
@click.option("--assessment", default=None, help="Assessment code (default: the newest operational one).")
@click.option("--format", "fmt", default=None, help="pdf, xlsx, csv or html (default: from the suffix of OUT).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--design", type=click.Choice(_DESIGNS), default="auto", show_default=True)
def school_command(code: str, assessment: str | None, fmt: str | None, out: Path, design: str) -> None:
    """Write the profile of the school CODE to OUT."""
    _one("school", code, assessment, fmt, out, design, False)


@report_group.command("region")
@click.argument("code")
@click.option("--assessment", default=None, help="Assessment code (default: the newest operational one).")
@click.option("--format", "fmt", default=None, help="pdf, xlsx, csv or html (default: from the suffix of OUT).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--design", type=click.Choice(_DESIGNS), default="auto", show_default=True)
@click.option("--hide-school-names", is_flag=True, help="Leave school names out.")
def region_command(
    code: str, assessment: str | None, fmt: str | None, out: Path, design: str, hide_school_names: bool
) -> None:
    """Write the profile of the region CODE (county, city, province, east/central/west or national) to OUT."""
    _one("region", code, assessment, fmt, out, design, hide_school_names)
