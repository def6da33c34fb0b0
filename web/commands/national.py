"""``infolit simulate``: the national sample, end to end (``infolit demo`` runs it first: web.commands.demo)."""

from __future__ import annotations

import time
from typing import Any

import click
from tqdm import tqdm

from assess.simulate.pipeline import NationalRun, run_national_simulation
from itembank.db import get_engine, session_scope
from reports.regions import summarize_regions
from reports.render_text import format_region_table
from web import migrate
from web.commands.exposure import exposure_command  # registered with the CLI from here

__all__ = ["MIN_FIELD_TRIAL", "MIN_STUDENTS", "exposure_command", "simulate_command", "simulate_national"]

MIN_STUDENTS = 2_000
"""The smallest sample ``demo`` and ``simulate`` accept (``python bench/demo_minimum.py``).

The demo gives half the sample, at most 5,000, a field trial on rotated booklets of the 385-item
bank and calibrates from it. Measured over seeds: 300 students (a trial of 150) leave no item
with the 50 responses a calibration needs; 600 calibrate 57-77 items whose EM does not always
converge and no adaptive sitting reaches its minimum length; 1,000-1,500 converge but calibrate
as few as 136-170 items in some runs, so 40-70% of the adaptive sittings end short of the
blueprint's minimum and are not assessed; from 2,000 (a trial of 1,000) about 280 items are
calibrated and 94-100% of the sittings are assessed.
"""
MIN_FIELD_TRIAL = 1_000
"""The smallest field trial ``simulate --field-trial`` accepts (the demo's at :data:`MIN_STUDENTS`)."""

_STAGES = ["bank", "areas", "schools", "students", "field trial", "calibration", "adaptive", "weights"]


class _Stages:
    """A progress bar over the pipeline's stages, with a second bar for EM cycles."""

    def __init__(self, total: int) -> None:
        self.bar = tqdm(total=total, desc="模拟全国样本", unit="stage", leave=True, dynamic_ncols=True)
        self.em: Any = None

    def stage(self, name: str, count: int) -> None:
        if self.em is not None:
            self.em.close()
            self.em = None
        self.bar.set_postfix_str(f"{name}: {count:,}")
        self.bar.update(1)

    def cycle(self, cycle: int, change: float) -> None:
        if self.em is None:
            self.em = tqdm(desc="  EM calibration", unit="cycle", leave=False, dynamic_ncols=True)
        self.em.set_postfix_str(f"max change {change:.2e}")
        self.em.update(1)

    def close(self) -> None:
        if self.em is not None:
            self.em.close()
        self.bar.close()


def _print_run(run: NationalRun, elapsed: float, table: bool = True) -> None:
    click.echo("")
    click.echo(
        f"学生 {run.students:,} 人（试测 {run.field_trial_students:,}，自适应 {run.adaptive_students:,}），"
        f"作答记录 {run.responses:,} 条，用时 {elapsed:.0f} 秒"
    )
    click.echo(
        f"题目参数标定 {run.calibration}: EM {run.calibration_cycles} 轮，"
        f"{'已收敛' if run.calibration_converged else '未收敛'}，"
        f"难度对生成参数的误差：中位数 {run.median_abs_error_b:.3f}，RMSE {run.rmse_b:.3f}"
    )
    with session_scope(get_engine()) as session:
        regions = summarize_regions(session=session, assessment_id=run.adaptive_assessment_id)
    assessed = sum(r.students for r in regions)
    click.echo(
        f"自适应测评 {run.adaptive_students:,} 人，其中 {assessed:,} 人作答达到最少题数、计入统计"
        f"（其余作答太少，不给等级）"
    )
    if run.sampled_schools:
        click.echo(
            f"抽样：从模拟的全国学校抽样框中分层按规模成比例抽取 {run.sampled_schools:,} 所学校，"
            f"{run.schools_refused} 所拒绝、{run.replacements_used} 所由替补学校参加，缺考 {run.absent:,} 人；"
            f"{run.weighted_students:,} 人有抽样权重"
            f"（infolit sample report {run.adaptive_assessment} 查看应答率和设计效应）"
        )
    if table:
        click.echo("")
        click.echo(format_region_table(regions))
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in run.seconds.items())
    click.echo(f"\n各阶段用时: {stages}")


def _run(students: int, field_trial: int, seed: int, grade11: bool, table: bool = True) -> NationalRun:
    engine = get_engine()
    migrate.upgrade(engine)
    grades = (4, 8, 11) if grade11 else (4, 8)
    bar = _Stages(total=len(_STAGES) + len(grades) * 2 - 2)
    t0 = time.perf_counter()
    try:
        run = run_national_simulation(
            engine,
            students=students,
            field_trial=field_trial,
            seed=seed,
            grades=grades,
            stage=bar.stage,
            calibration_progress=bar.cycle,
        )
    finally:
        bar.close()
    _print_run(run, time.perf_counter() - t0, table)
    return run


def simulate_national(students: int, field_trial: int, seed: int, grade11: bool) -> NationalRun:
    """Migrate the configured database and run the national simulation into it, with progress bars.

    It prints what ``simulate`` prints but the regional table of scored sessions: the demo prints
    its summary from the stored profiles (plausible values, SEs) instead.
    """
    return _run(students, field_trial, seed, grade11, table=False)


@click.command("simulate")
@click.option(
    "--students", type=click.IntRange(min=MIN_STUDENTS), default=50_000, show_default=True, help="Sample size."
)
@click.option(
    "--field-trial",
    type=click.IntRange(min=MIN_FIELD_TRIAL),
    default=5_000,
    show_default=True,
    help="Students (whole schools) who take booklets for the calibration.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
@click.option("--grade11/--no-grade11", default=False, show_default=True, help="Also test grade 11.")
def simulate_command(students: int, field_trial: int, seed: int, grade11: bool) -> None:
    """Simulate the national sample: schools in the three regions, a field trial, then adaptive tests.

    Everything is written to the configured database (INFOLIT_DATABASE_URL) through the same code
    as live testing; the run ends with students and mean scale score per region.
    """
    _run(students, min(field_trial, students // 2), seed, grade11)
