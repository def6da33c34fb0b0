"""Benchmark: how fast the command line answers, and the whole `infolit calibrate` against girth.

Prints, in one run, the median wall time (fresh subprocesses, several repeats) of

* ``infolit --help`` (aim: 0.4 s or less),
* ``python -c "import scoring"`` (aim: 0.5 s or less),
* the whole command ``infolit calibrate RESPONSES.csv --out ITEMS.csv`` on a 2PL file of 30,000
  persons x 48 items with 30 random items per person (made with ``scoring.simulate``, fixed seed,
  in a temporary directory): start-up, reading the CSV, the fit with standard errors, writing,

beside girth's ``twopl_mml`` (its defaults) on the same matrix, timed around the fit alone in a
fresh process, and the ratio (the aim: the whole command at least 40x faster than girth's fit).
The command runs ``--repeats`` times before girth and as many times after it; the ratio takes the
median of both halves, so that a load that changes during girth's fit (it runs for 15-60 s) weighs on
both sides.
Both estimates are compared with the generating parameters.

    .venv/bin/python bench/cli.py [--repeats 5] [--girth-repeats 1] [--skip-girth] [--seed 1]

``--blas-threads`` (default 1, as in bench/calibrate.py) sets OPENBLAS_NUM_THREADS for every
subprocess, girth's included: on a shared 2-core machine multi-threaded OpenBLAS spins against
other processes. Run it with ``PYTHONPATH=<another checkout>`` to time that checkout instead.

Bytecode: an installed command runs from compiled bytecode (pip compiles it at install; an
editable install writes ``__pycache__`` on its first run). A shell with PYTHONDONTWRITEBYTECODE
set (the helpers' sandbox sets it) would instead recompile every project module on every run,
about 60 ms here. So the subprocesses run without that variable and every command gets one
untimed warm-up run first; ``--no-bytecode`` keeps the variable and times the recompiling runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def infolit_command() -> list[str]:
    """The installed ``infolit`` script next to this Python, else ``python -m web.cli``."""
    script = Path(sys.executable).with_name("infolit")
    return [str(script)] if script.exists() else [sys.executable, "-m", "web.cli"]


CPU_TIMES: dict[str, list[float]] = {}
"""CPU time (user + system) of every timed run, by label: far less sensitive to other processes than wall time."""


def wall_times(cmd: list[str], repeats: int, env: dict[str, str], warm_up: bool = True) -> list[float]:
    """Wall time of ``repeats`` runs of ``cmd`` (each must succeed), after an untimed warm-up run.

    Their CPU times go to ``CPU_TIMES[" ".join(cmd)]``.
    """
    times = []
    cpu = CPU_TIMES.setdefault(" ".join(cmd), [])
    for i in range(repeats + warm_up):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if i >= warm_up:
            times.append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
    return times


def generate(path: Path, persons: int, items: int, per_person: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Write RESPONSES.csv (and the matrix as .npy beside it); return the true a and b."""
    from scoring import random_item_params, random_sparse_design, simulate_responses

    rng = np.random.default_rng(seed)
    bank = random_item_params(items, "2pl", rng)
    design = random_sparse_design(persons, items, per_person, rng)
    x = np.asarray(simulate_responses(bank, rng.standard_normal(persons), rng, design_mask=design), dtype=float)
    np.save(path.with_suffix(".npy"), x)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["person", *bank.ids])
        for p, row in enumerate(x):
            w.writerow([f"s{p + 1}", *["" if np.isnan(v) else str(int(v)) for v in row]])
    return np.asarray(bank.a), np.asarray(bank.b[:, 0])


def run_girth(npy: Path) -> None:
    """Subprocess side: girth's twopl_mml on the matrix; prints its wall time and estimates as JSON."""
    import warnings

    from girth import twopl_mml
    from girth.utilities import INVALID_RESPONSE

    x = np.load(npy)
    data = np.where(np.isnan(x), INVALID_RESPONSE, x).astype(int).T  # girth: items x persons
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0, c0 = time.perf_counter(), time.process_time()
        res = twopl_mml(data)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    a = np.asarray(res["Discrimination"], dtype=float).tolist()
    b = np.asarray(res["Difficulty"], dtype=float).reshape(-1).tolist()
    print(json.dumps({"wall": wall, "cpu": cpu, "a": a, "b": b}))


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(x) - np.asarray(y)) ** 2)))


def read_estimates(items_csv: Path) -> tuple[np.ndarray, np.ndarray]:
    with items_csv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return np.array([float(r["a"]) for r in rows]), np.array([float(r["b1"]) for r in rows])


def line(label: str, times: list[float], aim: float | None = None, cpu: list[float] | None = None) -> str:
    med = statistics.median(times)
    spread = f"min {min(times):.3f}  max {max(times):.3f}  n={len(times)}"
    target = "" if aim is None else f"  (aim <= {aim} s: {'met' if med <= aim else 'NOT met'})"
    cpu_text = "" if not cpu else f"  cpu median {statistics.median(cpu):.3f} s"
    return f"{label:<44} {med:>7.3f} s   {spread}{cpu_text}{target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (median reported)")
    parser.add_argument("--girth-repeats", type=int, default=1, help="girth fits (each takes about half a minute)")
    parser.add_argument("--skip-girth", action="store_true")
    parser.add_argument("--persons", type=int, default=30_000)
    parser.add_argument("--items", type=int, default=48)
    parser.add_argument("--per-person", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=1, help="OPENBLAS_NUM_THREADS of every subprocess")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="keep PYTHONDONTWRITEBYTECODE (every run recompiles the project)"
    )
    parser.add_argument("--girth", metavar="NPY", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.girth:
        run_girth(args.girth)
        return

    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.blas_threads)
    if not args.no_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    infolit = infolit_command()
    print(
        f"# bench/cli.py  {time.strftime('%Y-%m-%d %H:%M')}  python {platform.python_version()}  "
        f"numpy {np.__version__}  cpus {os.cpu_count()}  load {os.getloadavg()[0]:.1f}  "
        f"OPENBLAS_NUM_THREADS={args.blas_threads}  "
        + ("bytecode: recompiled every run" if args.no_bytecode else "bytecode: cached (one warm-up run each)")
        + (f"  PYTHONPATH={env['PYTHONPATH']}" if env.get("PYTHONPATH") else "")
    )
    help_times = wall_times([*infolit, "--help"], args.repeats, env)
    print(line("infolit --help", help_times, 0.4, CPU_TIMES[" ".join([*infolit, "--help"])]), flush=True)
    import_times = wall_times([sys.executable, "-c", "import scoring"], args.repeats, env)
    import_cpu = CPU_TIMES[" ".join([sys.executable, "-c", "import scoring"])]
    print(line('python -c "import scoring"', import_times, 0.5, import_cpu), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench_cli_") as tmp:
        responses = Path(tmp) / "responses.csv"
        true_a, true_b = generate(responses, args.persons, args.items, args.per_person, args.seed)
        size = responses.stat().st_size / 1e6
        out = Path(tmp) / "items.csv"
        cal_cmd = [*infolit, "calibrate", str(responses), "--out", str(out)]
        cal_times = wall_times(cal_cmd, args.repeats, env)
        cal_cpu = CPU_TIMES[" ".join(cal_cmd)]
        label = f"infolit calibrate ({args.persons:,} x {args.items}, {args.per_person}/person, {size:.1f} MB)"
        print(line(label, cal_times, cpu=cal_cpu), flush=True)
        est_a, est_b = read_estimates(out)
        accuracy = f"RMSE a {rmse(est_a, true_a):.4f}  RMSE b {rmse(est_b, true_b):.4f}"
        print(f"{'':<44} {accuracy} (whole command, SEs included)")
        if args.skip_girth:
            return
        print(f"{'':<44} (as many runs again after girth's fit, so both see the same load)", flush=True)
        girth_times, girth_cpu, girth_est = [], [], {}
        for _ in range(args.girth_repeats):
            proc = subprocess.run(
                [sys.executable, __file__, "--girth", str(responses.with_suffix(".npy"))],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if proc.returncode != 0:
                raise SystemExit(f"girth failed:\n{proc.stderr}")
            girth_est = json.loads(proc.stdout.strip().splitlines()[-1])
            girth_times.append(girth_est["wall"])
            girth_cpu.append(girth_est["cpu"])
        print(line("girth twopl_mml on the same matrix (fit only)", girth_times, cpu=girth_cpu), flush=True)
        print(
            f"{'':<44} RMSE a {rmse(girth_est['a'], true_a):.4f}  RMSE b {rmse(girth_est['b'], true_b):.4f} "
            "(girth defaults: 41 nodes on [-5, 5])"
        )
        cal_times += wall_times(cal_cmd, args.repeats, env, warm_up=False)  # after girth: the load moves
        print(line("infolit calibrate, before and after girth", cal_times, cpu=cal_cpu), flush=True)
    ratio = statistics.median(girth_times) / statistics.median(cal_times)
    verdict = "met" if ratio >= 40 else "NOT met"
    print(f"\nthe whole infolit calibrate is {ratio:.1f}x faster than girth's fit (aim >= 40x: {verdict})")
    cpu_ratio = statistics.median(girth_cpu) / statistics.median(cal_cpu)
    print(f"in CPU time (less sensitive to other processes): {cpu_ratio:.1f}x")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other processes share this machine)")


if __name__ == "__main__":
    main()
