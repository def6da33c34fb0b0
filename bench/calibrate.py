"""Benchmark: InfoLit's MML-EM calibration against girth's ``twopl_mml``, and EAP scoring.

Cases (2PL, true parameters from ``scoring.random_item_params``, abilities N(0, 1)):

* ``full50k``: 50,000 persons x 60 items, complete data;
* ``sparse50k``: 50,000 persons x 60 items, 25 random items per person;
* ``sparse1m``: 1,000,000 persons x 300 items, 30 random items per person (given as a sparse matrix).

Every case is generated once, saved, and then calibrated in a fresh subprocess per engine, so
the peak memory (``ru_maxrss``) of a run is the data plus what the estimator needs. girth runs on
the same saved data (missing responses as its ``INVALID_RESPONSE``) with its own defaults (41
nodes on [-5, 5], 25 cycles). Printed: wall time, peak RSS, EM cycles, RMSE of a and b against the
true values, and the speed ratio. EAP scoring of the 50,000 persons is timed too (best of 3).

    .venv/bin/python bench/calibrate.py                # everything (girth takes minutes)
    .venv/bin/python bench/calibrate.py --quick        # 5,000 / 100,000 persons, a minute
    .venv/bin/python bench/calibrate.py --skip-girth --skip-1m --se

``--blas-threads`` (default 1) sets OPENBLAS_NUM_THREADS in the subprocesses: on a shared 2-core
machine multi-threaded OpenBLAS spins against other processes and slows small products down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CASES = {
    "full50k": {"persons": 50_000, "items": 60, "per_person": 60},
    "sparse50k": {"persons": 50_000, "items": 60, "per_person": 25},
    "sparse1m": {"persons": 1_000_000, "items": 300, "per_person": 30},
}
QUICK = {
    "full50k": {"persons": 5_000, "items": 60, "per_person": 60},
    "sparse50k": {"persons": 5_000, "items": 60, "per_person": 25},
    "sparse1m": {"persons": 100_000, "items": 300, "per_person": 30},
}


# ----------------------------------------------------------------------------- subprocess side
def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def generate(case: dict[str, int], seed: int, path: Path) -> None:
    import scipy.sparse as sp

    from scoring import random_item_params, random_sparse_design, simulate_responses

    rng = np.random.default_rng(seed)
    n, j, k = case["persons"], case["items"], case["per_person"]
    bank = random_item_params(j, "2pl", rng)
    theta = rng.standard_normal(n)
    if k == j:
        x = simulate_responses(bank, theta, rng)
        np.savez(path, dense=x.astype(np.float64), a=bank.a, b=bank.b[:, 0], theta=theta)
        return
    design = random_sparse_design(n, j, k, rng, sparse=True)
    xs = simulate_responses(bank, theta, rng, design_mask=design)
    assert sp.issparse(xs)
    np.savez(
        path,
        data=xs.data.astype(np.int8),
        indices=xs.indices,
        indptr=xs.indptr,
        shape=np.array(xs.shape),
        a=bank.a,
        b=bank.b[:, 0],
        theta=theta,
    )


def _load(path: Path, dense: bool) -> tuple[Any, np.ndarray, np.ndarray]:
    import scipy.sparse as sp

    z = np.load(path)
    if "dense" in z:
        return z["dense"], z["a"], z["b"]
    shape = tuple(int(v) for v in z["shape"])
    xs = sp.csr_matrix((z["data"].astype(np.float64), z["indices"], z["indptr"]), shape=shape)
    if not dense:
        return xs, z["a"], z["b"]
    x = np.full(shape, np.nan)
    coo = xs.tocoo()
    x[coo.row, coo.col] = coo.data
    return x, z["a"], z["b"]


def run_infolit(path: Path, with_se: bool, eap: bool) -> dict[str, Any]:
    import scoring

    # the 50k sets as the documented persons x items float matrix with nan; 1M as a sparse matrix
    x, a, b = _load(path, dense=int(np.load(path)["theta"].size) <= 100_000)
    base = _rss_mb()
    t0 = time.perf_counter()
    res = scoring.calibrate(x, "2pl", se="none")
    wall = time.perf_counter() - t0
    out: dict[str, Any] = {
        "wall": wall,
        "cycles": res.n_cycles,
        "converged": res.converged,
        "rmse_a": float(np.sqrt(np.mean((res.params.a - a) ** 2))),
        "rmse_b": float(np.sqrt(np.mean((res.params.b[:, 0] - b) ** 2))),
        "loglik": res.log_likelihood,
        "data_rss_mb": base,
        "peak_mb": _peak_mb(),
    }
    if with_se:
        t0 = time.perf_counter()
        res_se = scoring.calibrate(x, "2pl")
        out["wall_se"] = time.perf_counter() - t0
        out["se_method"] = res_se.se_method
        out["peak_mb_se"] = _peak_mb()
    if eap:
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            scoring.estimate_eap(x, res.params)
            times.append(time.perf_counter() - t0)
        out["eap"] = min(times)
        out["eap_persons"] = int(x.shape[0])
    return out


def run_girth(path: Path) -> dict[str, Any]:
    import warnings

    from girth import twopl_mml
    from girth.utilities import INVALID_RESPONSE

    x, a, b = _load(path, dense=True)
    data = np.where(np.isnan(x), INVALID_RESPONSE, x).astype(int).T  # girth: items x persons
    del x
    base = _rss_mb()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        res = twopl_mml(data)
        wall = time.perf_counter() - t0
    ga = np.asarray(res["Discrimination"], dtype=float)
    gb = np.asarray(res["Difficulty"], dtype=float).reshape(-1)
    return {
        "wall": wall,
        "cycles": None,
        "converged": None,
        "rmse_a": float(np.sqrt(np.mean((ga - a) ** 2))),
        "rmse_b": float(np.sqrt(np.mean((gb - b) ** 2))),
        "data_rss_mb": base,
        "peak_mb": _peak_mb(),
    }


# ----------------------------------------------------------------------------- driver side
def _child(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"subprocess {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else {}


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5,000 / 100,000 persons instead of 50,000 / 1,000,000")
    parser.add_argument("--skip-girth", action="store_true", help="do not run girth")
    parser.add_argument("--skip-1m", action="store_true", help="skip the 1,000,000-person case")
    parser.add_argument("--se", action="store_true", help="also time a calibration with standard errors")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--blas-threads", type=int, default=1, help="OPENBLAS_NUM_THREADS of the runs (default 1)")
    parser.add_argument("--generate", metavar="CASE", help=argparse.SUPPRESS)
    parser.add_argument("--run", metavar="ENGINE", help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--eap", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes = QUICK if args.quick else CASES

    if args.generate:
        generate(sizes[args.generate], args.seed, args.data)
        print(json.dumps({"peak_mb": _peak_mb()}))
        return
    if args.run:
        out = run_infolit(args.data, args.se, args.eap) if args.run == "infolit" else run_girth(args.data)
        print(json.dumps(out))
        return

    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)
    env["OMP_NUM_THREADS"] = str(args.blas_threads)
    print(
        f"# bench/calibrate.py  {time.strftime('%Y-%m-%d %H:%M')}  python {platform.python_version()}  "
        f"numpy {np.__version__}  cpus {os.cpu_count()}  load {os.getloadavg()[0]:.1f}  "
        f"OPENBLAS_NUM_THREADS={args.blas_threads}{'  (quick)' if args.quick else ''}"
    )
    print(
        "# infolit: calibrate(x, '2pl', se='none'), 61 nodes on [-6, 6], tol 1e-4, SQUAREM; girth: twopl_mml defaults"
    )
    header = (
        f"{'case':<10} {'engine':<8} {'persons':>9} {'items':>5} {'per':>4} {'wall s':>8} {'cycles':>6} "
        f"{'peak MB':>8} {'data MB':>8} {'RMSE a':>7} {'RMSE b':>7}  notes"
    )
    print(header)
    print("-" * len(header))
    ratios = []
    eap_line = None
    with tempfile.TemporaryDirectory(prefix="bench_calibrate_") as tmp:
        for name, case in sizes.items():
            if name == "sparse1m" and args.skip_1m:
                continue
            path = Path(tmp) / f"{name}.npz"
            t0 = time.perf_counter()
            _child(
                ["--generate", name, "--data", str(path), "--seed", str(args.seed)]
                + (["--quick"] if args.quick else []),
                env,
            )
            gen = time.perf_counter() - t0
            run_args = ["--run", "infolit", "--data", str(path)] + (["--se"] if args.se else [])
            if name == "full50k":
                run_args.append("--eap")
            ours = _child(run_args, env)
            notes = [f"generated in {gen:.0f} s", "converged" if ours["converged"] else "NOT CONVERGED"]
            if "wall_se" in ours:
                notes.append(
                    f"with SE ({ours['se_method']}): {ours['wall_se']:.1f} s, peak {ours['peak_mb_se']:.0f} MB"
                )
            print(
                f"{name:<10} {'infolit':<8} {case['persons']:>9,} {case['items']:>5} {case['per_person']:>4} "
                f"{ours['wall']:>8.2f} {ours['cycles']:>6} {ours['peak_mb']:>8.0f} {ours['data_rss_mb']:>8.0f} "
                f"{ours['rmse_a']:>7.4f} {ours['rmse_b']:>7.4f}  {'; '.join(notes)}",
                flush=True,
            )
            if "eap" in ours:
                eap_line = (
                    f"EAP for {ours['eap_persons']:,} persons x {case['items']} items: {ours['eap']:.3f} s (best of 3)"
                )
            if name != "sparse1m" and not args.skip_girth:
                theirs = _child(["--run", "girth", "--data", str(path)], env)
                ratio = theirs["wall"] / ours["wall"]
                ratios.append((name, ratio, ours, theirs))
                print(
                    f"{name:<10} {'girth':<8} {case['persons']:>9,} {case['items']:>5} {case['per_person']:>4} "
                    f"{theirs['wall']:>8.2f} {'-':>6} {theirs['peak_mb']:>8.0f} {theirs['data_rss_mb']:>8.0f} "
                    f"{theirs['rmse_a']:>7.4f} {theirs['rmse_b']:>7.4f}  "
                    f"{'missing as INVALID_RESPONSE' if case['per_person'] < case['items'] else ''}",
                    flush=True,
                )
    print()
    for name, ratio, ours, theirs in ratios:
        acc = (
            "equal or better"
            if ours["rmse_a"] <= theirs["rmse_a"] * 1.02 and ours["rmse_b"] <= theirs["rmse_b"] * 1.02
            else "WORSE"
        )
        print(f"{name}: infolit is {ratio:.0f}x faster than girth twopl_mml (target >= 40x), accuracy {acc}")
    if eap_line:
        print(eap_line)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (other processes share this machine)")


if __name__ == "__main__":
    main()
