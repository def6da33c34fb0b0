"""``infolit sample``: draw a national sample from a school frame, weight it after testing, report on it.

``infolit sample draw FRAME --design DESIGN.toml --out SAMPLE.csv`` checks the frame and the
design completely (every problem listed, nothing written where there is one), draws the schools
and writes the sample list (:data:`assess.sampling.select.SAMPLE_COLUMNS`); with
``--assessment CODE`` the draw is also stored for that assessment. ``infolit sample weights
ASSESSMENT`` computes and stores the weights and jackknife zones once the sampled schools have
been tested; ``infolit sample report ASSESSMENT`` prints the participation rates, the weights'
distribution and the design effect of the mean.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

__all__ = ["sample_group"]


@click.group("sample")
def sample_group() -> None:
    """The national sample design: draw schools from a frame, weight the tested sample, report on it."""


def _echo_problems(source: str, problems: list[str], more: int) -> None:
    for line in problems:
        click.echo(f"{source}: {line}", err=True)
    if more:
        click.echo(f"{source}: ...and {more:,} more", err=True)


def _fail(source: str, problems: list[str], more: int, what: str) -> click.ClickException:
    _echo_problems(source, problems, more)
    n = len(problems) + more
    return click.ClickException(f"{n:,} problem{'s' if n != 1 else ''} in {what}; nothing was written")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@sample_group.command("draw")
@click.argument("frame", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--design", "design_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The design file (TOML).",
)  # fmt: skip
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Sample list to write (CSV)."
)
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), help="Random seed (default: the design's, else 0).")
@click.option("--assessment", metavar="CODE", help="Also store the draw for this assessment (for the weights).")
@click.option("--replace", is_flag=True, help="Replace the assessment's earlier draw (and its weights).")
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def draw_command(
    frame: Path, design_file: Path, out: Path, seed: int | None, assessment: str | None, replace: bool, force: bool
) -> None:
    """Draw the schools of DESIGN from FRAME (.csv or .xlsx) and write the sample list to --out.

    Systematic PPS by enrolment within the explicit strata, certainty schools taken out, two
    replacements per school (its neighbours in the sort order). The list gives each school's
    inclusion probability, base weight and within-school instructions. A frame or design with
    problems is refused with every problem listed, and nothing is written.
    """
    from assess.exceptions import NotFound
    from assess.sampling.design import read_design
    from assess.sampling.exceptions import DesignError, FrameError, SamplingError
    from assess.sampling.frame import read_frame
    from assess.sampling.select import SAMPLE_COLUMNS, draw_sample, sample_rows
    from itembank.tabular import csv_bytes

    if out.exists() and not force:
        raise click.UsageError(f"{out} exists; choose another name (or --force to overwrite it)")
    if out.suffix.lower() != ".csv":
        raise click.UsageError(f"{out}: the sample list is a .csv file")
    problems: list[tuple[str, list[str], int]] = []
    school_frame = design = None
    try:
        school_frame = read_frame(frame)
    except FrameError as exc:
        problems.append((str(frame), [str(p) for p in exc.problems], exc.more))
    try:
        design = read_design(design_file)
    except DesignError as exc:
        problems.append((str(design_file), [str(p) for p in exc.problems], exc.more))
    if problems:
        for source, lines, more in problems:
            _echo_problems(source, lines, more)
        total = sum(len(p[1]) + p[2] for p in problems)
        raise click.ClickException(f"{total:,} problem{'s' if total != 1 else ''}; nothing was written")
    assert school_frame is not None and design is not None
    try:
        sample = draw_sample(school_frame, design, seed=seed)
    except DesignError as exc:
        raise _fail(str(design_file), [str(p) for p in exc.problems], exc.more, f"{design_file} for {frame}") from None
    data = csv_bytes([SAMPLE_COLUMNS, *sample_rows(sample)])
    stored = ""
    if assessment is not None:
        from assess.sampling.store import store_draw
        from itembank.db import session_scope

        try:
            with session_scope() as session:
                draw = store_draw(session=session, sample=sample, assessment_code=assessment, replace=replace)
                _write_atomically(out, data)  # inside the transaction: a failed write stores nothing
                stored = f"; stored as draw {draw.id} of assessment {assessment}"
        except (NotFound, SamplingError) as exc:
            raise click.ClickException(f"{exc}; nothing was written") from None
    else:
        _write_atomically(out, data)
    n_sampled = int(sample.sampled.sum())
    click.echo(
        f"drew {n_sampled:,} schools in {len(sample.allocation)} strata from {school_frame.n_schools:,} "
        f"({int(sample.certainty.sum())} with certainty), {sample.n - n_sampled:,} replacements; seed {sample.seed}"
    )
    take = design.within.take * len(design.grades)
    if take:
        click.echo(f"  expected students: about {n_sampled * take:,} ({design.within.instructions()})")
    click.echo(f"wrote {out}{stored}")


@sample_group.command("weights")
@click.argument("assessment")
def weights_command(assessment: str) -> None:
    """Compute and store the weights and jackknife zones of ASSESSMENT's tested sample.

    Base weights, school non-response within strata (replacements as the design says),
    within-school and student non-response, trimming with the totals kept; JK2 zones from the sort
    order. Earlier weights of the draw are replaced.
    """
    import numpy as np

    from assess.exceptions import NotFound
    from assess.sampling.exceptions import SamplingError
    from assess.sampling.store import weigh_assessment
    from itembank.db import session_scope

    try:
        with session_scope() as session:
            result = weigh_assessment(session=session, assessment_code=assessment)
    except (NotFound, SamplingError) as exc:
        raise click.ClickException(str(exc)) from None
    w = result.weights
    orig = result.schools.role == 0
    final = w.final[w.final > 0]
    click.echo(f"weighted assessment {assessment} (draw {result.draw.id}, {result.draw.name})")
    click.echo(
        f"  schools: {int(orig.sum()):,} sampled, {int((orig & w.participated).sum()):,} took part, "
        f"{int((w.used & ~orig).sum()):,} replacements used"
    )
    click.echo(f"  students: {result.students.n:,} sampled, {int(result.students.assessed.sum()):,} assessed")
    click.echo(
        f"  weights: sum {final.sum():,.0f}, median {np.median(final):.2f}, max {final.max():.2f}; "
        f"{result.zones.n_zones} jackknife zones"
    )


@sample_group.command("report")
@click.argument("assessment")
def report_command(assessment: str) -> None:
    """Participation rates per stratum, the weights' distribution and the design effect of the mean."""
    from sqlmodel import select

    from assess.models import Assessment
    from assess.sampling.participation import participation_rates
    from assess.sampling.store import load_weighted
    from assess.sampling.summary import summarize_sample
    from itembank.db import session_scope

    with session_scope() as session:
        row = session.exec(select(Assessment).where(Assessment.code == assessment)).first()
        if row is None:
            raise click.ClickException(f"没有代码为 {assessment} 的测评")
        sample = load_weighted(session=session, assessment_id=int(row.id or 0))
    if sample is None:
        raise click.ClickException(f"测评 {assessment} 还没有抽样权重：先运行 infolit sample weights {assessment}")
    rates = participation_rates(sample.schools, sample.students, sample.weights, sample.design)
    d = sample.design
    click.echo(f"sample of {assessment}: {d.name} (thresholds: schools {d.school_threshold:.0%}, students "
               f"{d.student_threshold:.0%})")  # fmt: skip
    click.echo(
        f"{'stratum':<24} {'schools':>8} {'took':>5} {'+repl':>6} {'rate':>6} {'w.rate':>7} {'w.after':>8} "
        f"{'students':>9} {'rate':>6} {'w.rate':>7} {'overall':>8}"
    )
    for r in rates:
        flag = ("  学校应答率低" if r.school_flag else "") + ("  学生应答率低" if r.student_flag else "")
        click.echo(
            f"{r.group:<24} {r.schools_sampled:>8,} {r.schools_participating:>5,} {r.schools_after_replacement:>6,} "
            f"{r.school_rate:>6.1%} {r.school_rate_weighted:>7.1%} {r.school_rate_after_weighted:>8.1%} "
            f"{r.students_sampled:>9,} {r.student_rate:>6.1%} {r.student_rate_weighted:>7.1%} "
            f"{r.overall_rate_weighted:>8.1%}{flag}"
        )
    s = summarize_sample(sample)
    click.echo(
        f"weights of {s.n_assessed:,} assessed students: sum {s.sum_weights:,.0f}; min {s.min_weight:.2f}, "
        f"5% {s.p05_weight:.2f}, median {s.median_weight:.2f}, 95% {s.p95_weight:.2f}, max {s.max_weight:.2f}; "
        f"{s.trimmed:,} trimmed; weighting effect 1+CV² = {s.weighting_effect:.3f}"
    )
    click.echo(
        f"mean scale score {s.mean:.1f}: JK2 SE {s.se_jk2:.2f} ({s.n_zones} zones), SRS SE {s.se_srs:.2f}, "
        f"design effect {s.design_effect:.2f}"
    )
