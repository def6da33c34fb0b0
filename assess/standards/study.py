"""Bookmark standard setting (Lewis, Mitzel & Green): studies, rounds of bookmarks, impact, adoption.

A study belongs to one grade band. Its ordered item booklet is made once, when the study is
created, from the operational items of the band under a calibration (the impact assessment's, by
default): every score point of every item is a page, ordered by its RP67 location
(:func:`scoring.bookmark.order_booklet`); the booklet is stored with the study, so later
calibrations do not move its pages.

In each round (1..3) every panellist places one bookmark per level boundary (1: 待提高|合格,
2: 合格|良好, 3: 良好|优秀), on strictly increasing pages. The convention (LMG): the bookmark
is on the last page a borderline student of the higher level masters with probability 0.67, and
the panellist's cut is that page's RP67 theta; the round's cut for a boundary is the median of
the panellists' cuts (:func:`scoring.bookmark.panel_cut`), put on the reporting scale with the
baseline of the scale version in force (:func:`assess.standards.versions.active_scale`). The
panel's spread is the SD and IQR of the panellists' cuts, in theta and in scale points.

The impact of a round's cuts is the share of the impact assessment's assessed students of the
band at each level under those cuts, from each sitting's stored theta on the same scale; where the
assessment's sample is weighted (:mod:`assess.sampling`), the shares are weighted by the students'
final weights (a student outside the weighted sample then counts 0). A researcher adopts a
round's cuts as a new scale version (the band's cuts replaced, the other bands kept), with the
study's described levels (:mod:`assess.standards.described`) saved in it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy import delete
from sqlmodel import Session, col, select

from assess.accounts import audit
from assess.accounts.scope import Actor
from assess.banks import load_band_bank
from assess.exceptions import NotConfigured, NotFound, StandardSettingRefused
from assess.models import Assessment, Student, TestSession
from assess.position import is_row_id
from assess.sampling.models import SampleDraw, SampleWeight
from assess.scales import CutScores
from assess.scoring_rule import assessed_clause
from assess.standards.models import Bookmark, StandardSettingStudy
from assess.standards.versions import ScaleSettings, active_scale, adopt_version
from itembank.framework_store import current_framework
from itembank.models import Calibration, Item
from scoring.bookmark import RP, BookletPage, PanelCut, order_booklet, panel_cut

__all__ = [
    "BOUNDARIES",
    "ROUNDS",
    "BoundaryResult",
    "Impact",
    "RoundResult",
    "StudyView",
    "adopt_round",
    "create_study",
    "impact_of",
    "list_studies",
    "place_bookmarks",
    "round_result",
    "study_view",
]

ROUNDS = (1, 2, 3)
"""The rounds of a study."""
BOUNDARIES = (1, 2, 3)
"""Level boundaries: boundary ``k`` is the cut between level ``k - 1`` and level ``k``."""


@dataclass(frozen=True)
class StudyView:
    """A study with its booklet (one dict per page: page, code, score, theta, indicator, dimension)."""

    id: int
    name: str
    band: str
    calibration: str
    assessment: str
    rp: float
    booklet: tuple[dict[str, object], ...]
    described: dict[str, str]
    adopted_version: int | None
    rounds: tuple[int, ...]

    def pages(self) -> list[BookletPage]:
        """The booklet as :class:`~scoring.bookmark.BookletPage` rows."""
        return [BookletPage(int(str(p["page"])), str(p["code"]), int(str(p["score"])), float(str(p["theta"])))
                for p in self.booklet]  # fmt: skip


@dataclass(frozen=True)
class BoundaryResult:
    """One boundary of a round: the panel's cut and spread in theta and on the reporting scale."""

    boundary: int
    label: str
    panel: PanelCut
    scale_score: float
    scale_sd: float
    scale_iqr: float


@dataclass(frozen=True)
class Impact:
    """Share of students (0..1) at each level under a round's cuts; ``weighted`` if sampling weights were used."""

    levels: tuple[str, ...]
    shares: tuple[float, ...]
    counts: tuple[int, ...]
    n: int
    weighted: bool


@dataclass(frozen=True)
class RoundResult:
    """A round: each panellist's pages, each boundary's result, the candidate cuts and their impact."""

    round: int
    panellists: tuple[tuple[str, tuple[int, ...]], ...]
    boundaries: tuple[BoundaryResult, ...]
    cuts: CutScores
    impact: Impact | None


def _study(session: Session, name_or_id: str | int) -> StandardSettingStudy:
    if isinstance(name_or_id, int):  # beyond an integer column's range: nothing there (and no query)
        row = session.get(StandardSettingStudy, name_or_id) if is_row_id(name_or_id) else None
    else:
        row = session.exec(select(StandardSettingStudy).where(StandardSettingStudy.name == name_or_id)).first()
    if row is None:
        raise NotFound(f"没有标准设定研究 {name_or_id}")
    return row


def _booklet(session: Session, calibration_id: int, band: str, rp: float) -> list[dict[str, object]]:
    bank = load_band_bank(session=session, calibration_id=calibration_id, band=band)
    operational = np.nonzero(~bank.engine.pilot)[0]
    if operational.size == 0:
        raise StandardSettingRefused(f"年级段 {band} 没有已校准的正式题")
    params = bank.engine.params.subset(operational)
    codes = [bank.codes[j] for j in operational.tolist()]
    indicator = dict(session.exec(select(Item.code, Item.indicator).where(col(Item.code).in_(codes))).all())
    dimension = {bank.codes[j]: bank.dimensions[j] for j in operational.tolist()}
    return [
        {"page": p.page, "code": p.item, "score": p.score, "theta": round(p.theta, 6),
         "max_score": int(params.max_scores[params.index(p.item)]),
         "indicator": indicator.get(p.item, ""), "dimension": dimension[p.item]}
        for p in order_booklet(params, rp)
    ]  # fmt: skip


def create_study(
    *, session: Session, actor: Actor, name: str, band: str, assessment: str, calibration: str = ""
) -> StudyView:
    """Create a band's study with its ordered item booklet (the caller commits).

    ``assessment`` (a code) gives the impact data and, unless ``calibration`` (a name) is given,
    the calibration of the booklet.

    Raises
    ------
    StandardSettingRefused
        No name, a name taken, a band the framework does not have, no operational item.
    NotFound
        An unknown assessment or calibration.
    """
    name = name.strip()
    if not name or len(name) > 64:
        raise StandardSettingRefused("请填写研究名称（不超过 64 个字）")
    if session.exec(select(StandardSettingStudy.id).where(StandardSettingStudy.name == name)).first():
        raise StandardSettingRefused(f"已有名为 {name} 的标准设定研究")
    if current_framework(session=session).band(band) is None:
        raise StandardSettingRefused(f"指标框架中没有年级段 {band}")
    found = session.exec(select(Assessment).where(Assessment.code == assessment.strip())).first()
    if found is None:
        raise NotFound(f"没有测评 {assessment}")
    if calibration.strip():
        cal = session.exec(select(Calibration).where(Calibration.name == calibration.strip())).first()
        if cal is None:
            raise NotFound(f"没有校准 {calibration}")
        calibration_id = int(cal.id or 0)
    elif found.calibration_id is None:
        raise StandardSettingRefused(f"测评 {found.code} 还没有指定校准")
    else:
        calibration_id = found.calibration_id
    try:
        booklet = _booklet(session, calibration_id, band, RP)
    except NotConfigured as exc:
        raise StandardSettingRefused(str(exc)) from None
    row = StandardSettingStudy(name=name, band=band, calibration_id=calibration_id, assessment_id=found.id,
                               rp=RP, booklet=booklet, user_id=actor.user_id)  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(session, actor, "standard.create", target=f"study:{row.id}", detail={"name": name, "band": band})
    return study_view(session=session, study=int(row.id or 0))


def study_view(*, session: Session, study: str | int) -> StudyView:
    """A study by its name or id (``NotFound`` if there is none)."""
    row = _study(session, study)
    cal = session.get(Calibration, row.calibration_id)
    assessment = session.get(Assessment, row.assessment_id) if row.assessment_id else None
    rounds = session.exec(select(Bookmark.round).where(Bookmark.study_id == row.id).distinct()).all()
    code = assessment.code if assessment else ""
    return StudyView(int(row.id or 0), row.name, row.band, cal.name if cal else "", code, row.rp, tuple(row.booklet),
                     dict(row.described), row.adopted_version, tuple(sorted(int(r) for r in rounds)))  # fmt: skip


def list_studies(*, session: Session) -> list[StudyView]:
    """Every study, newest first."""
    ids = session.exec(select(StandardSettingStudy.id).order_by(col(StandardSettingStudy.id).desc())).all()
    return [study_view(session=session, study=int(i or 0)) for i in ids]


def place_bookmarks(
    *, session: Session, actor: Actor, study: str | int, round: int, panellist: str, pages: list[int]
) -> None:
    """Record (or replace) a panellist's bookmarks of a round, one page per boundary (the caller commits).

    Raises
    ------
    StandardSettingRefused
        A round outside 1..3, no panellist name, not one page per boundary, pages outside the
        booklet or not strictly increasing.
    """
    row = _study(session, study)
    panellist = panellist.strip()
    if round not in ROUNDS:
        raise StandardSettingRefused("轮次须为 1、2 或 3")
    if not panellist or len(panellist) > 64:
        raise StandardSettingRefused("请填写评委姓名（不超过 64 个字）")
    if len(pages) != len(BOUNDARIES):
        raise StandardSettingRefused(f"每位评委须为 {len(BOUNDARIES)} 条水平分界各放一个书签")
    n = len(row.booklet)
    if any(not 1 <= p <= n for p in pages):
        raise StandardSettingRefused(f"书签页码须在 1 到 {n} 之间")
    if any(a >= b for a, b in zip(pages, pages[1:], strict=False)):
        raise StandardSettingRefused("书签须从低到高：较高水平分界的书签须放在更靠后的页")
    session.exec(delete(Bookmark).where(col(Bookmark.study_id) == row.id, col(Bookmark.round) == round,
                                        col(Bookmark.panellist) == panellist))  # fmt: skip
    for boundary, page in zip(BOUNDARIES, pages, strict=True):
        session.add(Bookmark(study_id=int(row.id or 0), round=round, panellist=panellist, boundary=boundary, page=page))
    session.flush()
    audit.record(session, actor, "standard.bookmarks", target=f"study:{row.id}",
                 detail={"round": round, "panellist": panellist, "pages": pages})  # fmt: skip


def impact_of(*, session: Session, study: str | int, cuts: CutScores) -> Impact | None:
    """Share of the impact assessment's assessed students of the study's band at each level under ``cuts``.

    ``None`` when the study has no impact assessment or it has no assessed student of the band.
    """
    row = _study(session, study)
    spec = current_framework(session=session).band(row.band)
    if row.assessment_id is None or spec is None:
        return None
    found = session.exec(
        select(TestSession.student_id, TestSession.theta)
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(TestSession.assessment_id == row.assessment_id, assessed_clause(),
               col(Student.grade).in_(list(spec.grades)), col(TestSession.theta).is_not(None))
    ).all()  # fmt: skip
    if not found:
        return None
    weight_of = dict(
        session.exec(
            select(SampleWeight.student_id, SampleWeight.final)
            .join(SampleDraw, col(SampleDraw.id) == col(SampleWeight.draw_id))
            .where(SampleDraw.assessment_id == row.assessment_id, col(SampleDraw.weighted_at).is_not(None))
        ).all()
    )
    scores = np.array([cuts.scale_score(float(theta or 0.0)) for _, theta in found])
    level = np.searchsorted(np.asarray(cuts.cuts), scores, side="right")
    weighted = bool(weight_of)
    w = np.array([float(weight_of.get(int(sid), 0.0)) if weighted else 1.0 for sid, _ in found])
    total = float(w.sum())
    counts = tuple(int((level == k).sum()) for k in range(len(cuts.levels)))
    shares = tuple(float(w[level == k].sum() / total) if total > 0 else 0.0 for k in range(len(cuts.levels)))
    return Impact(cuts.levels, shares, counts, len(found), weighted)


def _boundary_label(levels: tuple[str, ...], boundary: int) -> str:
    return f"{levels[boundary - 1]}｜{levels[boundary]}"


def round_result(*, session: Session, study: str | int, round: int) -> RoundResult:
    """A round's cuts: each boundary's median cut and spread, on the scale in force, and their impact.

    Raises
    ------
    StandardSettingRefused
        The round has no bookmark.
    """
    view = study_view(session=session, study=study)
    if round not in ROUNDS:
        raise StandardSettingRefused("轮次须为 1、2 或 3")
    marks = session.exec(
        select(Bookmark).where(Bookmark.study_id == view.id, Bookmark.round == round)
        .order_by(col(Bookmark.panellist), col(Bookmark.boundary))
    ).all()  # fmt: skip
    if not marks:
        raise StandardSettingRefused(f"第 {round} 轮还没有书签")
    scale = active_scale(session=session)
    band = scale.band_cuts(view.band)
    unit = 100.0 / band.baseline_sd
    booklet = view.pages()
    by_panellist: dict[str, list[int]] = {}
    for m in marks:
        by_panellist.setdefault(m.panellist, []).append(m.page)
    results = []
    for boundary in BOUNDARIES:
        panel = panel_cut(booklet, [m.page for m in marks if m.boundary == boundary])
        results.append(BoundaryResult(boundary, _boundary_label(scale.levels, boundary), panel,
                                      band.scale_score(panel.theta), panel.sd * unit, panel.iqr * unit))  # fmt: skip
    cut_values = tuple(r.scale_score for r in results)
    if any(a >= b for a, b in zip(cut_values, cut_values[1:], strict=False)):
        raise StandardSettingRefused("本轮各分界的中位数分数线没有从低到高递增，不能作为分数线")
    cuts = replace(band, cuts=(cut_values[0], cut_values[1], cut_values[2]))
    return RoundResult(round, tuple((p, tuple(v)) for p, v in sorted(by_panellist.items())), tuple(results), cuts,
                       impact_of(session=session, study=view.id, cuts=cuts))  # fmt: skip


def adopt_round(*, session: Session, actor: Actor, study: str | int, round: int, name: str = "") -> ScaleSettings:
    """Adopt a round's cuts (rounded to 0.1 scale point) for the study's band as a new scale version.

    The new version is the one in force with this band's cuts replaced and the study's described
    levels saved for the band; the caller commits.
    """
    result = round_result(session=session, study=study, round=round)
    row = _study(session, study)
    current = active_scale(session=session)
    cuts = dict(current.cuts)
    c = tuple(round_to_tenth(x) for x in result.cuts.cuts)
    cuts[row.band] = (c[0], c[1], c[2])
    described = {band: dict(text) for band, text in current.described.items()}
    if row.described:
        described[row.band] = dict(row.described)
    settings = replace(current, name=name.strip() or f"{row.name} 第 {round} 轮", cuts=cuts, described=described,
                       source=f"study:{row.name} round:{round}", note="")  # fmt: skip
    adopted = adopt_version(session=session, actor=actor, settings=settings)
    row.adopted_version = adopted.number
    session.add(row)
    session.flush()
    return adopted


def round_to_tenth(x: float) -> float:
    """A cut as stored: rounded to 0.1 scale point."""
    return float(np.round(x, 1))
