"""Benchmark: one plausible value per person from the posterior on the grid, in blocks and over the whole array.

    python bench/pv_draw.py [--persons 45000] [--nodes 241] [--repeat 5]

``scoring.population._draw_from_grid`` forms each person's posterior on the quadrature grid, its
CDF and an inverse draw, a block of persons at a time; the whole-array version (what it did
before) makes temporaries of persons x nodes. Both give the same draws (checked here); the figures
are the median wall-clock time of one draw of every person (the national demo makes 50 of them:
ten PVs for the total score and each of four dimensions).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--persons", type=int, default=45_000)
    parser.add_argument("--nodes", type=int, default=241)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    import numpy as np

    from scoring.population import _DRAW_ROWS, _draw_from_grid, _posterior, quadrature_grid

    rng = np.random.default_rng(0)
    n = args.persons
    nodes = quadrature_grid(args.nodes, 6.0)
    lik = np.exp(-0.5 * ((nodes[None, :] - rng.normal(size=n)[:, None]) / 0.4) ** 2)
    mu, sd = 0.3 * rng.normal(size=n), np.full(n, 0.9)

    def whole(r: np.random.Generator) -> object:
        post, _ = _posterior(lik, nodes, mu, sd)
        cdf = np.cumsum(post, axis=1)
        u = r.random(n) * cdf[:, -1]
        idx = np.minimum((cdf < u[:, None]).sum(axis=1), nodes.size - 1)
        return nodes[idx] + (r.random(n) - 0.5) * (nodes[1] - nodes[0])

    def blocked(r: np.random.Generator) -> object:
        return _draw_from_grid(lik, nodes, mu, sd, r)

    same = np.array_equal(np.asarray(blocked(np.random.default_rng(3))), np.asarray(whole(np.random.default_rng(3))))
    print(f"{n:,} persons x {args.nodes} nodes, blocks of {_DRAW_ROWS}; the same draws: {same}")
    for name, f in (("whole array", whole), ("blocked", blocked)):
        times = []
        for k in range(args.repeat):
            t0 = time.perf_counter()
            f(np.random.default_rng(k))
            times.append(time.perf_counter() - t0)
        print(f"  {name:<12} median {1000 * statistics.median(times):7.0f} ms, first {1000 * times[0]:7.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
