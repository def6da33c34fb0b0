"""The background-job queue (huey): throughput and latency of N probe jobs through a real consumer.

    python bench/jobs.py                       # 300 jobs, SQLite (SqliteHuey file beside the database)
    python bench/jobs.py --db postgres         # huey's SQL storage in PostgreSQL
    python bench/jobs.py --jobs 1000 --workers 2

What it does
------------
1. Creates N probe jobs of one step without a pause (each: create the row, commit, enqueue), timing
   the producer side: what a request pays to start a job.
2. Starts a consumer (the same class ``infolit serve`` runs beside the app) with W threads and
   waits until every job is done.
3. Prints jobs per second end to end, and the latency from the row's creation to its claim
   (started_at - created_at) and to its end (finished_at - created_at): p50, p95, max. The idle
   consumer polls with a back-off capped at 1 s, so the first claim after a quiet spell waits up
   to that long; under load the queue drains without waiting.

Latency to claim is the figure that matters for the console: a researcher sees "queued" for
that long before the progress bar moves; a calibration itself takes seconds to minutes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)

    from sqlmodel import Session, col, select

    from assess.research.models import ResearchJob
    from assess.research.probe import PROBE, probe_params
    from assess.research.queue import Consumer, JobQueue, JobSettings, create_job
    from itembank.db import make_engine, session_scope
    from web import migrate

    workdir = Path(tempfile.mkdtemp(prefix="infolit-jobs-"))
    cleanup = []
    print(f"jobs: {args.jobs} probe jobs, {args.workers} consumer thread(s), {args.db}, on {os.cpu_count()} CPUs")
    try:
        from tests import pgserver

        url, _ = pgserver.bench_database(args.db, workdir, cleanup)
        engine = make_engine(url)
        migrate.upgrade(engine)
        queue = JobQueue(engine=engine, database_url=url, data_dir=workdir,
                         settings=JobSettings(heartbeat_seconds=5, stale_seconds=60, workers=args.workers))  # fmt: skip
        cleanup.append(queue.close)
        print(f"  queue: {queue.where}")

        params = probe_params(steps=1, seconds=0)
        t0 = time.perf_counter()
        for _ in range(args.jobs):
            with session_scope(engine) as s:
                job_id = int(create_job(session=s, kind=PROBE, params=params, total=1).id or 0)
            queue.enqueue(job_id)
        produce = time.perf_counter() - t0
        print(f"  started {args.jobs} jobs (row + commit + enqueue) in {produce:.2f} s: "
              f"{1000 * produce / args.jobs:.2f} ms per job")  # fmt: skip

        t1 = time.perf_counter()
        consumer = Consumer(queue).start()
        try:
            while True:
                with Session(engine) as s:
                    left = len(s.exec(select(ResearchJob.id).where(col(ResearchJob.status).in_(("queued", "running"))))
                               .all())  # fmt: skip
                if not left:
                    break
                time.sleep(0.05)
        finally:
            consumer.stop()
        drain = time.perf_counter() - t1
        with Session(engine) as s:
            rows = s.exec(select(ResearchJob)).all()
        statuses = {r.status for r in rows}
        assert statuses == {"done"}, statuses
        print(f"  consumer ran {len(rows)} jobs in {drain:.2f} s: {len(rows) / drain:.0f} jobs/s")

        # latency of jobs started one at a time on an idle queue (what a researcher sees)
        single: list[tuple[float, float]] = []
        consumer = Consumer(queue).start()
        try:
            for _ in range(10):
                time.sleep(1.5)  # let the consumer's polling back off to its idle pace
                with session_scope(engine) as s:
                    job = create_job(session=s, kind=PROBE, params=params, total=1)
                    job_id = int(job.id or 0)
                queue.enqueue(job_id)
                while True:
                    with Session(engine) as s:
                        row = s.get(ResearchJob, job_id)
                        assert row is not None
                        if row.status == "done":
                            assert row.started_at and row.finished_at
                            single.append(((row.started_at - row.created_at).total_seconds(),
                                           (row.finished_at - row.created_at).total_seconds()))  # fmt: skip
                            break
                    time.sleep(0.01)
        finally:
            consumer.stop()
        claims = [1000 * c for c, _ in single]
        ends = [1000 * e for _, e in single]
        print(f"  idle queue, one job at a time ({len(single)}): created -> claimed "
              f"p50 {percentile(claims, 0.5):.0f} ms, max {max(claims):.0f} ms; created -> done "
              f"p50 {percentile(ends, 0.5):.0f} ms, max {max(ends):.0f} ms")  # fmt: skip
        engine.dispose()
    finally:
        for fn in reversed(cleanup):
            fn()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
