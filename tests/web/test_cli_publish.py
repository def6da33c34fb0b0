"""`infolit research publish|unpublish|publications|rescore` through click's CliRunner."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from itembank.db import get_engine
from itembank.models import Calibration
from tests.assess.research.test_publish import _world
from tests.assess.research.test_rescore import _sittings
from web.commands.research import research_group


def _statuses() -> dict[str, str]:
    with Session(get_engine()) as s:
        return {c.name: c.status for c in s.exec(select(Calibration)) if c.name in ("OLD", "NEW")}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_researcher_publishes_undoes_and_rescores_from_the_command_line(env_db: str) -> None:
    _world(get_engine())
    _sittings(get_engine())  # A1 has ended sittings: it keeps OLD
    declined = CliRunner().invoke(research_group, ["publish", "NEW"], input="n\n")
    assert declined.exit_code == 1 and "linking to OLD (Stocking-Lord): A = 1.2500, B = 0.4000" in declined.output
    assert "round A1 keeps its calibration" in declined.output and _statuses() == {"OLD": "operational", "NEW": "draft"}
    published = CliRunner().invoke(research_group, ["publish", "NEW", "--yes"])
    assert published.exit_code == 0, published.output
    assert "published: 1\tNEW\tpublished\tlinked to OLD" in published.output
    assert _statuses() == {"OLD": "superseded", "NEW": "operational"}
    again = CliRunner().invoke(research_group, ["publish", "NEW", "--yes"])
    assert again.exit_code == 1 and "不是草稿" in again.output
    rescored = CliRunner().invoke(research_group, ["rescore", "--calibration", "NEW", "--assessment", "A1"])
    assert rescored.exit_code == 0, rescored.output
    assert "A1: 3 sittings rescored under NEW (was OLD)" in rescored.output
    listed = CliRunner().invoke(research_group, ["publications"])
    assert listed.exit_code == 0 and listed.output.startswith("1\tNEW\tpublished")
    refused = CliRunner().invoke(research_group, ["unpublish", "--yes"])
    assert refused.exit_code == 1 and "A1 已按这个标定重新评分" in refused.output
    back = CliRunner().invoke(research_group, ["rescore", "--calibration", "OLD", "--assessment", "A1"])
    assert back.exit_code == 0 and "(was NEW)" in back.output
    undone = CliRunner().invoke(research_group, ["unpublish", "--yes"])
    assert undone.exit_code == 0 and "undone: 1\tNEW\tundone" in undone.output
    assert _statuses() == {"OLD": "operational", "NEW": "draft"}
    nothing = CliRunner().invoke(research_group, ["unpublish", "--yes"])
    assert nothing.exit_code == 1 and "没有可以撤销" in nothing.output
    draft = CliRunner().invoke(research_group, ["rescore", "--calibration", "NEW"])
    assert draft.exit_code == 1 and "没有发布过" in draft.output
