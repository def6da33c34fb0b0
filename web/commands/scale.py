"""``infolit scale`` (the reporting scale's versions) and ``infolit standard-setting`` (bookmark studies)."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["scale_group", "standard_setting_group"]


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(str(exc))


@click.group("scale")
def scale_group() -> None:
    """The reporting scale's versions: show the one in force, list them, adopt or put one back."""


def _print_version(v: Any, bands: Any) -> None:
    state = "active" if v.active else "kept"
    click.echo(f"version {v.number}\t{v.name}\t{state}\t{v.source or '-'}")
    base = "calibration" if v.baseline_mean is None else f"mean {v.baseline_mean:g}, SD {v.baseline_sd:g}"
    click.echo(f"baseline: {base}; 达标 from {v.pass_name}; levels: {' < '.join(v.levels)}")
    for band in bands:
        cuts = v.band_cuts(band)
        where = "set by this version" if band.code in v.cuts else "framework"
        click.echo(f"  {band.code}\t" + "\t".join(f"{c:.1f}" for c in cuts.cuts) + f"\t({where})")


@scale_group.command("show")
@click.argument("number", type=int, required=False)
def show_scale_command(number: int | None) -> None:
    """Show the version in force (or version NUMBER): baseline, levels, the cuts of every band."""
    from assess.exceptions import AssessError
    from assess.standards.versions import active_scale, framework_bands, scale_version
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        try:
            v = active_scale(session=session) if number is None else scale_version(session=session, number=number)
        except AssessError as exc:
            raise _fail(exc) from None
        _print_version(v, framework_bands(session=session))


@scale_group.command("versions")
def versions_command() -> None:
    """Every version, newest first (the built-in default alone until one is adopted)."""
    from assess.standards.versions import list_versions
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        for v in list_versions(session=session):
            when = v.adopted_at.isoformat(timespec="minutes") if v.adopted_at else "-"
            click.echo(f"{v.number}\t{'active' if v.active else 'kept'}\t{when}\t{v.name}\t{v.source or '-'}")


@scale_group.command("adopt")
@click.option("--study", help="Adopt a round of this bookmark study (its name) as a new version.")
@click.option("--round", "round_", type=int, help="The study's round.")
@click.option("--version", "number", type=int, help="Put this earlier version back in force instead.")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="Adopt the version in force edited by this TOML or JSON settings file.")  # fmt: skip
@click.option("--name", default="", help="Name of the new version.")
def adopt_command(study: str | None, round_: int | None, number: int | None, path: str | None, name: str) -> None:
    """Adopt a study round's cuts (``--study S --round R``) or a settings file (``--file F``); or reactivate a version.

    A settings file may set ``name``, ``note``, ``baseline_mean`` and ``baseline_sd``, ``levels``
    (four names), ``pass_level`` (the lowest 达标 level), ``descriptions`` (a table level = text)
    and ``cuts`` (a table band = [three cuts]); what it leaves out is kept from the version in
    force. Every adoption is recorded in the audit log; no version is changed or removed.
    """
    from assess.exceptions import AssessError
    from assess.standards.study import adopt_round
    from assess.standards.versions import activate_version, active_scale, adopt_version, edited_settings
    from itembank.db import get_engine, session_scope
    from web.commands.operator import operator

    if sum(x is not None for x in (study, number, path)) != 1 or (study is not None and round_ is None):
        raise click.UsageError("give --study and --round, or --file, or --version")
    try:
        with session_scope(get_engine()) as session:
            if study is not None and round_ is not None:
                v = adopt_round(session=session, actor=operator(), study=study, round=round_, name=name)
            elif path is not None:
                values = _settings_file(path)
                if name:
                    values["name"] = name
                edited = edited_settings(active_scale(session=session), values)
                v = adopt_version(session=session, actor=operator(), settings=edited)
            else:
                v = activate_version(session=session, actor=operator(), number=int(number or 0))
            click.echo(f"scale version {v.number} is in force ({v.source or v.name})")
    except AssessError as exc:
        raise _fail(exc) from None


def _settings_file(path: str) -> dict[str, Any]:
    """A settings file (TOML, or JSON by its suffix) as a table."""
    import json
    import tomllib
    from pathlib import Path

    raw = Path(path).read_bytes()
    try:
        found = json.loads(raw) if path.lower().endswith(".json") else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: 不是有效的设置文件（{exc}）") from None
    if not isinstance(found, dict):
        raise click.ClickException(f"{path}: 设置文件须为一张表")
    return found


@click.group("standard-setting")
def standard_setting_group() -> None:
    """Bookmark standard setting: a band's ordered item booklet, panellists' bookmarks in rounds, cuts, impact."""


@standard_setting_group.command("create")
@click.argument("name")
@click.option("--band", required=True, help="Grade band of the study (e.g. 7-9).")
@click.option("--assessment", required=True, help="Assessment whose sittings give the impact (its code).")
@click.option("--calibration", default="", help="Calibration of the booklet (default: the assessment's).")
def create_command(name: str, band: str, assessment: str, calibration: str) -> None:
    """Create study NAME with its ordered item booklet (every score point, by RP67 location)."""
    from assess.exceptions import AssessError
    from assess.standards.study import create_study
    from itembank.db import get_engine, session_scope
    from web.commands.operator import operator

    try:
        with session_scope(get_engine()) as session:
            view = create_study(session=session, actor=operator(), name=name, band=band, assessment=assessment,
                                calibration=calibration)  # fmt: skip
            click.echo(f"study {view.name}: band {view.band}, {len(view.booklet)} pages ({view.calibration})")
    except AssessError as exc:
        raise _fail(exc) from None


@standard_setting_group.command("booklet")
@click.argument("study")
def booklet_command(study: str) -> None:
    """The ordered item booklet of STUDY: page, item, score point, RP67 theta, sub-indicator."""
    from assess.exceptions import AssessError
    from assess.standards.study import study_view
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        try:
            view = study_view(session=session, study=study)
        except AssessError as exc:
            raise _fail(exc) from None
    for p in view.booklet:
        click.echo(f"{p['page']}\t{p['code']}\t{p['score']}\t{float(str(p['theta'])):.3f}\t{p['indicator']}")


@standard_setting_group.command("bookmark")
@click.argument("study")
@click.option("--round", "round_", type=int, required=True, help="Round 1, 2 or 3.")
@click.option("--panellist", required=True, help="The panellist's name.")
@click.argument("pages", nargs=3, type=int)
def bookmark_command(study: str, round_: int, panellist: str, pages: tuple[int, int, int]) -> None:
    """Record a panellist's three bookmarks (PAGES, one per level boundary, ascending) for a round."""
    from assess.exceptions import AssessError
    from assess.standards.study import place_bookmarks
    from itembank.db import get_engine, session_scope
    from web.commands.operator import operator

    try:
        with session_scope(get_engine()) as session:
            place_bookmarks(session=session, actor=operator(), study=study, round=round_, panellist=panellist,
                            pages=list(pages))  # fmt: skip
    except AssessError as exc:
        raise _fail(exc) from None
    click.echo(f"round {round_}: {panellist} bookmarks on pages {', '.join(map(str, pages))}")


@standard_setting_group.command("round")
@click.argument("study")
@click.argument("round_", metavar="ROUND", type=int)
def round_command(study: str, round_: int) -> None:
    """A round's cuts: per boundary the median bookmark, the cut and the panel's SD and IQR; then the impact."""
    from assess.exceptions import AssessError
    from assess.standards.study import round_result
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        try:
            r = round_result(session=session, study=study, round=round_)
        except AssessError as exc:
            raise _fail(exc) from None
    click.echo("boundary\tmedian page\ttheta\tscale\tSD\tIQR")
    for b in r.boundaries:
        click.echo(f"{b.label}\t{b.panel.median_page:g}\t{b.panel.theta:.3f}\t{b.scale_score:.1f}\t"
                   f"{b.scale_sd:.1f}\t{b.scale_iqr:.1f}")  # fmt: skip
    if r.impact is None:
        click.echo("impact: no assessed sitting of the band")
        return
    shares = ", ".join(f"{lv} {s:.1%}" for lv, s in zip(r.impact.levels, r.impact.shares, strict=True))
    click.echo(f"impact ({r.impact.n} students{', weighted' if r.impact.weighted else ''}): {shares}")


@standard_setting_group.command("list")
def list_command() -> None:
    """Every study, newest first."""
    from assess.standards.study import list_studies
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        for v in list_studies(session=session):
            adopted = f"adopted as version {v.adopted_version}" if v.adopted_version else "-"
            rounds = ",".join(map(str, v.rounds)) or "-"
            click.echo(f"{v.name}\t{v.band}\t{v.assessment}\t{len(v.booklet)} pages\trounds {rounds}\t{adopted}")


@standard_setting_group.command("levels")
@click.argument("study")
@click.option("--round", "round_", type=int, help="Map the pages under this round's cuts (default: the cuts in force).")
def levels_command(study: str, round_: int | None) -> None:
    """The described levels of STUDY: each level's pages and sub-indicators, and its draft or saved text."""
    from assess.exceptions import AssessError
    from assess.standards.described import draft_levels
    from assess.standards.study import round_result, study_view
    from assess.standards.versions import active_scale
    from itembank.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        try:
            view = study_view(session=session, study=study)
            cuts = (
                active_scale(session=session).band_cuts(view.band)
                if round_ is None
                else round_result(session=session, study=view.id, round=round_).cuts
            )
            drafts = draft_levels(session=session, study=view.id, cuts=cuts)
        except AssessError as exc:
            raise _fail(exc) from None
    for d in drafts:
        pages = ", ".join(f"{p['code']}:{p['score']}" for p in d.pages) or "-"
        click.echo(f"{d.level}\t[{d.lower:.1f}, {d.upper:.1f})\tpages {pages}")
        click.echo(f"  {'saved' if d.text else 'draft'}: {d.text or d.draft}")


@standard_setting_group.command("describe")
@click.argument("study")
@click.argument("level")
@click.argument("text")
def describe_command(study: str, level: str, text: str) -> None:
    """Save TEXT as the description of LEVEL in STUDY (an empty TEXT clears it); kept with the study's other levels."""
    from assess.exceptions import AssessError
    from assess.standards.described import save_described
    from assess.standards.study import study_view
    from itembank.db import get_engine, session_scope
    from web.commands.operator import operator

    try:
        with session_scope(get_engine()) as session:
            texts = dict(study_view(session=session, study=study).described)
            texts[level] = text
            save_described(session=session, actor=operator(), study=study, texts=texts)
    except AssessError as exc:
        raise _fail(exc) from None
    click.echo(f"{level}: {'saved' if text.strip() else 'cleared'}")
