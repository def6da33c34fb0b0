"""``infolit cat-study``: how well the adaptive engine measures, against a linear form and catsim."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from assess.simulate.bankfiles import build_engine_bank, default_bank_dir, load_bank_files
from assess.simulate.population import draw_population
from assess.simulate.study import run_cat_study, study_blueprint
from reports.render_plot import plot_study
from reports.render_text import format_study

__all__ = ["cat_study_command"]


class _StageBars:
    """One tqdm bar per stage of the study, fed by its ``progress(stage, done, total)`` calls."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.stage: str | None = None
        self.bar: Any = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=stage, unit="ex" if total > 100 else "it", leave=True)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _grades(text: str) -> tuple[int, ...]:
    try:
        grades = tuple(int(g) for g in text.split(",") if g.strip())
    except ValueError:
        raise click.BadParameter(f"expected grades like 4,8; got {text!r}", param_hint="--grades") from None
    if not grades:
        raise click.BadParameter("give at least one grade", param_hint="--grades")
    return grades


@click.command("cat-study")
@click.option("--students", default=5000, show_default=True, type=click.IntRange(min=2), help="Simulated examinees.")
@click.option("--length", default=30, show_default=True, type=click.IntRange(min=1), help="Maximum test length.")
@click.option(
    "--min-length", type=click.IntRange(min=1), default=None, help="Minimum test length  [default: --length minus 6]."
)
@click.option("--se", "se_target", default=0.3, show_default=True, type=click.FloatRange(min=0), help="SE stop.")
@click.option(
    "--randomesque",
    "randomesque_k",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Randomesque exposure control: choose among the top K items.",
)
@click.option(
    "--sympson-hetter/--no-sympson-hetter",
    default=False,
    show_default=True,
    help="Sympson-Hetter exposure control, calibrated before the run.",
)
@click.option(
    "--target-exposure",
    default=0.25,
    show_default=True,
    type=click.FloatRange(0, 1, min_open=True),
    help="Sympson-Hetter target maximum exposure rate.",
)
@click.option(
    "--grades",
    "grades_text",
    default="4,8",
    show_default=True,
    help="Grades of the simulated students (equal shares; start ability by grade).",
)
@click.option(
    "--catsim-students",
    default=1000,
    show_default=True,
    type=click.IntRange(min=0),
    help="Run catsim on the first N students (catsim is slow: ~10-100 ms each).",
)
@click.option("--no-catsim", is_flag=True, help="Skip the catsim comparison.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed.")
@click.option(
    "--bank-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Directory of item-bank JSON files (d*.json)  [default: the shipped itembank/bank].",
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write bias/RMSE by band and the exposure histogram to this PNG (needs matplotlib).",
)
@click.option("--quiet", is_flag=True, help="No progress bars.")
def cat_study_command(
    students: int,
    length: int,
    min_length: int | None,
    se_target: float,
    randomesque_k: int,
    sympson_hetter: bool,
    target_exposure: float,
    grades_text: str,
    catsim_students: int,
    no_catsim: bool,
    seed: int,
    bank_dir: Path | None,
    plot_file: Path | None,
    quiet: bool,
) -> None:
    """Simulate students through the CAT engine and measure it against a linear form and catsim.

    Prints conditional bias and RMSE by ability band, test length, reliability, content-constraint
    attainment and item exposure for each method, all on the same simulated students.
    """
    min_len = max(1, length - 6) if min_length is None else min_length
    if min_len > length:
        raise click.BadParameter(f"--min-length {min_len} exceeds --length {length}", param_hint="--min-length")
    grades = _grades(grades_text)
    directory = bank_dir or default_bank_dir()
    files = sorted(directory.glob("d*.json"))
    if not files:
        raise click.ClickException(f"no item-bank files (d*.json) in {directory}")
    try:
        bank = build_engine_bank(load_bank_files(files))
        rng = np.random.default_rng(seed)
        population, grade_of = draw_population(students, rng, grades=grades)
        blueprint = study_blueprint(
            bank.areas,
            length=length,
            min_length=min_len,
            se_target=se_target,
            randomesque_k=randomesque_k,
            sympson_hetter=sympson_hetter,
            grades=grades,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"bank: {len(files)} files in {directory}, {bank.n_items} items ({int(bank.pilot.sum())} pilot)")
    bars = _StageBars(enabled=not quiet)
    try:
        study = run_cat_study(
            bank,
            blueprint,
            population,
            rng,
            grades=grade_of,
            exposure_target=target_exposure if sympson_hetter else None,
            catsim_examinees=0 if no_catsim else catsim_students,
            chunk_size=max(500, students // 20),
            progress=bars,
        )
    finally:
        bars.close()
    click.echo(format_study(study))
    if plot_file is not None:
        click.echo(plot_study(study, plot_file))
