"""JK2 zones from the sort order, and the JK2 variance of a weighted total against the design's exact variance."""

from __future__ import annotations

import numpy as np
import pytest

from assess.sampling.frame import SchoolFrame
from assess.sampling.jackknife import form_zones, replicate_design
from assess.sampling.select import DrawnSchools, draw_sample
from assess.sampling.weights import StudentRecords, compute_weights
from tests.assess.sampling.helpers import design, sit, small_frame

N_STRATA, PER_STRATUM = 40, 100


def _population() -> tuple[SchoolFrame, np.ndarray]:
    """40 strata (counties) of 100 schools in random code order; each school's mean score ``mu``."""
    rng = np.random.default_rng(2024)
    n = N_STRATA * PER_STRATUM
    codes = [f"S{c:05d}" for c in rng.permutation(n)]
    county = [f"K{i // PER_STRATUM:02d}" for i in range(n)]
    cols = {
        "school_code": codes, "school": codes, "province_code": ["44"] * n, "province": ["广东省"] * n,
        "city_code": ["4401"] * n, "city": ["广州市"] * n, "county_code": county, "county": county,
        "region": ["东部"] * n, "locale": ["urban"] * n,
    }  # fmt: skip
    enrol = rng.integers(50, 400, n)
    mu = 500 + 30 * rng.standard_normal(n)
    return SchoolFrame.from_columns(cols, {4: enrol}), mu


def _design():  # type: ignore[no-untyped-def]
    sizes = {f"K{h:02d}": 2 for h in range(N_STRATA)}
    return design(strata_by=("county_code",), allocation="explicit", sizes=sizes, sort=("school_code",),
                  min_measure=1, replacements=0)  # fmt: skip


def _exact_moments(frame: SchoolFrame, mu: np.ndarray) -> tuple[float, float]:
    """The exact variance of the HT total and the exact expectation of the JK2 estimate, by enumerating
    every random start of the systematic draw in each stratum (a hand computation, not the module's code)."""
    e = frame.enrolment[4].astype(float)
    codes = frame.column("school_code")
    variance = expected_v = 0.0
    for h in range(N_STRATA):
        rows = np.arange(h * PER_STRATUM, (h + 1) * PER_STRATUM)
        rows = rows[np.argsort(codes[rows])]
        mos, y = e[rows], e[rows] * mu[rows]
        pi = 2 * mos / mos.sum()
        interval, cum = mos.sum() / 2, np.cumsum(mos)
        cuts = np.unique(np.concatenate([[0.0, interval], np.mod(cum, interval)]))
        cuts = cuts[cuts <= interval]
        totals, vs, ps = [], [], []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            if b - a < 1e-12:
                continue
            i, j = np.searchsorted(cum, (a + b) / 2 + interval * np.arange(2), side="right")
            totals.append(y[i] / pi[i] + y[j] / pi[j])
            vs.append((y[i] / pi[i] - y[j] / pi[j]) ** 2)
            ps.append((b - a) / interval)
        p, t = np.array(ps), np.array(totals)
        assert p.sum() == pytest.approx(1.0) and (p * t).sum() == pytest.approx(y.sum())  # unbiased
        variance += float((p * (t - y.sum()) ** 2).sum())
        expected_v += float((p * np.array(vs)).sum())
    return variance, expected_v


def _one_draw(frame: SchoolFrame, mu: np.ndarray, seed: int) -> tuple[float, float, float]:
    """The weighted total, its JK2 variance through the module's code, and the same by hand."""
    d = _design()
    s = draw_sample(frame, d, seed=seed)
    schools = s.schools()
    students = StudentRecords(np.arange(schools.n), np.full(schools.n, 4), np.ones(schools.n, dtype=bool))
    w = compute_weights(schools, students, d)
    zones = form_zones(schools, w.used, students.school, seed=seed)
    rep = replicate_design(w.final, zones, students.school)
    y = mu[s.index]
    total = float(w.final @ y)
    v = float(rep.variance(total, rep.replicate_weights().T @ y))
    t = schools.enrolment[:, 0] * y / schools.probability
    by_hand = sum((t[schools.stratum == k][0] - t[schools.stratum == k][1]) ** 2 for k in np.unique(schools.stratum))
    return total, v, float(by_hand)


def test_jk2_variance_of_a_total_matches_the_exact_design_variance() -> None:
    """E[v_JK2] / Var(total) lies within [0.95, 1.15] on this population (exact, no simulation error).

    JK2 on pairs estimates the with-replacement variance, which exceeds the systematic draw's by
    about the sampling fraction (2 of 100 here), give or take what the fixed order adds; 0.998 here.
    """
    frame, mu = _population()
    variance, expected_v = _exact_moments(frame, mu)
    assert 0.95 <= expected_v / variance <= 1.15, expected_v / variance
    totals, vs = [], []
    for seed in range(150):
        total, v, by_hand = _one_draw(frame, mu, seed)
        assert v == pytest.approx(by_hand, rel=1e-9)
        totals.append(total)
        vs.append(v)
    # the module's JK2 over 150 draws agrees with the exact expectation (MC error ~ 6%, 4 SE allowed)
    vs_arr = np.array(vs)
    assert abs(vs_arr.mean() - expected_v) < 4 * vs_arr.std(ddof=1) / np.sqrt(vs_arr.size)
    truth = float((frame.enrolment[4] * mu).sum())
    t = np.array(totals)
    assert abs(t.mean() - truth) < 4 * np.sqrt(variance / t.size)


def test_zones_pair_neighbours_in_the_sort_order_with_one_school_in_each_half() -> None:
    frame = small_frame(80, big=1)
    d = design(schools=17)
    s = draw_sample(frame, d, seed=1)
    schools = s.schools()
    students = sit(schools, d, np.random.default_rng(1), refuse=0.2)
    w = compute_weights(schools, students, d)
    z = form_zones(schools, w.used, students.school, seed=3)
    assert np.all(z.school_zone[~w.used] == -1) and np.all(z.school_zone[w.used] >= 0)
    for zone in range(z.n_zones):
        mine = np.nonzero(z.school_zone == zone)[0]
        if schools.certainty[mine].any():
            assert mine.size == 1
            kids = z.half[students.school == mine[0]]
            assert abs(int((kids == 1).sum()) - int((kids == 0).sum())) <= 1  # its students split in halves
            continue
        assert 2 <= mine.size <= 3 and {0, 1} <= set(z.school_half[mine].tolist())
    np.testing.assert_array_equal(z.zone, z.school_zone[students.school])


def test_a_single_school_in_a_stratum_joins_the_zone_before_it() -> None:
    schools = DrawnSchools(
        code=np.array(list("ABCDE")), stratum=np.array(["a", "a", "a", "b", "c"]), role=np.zeros(5, dtype=np.int64),
        replaces=np.full(5, -1), order=np.array([2, 0, 1, 0, 0]), probability=np.full(5, 0.5),
        certainty=np.zeros(5, dtype=bool), enrolment=np.full((5, 1), 10), stratum_enrolment={},
    )  # fmt: skip
    z = form_zones(schools, np.ones(5, dtype=bool), np.arange(5), seed=0)
    # stratum a in sort order B, C, A: (B, C) and A joins them; b's D is carried into c and pairs with E
    assert z.school_zone.tolist() == [0, 0, 0, 1, 1]
    assert sorted(z.school_half[[3, 4]].tolist()) == [0, 1]
