"""A simulated field trial: linear, matrix-sampled booklets for a subsample of the population.

Blocks of items rotate through the booklets, and the grade 5-6 items are shared by grades 4 and
8 (7-9 by 8 and 11), so that the grades link on one vertical scale when the trial is calibrated
(:func:`assess.calibration.calibrate_assessment`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from sqlmodel import Session

from assess.banks import BandBank, band_of_grade, load_band_bank
from assess.blueprints import default_blueprint
from assess.examinees import draw_scores
from assess.models import Assessment, BlueprintRow, Booklet
from assess.simulate.answers import ResponseWriter, answer_bank, lock_answered
from assess.simulate.population import Population
from itembank.models import utcnow

__all__ = ["LINKED_BANDS", "rotate_booklets", "run_field_trial"]

IntArray = npt.NDArray[np.int64]
Progress = Callable[[str, int], None]

LINKED_BANDS: dict[int, tuple[str, str]] = {4: ("3-4", "5-6"), 8: ("5-6", "7-9"), 11: ("7-9", "10-12")}
"""The two bands a grade's booklets draw on; a grade not listed takes its own band only."""


def rotate_booklets(
    version_ids: list[int], rng: np.random.Generator, *, items_per_booklet: int, block_size: int
) -> list[list[int]]:
    """Booklets of rotated blocks over ``version_ids`` (booklet ``i`` holds blocks ``i, i+1, ...``).

    The items are shuffled into blocks of ``block_size`` (a short last block is dropped when there
    are full ones), and every block appears in several positions.
    """
    order = rng.permutation(len(version_ids))
    blocks = [[version_ids[i] for i in order[s : s + block_size]] for s in range(0, len(order), block_size)]
    blocks = [b for b in blocks if len(b) == block_size] or blocks
    per = max(1, items_per_booklet // block_size)
    return [[v for j in range(per) for v in blocks[(i + j) % len(blocks)]] for i in range(len(blocks))]


def _store_booklets(
    session: Session, assessment_id: int, grade: int, banks: list[BandBank], booklets: list[list[int]]
) -> list[Booklet]:
    """The grade's booklet blueprint and booklets, as rows (flushed, so they have ids)."""
    band = band_of_grade(grade, session=session)
    spec = default_blueprint(mode="booklets")
    session.add(BlueprintRow(assessment_id=assessment_id, grade_band=band, mode="booklets", spec=spec.to_json()))
    code_of = {v: bb.codes[j] for bb in banks for j, v in enumerate(bb.version_ids)}
    rows = [
        Booklet(
            assessment_id=assessment_id,
            code=f"G{grade}-B{i + 1:02d}",
            grade_band=band,
            item_codes=[code_of[v] for v in bv],
        )
        for i, bv in enumerate(booklets)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def run_field_trial(
    *,
    session: Session,
    population: Population,
    members: IntArray,
    calibration_id: int,
    rng: np.random.Generator,
    items_per_booklet: int = 30,
    block_size: int = 10,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> Assessment:
    """Give ``members`` (indices into the population) rotated booklets; store sessions and answers.

    Grade 4 booklets draw on the 3-4 and 5-6 items, grade 8 on 5-6 and 7-9, grade 11 on 7-9 and
    10-12 (:data:`LINKED_BANDS`), so that shared items link adjacent grades; answers follow the
    parameters of ``calibration_id`` (the generating truth).
    """
    tick = progress or (lambda _s, _n: None)
    now = now or utcnow()
    grades = sorted({int(g) for g in population.grades[members]})
    assessment = Assessment(
        code=f"FT{now:%Y%m%d%H%M%S}",
        name="信息素养题库试测（抽样题本）",
        opens_at=now - timedelta(days=30),
        closes_at=now - timedelta(days=20),
        grades=grades,
        purpose="field_trial",
        calibration_id=calibration_id,
    )
    session.add(assessment)
    session.flush()
    aid = int(assessment.id or 0)
    writer = ResponseWriter.for_bank(session, rng)
    for grade in grades:
        bands = LINKED_BANDS.get(grade, (band_of_grade(grade, session=session),))
        banks = [load_band_bank(session=session, calibration_id=calibration_id, band=b) for b in bands]
        pool = sorted({v for bb in banks for v in bb.version_ids})
        booklets = rotate_booklets(pool, rng, items_per_booklet=items_per_booklet, block_size=block_size)
        booklet_rows = _store_booklets(session, aid, grade, banks, booklets)
        who = members[population.grades[members] == grade]
        assign = np.arange(who.size) % len(booklets)
        rng.shuffle(assign)
        truth = answer_bank(pool, banks)
        column = {v: i for i, v in enumerate(pool)}
        items: list[list[int]] = []
        scores: list[list[int]] = []
        for b, bv in enumerate(booklets):
            rows = np.nonzero(assign == b)[0]
            if rows.size == 0:
                continue
            theta = population.true_theta[who[rows]]
            sc = np.stack([draw_scores(truth, np.full(rows.size, column[v]), theta, rng) for v in bv], axis=1)
            for r in range(rows.size):
                items.append(list(bv))
                scores.append(sc[r].tolist())
        ordered = np.concatenate([np.nonzero(assign == b)[0] for b in range(len(booklets))])
        writer.write(
            assessment_id=aid,
            student_ids=population.student_ids[who[ordered]],
            items=items,
            scores=scores,
            started=now - timedelta(days=25),
            finals=[{"n_scored": len(it)} for it in items],
            booklet_ids=[int(booklet_rows[int(assign[r])].id or 0) for r in ordered],
        )
        tick(f"field trial grade {grade}", who.size)
    lock_answered(session, aid)
    return assessment
