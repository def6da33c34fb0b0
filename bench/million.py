"""Benchmark: the national simulation of a million students in bounded memory, stage by stage.

    nice .venv/bin/python bench/million.py [--students 1000000] [--chunk 50000] [--database URL]
        [--plausible] [--tracemalloc] [--keep]
    nice .venv/bin/python bench/million.py --database URL --assessment CODE   # only the PVs of a kept run

Runs :func:`assess.simulate.pipeline.run_national_simulation` (the sampled country, the field
trial, its calibration, the adaptive sittings with their final scores, the weights) into a new
SQLite file (or the empty database at ``--database``), registering students and simulating,
scoring and writing the adaptive sittings ``--chunk`` students at a time. A progress bar follows
each chunked stage; after each stage it prints the stage's time, students per second, the rows
it wrote (students, sittings, responses) and the peak resident memory so far (``ru_maxrss``;
with ``--tracemalloc`` also the peak of Python's own allocations in the stage, which slows the
run). ``--plausible`` then draws the assessment's plausible values (not chunked: see
:mod:`reports.plausible`). The last line compares the peak with the aim of 4 GB.
"""

from __future__ import annotations

import sys
from pathlib import Path as _Path

sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import argparse
import resource
import shutil
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from tqdm import tqdm

from assess.models import Response, Student, TestSession
from assess.sampling.models import SampleWeight
from assess.simulate.population import DEFAULT_CHUNK
from itembank.db import make_engine, session_scope

AIM_BYTES = 4 * 1024**3


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def current_rss() -> int:
    """Resident set size of this process now, in bytes (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def _gb(n: float) -> str:
    return f"{n / 1024**3:.2f} GB"


def count_rows(engine: Engine) -> dict[str, int]:
    """Students, test sessions, responses, sampling weights and plausible values in the database."""
    from reports.models import PlausibleValue

    tables: tuple[tuple[str, Any], ...] = (
        ("students", Student.id),
        ("sittings", TestSession.id),
        ("responses", Response.id),
        ("weights", SampleWeight.student_id),
        ("plausible values", PlausibleValue.id),
    )
    with session_scope(engine) as session:
        return {name: int(session.exec(select(func.count(col(c)))).one()) for name, c in tables}


def stage_of(name: str) -> str:
    """The pipeline stage (one transaction, ``NationalRun.seconds``) a progress name belongs to."""
    for prefix, stage in (("field trial", "field_trial"), ("adaptive", "adaptive"), ("plausible", "plausible")):
        if name.startswith(prefix):
            return stage
    return {"areas": "population", "schools": "population", "students": "population"}.get(name, name)


@dataclass
class Meter:
    """Times each step, notes the peak memory when it ends, draws the chunk bars, and counts each stage's rows.

    A pipeline stage commits when it ends, so its rows are counted (from another connection) when
    the next stage reports its first step, or at :meth:`finish`.
    """

    engine: Engine
    trace: bool
    t0: float = field(default_factory=time.perf_counter)
    rows: dict[str, int] = field(default_factory=dict)
    current: str = ""
    students: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    bar: Any = None

    def __post_init__(self) -> None:
        self.rows = count_rows(self.engine)
        if self.trace:
            tracemalloc.start()

    def chunk(self, stage: str, done: int, total: int) -> None:
        if self.bar is None or self.bar.desc != stage:
            self._close_bar()
            self.bar = tqdm(total=total, desc=stage, unit="student", unit_scale=True, leave=False, dynamic_ncols=True)
        self.bar.set_postfix_str(f"RSS {_gb(current_rss())}, peak {_gb(peak_rss())}", refresh=False)
        self.bar.update(done - self.bar.n)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _summarize(self) -> None:
        """The finished (committed) stage: its time, students per second, rows written, peak RSS."""
        if not self.current:
            return
        rows = count_rows(self.engine)
        wrote = ", ".join(f"{k} {rows[k] - self.rows[k]:,}" for k in rows if rows[k] != self.rows[k]) or "no rows"
        self.rows = rows
        sec, n = self.seconds[self.current], self.students[self.current]
        tqdm.write(
            f"== {self.current}: {sec:.1f} s, {n:,} students ({n / sec if sec > 0 else 0:,.0f}/s), "
            f"wrote {wrote}; peak RSS {_gb(peak_rss())}"
        )

    def stage(self, name: str, count: int) -> None:
        self._close_bar()
        seconds = time.perf_counter() - self.t0
        group = stage_of(name)
        if group != self.current:
            self._summarize()
            self.current = group
        self.seconds[group] = self.seconds.get(group, 0.0) + seconds
        counted = name == "students" or group in ("field_trial", "adaptive", "weights", "plausible")
        self.students[group] = self.students.get(group, 0) + (count if counted else 0)
        traced = ""
        if self.trace:
            traced = f", Python objects peak {_gb(tracemalloc.get_traced_memory()[1])}"
            tracemalloc.reset_peak()
        rate = f"{count / seconds:>9,.0f}/s" if seconds > 0 else ""
        tqdm.write(f"   {name:<22} {count:>10,}  {seconds:8.1f} s {rate}  peak RSS {_gb(peak_rss())}{traced}")
        self.t0 = time.perf_counter()  # the row counts are not the next step's time

    def finish(self) -> None:
        """Count the last stage's rows (after its commit)."""
        self._close_bar()
        t0 = time.perf_counter()
        self._summarize()
        self.current = ""
        self.t0 += time.perf_counter() - t0


def _plausible(engine: Engine, assessment_code: str, meter: Meter) -> None:
    from reports.plausible import ensure_plausible_values
    from reports.tree import find_assessment, load_tree

    with session_scope(engine) as session:
        tree = load_tree(session=session, assessment=find_assessment(session=session, code=assessment_code))
        stored = ensure_plausible_values(session=session, tree=tree)
    meter.stage("plausible values", stored.n_students)


def _report_peak() -> int:
    peak = peak_rss()
    print(f"peak RSS {_gb(peak)}: {'under' if peak < AIM_BYTES else 'OVER'} the aim, peak RSS < 4 GB")
    return 0 if peak < AIM_BYTES else 1


def _plausible_only(url: str, assessment: str, trace: bool) -> int:
    """Draw the plausible values of an assessment already simulated (``--database`` with ``--assessment``)."""
    engine = make_engine(url)
    meter = Meter(engine, trace)
    print(f"plausible values of {assessment} in {engine.dialect.name}")
    try:
        _plausible(engine, assessment, meter)
        meter.finish()
    finally:
        engine.dispose()
    return _report_peak()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, help="Students per chunk.")
    parser.add_argument("--field-trial", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database", default=None, help="An empty database URL (default: a new SQLite file).")
    parser.add_argument("--plausible", action="store_true", help="Then draw the plausible values.")
    parser.add_argument(
        "--assessment", default=None, help="With --database: only draw this simulated assessment's plausible values."
    )
    parser.add_argument("--tracemalloc", action="store_true", help="Also trace Python allocations (slower).")
    parser.add_argument("--keep", action="store_true", help="Keep the SQLite file (its path is printed).")
    args = parser.parse_args(argv)
    if args.assessment:
        if not args.database:
            parser.error("--assessment needs --database")
        return _plausible_only(args.database, args.assessment, args.tracemalloc)

    from assess.simulate.pipeline import run_national_simulation
    from web import migrate

    folder = Path(tempfile.mkdtemp(prefix="infolit-million-"))
    url = args.database or f"sqlite:///{folder / 'million.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    print(f"{args.students:,} students, chunk {args.chunk:,}, {engine.dialect.name}" + (f" {url}" if args.keep else ""))
    meter = Meter(engine, args.tracemalloc)
    t0 = time.perf_counter()
    try:
        run = run_national_simulation(
            engine,
            students=args.students,
            field_trial=args.field_trial,
            seed=args.seed,
            stage=meter.stage,
            chunk=args.chunk,
            chunk_progress=meter.chunk,
        )
        meter.finish()
        if args.plausible:
            _plausible(engine, run.adaptive_assessment, meter)
            meter.finish()
    finally:
        meter._close_bar()
        engine.dispose()
        if not args.keep and not args.database:
            shutil.rmtree(folder, ignore_errors=True)
    total = time.perf_counter() - t0
    rows = meter.rows
    print(
        f"total {total:.0f} s: {run.students:,} students ({run.students / total:,.0f}/s), "
        f"{rows['sittings']:,} sittings, {rows['responses']:,} responses; "
        f"stages {', '.join(f'{k} {v:.0f}s' for k, v in run.seconds.items())}; assessment {run.adaptive_assessment}"
    )
    return _report_peak()


if __name__ == "__main__":
    raise SystemExit(main())
