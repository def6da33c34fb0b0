"""Described levels: the pages that map into each level, a draft from their sub-indicators, the researcher's text."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from assess.exceptions import StandardSettingRefused
from assess.standards.described import draft_levels, save_described
from assess.standards.study import adopt_round, round_result
from itembank.framework import default_framework
from itembank.models import Item
from tests.assess.standards.conftest import ACTOR, Bank
from tests.assess.standards.test_study import _study


def test_each_level_lists_its_pages_and_drafts_from_their_indicators(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        cuts = round_result(session=s, study="初中 2026", round=1).cuts
        drafts = draft_levels(session=s, study="初中 2026", cuts=cuts)
        indicator = dict(s.exec(select(Item.code, Item.indicator)).all())
    c = bank.codes
    # the cuts sit exactly on pages 1, 3 and 4: a page at a cut belongs to the level above it
    assert [[(p["code"], p["score"]) for p in d.pages] for d in drafts] == [
        [], [(c["X"], 1), (c["G"], 1)], [(c["A"], 1)], [(c["G"], 2)]
    ]  # fmt: skip
    assert drafts[0].draft == "没有题目落在“待提高”水平，请补充描述。"
    assert {code for code, _, _ in drafts[1].indicators} == {indicator[c["X"]], indicator[c["G"]]}
    spec = default_framework().indicator(indicator[c["A"]])
    assert spec is not None and spec.description.rstrip("。") in drafts[2].draft
    assert drafts[2].draft.startswith("处于“良好”水平的学生通常能够：")


def test_saved_descriptions_go_into_the_adopted_version(bank: Bank) -> None:
    _study(bank)
    with Session(bank.engine) as s:
        with pytest.raises(StandardSettingRefused, match="没有水平"):
            save_described(session=s, actor=ACTOR, study="初中 2026", texts={"满分": "x"})
        save_described(session=s, actor=ACTOR, study="初中 2026", texts={"合格": " 能查找信息。 ", "良好": ""})
        s.commit()
        cuts = round_result(session=s, study="初中 2026", round=1).cuts
        assert [d.text for d in draft_levels(session=s, study="初中 2026", cuts=cuts)] == ["", "能查找信息。", "", ""]
        adopted = adopt_round(session=s, actor=ACTOR, study="初中 2026", round=1)
        s.commit()
    assert adopted.described == {"7-9": {"合格": "能查找信息。"}}
