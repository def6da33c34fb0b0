"""The command line's registrations, ticket printing, unlocks and report publishing are in the audit log."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlmodel import Session, select

from assess.accounts.models import AuditEvent
from assess.models import School, Student
from itembank.db import get_engine
from web.cli import cli


def test_people_commands_are_audited(env_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    template = tmp_path / "roster.xlsx"
    assert runner.invoke(cli, ["people", "template", str(template), "--example"]).exit_code == 0
    made = runner.invoke(cli, ["people", "import", str(template), "--tickets-out", str(tmp_path / "t.pdf")])
    assert made.exit_code == 0, made.output
    with Session(get_engine()) as s:
        school = s.exec(select(School)).first()
        student = s.exec(select(Student)).first()
        assert school is not None and student is not None
        school_code, school_path, ticket = school.code, school.path, student.ticket
    again = runner.invoke(
        cli, ["people", "tickets", "--school", school_code, "--new-pins", "--out", str(tmp_path / "new.pdf")]
    )
    assert again.exit_code == 0, again.output
    assert runner.invoke(cli, ["people", "unlock", ticket]).exit_code == 0
    with Session(get_engine()) as s:
        events = {e.action: e for e in s.exec(select(AuditEvent)).all()}
    assert set(events) == {"registration.import", "tickets.print", "student.unlock"}
    assert all(e.actor.startswith("cli:") for e in events.values())
    imported = events["registration.import"]
    assert imported.target == "file:roster.xlsx" and imported.detail["students_created"] >= 1
    assert len(imported.detail["sha256"]) == 64
    printed = events["tickets.print"]
    assert printed.scope_path == school_path and printed.detail["new_pins"] == printed.detail["cards"] >= 1
    assert events["student.unlock"].detail == {"had_failures": False}
