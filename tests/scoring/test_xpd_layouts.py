"""The cross-product (XPD) standard errors do not depend on the E-step's layout or precision.

Large problems run the E-step node-major (``dense``, ``reduced``) and in float32; the small
reference sets would run ``sparse`` in float64. Here every layout is forced on the mirt reference
sets and on a simulated design with missing responses, groups and weights, in both precisions,
and the standard errors are compared with the sparse float64 ones (the per-person score vectors
computed category by category, a different route through the code).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring import calibrate, random_item_params, random_sparse_design, simulate_responses
from scoring.calibration import estep
from tests.scoring.test_mirt_reference import LOGLIK, load_data

RTOL_DOUBLE = 1e-6
RTOL_SINGLE = 1e-4  # float32 products: the SEs move by about 1e-5 relative at most on these sets


def xpd_se(monkeypatch: pytest.MonkeyPatch, mode: str, precision: str, x: np.ndarray, models, **kw) -> np.ndarray:
    monkeypatch.setattr(estep, "_choose_mode", lambda *_: mode)
    res = calibrate(x, models, se="xpd", precision=precision, tol=1e-6, **kw)
    assert res.se_method == "xpd"
    parts = [res.se.a, res.se.b.reshape(-1), [d.se_mean for d in res.latent], [d.se_sd for d in res.latent]]
    return np.concatenate([np.asarray(p, dtype=float) for p in parts])


@pytest.mark.parametrize(("data", "model"), list(LOGLIK))
def test_every_layout_and_precision_gives_the_same_xpd_errors_on_the_reference_sets(
    monkeypatch: pytest.MonkeyPatch, data: str, model: str
) -> None:
    ids, x = load_data(data)
    base = xpd_se(monkeypatch, "sparse", "double", x, model, item_ids=ids)
    assert np.isfinite(base[~np.isnan(base)]).all() and np.sum(base > 0) >= x.shape[1]
    for mode in ("sparse", "dense", "reduced"):
        for precision, rtol in (("double", RTOL_DOUBLE), ("single", RTOL_SINGLE)):
            other = xpd_se(monkeypatch, mode, precision, x, model, item_ids=ids)
            assert_allclose(other, base, rtol=rtol, err_msg=f"{mode} {precision}")


@pytest.mark.parametrize("keep", [True, False])
def test_layouts_agree_with_missing_responses_groups_and_weights(monkeypatch: pytest.MonkeyPatch, keep: bool) -> None:
    """``keep``: the XPD reuses the posteriors of the final log-likelihood pass, or (large data) recomputes them."""
    if not keep:
        monkeypatch.setattr(estep, "KEEP_POSTERIORS", 0)
    rng = np.random.default_rng(31)
    bank = random_item_params(12, "2pl", rng)
    n = 1500
    groups = np.where(np.arange(n) < 700, "urban", "rural")
    theta = rng.standard_normal(n) + np.where(groups == "rural", -0.4, 0.0)
    design = random_sparse_design(n, 12, 8, rng)
    x = np.asarray(simulate_responses(bank, theta, rng, design_mask=design), dtype=float)
    w = rng.uniform(0.5, 2.0, n)
    fixed = bank.subset(bank.ids[:3])
    kw = {"item_ids": bank.ids, "groups": groups, "weights": w, "fixed": fixed}
    base = xpd_se(monkeypatch, "sparse", "double", x, "2pl", **kw)
    assert np.sum(np.isfinite(base)) == 2 * 9 + 4  # free items' a and b, both groups' mean and SD
    for precision, rtol in (("double", RTOL_DOUBLE), ("single", RTOL_SINGLE)):
        other = xpd_se(monkeypatch, "dense", precision, x, "2pl", **kw)
        assert_allclose(other, base, rtol=rtol, err_msg=precision)


@pytest.mark.parametrize(
    ("models", "weighted"),
    [(["2pl"] * 10, False), (["2pl"] * 10, True), (["1pl"] * 10, False), (["2pl"] * 6 + ["3pl"] * 4, False)],
)
def test_the_binary_layout_fits_like_the_dense_one(
    monkeypatch: pytest.MonkeyPatch, models: list[str], weighted: bool
) -> None:
    """Dichotomous items, one group: the ``binary`` layout (linear logits, or the 3PL's exact path) = ``dense``."""
    rng = np.random.default_rng(41)
    w = rng.uniform(0.5, 2.0, 2000) if weighted else None
    bank = random_item_params(10, models, rng)
    x = np.asarray(
        simulate_responses(bank, rng.standard_normal(2000), rng, design_mask=random_sparse_design(2000, 10, 7, rng)),
        dtype=float,
    )
    monkeypatch.setattr(estep, "_choose_mode", lambda *_: "dense")
    fits = {}
    for binary in (True, False):
        monkeypatch.setattr(estep, "BINARY_LAYOUT", binary)
        for precision in ("double", "single"):
            fits[binary, precision] = calibrate(x, models, weights=w, se="xpd", precision=precision, tol=1e-6)
    for precision, atol in (("double", 1e-9), ("single", 2e-4)):
        new, old = fits[True, precision], fits[False, precision]
        assert new.log_likelihood == pytest.approx(old.log_likelihood, abs=1e-6 if precision == "double" else 1e-3)
        assert_allclose(new.params.a, old.params.a, atol=atol)
        assert_allclose(new.params.b, old.params.b, atol=atol)
        assert_allclose(new.se.a, old.se.a, rtol=RTOL_SINGLE)
        assert_allclose(new.se.b, old.se.b, rtol=RTOL_SINGLE)


def test_large_dense_dichotomous_data_of_one_group_take_the_binary_layout() -> None:
    """The bench's shape (many persons, 30 of 48 items each) runs binary; with groups or polytomous items, dense."""
    from scoring.calibration.prepare import prepare_data
    from scoring.irt import quadrature_grid

    rng = np.random.default_rng(43)
    n, j = 22_000, 48  # dense layouts need n x columns >= 2,000,000
    x = np.where(random_sparse_design(n, j, 30, rng), rng.integers(0, 2, (n, j)), np.nan).astype(float)
    nodes = quadrature_grid()

    def mode(data_x: np.ndarray, groups: np.ndarray | None = None) -> str:
        kw = {"item_ids": None, "weights": None, "groups": groups, "reference_group": None, "fixed": None}
        d = prepare_data(data_x, "2pl" if np.nanmax(data_x) <= 1 else "grm", **kw)
        e = estep.EStep(d.indptr, d.cats, d.offsets, None, d.group_index, len(d.labels), "auto", None, 1, nodes)
        return e.mode

    assert mode(x) == "binary"
    assert mode(x, np.where(np.arange(n) % 2 == 0, "a", "b")) == "dense"
    assert mode(np.where(np.isnan(x), np.nan, x + rng.integers(0, 2, (n, j)))) == "dense"


def test_the_binary_indicators_from_dense_responses_equal_those_from_the_stacked_columns() -> None:
    from scoring.calibration.prepare import prepare_data
    from scoring.irt import quadrature_grid

    rng = np.random.default_rng(44)
    n, j = 22_000, 48
    x = np.where(random_sparse_design(n, j, 30, rng), rng.integers(0, 2, (n, j)), np.nan).astype(float)
    d = prepare_data(x, "2pl", item_ids=None, weights=None, groups=None, reference_group=None, fixed=None)
    assert d.dense is not None
    args = (d.indptr, d.cats, d.offsets, None, d.group_index, 1, "single", 8192, 1, quadrature_grid())
    from_dense, from_columns = estep.EStep(*args, dense=d.dense), estep.EStep(*args)
    assert from_dense.mode == from_columns.mode == "binary" and len(from_dense.chunks) == 3
    for a, b in zip(from_dense.chunks, from_columns.chunks, strict=True):
        assert np.array_equal(a["yt"], b["yt"])
    x[5] = np.nan  # a person without responses is left out: no dense matrix then
    kw = {"item_ids": None, "weights": None, "groups": None, "reference_group": None, "fixed": None}
    assert prepare_data(x, "2pl", **kw).dense is None


@pytest.mark.parametrize(("mode", "groups"), [("dense", True), ("dense", False), ("reduced", False), ("binary", False)])
@pytest.mark.parametrize("keep", [True, False])
def test_the_float64_passes_give_the_same_result_in_blocks_of_persons(
    monkeypatch: pytest.MonkeyPatch, mode: str, groups: bool, keep: bool
) -> None:
    """The final log-likelihood pass and the XPD run over blocks of a chunk's persons: blocks of 97 = one block.

    97 does not divide the 1,300 persons, so the last block is short; ``keep`` as in the test above.
    """
    if not keep:
        monkeypatch.setattr(estep, "KEEP_POSTERIORS", 0)
    rng = np.random.default_rng(47)
    n, j = 1300, 9
    bank = random_item_params(j, "2pl", rng)
    g = np.where(np.arange(n) % 3 == 0, "a", "b") if groups else None
    design = None if mode == "reduced" else random_sparse_design(n, j, 6, rng)
    x = np.asarray(simulate_responses(bank, rng.standard_normal(n), rng, design_mask=design), dtype=float)
    w = rng.uniform(0.5, 2.0, n)
    layout = "dense" if mode == "binary" else mode
    monkeypatch.setattr(estep, "_choose_mode", lambda *_: layout)
    monkeypatch.setattr(estep, "BINARY_LAYOUT", mode == "binary")
    fits = []
    for block in (97, 10**9):
        monkeypatch.setattr(estep, "BLOCK_PERSONS", block)
        fits.append(calibrate(x, "2pl", weights=w, groups=g, se="xpd", precision="single", tol=1e-6))
    blocked, whole = fits
    assert blocked.se_method == whole.se_method == "xpd"
    assert blocked.log_likelihood == pytest.approx(whole.log_likelihood, rel=1e-12)
    assert_allclose(blocked.params.a, whole.params.a, rtol=1e-12)
    assert_allclose(blocked.se.a, whole.se.a, rtol=1e-7)  # float32 scores: products in another order
    assert_allclose(blocked.se.b, whole.se.b, rtol=1e-7)


@pytest.mark.parametrize("mode", ["sparse", "dense", "reduced", "binary"])
@pytest.mark.parametrize("precision", ["single", "double"])
def test_no_posterior_weight_is_subnormal_and_the_floor_moves_no_estimate(
    monkeypatch: pytest.MonkeyPatch, mode: str, precision: str
) -> None:
    """Persons far from a node give weights under exp(-87) there: without ``EXP_FLOOR`` they are subnormal.

    A product over subnormal numbers runs on the processor's slow path (7 ms -> 48 ms for the bench's
    E-step product on an AVX-512 Xeon). With the floor none is left, in the E-steps' posteriors and in
    the kept ones the standard errors reuse, and the fit is the fit without it.
    """
    rng = np.random.default_rng(53)
    n, j = 900, 60
    bank = random_item_params(j, "2pl", rng)
    theta = rng.uniform(-3.0, 3.0, n)
    design = None if mode == "reduced" else random_sparse_design(n, j, 50, rng)
    x = np.asarray(simulate_responses(bank, theta, rng, design_mask=design), dtype=float)
    layout = "dense" if mode == "binary" else mode
    monkeypatch.setattr(estep, "_choose_mode", lambda *_: layout)
    monkeypatch.setattr(estep, "BINARY_LAYOUT", mode == "binary")
    seen: list[np.ndarray] = []
    posterior, kept_posteriors = estep.EStep.posterior, estep.EStep.kept_posteriors

    def recording_posterior(self: estep.EStep, chunk: dict, prepared: tuple) -> tuple:
        out = posterior(self, chunk, prepared)
        seen.append(np.array(out[0]))
        return out

    def recording_kept(self: estep.EStep, logp: np.ndarray, logprior: np.ndarray) -> list | None:
        out = kept_posteriors(self, logp, logprior)
        seen.extend(np.array(p) for p in out or [])
        return out

    def subnormal(arrays: list[np.ndarray]) -> int:
        return sum(int(np.sum((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny))) for a in arrays)

    monkeypatch.setattr(estep.EStep, "posterior", recording_posterior)
    monkeypatch.setattr(estep.EStep, "kept_posteriors", recording_kept)
    fits = {}
    for floor in ("on", "off"):
        if floor == "off":
            monkeypatch.setattr(estep, "EXP_FLOOR", {np.dtype(np.float32): -np.inf, np.dtype(np.float64): -np.inf})
        seen.clear()
        fits[floor] = calibrate(x, "2pl", se="xpd", precision=precision, tol=1e-6)
        assert seen and {a.dtype for a in seen} == {np.dtype(np.float32 if precision == "single" else np.float64)}
        counted = subnormal(seen)
        if floor == "on":
            assert counted == 0
        elif precision == "single":
            assert counted > 1000  # the data do reach the slow path without the floor
    on, off = fits["on"], fits["off"]
    assert on.se_method == off.se_method == "xpd" and on.n_cycles == off.n_cycles
    assert on.log_likelihood == pytest.approx(off.log_likelihood, rel=1e-12)
    assert_allclose(on.params.a, off.params.a, rtol=1e-9)
    assert_allclose(on.params.b, off.params.b, rtol=1e-9, atol=1e-12)
    assert_allclose(on.se.a, off.se.a, rtol=1e-7)
