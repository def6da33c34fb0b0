"""scoring.survey against R's survey + mitools on the committed reference sample (tests/data/survey).

The R script tests/data/survey/make_reference.R wrote the sample, the replicate weights R used and
R's Rubin-combined results (svrepdesign / as.svrepdesign, svymean, svyquantile with qrule "math",
svyby + svycontrast, svyglm, MIcombine). InfoLit builds its own designs from the zones, halves,
strata and schools, and must agree to a relative 1e-6.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from scoring.survey import (
    ReplicateDesign,
    ReplicateEstimates,
    compare_groups,
    estimate_mean,
    estimate_percentiles,
    estimate_regression,
    estimate_share_at_or_above,
)

DATA = Path(__file__).parents[1] / "data" / "survey"


def _columns(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


STUDENTS = _columns(DATA / "students.csv")
PV = np.column_stack([STUDENTS[f"pv{m}"] for m in range(1, 6)])


def _design(name: str) -> ReplicateDesign:
    s = STUDENTS
    if name == "jk2_full":
        return ReplicateDesign.jk2(s["zone"], s["half"], weights=s["weight"], schools=s["school"], variant="full")
    if name == "jk2_half":
        return ReplicateDesign.jk2(s["zone"], s["half"], weights=s["weight"], schools=s["school"], variant="half")
    if name == "jkn":
        return ReplicateDesign.jkn(s["school"], strata=s["stratum"], weights=s["weight"])
    return ReplicateDesign.fay_brr(s["zone"], s["half"], weights=s["weight"], schools=s["school"], k=0.5)


def _statistic(name: str, design: ReplicateDesign) -> ReplicateEstimates:
    if name == "mean":
        return estimate_mean(PV, design)
    if name == "share":
        return estimate_share_at_or_above(PV, design, 0.3)
    if name in ("median", "p25"):
        return estimate_percentiles(PV, design, [0.5 if name == "median" else 0.25])
    if name == "gap":
        return compare_groups(estimate_mean(PV, design, groups=STUDENTS["girl"]), [(1.0, 0.0)])
    x = np.column_stack([STUDENTS["girl"], STUDENTS["urban"]])
    reg = estimate_regression(PV, design, x, names=["girl", "urban"])
    return reg.select(["all"], name.removeprefix("beta_"))


def _reference() -> list[dict[str, str]]:
    with (DATA / "reference.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("row", _reference(), ids=lambda r: f"{r['design']}-{r['statistic']}")
def test_agrees_with_r_survey_and_mitools(row: dict[str, str]) -> None:
    est = _statistic(row["statistic"], _design(row["design"]))
    got = est.combine(df_method="rubin")
    assert len(got) == 1
    assert_allclose(got.estimate[0], float(row["estimate"]), rtol=1e-6, atol=1e-12)
    assert_allclose(got.se[0] ** 2, float(row["variance"]), rtol=1e-6)
    assert_allclose(got.se_sampling[0] ** 2, float(row["sampling_variance"]), rtol=1e-6)
    assert_allclose(got.df[0], float(row["df"]), rtol=1e-6)


@pytest.mark.parametrize("name", ["jk2_full", "jk2_half", "jkn", "fay"])
def test_replicate_weights_and_factors_are_rs(name: str) -> None:
    design = _design(name)
    theirs = np.column_stack(list(_columns(DATA / f"replicate_weights_{name}.csv").values()))
    scales = _columns(DATA / f"replicate_scales_{name}.csv")
    ours = design.replicate_weights()
    assert ours.shape == theirs.shape
    if name == "jkn":  # R orders the JKn replicates its own way: compare them as a set of columns
        key_o = np.lexsort(ours[::-1].round(8))
        key_t = np.lexsort(theirs[::-1].round(8))
        assert_allclose(ours[:, key_o], theirs[:, key_t], rtol=1e-12)
        assert_allclose(np.sort(design.rscales), np.sort(scales["rscales"]), rtol=1e-12)
    else:
        assert_allclose(ours, theirs, rtol=1e-12)
        theirs_factor = np.broadcast_to(scales["rscales"] * scales["scale"], design.rscales.shape)  # R may store one
        assert_allclose(design.rscales * design.scale, theirs_factor, rtol=1e-12)
