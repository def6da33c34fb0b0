"""Benchmark: creating a testing round from its file, and closing a window with many sittings still open.

    python bench/close_window.py                          # SQLite, 1,000 open sittings
    python bench/close_window.py --sittings 3000 --db postgres

Prepares the database of ``bench/load.py`` (starter bank, the national adaptive blueprint,
grade-8 students), then:

- creates a round from an assessment file (``assess.administration.create_assessment``: reading,
  checking on its own and against the bank, which builds the band's engine bank, and storing), and
  prints how long the check and the whole call take;
- starts ``--sittings`` sittings of the prepared open assessment, answers ``--answers`` items in
  each (the service the web app calls), and closes the window with
  ``assess.administration.close_assessment``: the window and the deadlines move in one
  transaction, then every open sitting is ended and scored in its own. Prints the seconds in all
  and the milliseconds per sitting, and checks that no sitting is left open and every answer is
  still stored.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sittings", type=int, default=1_000)
    parser.add_argument("--answers", type=int, default=6, help="answers given in each sitting before the close")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args(argv)

    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from assess.accounts.scope import Actor
    from assess.administration import close_assessment, create_assessment
    from assess.assessment_file import check_against_bank, example_file, parse_assessment_file, read_assessment_file
    from assess.full_path import start_session, submit_answer
    from assess.models import Assessment, Response, Student, TestSession
    from assess.simulate.answers import answer_for_score
    from bench.load import prepare
    from itembank.calibrations import bank_params, store_calibration
    from itembank.db import make_engine, session_scope
    from itembank.models import PROVISIONAL, utcnow

    workdir = Path(tempfile.mkdtemp(prefix="infolit-close-"))
    prepared = prepare(args.db, (args.sittings + 1) // 2, workdir)  # two students per unit asked
    engine = make_engine(prepared.url)
    actor = Actor.command_line("bench")
    try:
        with session_scope(engine) as s:
            params = bank_params(session=s, calibration=PROVISIONAL)
            store_calibration(session=s, name="published", params=params, status="operational")
        text = example_file(code="BENCH-1", grades=(8,)).replace('# calibration = "..."', 'calibration = "published"')
        content = text.encode()
        with Session(engine) as s:
            t0 = time.perf_counter()
            check_against_bank(session=s, file=parse_assessment_file(read_assessment_file(content)))
            t_check = time.perf_counter() - t0
        with session_scope(engine) as s:
            t0 = time.perf_counter()
            create_assessment(session=s, actor=actor, content=content, filename="bench.toml", now=utcnow())
            t_create = time.perf_counter() - t0
        print(f"testing round from a file, {args.db}")
        print(
            f"  check (file and bank): {1000 * t_check:.1f} ms; create (check, store, audit): {1000 * t_create:.1f} ms"
        )

        with Session(engine) as s:
            ids = list(s.exec(select(Student.id).order_by(col(Student.id))).all())[: args.sittings]
            assessment = s.get(Assessment, prepared.assessment_id)
            assert assessment is not None
            code = assessment.code
        rnd = random.Random(1)
        t0 = time.perf_counter()
        answered = 0
        for sid in ids:
            with Session(engine, expire_on_commit=False) as s:
                student = s.get(Student, sid)
                assert student is not None
                p = start_session(session=s, assessment=assessment, student=student, device="bench", seed=int(sid or 0))
                s.commit()
            for _ in range(args.answers):
                if p.item is None:
                    break
                value = answer_for_score(p.item, rnd.randint(0, p.item.max_score), rnd)
                with Session(engine, expire_on_commit=False) as s:
                    p = submit_answer(
                        session=s,
                        test_session_id=int(p.test_session_id or 0),
                        item_version_id=p.item.id,
                        answer=value,
                        device="bench",
                    )
                    s.commit()
                answered += 1
        print(f"  prepared {len(ids):,} open sittings with {answered:,} answers in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        done = close_assessment(engine=engine, actor=actor, code=code, now=utcnow())
        t_close = time.perf_counter() - t0
        print(
            f"  close: {done.expired:,} sittings ended and scored in {t_close:.2f} s "
            f"= {1000 * t_close / max(1, done.expired):.1f} ms each "
            f"({done.assessed:,} assessed, {done.running} left open)"
        )
        with Session(engine) as s:
            still = s.exec(select(func.count(col(TestSession.id))).where(TestSession.status == "in_progress")).one()
            stored = s.exec(select(func.count(col(Response.id)))).one()
        ok = still == 0 and stored == answered and done.expired == len(ids)
        print(f"  open sittings left {still}, answers stored {stored:,} of {answered:,}: {'ok' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        engine.dispose()
        for fn in prepared.cleanup:
            fn()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
