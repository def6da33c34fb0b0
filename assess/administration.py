"""Assessment administration: create a testing round from its file, list the rounds, open and close windows.

One service per use case, each checking the actor's permission (``assessments.manage`` to
change, ``assessments.view`` to list) and writing its audit event in the same transaction as the
change (``assessment.create``, ``assessment.open``, ``assessment.close``). The CLI
(``infolit assessment``), the console (``/console/assessments``) and the staff API call these
and nothing else.

A round's state is its window: *scheduled* before ``opens_at``, *open* until ``closes_at``,
*closed* after. Opening moves ``opens_at`` to now (optionally ``closes_at`` too), after checking
that students can sit it. Closing moves ``closes_at`` to now and the deadline of every sitting
still in progress to now in one transaction (no answer is accepted after it), then ends those
sittings and scores what they answered, each in a transaction of its own, with the code of the
abandoned-sittings sweep (:func:`assess.expiry.expire_open_sittings`): a sitting with the
blueprint's minimum of scored answers is assessed, one with fewer is kept but not assessed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, or_, select

from assess.accounts import audit
from assess.accounts.exceptions import OutOfScope
from assess.accounts.scope import Actor
from assess.assessment_file import (
    CheckedAssessment,
    check_against_bank,
    parse_assessment_file,
    read_assessment_file,
)
from assess.banks import band_of_grade, load_band_bank
from assess.blueprints import parse_blueprint
from assess.exceptions import AdministrationRefused, BlueprintError, NotConfigured
from assess.expiry import expire_open_sittings
from assess.models import Assessment, BlueprintRow, Booklet, TestSession
from itembank.db import aware_utc, session_scope
from itembank.models import Calibration

__all__ = [
    "STATUS_NAMES",
    "AssessmentSummary",
    "Closed",
    "close_assessment",
    "create_assessment",
    "get_assessment",
    "list_assessments",
    "open_assessment",
    "readiness",
]

STATUS_NAMES: dict[str, str] = {"scheduled": "未开始", "open": "进行中", "closed": "已结束"}
"""A window's state, as the console and the CLI name it."""
PURPOSE_NAMES: dict[str, str] = {"operational": "正式测评", "field_trial": "试测"}


@dataclass(frozen=True)
class AssessmentSummary:
    """One round as listed: its window and state, its design per band, and where its sittings stand."""

    code: str
    name: str
    purpose: str
    grades: tuple[int, ...]
    opens_at: datetime
    closes_at: datetime
    status: str
    calibration: str | None
    bands: tuple[tuple[str, str], ...]  # (grade band, mode)
    in_progress: int = 0
    finished: int = 0
    expired: int = 0

    @property
    def status_name(self) -> str:
        """``未开始``, ``进行中`` or ``已结束``."""
        return STATUS_NAMES[self.status]

    @property
    def purpose_name(self) -> str:
        """``正式测评`` or ``试测``."""
        return PURPOSE_NAMES.get(self.purpose, self.purpose)


@dataclass(frozen=True)
class Closed:
    """What closing did: the round now, the sittings ended (of which assessed), and any still open.

    ``queued``: sittings handed to the background to be scored (their answers are closed already).
    """

    assessment: AssessmentSummary
    expired: int
    assessed: int
    running: int
    queued: int = 0


def _status(a: Assessment, now: datetime) -> str:
    if now < aware_utc(a.opens_at):
        return "scheduled"
    return "open" if now < aware_utc(a.closes_at) else "closed"  # closed from the instant of closing


def _summaries(session: Session, rows: list[Assessment], now: datetime) -> list[AssessmentSummary]:
    ids = [int(a.id or 0) for a in rows]
    bands: dict[int, list[tuple[str, str]]] = {}
    for aid, band, mode in session.exec(
        select(BlueprintRow.assessment_id, BlueprintRow.grade_band, BlueprintRow.mode)
        .where(col(BlueprintRow.assessment_id).in_(ids))
        .order_by(col(BlueprintRow.grade_band))
    ).all():
        bands.setdefault(int(aid), []).append((band, mode))
    counts = {
        int(aid): (int(p or 0), int(f or 0), int(e or 0))
        for aid, p, f, e in session.exec(
            select(
                TestSession.assessment_id,
                func.sum(case((col(TestSession.status) == "in_progress", 1), else_=0)),
                func.sum(case((col(TestSession.status) == "finished", 1), else_=0)),
                func.sum(case((col(TestSession.status) == "expired", 1), else_=0)),
            )
            .where(col(TestSession.assessment_id).in_(ids))
            .group_by(col(TestSession.assessment_id))
        ).all()
    }
    cal_ids = {a.calibration_id for a in rows if a.calibration_id is not None}
    names = dict(session.exec(select(Calibration.id, Calibration.name).where(col(Calibration.id).in_(cal_ids))).all())
    return [
        AssessmentSummary(
            code=a.code,
            name=a.name,
            purpose=a.purpose,
            grades=tuple(a.grades or ()),
            opens_at=aware_utc(a.opens_at),
            closes_at=aware_utc(a.closes_at),
            status=_status(a, now),
            calibration=names.get(a.calibration_id) if a.calibration_id is not None else None,
            bands=tuple(bands.get(int(a.id or 0), ())),
            **dict(zip(("in_progress", "finished", "expired"), counts.get(int(a.id or 0), (0, 0, 0)), strict=True)),
        )
        for a in rows
    ]


def list_assessments(*, session: Session, actor: Actor, now: datetime) -> list[AssessmentSummary]:
    """Every round, the open ones first, then the scheduled ones (soonest first), then the closed (latest first)."""
    actor.require("assessments.view")
    rows = list(session.exec(select(Assessment)).all())
    order = {"open": 0, "scheduled": 1, "closed": 2}

    def key(a: Assessment) -> tuple[int, float, str]:
        state = _status(a, now)
        opens = aware_utc(a.opens_at).timestamp()
        return order[state], opens if state == "scheduled" else -opens, a.code

    return _summaries(session, sorted(rows, key=key), now)


def _find(session: Session, code: str, *, lock: bool = False) -> Assessment:
    query = select(Assessment).where(Assessment.code == code.strip())
    found = session.exec(query.with_for_update() if lock else query).first()
    if found is None:
        raise OutOfScope("没有找到这个测评批次。")
    return found


def get_assessment(*, session: Session, actor: Actor, code: str, now: datetime) -> AssessmentSummary:
    """One round (``OutOfScope``, a 404, when there is none with ``code``)."""
    actor.require("assessments.view")
    return _summaries(session, [_find(session, code)], now)[0]


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def create_assessment(
    *, session: Session, actor: Actor, content: bytes, filename: str = "", now: datetime
) -> AssessmentSummary:
    """Create a round from an assessment file (TOML or JSON, :mod:`assess.assessment_file`).

    The file is checked completely first; a file with any problem raises
    :class:`~assess.assessment_file.AssessmentFileError` listing every one, and nothing is
    written. The round, one blueprint row per grade band and the booklets are then written in the
    caller's transaction, with the audit event.

    Raises
    ------
    assess.accounts.exceptions.Forbidden
        The actor may not manage assessments.
    assess.assessment_file.AssessmentFileError
        The file cannot be read or fails a check.
    """
    actor.require("assessments.manage")
    data = read_assessment_file(content, filename=filename)
    checked = check_against_bank(session=session, file=parse_assessment_file(data))
    row = _store(session, checked)
    audit.record(
        session,
        actor,
        "assessment.create",
        target=f"assessment:{row.code}",
        detail={
            "file": filename[:128],
            "sha256": _sha256(content),
            "grades": list(row.grades),
            "bands": {b: d.spec.mode for b, d in checked.designs.items()},
            "calibration": checked.calibration_name,
        },
        now=now,
    )
    return _summaries(session, [row], now)[0]


def _store(session: Session, checked: CheckedAssessment) -> Assessment:
    f = checked.file
    row = Assessment(
        code=f.code,
        name=f.name,
        opens_at=f.opens_at,
        closes_at=f.closes_at,
        grades=list(f.grades),
        purpose=f.purpose,
        calibration_id=checked.calibration_id,
    )
    session.add(row)
    session.flush()
    aid = int(row.id or 0)
    for band, design in checked.designs.items():
        session.add(BlueprintRow(assessment_id=aid, grade_band=band, mode=design.spec.mode, spec=design.spec.to_json()))
        for i, booklet in enumerate(design.booklets):
            session.add(
                Booklet(assessment_id=aid, code=f"{band}-B{i + 1:02d}", grade_band=band, item_codes=list(booklet))
            )
    session.flush()
    return row


def readiness(*, session: Session, assessment: Assessment) -> list[str]:
    """Why students could not sit ``assessment`` now (empty when they can): what opening checks.

    Every grade needs a blueprint for its band; an adaptive band needs calibrated items in the
    round's calibration and, with Sympson-Hetter on, its exposure parameters
    (``infolit exposure CODE``). Booklet designs are not delivered online (the live sitting
    service runs adaptive tests), so a booklet round cannot be opened.
    """
    problems: list[str] = []
    rows = {
        r.grade_band: r
        for r in session.exec(select(BlueprintRow).where(BlueprintRow.assessment_id == assessment.id)).all()
    }
    for grade in assessment.grades or []:
        try:
            band = band_of_grade(int(grade), session=session)
        except NotConfigured as exc:
            problems.append(str(exc))
            continue
        row = rows.get(band)
        if row is None:
            problems.append(f"{grade} 年级（年级段 {band}）没有测评方案")
            continue
        try:
            spec = parse_blueprint(row.spec)
        except BlueprintError as exc:
            problems.append(f"年级段 {band} 的测评方案无效：{exc}")
            continue
        if spec.mode == "booklets":
            problems.append(f"年级段 {band} 是题本设计（booklets），在线作答只支持自适应测评，不能在线开放")
            continue
        if assessment.calibration_id is None:
            problems.append("测评批次没有指定参数标定")
            continue
        try:
            load_band_bank(session=session, calibration_id=assessment.calibration_id, band=band)
        except NotConfigured as exc:
            problems.append(str(exc))
            continue
        if spec.sympson_hetter and not spec.exposure:
            problems.append(
                f"年级段 {band} 开启了 Sympson-Hetter 曝光控制但还没有标定参数"
                f"（先运行 infolit exposure {assessment.code}）"
            )
    return list(dict.fromkeys(problems))


def open_assessment(
    *, session: Session, actor: Actor, code: str, now: datetime, until: datetime | None = None
) -> AssessmentSummary:
    """Open a round's window now (``until``: and move its closing time), after checking it can be sat.

    Raises
    ------
    assess.accounts.exceptions.OutOfScope
        No round has ``code``.
    AdministrationRefused
        Already open (without a new ``until``), ``until`` not in the future, a closed window
        reopened without ``until``, or students could not sit it (every reason listed).
    """
    actor.require("assessments.manage")
    row = _find(session, code, lock=True)
    state = _status(row, now)
    until = aware_utc(until) if until is not None else None
    if until is not None and until <= now:
        raise AdministrationRefused("新的关闭时间必须晚于现在")
    if state == "open" and until is None:
        raise AdministrationRefused(f"测评 {row.code} 已经在开放中")
    if state == "closed" and until is None:
        raise AdministrationRefused(f"测评 {row.code} 已经结束；要重新开放，请给出新的关闭时间")
    problems = readiness(session=session, assessment=row)
    if problems:
        raise AdministrationRefused(f"测评 {row.code} 还不能开放：" + "；".join(problems))
    before = (aware_utc(row.opens_at), aware_utc(row.closes_at))
    if state != "open":
        row.opens_at = now
    if until is not None:
        row.closes_at = until
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "assessment.open",
        target=f"assessment:{row.code}",
        detail={
            "was": state,
            "opens_before": before[0].isoformat(),
            "closes_before": before[1].isoformat(),
            "closes_at": aware_utc(row.closes_at).isoformat(),
        },
        now=now,
    )
    return _summaries(session, [row], now)[0]


def close_assessment(
    *,
    engine: Engine,
    actor: Actor,
    code: str,
    now: datetime,
    background: Callable[[Callable[[], object]], object] | None = None,
    inline_limit: int = 200,
) -> Closed:
    """Close a round's window now: its open sittings end, scored on what they answered.

    The window and the sittings' deadlines move to ``now`` in one transaction with the audit
    event; then each open sitting is ended and scored in a transaction of its own
    (:func:`assess.expiry.expire_open_sittings`), so a close that stops half way leaves every
    sitting either still open past its deadline (the next sweep or page ends it) or ended and
    scored. Closing a closed round again only ends sittings left open.

    ``background`` (an executor's ``submit``): with more than ``inline_limit`` open sittings the
    scoring is handed to it and the call returns once the window is closed (``Closed.queued``
    counts them; about 5-11 ms a sitting, ``bench/close_window.py``), so a web request does not
    wait for thousands of them. Their deadlines have moved already: no answer is taken meanwhile,
    and should the background stop first, the workers' sweep of abandoned sittings ends them.

    Raises
    ------
    assess.accounts.exceptions.OutOfScope
        No round has ``code``.
    AdministrationRefused
        The round is closed already and has no sitting left open.
    """
    actor.require("assessments.manage")
    with session_scope(engine) as session:
        row = _find(session, code, lock=True)
        state = _status(row, now)
        open_sittings = session.exec(
            select(func.count(col(TestSession.id))).where(
                TestSession.assessment_id == row.id, TestSession.status == "in_progress"
            )
        ).one()
        if state == "closed" and not open_sittings:
            raise AdministrationRefused(f"测评 {row.code} 已经结束")
        if state != "closed":
            row.closes_at = now
            row.opens_at = min(aware_utc(row.opens_at), now)
            session.add(row)
        _end_deadlines(session, int(row.id or 0), now)
        audit.record(
            session,
            actor,
            "assessment.close",
            target=f"assessment:{row.code}",
            detail={"was": state, "open_sittings": int(open_sittings)},
            now=now,
        )
        aid = int(row.id or 0)
    if background is not None and open_sittings > inline_limit:
        background(lambda: _score_closed(engine, aid, now))
        with session_scope(engine) as session:
            summary = _summaries(session, [_find(session, code)], now)[0]
        return Closed(summary, 0, 0, int(open_sittings), queued=int(open_sittings))
    expired, assessed, running = _score_closed(engine, aid, now)
    with session_scope(engine) as session:
        summary = _summaries(session, [_find(session, code)], now)[0]
    return Closed(summary, expired, assessed, running)


def _score_closed(engine: Engine, aid: int, now: datetime) -> tuple[int, int, int]:
    """End and score a closed window's open sittings: how many ended, were assessed, are still open."""
    done = expire_open_sittings(engine=engine, assessment_id=aid, now=now)
    expired, assessed = done.expired, done.assessed
    if done.running:  # a sitting started by a request that checked the window just before it closed
        with session_scope(engine) as session:
            _end_deadlines(session, aid, now)
        done = expire_open_sittings(engine=engine, assessment_id=aid, now=now)
        expired, assessed = expired + done.expired, assessed + done.assessed
    return expired, assessed, done.running


def _end_deadlines(session: Session, assessment_id: int, now: datetime) -> None:
    """Move the deadline of every open sitting of the assessment to ``now`` (none is accepted after it)."""
    session.execute(
        update(TestSession)
        .where(
            col(TestSession.assessment_id) == assessment_id,
            col(TestSession.status) == "in_progress",
            or_(col(TestSession.deadline).is_(None), col(TestSession.deadline) > now),
        )
        .values(deadline=now)
    )
