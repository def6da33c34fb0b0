from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from assess.accounts.exceptions import AccountInvalid, OutOfScope
from assess.accounts.models import AuditEvent, StagedUpload
from assess.accounts.scope import Actor
from assess.console import jobs, roster
from assess.exceptions import RegistrationError
from assess.models import LoginFailure, Student, TestSession
from assess.people_file import COLUMNS
from assess.pins import verify_pin
from itembank.models import utcnow
from tests.console_world import ConsoleWorld

ROW = {
    "province_code": "99",
    "province": "测试省",
    "region": "东部",
    "city_code": "9901",
    "city": "测试市",
    "county_code": "990102",
    "county": "隔壁区",
    "school_code": "SNEXT01",
    "school": "隔壁第二中学",
    "locale": "urban",
    "sector": "public",
    "grade": "8",
    "class": "8年级2班",
    "student_code": "NEW-01",
    "gender": "F",
}


def csv_of(*rows: dict[str, str]) -> bytes:
    lines = [",".join(COLUMNS)] + [",".join(r[c] for c in COLUMNS) for r in rows]
    return ("\n".join(lines) + "\n").encode()


def students(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.exec(select(func.count()).select_from(Student)).one())


def test_a_file_is_checked_staged_and_confirmed(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    school2, now, before = actor("school2"), utcnow(), students(engine)
    bad = csv_of(
        ROW, {**ROW, "student_code": "NEW-02", "gender": "X"}, {**ROW, "student_code": "NEW-03", "grade": "15"}
    )
    with Session(engine) as s, pytest.raises(RegistrationError) as info:
        roster.stage_roster(
            session=s,
            actor=school2,
            school_code="SNEXT01",
            filename="roster.csv",
            content=bad,
            assessment="WEB-OPEN",
            now=now,
        )
    assert [p.split(":")[0] for p in info.value.problems] == ["row 3, gender", "row 4, grade"]
    good = csv_of(ROW, {**ROW, "student_code": "NEW-02"})
    with Session(engine) as s:
        staged = roster.stage_roster(
            session=s,
            actor=school2,
            school_code="SNEXT01",
            filename="C:\\fakepath\\roster.csv",
            content=good,
            assessment="WEB-OPEN",
            now=now,
        )
        s.commit()
    assert staged.filename == "roster.csv"
    assert (staged.preview.students_new, staged.preview.students_unchanged, staged.preview.classes) == (2, 0, 1)
    assert students(engine) == before  # nothing written yet
    with Session(engine) as s, pytest.raises(OutOfScope):  # another user cannot confirm it
        roster.confirm_roster(
            session=s, actor=actor("root"), school_code="SNEXT01", token=staged.token, assessment=None, now=now
        )
    with Session(engine) as s:
        summary = roster.confirm_roster(
            session=s, actor=school2, school_code="SNEXT01", token=staged.token, assessment="WEB-OPEN", now=now
        )
        s.commit()
    assert summary.students_created == 2 and all(t.pin is None for t in summary.tickets)
    with Session(engine) as s:
        new = s.exec(select(Student).where(Student.code.in_(["NEW-01", "NEW-02"]))).all()  # type: ignore[attr-defined]
        assert len(new) == 2 and all(st.pin_hash == "" for st in new)  # PINs come with the printed cards
        assert s.exec(select(StagedUpload)).all() == []
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "registration.import")).one()
        assert event.actor == "school2" and event.detail["students_created"] == 2
    with Session(engine) as s, pytest.raises(OutOfScope):  # a staged file is confirmed once
        roster.confirm_roster(
            session=s, actor=school2, school_code="SNEXT01", token=staged.token, assessment=None, now=now
        )


def test_rows_outside_the_school_are_problems(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    now = utcnow()
    other = {
        **ROW,
        "student_code": "NEW-09",
        "county_code": "990101",
        "county": "测试区",
        "school_code": "SWEB001",
        "school": "测试路第一中学",
    }
    for who in ("school2", "prov99", "root"):  # a file for SNEXT01 holds SNEXT01's students only, whoever sends it
        with Session(engine) as s, pytest.raises(RegistrationError) as info:
            roster.stage_roster(
                session=s,
                actor=actor(who),
                school_code="SNEXT01",
                filename="r.csv",
                content=csv_of(ROW, other),
                assessment=None,
                now=now,
            )
        assert [p.split(":")[0] for p in info.value.problems] == ["row 3, county_code", "row 3, school_code"]
    with Session(engine) as s:
        assert (
            roster.stage_roster(
                session=s,
                actor=actor("prov99"),
                school_code="SNEXT01",
                filename="r.csv",
                content=csv_of(ROW),
                assessment=None,
                now=now,
            ).preview.students_new
            == 1
        )
    with Session(engine) as s, pytest.raises(OutOfScope):  # a school outside the bureau: as if absent
        roster.stage_roster(
            session=s,
            actor=actor("county1"),
            school_code="SNEXT01",
            filename="r.csv",
            content=csv_of(ROW),
            assessment=None,
            now=now,
        )
    with Session(engine) as s, pytest.raises(AccountInvalid, match="不支持"):
        roster.stage_roster(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            filename="r.pdf",
            content=b"%PDF",
            assessment=None,
            now=now,
        )
    with Session(engine) as s, pytest.raises(AccountInvalid, match="空"):
        roster.stage_roster(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            filename="r.csv",
            content=b"",
            assessment=None,
            now=now,
        )


def test_a_staged_file_expires(engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]) -> None:
    now = utcnow()
    with Session(engine) as s:
        staged = roster.stage_roster(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            filename="r.csv",
            content=csv_of(ROW),
            assessment=None,
            now=now,
        )
        s.commit()
    with Session(engine) as s, pytest.raises(OutOfScope, match="过期"):
        roster.confirm_roster(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            token=staged.token,
            assessment=None,
            now=now + roster.STAGED_FOR + timedelta(seconds=1),
        )


def test_tickets_pins_unlock_and_move(engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]) -> None:
    school2 = actor("school2")
    with Session(engine) as s:
        cards = roster.print_tickets(
            session=s, actor=school2, school_code="SNEXT01", class_id=cworld.classes["SNEXT01"]
        )
        assert [c.student_code for c in cards] == ["NXT-01", "NXT-02", "NXT-03", "NXT-04"]
        assert all(c.pin is None for c in cards)  # everybody has a PIN already: nothing reissued
        renewed = roster.print_tickets(session=s, actor=school2, school_code="SNEXT01", renew=True)
        assert all(c.pin for c in renewed)
        s.commit()
        stored = {st.code: st.pin_hash for st in s.exec(select(Student).where(Student.school_id == Student.school_id))}
        assert all(verify_pin(stored[c.student_code], c.pin or "") for c in renewed)
        card = roster.reissue_student_pin(
            session=s, actor=school2, school_code="SNEXT01", student_id=cworld.students["NXT-02"]
        )
        s.commit()
        assert card.pin and card.pin != next(c.pin for c in renewed if c.student_code == "NXT-02")
        with pytest.raises(OutOfScope):
            roster.reissue_student_pin(
                session=s, actor=school2, school_code="SNEXT01", student_id=cworld.students["WEBX-01"]
            )
        with pytest.raises(OutOfScope):  # a student of another school of the same bureau, named under this one
            roster.reissue_student_pin(
                session=s, actor=actor("prov99"), school_code="SNEXT01", student_id=cworld.students["WEBX-01"]
            )
        with pytest.raises(OutOfScope):
            roster.print_tickets(session=s, actor=school2, school_code="SNEXT01", class_id=cworld.classes["SWEB001"])
        s.add(LoginFailure(subject=f"ticket:{cworld.tickets['NXT-04']}", window_start=utcnow().timestamp(), failures=9))
        s.commit()
        assert roster.unlock_student_login(
            session=s, actor=school2, school_code="SNEXT01", student_id=cworld.students["NXT-04"]
        )
        assert not roster.unlock_student_login(
            session=s, actor=school2, school_code="SNEXT01", student_id=cworld.students["NXT-04"]
        )
        assert roster.move_sitting(
            session=s,
            actor=school2,
            school_code="SNEXT01",
            student_id=cworld.students["NXT-03"],
            assessment_id=cworld.assessment_id,
        )
        assert not roster.move_sitting(
            session=s,
            actor=school2,
            school_code="SNEXT01",
            student_id=cworld.students["NXT-01"],
            assessment_id=cworld.assessment_id,
        )  # finished: nothing to move
        s.commit()
        moved = s.exec(select(TestSession).where(TestSession.student_id == cworld.students["NXT-03"])).one()
        assert moved.device.startswith("released-") and moved.status == "in_progress" and moved.position == 3
        actions = [e.action for e in s.exec(select(AuditEvent).order_by(AuditEvent.id))]
        assert actions == [
            "tickets.print",
            "tickets.print",
            "pin.reset",
            "student.unlock",
            "student.unlock",
            "student.move",
        ]


def test_a_job_is_seen_by_its_owner_only(engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]) -> None:
    with Session(engine) as s:
        token = jobs.start_job(
            session=s,
            actor=actor("county1"),
            kind="profiles_zip",
            target="area:990101",
            scope_path="/99/9901/990101/",
            total=4,
        )
        s.commit()
    jobs.report_progress(engine=engine, token=token, done=2)
    with Session(engine) as s:
        state = jobs.job_state(session=s, actor=actor("county1"), token=token)
        assert (state.status, state.percent) == ("running", 50)
        with pytest.raises(OutOfScope):
            jobs.job_state(session=s, actor=actor("county2"), token=token)
        with pytest.raises(OutOfScope):
            jobs.job_file(session=s, actor=actor("county1"), token=token)
        stale = jobs.job_state(session=s, actor=actor("county1"), token=token, now=utcnow() + timedelta(minutes=3))
        assert stale.status == "failed"
    jobs.finish_job(engine=engine, token=token, filename="a.zip", media_type="application/zip", content=b"PK")
    with Session(engine) as s:
        assert jobs.job_file(session=s, actor=actor("county1"), token=token) == ("a.zip", "application/zip", b"PK")
        assert jobs.job_state(session=s, actor=actor("county1"), token=token).percent == 100
