"""Data out of a big assessment: time, size and peak Python memory of the wide and the long response file.

    python bench/data_out.py --data ./data                    # after `infolit demo --students 50000 --no-serve`
    python bench/data_out.py --data ./data --assessment FT...  # another assessment of it
    python bench/data_out.py --trial 20000                    # or a synthetic field trial in a fresh database

Each file is written chunk by chunk to /dev/null as ``infolit data export`` and the console's
download write it (:mod:`assess.research.dataout`); the peak memory (``tracemalloc``) shows that
it does not grow with the number of responses.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _engine(args: argparse.Namespace, folder: Path) -> tuple[Engine, str]:
    from itembank.db import make_engine

    if args.trial:
        import os
        import subprocess

        url = f"sqlite:///{folder / 'infolit.db'}"
        env = {**os.environ, "INFOLIT_DATABASE_URL": url, "INFOLIT_DATA_DIR": str(folder)}
        subprocess.run([sys.executable, "-m", "web.cli", "db", "upgrade"], check=True, env=env, cwd=REPO)
        from tests.assess.research.conftest import build_trial

        engine = make_engine(url)
        started = time.perf_counter()
        build_trial(engine, n_students=args.trial)
        print(f"built a field trial of {args.trial:,} students in {time.perf_counter() - started:.1f} s")
        return engine, "FT1"
    return make_engine(f"sqlite:///{args.data.resolve() / 'infolit.db'}"), args.assessment or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data"), help="INFOLIT_DATA_DIR of the sample")
    parser.add_argument("--assessment", help="assessment code (default: the one with the most responses)")
    parser.add_argument("--trial", type=int, default=0, help="build a synthetic field trial of N students instead")
    args = parser.parse_args(argv)

    import os

    from sqlalchemy import func
    from sqlmodel import Session, col, select

    from assess.models import Response, TestSession
    from assess.research.dataout import assessment_source, long_csv, wide_csv

    with tempfile.TemporaryDirectory() as tmp:
        if not args.trial:
            os.environ.setdefault("INFOLIT_DATA_DIR", str(args.data.resolve()))
        else:
            os.environ["INFOLIT_DATA_DIR"] = tmp
        engine, code = _engine(args, Path(tmp))
        with Session(engine) as session:
            if not code:
                from assess.models import Assessment

                code = (
                    session.exec(
                        select(Assessment.code)
                        .join(TestSession, col(TestSession.assessment_id) == col(Assessment.id))
                        .join(Response, col(Response.session_id) == col(TestSession.id))
                        .group_by(Assessment.code)
                        .order_by(func.count().desc())
                    ).first()
                    or ""
                )
            source = assessment_source(session=session, code=code)
            for name, write in (("wide", wide_csv), ("long", long_csv)):
                tracemalloc.start()
                started = time.perf_counter()
                size = rows = 0
                with open(os.devnull, "w", encoding="utf-8") as sink:
                    for chunk in write(session=session, source=source):
                        sink.write(chunk)
                        size += len(chunk.encode("utf-8"))
                        rows += chunk.count("\r\n")
                seconds = time.perf_counter() - started
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
                print(f"{code} {name}: {rows - 1:,} rows, {size / 2**20:.1f} MiB in {seconds:.1f} s "
                      f"({(rows - 1) / seconds:,.0f} rows/s), peak Python memory {peak / 2**20:.1f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
