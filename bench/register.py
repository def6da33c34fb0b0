"""Registration at national scale: 50,000 students from one file, through the registration service.

    python bench/register.py                      # 50,000 students, SQLite
    python bench/register.py --db postgres
    python bench/register.py --students 10000 --cards

What it does
------------
1. Writes a registration CSV of N students (grades 4 and 8, classes of 40, 200 schools in 20
   counties of 2 provinces), as a school system would export it.
2. Reads it (:func:`assess.registration.read_registration`) and registers it
   (:func:`assess.registration.register_students`: every check of every row against the file and
   the database, then the areas, schools, classes and students in one transaction, each new
   student with a ticket and a keyed PIN hash), timing each step, wall-clock and CPU.
3. Registers the same file again (everything found, nothing written).
4. Prints what hashing costs: the keyed hash for all N PINs, measured, and argon2id at the old
   parameters for 200 PINs, extrapolated to N; and with ``--cards``, the ticket-card PDF for all
   N students (reportlab), which a school prints class by class.

The figure to hold: N = 50,000 registered in under 2 minutes.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_roster(path: Path, n: int) -> None:
    from assess.people_file import COLUMNS

    per_school = max(1, n // 200)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i in range(n):
            school = i // per_school
            county = school // 10
            province = county // 10
            grade = 4 if (i % per_school) < per_school // 2 else 8
            writer.writerow([
                f"9{province}", f"压测{province}省", "东部" if province == 0 else "西部",
                f"9{province}01", f"压测{province}市", f"9{province}01{county:02d}", f"压测{county}区",
                f"SR{school:04d}", f"压测第{school}学校", ("urban", "town", "rural")[school % 3], "public",
                str(grade), f"{grade}年级{(i % per_school) // 40 + 1}班", f"R{i:07d}", "FM"[i % 2],
            ])  # fmt: skip


def timed(fn: object, *args: object, **kwargs: object) -> tuple[object, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)  # type: ignore[operator]
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--cards", action="store_true", help="also render the ticket-card PDF of every student")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    from assess.keys import new_key_text

    os.environ.setdefault("INFOLIT_SERVER_KEYS", new_key_text("bench"))
    from argon2 import PasswordHasher

    from assess.pins import LEGACY_PIN_HASH_PARAMETERS, hash_pins, new_pin, pin_hasher
    from assess.registration import read_registration, register_students
    from itembank.db import make_engine, session_scope
    from web import migrate

    workdir = Path(tempfile.mkdtemp(prefix="infolit-register-"))
    cleanup = []
    print(f"registration: {args.students:,} students, {args.db}, on {os.cpu_count()} CPUs")
    try:
        from tests import pgserver

        url, _ = pgserver.bench_database(args.db, workdir, cleanup)
        engine = make_engine(url)
        migrate.upgrade(engine)
        roster = workdir / "roster.csv"
        _, wall, _ = timed(write_roster, roster, args.students)
        print(f"  wrote {roster.name}: {roster.stat().st_size / 2**20:.1f} MiB in {wall:.1f} s")

        file, read_wall, read_cpu = timed(read_registration, roster)
        print(f"  read: {read_wall:.1f} s ({read_cpu:.1f} CPU-s)")

        def register() -> object:
            with session_scope(engine) as session:
                return register_students(session=session, rows=file)

        summary, reg_wall, reg_cpu = timed(register)
        total = read_wall + reg_wall
        print(
            f"  checked and registered: {summary.students_created:,} students, {summary.schools_created} schools, "  # type: ignore[attr-defined]
            f"{summary.classes_created} classes in {reg_wall:.1f} s ({reg_cpu:.1f} CPU-s of this process)"  # type: ignore[attr-defined]
        )
        print(f"  file to database: {total:.1f} s = {args.students / total:,.0f} students/s")
        again, again_wall, _ = timed(register)
        print(f"  the same file again: {again.students_unchanged:,} unchanged in {again_wall:.1f} s")  # type: ignore[attr-defined]

        pins = [new_pin() for _ in range(args.students)]
        _, keyed_wall, _ = timed(hash_pins, pins, pin_hasher(), None)
        legacy = PasswordHasher(**LEGACY_PIN_HASH_PARAMETERS)
        sample = 200
        _, _, argon_cpu = timed(lambda: [legacy.hash(p) for p in pins[:sample]])
        per = argon_cpu / sample
        print(
            f"  PIN hashing for {args.students:,}: keyed HMAC-SHA256 {keyed_wall:.2f} s "
            f"({1e6 * keyed_wall / args.students:.1f} us each); argon2id (m=19 MiB, t=2) would take "
            f"{per * args.students / 60:.1f} CPU-minutes ({1000 * per:.0f} ms each, measured on {sample})"
        )
        if args.cards:
            from reports.tickets import render_tickets

            cards = summary.tickets  # type: ignore[attr-defined]
            pdf, cards_wall, _ = timed(render_tickets, cards, login_url="https://ceping.example.cn/login")
            print(f"  ticket cards PDF for {len(cards):,}: {len(pdf) / 2**20:.1f} MiB in {cards_wall:.1f} s")  # type: ignore[arg-type]
        target = 120.0
        print(
            f"  target {args.students:,} students registered in under 2 minutes: "
            f"{'met' if total < target else 'MISSED'} ({total:.0f} s)"
        )
        engine.dispose()
        return 0 if total < target or args.students != 50_000 else 1
    finally:
        for fn in cleanup:
            fn()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
