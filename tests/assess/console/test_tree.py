from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from assess.accounts.exceptions import Forbidden, OutOfScope
from assess.accounts.scope import Actor, Scope
from assess.console.monitor import ThrottleRule, monitor_school
from assess.console.results import pseudonym, result_rows
from assess.console.tree import area_view, participation, school_node
from assess.models import LoginFailure
from itembank.models import utcnow
from tests.console_world import FAR_MARKERS, NEXT_MARKERS, ConsoleWorld


def test_each_actor_walks_only_its_part_of_the_tree(engine: Engine, actor: Callable[[str], Actor]) -> None:
    with Session(engine) as s:
        root = area_view(session=s, actor=actor("root"))
        assert root.node is None and [a.code for a in root.areas] == ["88", "99"]
        prov = area_view(session=s, actor=actor("prov99"))
        assert prov.node is not None and prov.node.code == "99" and [a.code for a in prov.areas] == ["9901"]
        city = area_view(session=s, actor=actor("prov99"), code="9901")
        assert [a.code for a in city.areas] == ["990101", "990102"] and [t.code for t in city.trail] == ["99", "9901"]
        county = area_view(session=s, actor=actor("county1"))
        assert county.node is not None and county.node.code == "990101"
        assert [n.code for n in county.schools] == ["SWEB001"] and [t.code for t in county.trail] == ["990101"]
        for code in ("990102", "9901", "99", "88", "nope"):
            with pytest.raises(OutOfScope) as info:
                area_view(session=s, actor=actor("county1"), code=code)
            assert code not in str(info.value)
        with pytest.raises(Forbidden):
            area_view(session=s, actor=actor("school1"))
        node, trail = school_node(session=s, actor=actor("county1"), code="SWEB001")
        assert node.name == "测试路第一中学" and [t.code for t in trail] == ["990101"]
        own, none = school_node(session=s, actor=actor("school1"))
        assert own.code == "SWEB001" and none == ()
        for who, code in (("county1", "SNEXT01"), ("school1", "SNEXT01"), ("far88", "SWEB001")):
            with pytest.raises(OutOfScope):
                school_node(session=s, actor=actor(who), code=code)


def test_participation_counts_each_school_in_scope(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    with Session(engine) as s:
        rows = participation(session=s, actor=actor("prov99"), assessment_id=cworld.assessment_id)
        by = {p.school.code: p for p in rows}
        assert sorted(by) == ["SNEXT01", "SWEB001"]
        nxt = by["SNEXT01"]
        assert (nxt.registered, nxt.in_progress, nxt.finished, nxt.expired, nxt.not_started) == (4, 1, 2, 0, 1)
        assert [
            p.school.code for p in participation(session=s, actor=actor("county2"), assessment_id=cworld.assessment_id)
        ] == ["SNEXT01"]
        only = participation(
            session=s, actor=actor("prov99"), assessment_id=cworld.assessment_id, path="/99/9901/990102/"
        )
        assert [p.school.code for p in only] == ["SNEXT01"]
        with pytest.raises(Forbidden):
            participation(session=s, actor=Actor(None, "x", "nobody", Scope.everything()), assessment_id=1)


def test_the_monitor_shows_each_students_state(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    now = utcnow()
    with Session(engine) as s:
        s.add(LoginFailure(subject=f"ticket:{cworld.tickets['NXT-04']}", window_start=now.timestamp() - 60, failures=5))
        s.commit()
        rule = ThrottleRule(limit=5, window_seconds=900)
        [klass] = monitor_school(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            assessment_id=cworld.assessment_id,
            now=now,
            throttle=rule,
        )
        states = {st.code: (st.state, st.item_number, st.locked) for st in klass.students}
        assert states == {
            "NXT-01": ("finished", None, False),
            "NXT-02": ("finished", None, False),
            "NXT-03": ("in_progress", 4, False),
            "NXT-04": ("not_started", None, True),
        }
        in_progress = next(st for st in klass.students if st.code == "NXT-03")
        assert in_progress.seconds_left is not None and 1190 <= in_progress.seconds_left <= 1200
        assert klass.counts == {"not_started": 1, "in_progress": 1, "finished": 2, "timed_out": 0}
        later = monitor_school(
            session=s,
            actor=actor("school2"),
            school_code="SNEXT01",
            assessment_id=cworld.assessment_id,
            now=now + timedelta(minutes=21),
            throttle=rule,
        )
        assert later[0].counts["timed_out"] == 1
        with pytest.raises(OutOfScope):
            monitor_school(
                session=s,
                actor=actor("school1"),
                school_code="SNEXT01",
                assessment_id=cworld.assessment_id,
                now=now,
                throttle=rule,
            )


def test_result_rows_are_pseudonymous_outside_a_school(
    engine: Engine, cworld: ConsoleWorld, actor: Callable[[str], Actor]
) -> None:
    with Session(engine) as s:
        own = result_rows(session=s, actor=actor("school2"), assessment_id=cworld.assessment_id)
        assert [r.student for r in own] == ["NXT-01", "NXT-02", "NXT-03", "NXT-04"]
        assert [r.status for r in own] == ["finished", "finished", "in_progress", "not_started"]
        bureau = result_rows(session=s, actor=actor("county2"), assessment_id=cworld.assessment_id)
        assert [r.student for r in bureau] == [pseudonym(c) for c in ("NXT-01", "NXT-02", "NXT-03", "NXT-04")]
        assert all(r.student.startswith("P") and len(r.student) == 11 for r in bureau)
        assert not any("NXT-" in str(r.values()) for r in bureau)
        county1 = result_rows(session=s, actor=actor("county1"), assessment_id=cworld.assessment_id)
        text = str([r.values() for r in county1])
        assert county1 and not any(m in text for m in NEXT_MARKERS + FAR_MARKERS)
        assert pseudonym("NXT-01") == pseudonym("NXT-01") != pseudonym("NXT-02")
