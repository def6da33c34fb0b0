from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose
from sqlalchemy import func, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from itembank import importing, services
from itembank.db import session_scope
from itembank.exceptions import (
    ConflictError,
    MissingParametersError,
    NotFoundError,
    ValidationReport,
)
from itembank.formats import parse_json
from itembank.models import (
    PROVISIONAL,
    Calibration,
    Framework,
    Item,
    ItemCreate,
    ItemParameter,
    ItemUpdate,
    ItemVersion,
    Stimulus,
    StimulusVersion,
)
from itembank.validate import RawBundle
from scoring.params import ItemParams, ItemParamsSE
from tests.itembank import samples

ITEMBANK_TABLES = sorted(
    t.name for t in SQLModel.metadata.sorted_tables if t.name in {
        "framework", "literacy", "grade_band", "dimension", "indicator", "stimulus", "stimulus_version", "item",
        "item_version", "calibration", "item_parameter",
    }
)  # fmt: skip


def _bundle(doc: dict[str, Any] | None = None) -> RawBundle:
    return parse_json(json.dumps(doc or samples.bundle(), ensure_ascii=False).encode("utf-8"), source="s.json")


def _import(engine: Engine, doc: dict[str, Any] | None = None) -> services.ImportSummary:
    with session_scope(engine) as session:
        return services.import_items(session=session, bundle=_bundle(doc))


def _counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            t.name: int(session.execute(select(func.count()).select_from(t)).scalar_one())
            for t in SQLModel.metadata.sorted_tables
            if t.name in ITEMBANK_TABLES
        }


def _lock(engine: Engine, code: str) -> None:
    with session_scope(engine) as session:
        version = services.get_item_version(session=session, code=code)
        services.lock_item_version(session=session, version_id=version.id)


# ------------------------------------------------------------------------------------ import
def test_import_creates_everything_and_loads_the_default_framework(engine: Engine) -> None:
    summary = _import(engine)
    assert summary.created == tuple(i["code"] for i in samples.ITEMS)
    assert summary.stimuli_created == ("S-T-01",)
    assert summary.framework_loaded == "infolit-default 1.0"
    assert "items: 5 created, 0 updated, 0 new versions, 0 unchanged" in str(summary)
    counts = _counts(engine)
    assert counts["item"] == counts["item_version"] == counts["item_parameter"] == 5
    assert counts["calibration"] == 1 and counts["framework"] == 1
    with session_scope(engine) as session:
        assert services.count_items(session=session) == 5
        item = services.get_item(session=session, code="T4.3-002")
        assert item.dimension == "D4" and item.stimulus == "S-T-01" and item.type == "multiple_response"
        assert item.enemies == ["T4.3-001"] and item.current_version == 1 and not item.locked
        version = services.get_item_version(session=session, code="T1.2-001")
        assert version.max_score == 2 and version.score_map == [0, 0, 1, 2] and version.stimulus is None
        assert len(version.content_hash) == 64
        cal = session.exec(select(Calibration).where(Calibration.name == PROVISIONAL)).one()
        assert cal.status == "draft"


def test_reimport_is_idempotent(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        before = {i.code: i.updated_at for i in services.list_items(session=session)}
    again = _import(engine)
    assert not again.changed
    assert again.unchanged == tuple(i["code"] for i in samples.ITEMS)
    assert again.stimuli_unchanged == ("S-T-01",) and again.framework_loaded is None
    with session_scope(engine) as session:
        assert {i.code: i.updated_at for i in services.list_items(session=session)} == before
    assert _counts(engine)["item_version"] == 5


def test_a_bad_file_changes_nothing_at_all(engine: Engine) -> None:
    empty = _counts(engine)
    doc = samples.bundle()
    doc["items"][0]["key"] = ["Z"]
    doc["items"][3]["indicator"] = "D9.9"
    with pytest.raises(ValidationReport) as info, session_scope(engine) as session:
        services.import_items(session=session, bundle=_bundle(doc))
    assert len(info.value.problems) == 2
    assert _counts(engine) == empty  # not even the framework or the provisional calibration
    _import(engine)
    full = _counts(engine)
    doc["items"][1]["stem"] = "改过的题干"
    with pytest.raises(ValidationReport), session_scope(engine) as session:
        services.import_items(session=session, bundle=_bundle(doc))
    assert _counts(engine) == full
    with session_scope(engine) as session:
        assert services.get_item(session=session, code="T4.3-002").stem == samples.ITEMS[1]["stem"]


def test_a_failure_while_writing_rolls_everything_back(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = _counts(engine)
    real = importing._write_item
    calls = {"n": 0}

    def failing(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("disk full")
        real(*args, **kwargs)

    monkeypatch.setattr(importing, "_write_item", failing)
    with pytest.raises(RuntimeError, match="disk full"), session_scope(engine) as session:
        services.import_items(session=session, bundle=_bundle())
    assert calls["n"] == 4
    assert _counts(engine) == empty


# ------------------------------------------------------------------------------------ versioning
def _edited(stem: str = "改过的题干") -> dict[str, Any]:
    doc = samples.bundle()
    doc["items"][0]["stem"] = stem
    return doc


def test_unanswered_items_are_edited_in_place(engine: Engine) -> None:
    _import(engine)
    summary = _import(engine, _edited())
    assert summary.updated == ("T4.3-001",) and not summary.new_versions
    with session_scope(engine) as session:
        version = services.get_item_version(session=session, code="T4.3-001")
        assert version.number == 1 and version.stem == "改过的题干"
    assert _counts(engine)["item_version"] == 5


def test_editing_a_locked_item_makes_a_new_version_and_keeps_the_old(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        old = services.get_item_version(session=session, code="T4.3-001")
    _lock(engine, "T4.3-001")
    summary = _import(engine, _edited())
    assert summary.new_versions == ("T4.3-001",) and len(summary.unchanged) == 4
    with session_scope(engine) as session:
        item = services.get_item(session=session, code="T4.3-001")
        assert item.current_version == 2 and not item.locked
        kept = services.get_item_version(session=session, version_id=old.id)
        assert kept.stem == samples.ITEMS[0]["stem"] and kept.locked and kept.number == 1
        new = services.get_item_version(session=session, code="T4.3-001")
        assert new.number == 2 and new.stem == "改过的题干" and new.id != old.id
        assert new.content_hash != kept.content_hash
        assert services.get_item_version(session=session, code="T4.3-001", number=1).id == old.id
        params = session.exec(select(ItemParameter).where(ItemParameter.item_version_id == new.id)).one()
        assert params.b == [-0.4]
    # the same edit again is unchanged; a metadata-only edit stays on version 2
    assert not _import(engine, _edited()).changed
    doc = _edited()
    doc["items"][0]["status"] = "retired"
    assert _import(engine, doc).updated == ("T4.3-001",)
    assert _counts(engine)["item_version"] == 6


def test_a_changed_stimulus_follows_the_versioning_rule(engine: Engine) -> None:
    _import(engine)
    _lock(engine, "T4.3-001")  # T4.3-002 shares the stimulus but has no answers
    doc = samples.bundle()
    doc["stimuli"][0]["body"] += "\n\n（客服电话：400-000-0000）"
    doc["items"] = [doc["items"][0]]  # the file only carries one of the two items
    summary = _import(engine, doc)
    assert summary.stimuli_new_versions == ("S-T-01",)
    assert summary.new_versions == ("T4.3-001",) and summary.updated == ("T4.3-002",)
    with session_scope(engine) as session:
        stim = session.exec(select(Stimulus).where(Stimulus.code == "S-T-01")).one()
        assert stim.current_version == 2
        versions = session.exec(select(StimulusVersion).order_by(StimulusVersion.number)).all()
        assert [v.number for v in versions] == [1, 2] and "400" in versions[1].body and "400" not in versions[0].body
        old = services.get_item_version(session=session, code="T4.3-001", number=1)
        new = services.get_item_version(session=session, code="T4.3-001")
        assert new.number == 2
        old_row = session.get(ItemVersion, old.id)
        new_row = session.get(ItemVersion, new.id)
        assert old_row is not None and new_row is not None
        assert old_row.stimulus_version_id == versions[0].id and new_row.stimulus_version_id == versions[1].id
        other = session.exec(
            select(ItemVersion).join(Item, Item.id == ItemVersion.item_id).where(Item.code == "T4.3-002")
        ).one()
        assert other.number == 1 and other.stimulus_version_id == versions[1].id
        exported = services.export_items(session=session)
        assert "400" in exported.stimuli[0].body


def test_editing_an_unanswered_stimulus_is_in_place(engine: Engine) -> None:
    _import(engine)
    doc = samples.bundle()
    doc["stimuli"][0]["title"] = "新标题"
    summary = _import(engine, doc)
    assert summary.stimuli_updated == ("S-T-01",) and summary.changed
    assert _counts(engine)["stimulus_version"] == 1 and _counts(engine)["item_version"] == 5


def test_create_and_update_single_items(engine: Engine) -> None:
    _import(engine)
    data = dict(samples.ITEMS[2], code="T2.1-002", stem="一个字节由 8 个二进制位组成。")
    with session_scope(engine) as session:
        created = services.create_item(session=session, item_in=ItemCreate.model_validate(data))
        assert created.code == "T2.1-002" and created.type == "true_false"
        with pytest.raises(ConflictError):
            services.create_item(session=session, item_in=ItemCreate.model_validate(data))
        updated = services.update_item(session=session, code="T2.1-002", item_in=ItemUpdate(status="pilot"))
        assert updated.status == "pilot"
        with pytest.raises(ValidationReport) as info:
            services.update_item(session=session, code="T2.1-002", item_in=ItemUpdate(key=["A"]))
        assert "true_false key" in str(info.value)
        with pytest.raises(NotFoundError):
            services.update_item(session=session, code="NOPE", item_in=ItemUpdate(status="pilot"))


# ------------------------------------------------------------------------------------ queries
@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["T1.2-001", "T2.1-001", "T3.1-001", "T4.3-001", "T4.3-002"]),
        ({"dimension": "D4"}, ["T4.3-001", "T4.3-002"]),
        ({"band": "7-9"}, ["T1.2-001", "T4.3-001", "T4.3-002"]),
        ({"status": "operational"}, ["T1.2-001", "T2.1-001", "T4.3-001"]),
        ({"type": "multiple_response"}, ["T3.1-001", "T4.3-002"]),
        ({"indicator": "D2.1"}, ["T2.1-001"]),
        ({"dimension": "D4", "band": "7-9", "status": "pilot", "type": "multiple_response"}, ["T4.3-002"]),
        ({"band": "3-4", "dimension": "D4"}, []),
    ],
)
def test_list_filters(engine: Engine, filters: dict[str, str], expected: list[str]) -> None:
    _import(engine)
    with session_scope(engine) as session:
        assert [i.code for i in services.list_items(session=session, **filters)] == expected  # type: ignore[arg-type]
        exported = services.export_items(session=session, **filters)  # type: ignore[arg-type]
        assert [i.code for i in exported.items] == expected


def test_filtered_export_carries_only_the_stimuli_it_uses(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        assert services.export_items(session=session, dimension="D2").stimuli == ()
        assert [s.code for s in services.export_items(session=session, dimension="D4").stimuli] == ["S-T-01"]


def test_natural_sort() -> None:
    codes = ["D1.10-001", "D1.2-010", "D1.2-009", "D1.9-001"]
    assert sorted(codes, key=services.natural_key) == ["D1.2-009", "D1.2-010", "D1.9-001", "D1.10-001"]


def test_enemies_are_symmetric(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        enemies = services.enemies_of(session=session)
        assert enemies["T4.3-001"] == {"T4.3-002"} and enemies["T4.3-002"] == {"T4.3-001"}
        assert enemies["T2.1-001"] == frozenset()
        assert services.enemies_of(session=session, codes=["T4.3-001"]) == {"T4.3-001": frozenset({"T4.3-002"})}


def test_lock_and_lookups_of_missing_things(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        with pytest.raises(NotFoundError):
            services.get_item(session=session, code="NOPE")
        with pytest.raises(NotFoundError):
            services.get_item_version(session=session, code="T4.3-001", number=7)
        with pytest.raises(NotFoundError):
            services.lock_item_version(session=session, version_id=999_999)
        with pytest.raises(ValueError, match="give version_id"):
            services.get_item_version(session=session)
        version = services.get_item_version(session=session, code="T4.3-001")
        services.lock_item_version(session=session, version_id=version.id)
        services.lock_item_version(session=session, version_id=version.id)  # idempotent
        sv = session.exec(select(StimulusVersion)).one()
        assert sv.locked


# ------------------------------------------------------------------------------------ calibrations
def test_bank_params_from_the_provisional_calibration(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        params = services.bank_params(session=session)
    assert params.ids == ("T1.2-001", "T2.1-001", "T3.1-001", "T4.3-001", "T4.3-002")
    assert params.models == ("grm", "2pl", "2pl", "3pl", "gpcm")
    assert_allclose(params.a, [1.3, 0.9, 1.1, 1.2, 1.0])
    assert_allclose(params.c, [0, 0, 0, 0.2, 0])
    assert_allclose(params.b, [[-0.2, 0.9], [-1.5, np.nan], [0.8, np.nan], [-0.4, np.nan], [-0.5, 0.6]])
    assert list(params.max_scores) == [2, 1, 1, 1, 2]
    with session_scope(engine) as session:
        some = services.bank_params(session=session, codes=["T4.3-002", "T2.1-001"], calibration=PROVISIONAL)
        assert some.ids == ("T4.3-002", "T2.1-001")
        with pytest.raises(NotFoundError, match="NOPE"):
            services.bank_params(session=session, codes=["NOPE"])
        with pytest.raises(NotFoundError, match="no calibration named"):
            services.bank_params(session=session, calibration="2031")


def test_retired_items_are_left_out_by_default(engine: Engine) -> None:
    doc = samples.bundle()
    doc["items"][2]["status"] = "retired"
    _import(engine, doc)
    with session_scope(engine) as session:
        assert "T2.1-001" not in services.bank_params(session=session).ids


def test_store_publish_and_use_a_calibration(engine: Engine) -> None:
    _import(engine)
    estimates = ItemParams(
        ids=("T2.1-001", "T4.3-001", "T1.2-001"),
        models=("2pl", "3pl", "gpcm"),
        a=np.array([1.05, 1.4, 0.8]),
        b=np.array([[-1.2, np.nan], [-0.1, np.nan], [-0.3, 1.1]]),
        c=np.array([0.0, 0.18, 0.0]),
    )
    se = ItemParamsSE(
        ids=estimates.ids,
        a=np.array([0.1, 0.2, 0.1]),
        b=np.array([[0.05, np.nan], [0.07, np.nan], [0.1, 0.12]]),
        c=np.array([np.nan, 0.03, np.nan]),
    )
    with session_scope(engine) as session:
        stored = services.store_calibration(
            session=session, name="2025-field", params=estimates, standard_errors=se, source="field trial 2025, MML-EM"
        )
        assert stored.n_items == 3 and stored.status == "draft"
        row = session.exec(select(ItemParameter).where(ItemParameter.se_c.is_not(None))).one()  # type: ignore[union-attr]
        assert row.se_c == pytest.approx(0.03) and row.se_b == [0.07]
        # a draft is not the default yet
        assert services.bank_params(session=session).models[0] == "grm"
        services.publish_calibration(session=session, name="2025-field")
        assert [c.name for c in services.list_calibrations(session=session)] == [PROVISIONAL, "2025-field"]
        with pytest.raises(MissingParametersError) as info:
            services.bank_params(session=session)
        assert info.value.codes == ("T3.1-001", "T4.3-002")
        got = services.bank_params(session=session, codes=["T4.3-001", "T2.1-001", "T1.2-001"])
        assert got == estimates.subset(["T4.3-001", "T2.1-001", "T1.2-001"])
        with pytest.raises(ConflictError, match="exists"):
            services.store_calibration(session=session, name="2025-field", params=estimates)
        services.store_calibration(session=session, name="2025-field", params=estimates.subset([0]), replace=True)
        assert services.list_calibrations(session=session)[-1].n_items == 1
        with pytest.raises(ConflictError, match="built-in"):
            services.store_calibration(session=session, name=PROVISIONAL, params=estimates)
        with pytest.raises(ConflictError):
            services.publish_calibration(session=session, name=PROVISIONAL)
        with pytest.raises(NotFoundError):
            services.publish_calibration(session=session, name="none")


def test_a_calibration_that_does_not_fit_the_items_is_refused(engine: Engine) -> None:
    _import(engine)
    bad = ItemParams(
        ids=("T1.2-001", "GHOST", "T4.3-001@3"),
        models=("2pl", "2pl", "2pl"),
        a=np.ones(3),
        b=np.zeros((3, 1)),
        c=np.zeros(3),
    )
    with pytest.raises(ValidationReport) as info, session_scope(engine) as session:
        services.store_calibration(session=session, name="bad", params=bad)
    assert [str(p) for p in info.value.problems] == [
        "item GHOST: no such item (version) in the bank",
        "item T4.3-001@3: no such item (version) in the bank",
        "item T1.2-001: 2pl with 1 threshold(s) does not fit an item scored 0..2",
    ]
    assert _counts(engine)["calibration"] == 1


def test_a_new_version_needs_a_new_calibration(engine: Engine) -> None:
    _import(engine)
    with session_scope(engine) as session:
        services.store_calibration(
            session=session,
            name="c1",
            status="operational",
            params=ItemParams(ids=("T4.3-001@1",), models=("3pl",), a=np.ones(1), b=np.zeros((1, 1)), c=np.zeros(1)),
        )
        assert services.bank_params(session=session, codes=["T4.3-001"]).ids == ("T4.3-001",)
    _lock(engine, "T4.3-001")
    _import(engine, _edited())
    with session_scope(engine) as session, pytest.raises(MissingParametersError):
        services.bank_params(session=session, codes=["T4.3-001"])


# ------------------------------------------------------------------------------------ schema
def test_the_migration_matches_the_models(engine: Engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata)
        names = set(inspect(conn).get_table_names())
    assert set(ITEMBANK_TABLES) <= names
    assert [d for d in diff if _table_of(d) in ITEMBANK_TABLES] == []


def _table_of(diff: Any) -> str | None:
    """The table an Alembic autogenerate difference is about."""
    if isinstance(diff, list):  # modify_* entries come as a list of tuples
        return _table_of(diff[0])
    for part in diff[1:]:
        if hasattr(part, "table") and hasattr(part.table, "name"):
            return str(part.table.name)
        if hasattr(part, "name") and hasattr(part, "columns") and not hasattr(part, "table"):
            return str(part.name)
    return str(diff[2]) if len(diff) > 2 and isinstance(diff[2], str) else None


def test_the_active_framework_is_stored_once(engine: Engine) -> None:
    _import(engine)
    _import(engine)
    with Session(engine) as session:
        assert len(session.exec(select(Framework)).all()) == 1
