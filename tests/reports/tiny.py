"""A tiny assessment whose profile numbers can be worked out by hand (no database).

One province (江苏省, 东部) with one city and two counties: county X (320101) has five schools of
ten grade-4 students (S01-S03 urban, S04-S05 rural), county Y (320102) four town schools, the
last (S09) with nine students of twelve registered. Two plausible values per student on the
reporting scale: ``pv1 = 300 + 20 s + 10 k`` for student ``k`` (0..9) of school ``s`` (0..8),
``pv2 = pv1 + 20`` for girls (``k < 5``) and ``pv1 - 10`` for boys. Two items, I1 (D1.1, 2PL
a = 1, b = 0) and I2 (D2.1, a = 1, b = 0.5); every student answers both, I1 right when ``k`` is
even and I2 right for girls.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from assess.models import Area, Assessment, School
from assess.scales import LEVELS
from itembank.framework import default_framework
from reports.inputs import ReportInputs
from reports.models import PlausibleValueRunPublic
from reports.plausible import AssessmentResponses, StoredValues
from reports.profile import AssessmentInfo
from reports.sample import DesignMode, SampleFrame, choose_design
from reports.tree import build_tree
from scoring.params import ItemParams

FloatArray = npt.NDArray[np.float64]

CUTS = (330.0, 400.0, 470.0)  # the default framework's band 3-4
SIZES = (10, 10, 10, 10, 10, 10, 10, 10, 9)
LOCALES = ("urban", "urban", "urban", "rural", "rural", "town", "town", "town", "town")


def tiny_values() -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """``(scale (n, 2), school_of (n,), girl (n,), k (n,))`` of the tiny assessment."""
    rows = []
    for s, size in enumerate(SIZES):
        for k in range(size):
            pv1 = 300.0 + 20 * s + 10 * k
            girl = k < 5
            rows.append((pv1, pv1 + 20.0 if girl else pv1 - 10.0, s, girl, k))
    arr = np.array(rows, dtype=object)
    scale = np.array(arr[:, :2], dtype=np.float64)
    school_of, girl, k = (np.array(arr[:, c], dtype=t) for c, t in ((2, np.int64), (3, bool), (4, np.int64)))
    return scale, school_of, girl, k


def tiny_inputs(*, design: DesignMode = "census", weights: FloatArray | None = None) -> ReportInputs:
    """The tiny assessment as :class:`~reports.inputs.ReportInputs` (see the module docstring).

    ``weights`` (one per student) become the sample frame's final weights.
    """
    now = datetime(2025, 5, 1, 8, 0)
    assessment = Assessment(id=1, code="T1", name="小型测评", opens_at=now, closes_at=now, grades=[4], calibration_id=1)
    areas = [
        Area(code="32", name="江苏省", level="province", region="东部", path="/32/"),
        Area(code="3201", name="东岭市", level="city", region="东部", path="/32/3201/"),
        Area(code="320101", name="安平区", level="county", region="东部", path="/32/3201/320101/"),
        Area(code="320102", name="金川县", level="county", region="东部", path="/32/3201/320102/"),
    ]
    schools = [
        School(
            code=f"S{s + 1:02d}", name=f"第{s + 1}小学", locale=LOCALES[s], area_id=0,
            path=f"/32/3201/{'320101' if s < 5 else '320102'}/S{s + 1:02d}/",
        )
        for s in range(len(SIZES))
    ]  # fmt: skip
    scale, school_of, girl, k = tiny_values()
    n = scale.shape[0]
    tree = build_tree(
        assessment, schools, areas, student_ids=np.arange(1, n + 1), session_ids=np.arange(1, n + 1),
        school_of=school_of, grade=np.full(n, 4), girl=girl, sampled=np.array([*SIZES[:-1], 12]),
    )  # fmt: skip
    level = np.searchsorted(np.asarray(CUTS), scale, side="right").astype(np.int64)
    run = PlausibleValueRunPublic(
        id=1, assessment_id=1, calibration_id=1, created_at=now, n_pvs=2, n_students=n, n_sessions=n,
        conditioning=["girl", "urban", "rural", "school"], model={"reliability": 0.9},
        dimensions={"D1": {"reliability": 0.8, "items": 1.0}, "D2": {"reliability": 0.3, "items": 1.0}},
        levels=list(LEVELS), pass_level=1, cuts={"3-4": list(CUTS)},
    )  # fmt: skip
    values = StoredValues(
        run=run, scale=scale, level=level, passed=level >= 1,
        dimension_scale={"D1": scale - 5.0, "D2": scale + 5.0}, eap_sd=np.full(n, 0.3),
        bands=tuple("3-4" for _ in range(n)), levels=LEVELS, pass_level=1, cuts={"3-4": CUTS},
    )  # fmt: skip
    params = ItemParams(
        ids=("I1", "I2"), models=("2pl", "2pl"), a=np.ones(2), b=np.array([[0.0], [0.5]]), c=np.zeros(2)
    )
    scores = np.column_stack([(k % 2 == 0), girl]).astype(np.float64)
    indptr = np.arange(0, 2 * n + 1, 2)
    matrix = sp.csr_matrix((scores.ravel(), np.tile([0, 1], n), indptr), shape=(n, 2))
    responses = AssessmentResponses(
        params=params, version_ids=(1, 2), indicators=("D1.1", "D2.1"), dimensions=("D1", "D2"), matrix=matrix,
        calibration_id=1, calibration_name="tiny-cal", baseline_mean=0.0, baseline_sd=1.0,
    )  # fmt: skip
    info = AssessmentInfo(code="T1", name="小型测评", grades=(4,), opens_at=now, closes_at=now, calibration="tiny-cal")
    return ReportInputs(
        tree=tree, values=values, responses=responses, framework=default_framework(),
        sample=choose_design(tree, mode=design, frame=None if weights is None else SampleFrame(weights=weights)),
        info=info,
    )  # fmt: skip
