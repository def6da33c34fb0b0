from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from assess.engine import Blueprint, ContentRule, EngineBank
from assess.simulate.adaptive import simulate_sessions
from assess.simulate.bankfiles import build_engine_bank, default_bank_dir, load_bank_files
from assess.simulate.measures import content_attainment, exposure_stats, score_eap
from assess.simulate.methods import assemble_linear_form
from assess.simulate.population import GRADE_MEANS, draw_population
from assess.simulate.study import CatStudy, run_cat_study, study_blueprint
from reports.render_text import format_study
from scoring.params import ItemParams

BANK_FILES = sorted(default_bank_dir().glob("d*.json"))
FILES = load_bank_files(BANK_FILES)
BANK = build_engine_bank(FILES)


# ------------------------------------------------------------------------------------ bank files
def test_load_bank_files_reads_every_shipped_file() -> None:
    items = [it for f in BANK_FILES for it in json.loads(f.read_text(encoding="utf-8"))["items"]]
    pool = [it for it in items if it["status"] in ("operational", "pilot")]
    assert FILES.params.n_items == len(pool)
    assert FILES.params.ids == tuple(it["code"] for it in pool)
    assert FILES.areas == tuple(it["indicator"].split(".")[0] for it in pool)
    assert set(FILES.pilot) == {it["code"] for it in pool if it["status"] == "pilot"}
    assert set(BANK.areas) == {f.stem.upper() for f in BANK_FILES}
    first = pool[0]
    j = FILES.params.index(first["code"])
    assert FILES.params.a[j] == pytest.approx(first["params"]["a"])
    assert FILES.params.b[j, : len(first["params"]["b"])] == pytest.approx(first["params"]["b"])
    assert all(a in FILES.params.ids for a, _ in FILES.enemies)


def test_load_bank_files_keeps_only_the_pool_and_accepts_a_directory(tmp_path: Path) -> None:
    def item(code: str, status: str, enemies: list[str]) -> dict[str, object]:
        return {
            "code": code,
            "indicator": "D9.1",
            "status": status,
            "enemies": enemies,
            "params": {
                "model": "gpcm" if code.endswith("3") else "2pl",
                "a": 1.1,
                "b": [-0.5, 0.5] if code.endswith("3") else [0.2],
                "c": 0,
            },
        }

    data = {
        "format": "infolit-items",
        "version": 1,
        "items": [
            item("D9.1-001", "operational", ["D9.1-002"]),
            item("D9.1-002", "pilot", []),
            item("D9.1-003", "operational", []),
            item("D9.1-004", "draft", []),
            item("D9.1-005", "retired", []),
        ],
    }
    (tmp_path / "d9.json").write_text(json.dumps(data), encoding="utf-8")
    files = load_bank_files([tmp_path])
    assert files.params.ids == ("D9.1-001", "D9.1-002", "D9.1-003")
    assert files.params.max_scores.tolist() == [1, 1, 2]
    assert files.areas == ("D9", "D9", "D9")
    assert files.pilot == ("D9.1-002",)
    assert files.enemies == (("D9.1-001", "D9.1-002"),)
    bank = build_engine_bank(files)
    assert bank.enemies[0, 1] and bank.pilot[1]


def test_load_bank_files_rejects_a_file_that_is_not_a_bank(tmp_path: Path) -> None:
    path = tmp_path / "d1.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="not an item-bank file"):
        load_bank_files([path])
    with pytest.raises(ValueError, match="no item-bank files"):
        load_bank_files([])


# ------------------------------------------------------------------------------------ design
def test_study_blueprint_minima_fit_in_the_minimum_length() -> None:
    bp = study_blueprint(BANK.areas, length=30, min_length=24, grades=(4, 8))
    assert sum(r.min_items for r in bp.content) <= bp.min_items
    assert all(r.max_items is not None and r.max_items * len(bp.content) >= bp.max_items for r in bp.content)
    assert dict(bp.start_theta) == {4: GRADE_MEANS[4], 8: GRADE_MEANS[8]}


def test_draw_population_follows_the_grade_means() -> None:
    theta, grades = draw_population(20_000, np.random.default_rng(0), grades=(4, 11))
    assert set(grades.tolist()) == {4, 11}
    for g in (4, 11):
        assert theta[grades == g].mean() == pytest.approx(GRADE_MEANS[g], abs=0.05)
        assert theta[grades == g].std() == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="no mean ability"):
        draw_population(5, np.random.default_rng(0), grades=(2,))


def test_linear_form_is_content_balanced_without_enemies_or_pilots() -> None:
    bp = study_blueprint(BANK.areas, length=20, min_length=20)
    form = assemble_linear_form(BANK, bp, 20, -0.3)
    assert form.size == len(set(form.tolist())) == 20
    assert not BANK.pilot[form].any()
    assert not BANK.enemies[np.ix_(form, form)].any()
    assert content_attainment(BANK, bp, form[None, :]) == 1.0
    # without content rules it is simply the 20 most informative operational items at theta
    free = assemble_linear_form(BANK, Blueprint(min_items=20, max_items=20), 20, -0.3)
    g = np.searchsorted(BANK.grid, -0.3)
    info = np.where(BANK.pilot, -np.inf, BANK.info[g])
    assert BANK.info[g, free].min() >= np.sort(info)[-25] - 1e-12  # enemies may push a few further down


# ------------------------------------------------------------------------------------ statistics
def test_exposure_stats_by_hand() -> None:
    counts = np.array([10, 5, 5, 0, 0])  # 10 sessions, 2 items each
    e = exposure_stats(counts, 10)
    rates = np.array([1.0, 0.5, 0.5, 0.0, 0.0])
    assert e.max_rate == 1.0
    assert e.never_used == pytest.approx(0.4)
    expected = 2 / 5
    assert e.chi_square == pytest.approx(((rates - expected) ** 2).sum() / expected)
    assert e.overlap == pytest.approx(5 / 2 * rates.var() + expected)
    # a single fixed form: every pair of sessions shares everything
    fixed = exposure_stats(np.array([7, 7, 7, 0]), 7)
    assert fixed.overlap == pytest.approx(1.0)


def test_engine_eap_equals_scoring_eap() -> None:
    bp = study_blueprint(BANK.areas, length=15, min_length=15, se_target=0.0)
    rng = np.random.default_rng(4)
    sim = simulate_sessions(BANK, bp, rng.normal(0, 1, 200), rng, pilot_per_session=2)
    theta, se = score_eap(BANK, sim.items, sim.scores)
    np.testing.assert_allclose(theta, sim.theta, atol=1e-8)
    np.testing.assert_allclose(se, sim.se, atol=1e-8)


# ------------------------------------------------------------------------------------ the study
@pytest.fixture(scope="module")
def study() -> CatStudy:
    rng = np.random.default_rng(2)
    population = rng.normal(0.0, 1.3, 600)
    bp = study_blueprint(BANK.areas, length=20, min_length=20, se_target=0.0)
    return run_cat_study(BANK, bp, population, rng, catsim_examinees=0, chunk_size=250)


def test_cat_beats_the_linear_form_of_equal_length(study: CatStudy) -> None:
    assert study.linear.length_mean == pytest.approx(study.cat.length_mean)
    assert study.cat.rmse < study.linear.rmse
    assert study.cat.rmse < 0.4
    assert abs(study.cat.bias) < 0.08
    assert study.catsim is None and study.catsim_eap is None
    assert [m.name for m in study.methods] == ["engine CAT", "linear form"]


def test_study_numbers_are_sane(study: CatStudy) -> None:
    for m in study.methods:
        assert m.band_n.sum() == m.n_examinees == 600
        filled = m.band_n > 0
        pooled = np.sqrt((m.band_n[filled] * m.band_rmse[filled] ** 2).sum() / m.n_examinees)
        assert pooled == pytest.approx(m.rmse)
        pooled_bias = (m.band_n[filled] * m.band_bias[filled]).sum() / m.n_examinees
        assert pooled_bias == pytest.approx(m.bias)
        assert (m.band_rmse[filled] >= np.abs(m.band_bias[filled]) - 1e-12).all()
        assert 0.5 < m.reliability < 1.0
        assert 0.5 < m.squared_correlation < 1.0
        assert m.length_min <= m.length_mean <= m.length_max == 20
        assert m.content_attainment == 1.0
        assert m.seconds >= 0
    assert study.band_edges.size == 9 and np.isinf(study.band_edges[[0, -1]]).all()
    # extreme bands are measured worse than the middle
    assert study.cat.band_rmse[0] > study.cat.band_rmse[4]


def test_exposure_stats_are_consistent_with_counts(study: CatStudy) -> None:
    # rates are counts / N: recover the counts and recompute every statistic from them
    e = study.cat.exposure
    assert e.pool_size == int((~BANK.pilot).sum()) == e.rates.size
    assert e.rates.sum() == pytest.approx(study.cat.length_mean)
    counts = np.rint(e.rates * study.n_examinees)
    np.testing.assert_allclose(counts, e.rates * study.n_examinees, atol=1e-9)
    assert e.max_rate == pytest.approx(counts.max() / study.n_examinees)
    assert e.never_used == pytest.approx((counts == 0).mean())
    again = exposure_stats(counts, study.n_examinees)
    assert again.chi_square == pytest.approx(e.chi_square)
    assert again.overlap == pytest.approx(e.overlap)
    lin = study.linear.exposure
    assert lin.max_rate == 1.0 and lin.overlap == pytest.approx(1.0)
    assert lin.never_used == pytest.approx(1 - 20 / lin.pool_size)
    assert e.chi_square < lin.chi_square and e.never_used < lin.never_used


def test_format_study_lists_every_method_and_band(study: CatStudy) -> None:
    text = format_study(study)
    assert "engine CAT" in text and "linear form" in text
    assert "conditional bias / RMSE" in text
    assert text.count("..") >= 8
    assert "catsim" not in text.split("conditional")[0]


def test_the_same_seed_gives_the_same_study() -> None:
    bp = study_blueprint(BANK.areas, length=10, min_length=8, se_target=0.4, randomesque_k=2)
    pop = np.random.default_rng(9).normal(0, 1, 150)
    a = run_cat_study(BANK, bp, pop, np.random.default_rng(5), catsim_examinees=0)
    b = run_cat_study(BANK, bp, pop, np.random.default_rng(5), catsim_examinees=0)
    np.testing.assert_array_equal(a.cat.theta, b.cat.theta)
    np.testing.assert_array_equal(a.linear.theta, b.linear.theta)


def test_sympson_hetter_calibration_lowers_the_maximum_exposure() -> None:
    bp = study_blueprint(BANK.areas, length=12, min_length=12, se_target=0.0)
    pop = np.random.default_rng(3).normal(0, 1, 400)
    free = run_cat_study(BANK, bp, pop, np.random.default_rng(1), catsim_examinees=0)
    controlled = run_cat_study(
        BANK,
        bp,
        pop,
        np.random.default_rng(1),
        catsim_examinees=0,
        exposure_target=0.3,
        calibration_examinees=400,
        calibration_iterations=6,
    )
    assert controlled.blueprint.sympson_hetter and not free.blueprint.sympson_hetter
    assert controlled.calibration_seconds > 0 and any("Sympson-Hetter" in n for n in controlled.notes)
    assert free.cat.exposure.max_rate > 0.6
    assert controlled.cat.exposure.max_rate < 0.45
    assert controlled.cat.exposure.chi_square < free.cat.exposure.chi_square
    assert (free.exposure_parameters == 1.0).all()
    assert controlled.exposure_parameters.min() < 1.0 and controlled.exposure_parameters.size == BANK.n_items


def test_catsim_comparison_on_the_same_examinees() -> None:
    pytest.importorskip("catsim")
    bp = study_blueprint(BANK.areas, length=12, min_length=12, se_target=0.0, grades=(4, 8))
    rng = np.random.default_rng(8)
    pop, grades = draw_population(300, rng, grades=(4, 8))
    st = run_cat_study(BANK, bp, pop, rng, grades=grades, catsim_examinees=100)
    assert st.catsim is not None and st.catsim_eap is not None
    cs = st.catsim
    np.testing.assert_array_equal(cs.true_theta, pop[:100])
    assert cs.n_examinees == 100 and cs.length_min == cs.length_max == 12
    dich = int(((~BANK.pilot) & (BANK.params.max_scores == 1)).sum())
    assert cs.exposure.pool_size == dich < st.cat.exposure.pool_size
    assert cs.exposure.rates.sum() == pytest.approx(12.0)
    assert np.isfinite(cs.theta).all() and (np.abs(cs.theta) <= 6.0 + 1e-9).all()
    assert np.isfinite(cs.se).all() and (cs.se > 0).all()
    assert cs.rmse < 0.8 and st.catsim_eap.rmse < 0.8
    np.testing.assert_array_equal(st.catsim_eap.lengths, cs.lengths)
    assert any("dichotomous" in n for n in st.notes)
    assert cs.seconds > 0
    text = format_study(st)
    assert "catsim max-info" in text and "catsim items, EAP" in text


def test_no_catsim_when_the_bank_has_no_dichotomous_items() -> None:
    b = np.sort(np.random.default_rng(0).normal(0, 1, (40, 2)), axis=1)
    params = ItemParams(tuple(f"P{j}" for j in range(40)), ("gpcm",) * 40, np.full(40, 1.2), b, np.zeros(40))
    bank = EngineBank.build(params, ["D1"] * 40)
    st = run_cat_study(
        bank,
        Blueprint(min_items=5, max_items=5, se_target=0.0, content=(ContentRule("D1", 5, 5),)),
        np.linspace(-2, 2, 50),
        np.random.default_rng(0),
    )
    assert st.catsim is None
    assert any("no dichotomous" in n for n in st.notes)
    assert math.isfinite(st.cat.rmse)


def test_band_count_is_configurable() -> None:
    bp = study_blueprint(BANK.areas, length=8, min_length=8, se_target=0.0)
    st = run_cat_study(BANK, bp, np.linspace(-2, 2, 80), np.random.default_rng(0), catsim_examinees=0, n_bands=4)
    assert st.cat.band_n.size == 4 and st.cat.band_n.sum() == 80
