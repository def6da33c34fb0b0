"""Benchmark: the cost of one answer in the service layer, fast path against full path, in one process.

    python bench/answer.py                      # SQLite, 200 sessions per path
    python bench/answer.py --db postgres        # a throwaway PostgreSQL with fsync on

Prepares the same database as ``bench/load.py`` (starter bank, an open adaptive assessment with
the national blueprint, grade-8 students), starts ``--sessions`` sittings for each path and answers
them round-robin (one transaction per answer, as a web request does) until every test ends:

- full path: :func:`assess.full_path.submit_answer` alone (reads the session and its answers,
  replays the engine, writes through the ORM), in a transaction per answer;
- fast path: :func:`assess.fast_path.take_answer` (cached session, guarded UPDATE + INSERT),
  falling back to the full path when it cannot decide;
- service: :func:`assess.sitting.answer`, what the web app calls (the same fast path and
  fallback, chosen by the service), on a third set of sittings.

Prints the answers per second of one thread and the milliseconds per answer of each, their ratio,
and checks that both paths stored every answer. No HTTP here: ``bench/load.py`` measures the
whole server.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)

    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from assess import fast_path, sitting
    from assess.full_path import start_session, submit_answer
    from assess.models import Assessment, Response, Student
    from assess.simulate.answers import answer_for_score
    from bench.load import prepare
    from itembank.db import make_engine
    from itembank.models import utcnow

    workdir = Path(tempfile.mkdtemp(prefix="infolit-answer-"))
    prepared = prepare(args.db, (3 * args.sessions + 1) // 2, workdir)  # 2 n students per call: three sets
    engine = make_engine(prepared.url)
    try:
        with Session(engine) as s:
            students = s.exec(select(Student.id).order_by(col(Student.id))).all()
            assessment = s.get(Assessment, prepared.assessment_id)
            assert assessment is not None

        def start_all(ids: list[int]) -> list[list[Any]]:
            sittings = []
            with Session(engine, expire_on_commit=False) as s:
                for sid in ids:
                    student = s.get(Student, sid)
                    assert student is not None
                    p = start_session(session=s, assessment=assessment, student=student, device="bench", seed=sid)
                    assert p.item is not None
                    sittings.append([int(p.test_session_id or 0), sid, p.item])
                s.commit()
            return sittings

        @dataclass(frozen=True)
        class Holder:
            student_id: int
            assessment_id: int
            device: str
            test_session_id: int | None

        def run(sittings: list[list[Any]], fast: bool, service: bool = False) -> tuple[int, float, int]:
            rnd = random.Random(1)
            n = fell_back = 0
            open_ = list(sittings)
            t0 = time.perf_counter()
            while open_:
                still = []
                for one in open_:
                    ts_id, sid, item = one
                    value = answer_for_score(item, rnd.randint(0, item.max_score), rnd)
                    nxt: Any = None
                    step = None
                    if service:
                        holder = Holder(sid, prepared.assessment_id, "bench", ts_id)
                        step = sitting.answer(engine=engine, holder=holder, item_id=item.id, value=value, now=utcnow())
                    elif fast:
                        step = fast_path.take_answer(
                            engine=engine,
                            test_session_id=ts_id,
                            student_id=sid,
                            assessment_id=prepared.assessment_id,
                            device="bench",
                            item_version_id=item.id,
                            answer=value,
                            now=utcnow(),
                        )
                    if step is not None:
                        nxt = step.item
                    else:
                        fell_back += fast
                        with Session(engine, expire_on_commit=False) as s:
                            p = submit_answer(
                                session=s, test_session_id=ts_id, item_version_id=item.id, answer=value, device="bench"
                            )
                            nxt = p.item
                            s.commit()
                    n += 1
                    if nxt is not None:
                        one[2] = nxt
                        still.append(one)
                open_ = still
            return n, time.perf_counter() - t0, fell_back

        half = args.sessions
        full_sittings = start_all(list(students[:half]))
        fast_sittings = start_all(list(students[half : 2 * half]))
        service_sittings = start_all(list(students[2 * half : 3 * half]))
        print(f"answer path, {args.db}, {half} sessions per path, one thread")
        n_full, t_full, _ = run(full_sittings, fast=False)
        n_fast, t_fast, fell = run(fast_sittings, fast=True)
        n_service, t_service, _ = run(service_sittings, fast=True, service=True)
        print(
            f"  full path: {n_full:,} answers in {t_full:.2f} s = {n_full / t_full:,.0f}/s, "
            f"{1000 * t_full / n_full:.2f} ms each"
        )
        print(
            f"  fast path: {n_fast:,} answers in {t_fast:.2f} s = {n_fast / t_fast:,.0f}/s, "
            f"{1000 * t_fast / n_fast:.2f} ms each ({fell} fell back to the full path)"
        )
        print(
            f"  service:   {n_service:,} answers in {t_service:.2f} s = {n_service / t_service:,.0f}/s, "
            f"{1000 * t_service / n_service:.2f} ms each (assess.sitting.answer)"
        )
        print(f"  fast path is {t_full / n_full / (t_fast / n_fast):.1f}x cheaper per answer")
        with Session(engine) as s:
            stored = s.exec(select(func.count(col(Response.id)))).one()
        taken = n_full + n_fast + n_service
        ok = stored == taken
        print(f"  answers taken {taken:,}, stored {stored:,}: {'match' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        engine.dispose()
        for fn in prepared.cleanup:
            fn()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
