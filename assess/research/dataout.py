"""Data out: an assessment's responses, anonymised, and a calibration's parameters, as files for R and others.

Three files, each written as text chunks (:data:`CHUNK_ROWS` rows at a time, the rows read from
the database as they are written), so an assessment of any size streams through in constant
memory:

- :func:`wide_csv`: the ``RESPONSES.csv`` that ``infolit calibrate`` reads
  (:func:`scoring.io.read_responses`): a ``person`` column, then one column per item version
  with the scored responses (an empty cell: not administered), one row per student. A column is
  named by the item's code; when the assessment showed several versions of one item, each is
  its own column ``CODE@N``. Only scored responses count, as :func:`assess.calibration.response_matrix`
  reads them (a pilot item's unscored answers are in the long file only).
- :func:`long_csv`: one row per response (:data:`LONG_COLUMNS`): the student's key, grade and
  gender, the item's code and exact version, position, score, the raw answer as JSON, latency,
  whether it was a pilot item, and the times.
- :func:`parameters_csv` (the ``ITEMS.csv`` layout of :func:`scoring.io.write_items`, with the
  version) and :func:`parameters_json` (the canonical JSON: one object per item version, the
  ``params`` shape of the item format with the SEs beside it).

A student is never named: the key is the export pseudonym of :func:`assess.console.results.pseudonym`
(an HMAC of the student code under a server key), the same in both response files and in the
result exports, never the code, the ticket or anything a school registered about the student
beyond grade and gender. Every cell goes through :func:`itembank.tabular.neutralise_cell`, so
no cell reaches a spreadsheet as a formula.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from assess.console.results import pseudonym
from assess.exceptions import NotFound
from assess.keys import ServerKeys, get_server_keys
from assess.models import Assessment, Response, Student, TestSession
from itembank.keys import natural_key
from itembank.models import Calibration, Item, ItemParameter, ItemVersion
from itembank.tabular import format_csv

__all__ = [
    "CHUNK_ROWS",
    "LONG_COLUMNS",
    "ExportSource",
    "assessment_source",
    "calibration_id",
    "long_csv",
    "parameters_csv",
    "parameters_json",
    "stream_responses",
    "wide_csv",
]

CHUNK_ROWS = 1000
"""Rows per chunk of text (and per batch read from the database)."""
LONG_COLUMNS: tuple[str, ...] = (
    "student", "grade", "gender", "item", "version", "position", "score", "answer", "latency_ms", "pilot",
    "answered_at", "session_status", "started_at", "finished_at",
)  # fmt: skip
"""Columns of the long file, in order."""


@dataclass(frozen=True)
class ExportSource:
    """An assessment to export: its id and code, and its item versions as columns (id -> column name)."""

    assessment_id: int
    code: str
    columns: tuple[tuple[int, str], ...]


def assessment_source(*, session: Session, code: str) -> ExportSource:
    """The assessment ``code`` and the item versions its scored responses use, in code order (:class:`NotFound`)."""
    assessment = session.exec(select(Assessment).where(Assessment.code == code)).first()
    if assessment is None:
        raise NotFound(f"没有测评批次 {code}。")
    assert assessment.id is not None
    rows = session.exec(
        select(ItemVersion.id, Item.code, ItemVersion.number)
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(
            col(ItemVersion.id).in_(
                select(Response.item_version_id)
                .join(TestSession, col(TestSession.id) == col(Response.session_id))
                .where(TestSession.assessment_id == assessment.id, col(Response.score).is_not(None))
                .distinct()
            )
        )
    ).all()
    counts: dict[str, int] = {}
    for _, item_code, _ in rows:
        counts[item_code] = counts.get(item_code, 0) + 1
    named = sorted(
        ((int(v or 0), code_ if counts[code_] == 1 else f"{code_}@{n}", (code_, n)) for v, code_, n in rows),
        key=lambda x: (natural_key(x[2][0]), x[2][1]),
    )
    return ExportSource(assessment.id, assessment.code, tuple((v, name) for v, name, _ in named))


def wide_csv(*, session: Session, source: ExportSource, keys: ServerKeys | None = None) -> Iterator[str]:
    """The ``infolit calibrate`` file of the assessment, in chunks (see the module docstring)."""
    keys = keys or get_server_keys()
    index = {v: j for j, (v, _) in enumerate(source.columns)}
    yield format_csv([["person", *[name for _, name in source.columns]]])
    rows = session.exec(
        select(Student.code, Response.item_version_id, Response.score)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .where(TestSession.assessment_id == source.assessment_id, col(Response.score).is_not(None))
        .order_by(col(TestSession.student_id), col(Response.position))
        .execution_options(yield_per=CHUNK_ROWS)
    )
    batch: list[list[Any]] = []
    current: str | None = None
    cells: list[Any] = []
    for code, version_id, score in rows:
        if code != current:
            if current is not None:
                batch.append([pseudonym(current, keys=keys), *cells])
                if len(batch) >= CHUNK_ROWS:
                    yield format_csv(batch)
                    batch = []
            current, cells = code, [""] * len(source.columns)
        cells[index[version_id]] = score
    if current is not None:
        batch.append([pseudonym(current, keys=keys), *cells])
    if batch:
        yield format_csv(batch)


def stream_responses(*, engine: Engine, source: ExportSource, kind: str) -> Iterator[str]:
    """The ``wide`` or ``long`` file in chunks from a session of its own (for a response streamed after its request)."""
    write = wide_csv if kind == "wide" else long_csv
    with Session(engine) as session:
        yield from write(session=session, source=source)


def _time(value: datetime | None) -> str:
    return "" if value is None else value.replace(microsecond=0).isoformat()


def long_csv(*, session: Session, source: ExportSource, keys: ServerKeys | None = None) -> Iterator[str]:
    """One row per response of the assessment (:data:`LONG_COLUMNS`), in chunks."""
    keys = keys or get_server_keys()
    yield format_csv([LONG_COLUMNS])
    rows = session.execute(  # plain columns, no entities: nothing is kept in the session's identity map
        sa_select(
            col(Student.code), col(Student.grade), col(Student.gender), col(Item.code), col(ItemVersion.number),
            col(Response.position), col(Response.score), col(Response.answer), col(Response.latency_ms),
            col(Response.pilot), col(Response.answered_at), col(TestSession.status), col(TestSession.started_at),
            col(TestSession.finished_at),
        )
        .select_from(Response)
        .join(TestSession, col(TestSession.id) == col(Response.session_id))
        .join(Student, col(Student.id) == col(TestSession.student_id))
        .join(ItemVersion, col(ItemVersion.id) == col(Response.item_version_id))
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(col(TestSession.assessment_id) == source.assessment_id)
        .order_by(col(TestSession.student_id), col(Response.position))
        .execution_options(yield_per=CHUNK_ROWS)
    )  # fmt: skip
    batch: list[Sequence[Any]] = []
    last, key = "", ""
    for code, grade, gender, item, number, position, score, answer, latency, pilot, at, status, began, ended in rows:
        if code != last:  # rows come student by student: one pseudonym each
            last, key = code, pseudonym(code, keys=keys)
        batch.append(
            (key, grade, gender, item, number, position, "" if score is None else score,
             json.dumps(answer, ensure_ascii=False, sort_keys=True), "" if latency is None else latency, int(pilot),
             _time(at), status, _time(began), _time(ended))
        )  # fmt: skip
        if len(batch) >= CHUNK_ROWS:
            yield format_csv(batch)
            batch = []
    if batch:
        yield format_csv(batch)


def calibration_id(*, session: Session, name: str) -> int:
    """The id of calibration ``name`` (:class:`NotFound` if there is none)."""
    found = session.exec(select(Calibration.id).where(Calibration.name == name)).first()
    if found is None:
        raise NotFound(f"没有名为 {name} 的标定。")
    return int(found)


def _parameter_rows(session: Session, calibration: int) -> list[tuple[str, int, ItemParameter]]:
    rows = session.exec(
        select(Item.code, ItemVersion.number, ItemParameter)
        .join(ItemVersion, col(ItemVersion.id) == col(ItemParameter.item_version_id))
        .join(Item, col(Item.id) == col(ItemVersion.item_id))
        .where(ItemParameter.calibration_id == calibration)
    ).all()
    return sorted(((c, int(n), p) for c, n, p in rows), key=lambda r: (natural_key(r[0]), r[1]))


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.10g}"


def parameters_csv(*, session: Session, name: str) -> str:
    """Calibration ``name``'s parameters as ``item,version,model,a,b1..bK,c,se_a,se_b1..se_bK,se_c``."""
    rows = _parameter_rows(session, calibration_id(session=session, name=name))
    k = max((len(p.b) for _, _, p in rows), default=1)
    header = ["item", "version", "model", "a", *[f"b{i + 1}" for i in range(k)], "c",
              "se_a", *[f"se_b{i + 1}" for i in range(k)], "se_c"]  # fmt: skip
    body: list[list[Any]] = [header]
    for code, number, p in rows:
        se_b = list(p.se_b or [])
        body.append(
            [code, number, p.model, _num(p.a), *[_num(p.b[i]) if i < len(p.b) else "" for i in range(k)], _num(p.c),
             _num(p.se_a), *[_num(se_b[i]) if i < len(se_b) else "" for i in range(k)], _num(p.se_c)]
        )  # fmt: skip
    return format_csv(body)


def parameters_json(*, session: Session, name: str) -> str:
    """Calibration ``name`` and its parameters as the canonical JSON document (sorted keys, UTF-8)."""
    cal_id = calibration_id(session=session, name=name)
    calibration = session.get(Calibration, cal_id)
    assert calibration is not None
    document = {
        "calibration": calibration.name,
        "status": calibration.status,
        "source": calibration.source,
        "created_at": _time(calibration.created_at),
        "published_at": _time(calibration.published_at),
        "latent_mean": calibration.latent_mean,
        "latent_sd": calibration.latent_sd,
        "items": [
            {
                "code": code,
                "version": number,
                "params": {"model": p.model, "a": p.a, "b": list(p.b), "c": p.c},
                "se": {"a": p.se_a, "b": list(p.se_b) if p.se_b is not None else None, "c": p.se_c},
            }
            for code, number, p in _parameter_rows(session, cal_id)
        ],  # fmt: skip
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
