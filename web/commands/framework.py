"""``infolit framework``: show and load the indicator framework (评价指标体系)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from itembank import services
from itembank.db import session_scope
from itembank.exceptions import ItemBankError, ValidationReport
from itembank.framework import DEFAULT_FRAMEWORK, FrameworkSpec, read_framework
from web.commands.items import report_problems

__all__ = ["framework_group", "framework_tree"]


@click.group("framework")
def framework_group() -> None:
    """The indicator framework: dimensions, sub-indicators, literacies, grade bands."""


def framework_tree(spec: FrameworkSpec, *, counts: Counter[str] | None = None, status: str = "") -> list[str]:
    """The framework as lines of a tree, Chinese names with English glosses (and item counts if given)."""
    lines = [spec.name, f"{spec.name_en}  [{spec.code} {spec.version}{', ' + status if status else ''}]", ""]
    lines.append("核心素养 core literacies:")
    lines += [f"  {x.code}  {x.name}  {x.name_en}" for x in spec.literacies]
    lines.append("学段 grade bands:")
    lines += [f"  {b.code:<6} {b.name}  (grades {', '.join(map(str, b.grades))})" for b in spec.grade_bands]
    lines.append("")
    lit = {x.code: x.name for x in spec.literacies}
    for dim in spec.dimensions:
        n_dim = sum((counts or Counter())[i.code] for i in dim.indicators)
        lines.append(f"{dim.code} {dim.name} — {dim.name_en}" + (f"  ({n_dim} items)" if counts is not None else ""))
        for k, ind in enumerate(dim.indicators):
            branch = "└─" if k == len(dim.indicators) - 1 else "├─"
            tags = " ".join(f"{t} {lit[t]}" for t in ind.literacies)
            count = f"  ({counts[ind.code]} items)" if counts is not None else ""
            lines.append(f"  {branch} {ind.code} {ind.name} — {ind.name_en}  [{tags}]{count}")
    return lines


@framework_group.command("show")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Show this framework file (validated) instead of the one in the database.",
)
def show_command(path: Path | None) -> None:
    """Print the framework as a tree: dimensions, sub-indicators, their literacies and item counts."""
    try:
        if path is not None:
            spec = read_framework(path)
            click.echo("\n".join(framework_tree(spec, status=f"file {path}")))
            return
        with session_scope() as session:
            stored = services.active_framework(session=session)
            counts = Counter(i.indicator for i in services.list_items(session=session))
    except ValidationReport as report:
        raise report_problems(report, prefix_source=True) from None
    if stored is None:
        spec = read_framework(DEFAULT_FRAMEWORK)
        click.echo("\n".join(framework_tree(spec, status="built-in default, not loaded yet")))
        return
    click.echo("\n".join(framework_tree(stored, counts=counts, status="active")))


@framework_group.command("load")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load_command(file: Path | None) -> None:
    """Validate FILE (TOML or JSON; default: the built-in framework) and make it the active framework.

    A different framework can replace the active one as long as it has every sub-indicator and
    grade band the bank's items use.
    """
    try:
        with session_scope() as session:
            result = services.load_framework(session=session, path=file or DEFAULT_FRAMEWORK)
    except ValidationReport as report:
        raise report_problems(report, prefix_source=True) from None
    except ItemBankError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(str(result))
