"""A report folder with a manifest (reports.folder): written once per stored build, reused, replaced."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reports import folder as folder_module
from reports.folder import MANIFEST, ensure_profile_folder, remove_profile_folder
from reports.models import ProfileBuildPublic
from reports.profile import Profile
from tests.reports.small import small_profiles

FORMATS = ("csv", "xlsx")  # no font needed


def _build(build_id: int) -> ProfileBuildPublic:
    return ProfileBuildPublic(
        id=build_id, assessment_id=1, run_id=1, built_at=datetime(2026, 6, 1, 9, build_id, tzinfo=UTC)
    )


@pytest.fixture(scope="module")
def profiles() -> list[Profile]:
    return list(small_profiles())


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_written_then_reused_for_the_same_build(
    profiles: list[Profile], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    done = ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1")
    assert not done.reused and done.bulk is not None and done.bulk.files == 2 * len(profiles)
    expected = {f"{p.identity.level}/{p.identity.code}.{f}" for p in profiles for f in FORMATS}
    assert set(done.files) == expected | {"profiles.csv", "columns.csv"}
    assert _files(out) == set(done.files) | {MANIFEST}
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["build_id"] == 1 and manifest["assessment"] == "A1" and set(manifest["files"]) == set(done.files)

    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("nothing should be written")

    monkeypatch.setattr(folder_module, "write_profile_files", refuse)
    again = ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1")
    assert again.reused and set(again.files) == set(done.files)


def test_a_missing_file_or_another_build_or_format_writes_again(profiles: list[Profile], tmp_path: Path) -> None:
    out = tmp_path / "reports"
    ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1")
    school = next(p for p in profiles if p.identity.level == "school")
    (out / "school" / f"{school.identity.code}.xlsx").unlink()
    assert not ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1").reused
    assert (out / "school" / f"{school.identity.code}.xlsx").is_file()
    assert not ensure_profile_folder(profiles, out, FORMATS, build=_build(2), assessment_code="A1").reused
    assert not ensure_profile_folder(profiles, out, ("csv",), build=_build(2), assessment_code="A1").reused
    assert not (out / "school" / f"{school.identity.code}.xlsx").exists()  # the old build's files are gone


def test_a_new_build_removes_the_old_files_and_leaves_the_rest(profiles: list[Profile], tmp_path: Path) -> None:
    out = tmp_path / "reports"
    ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1")
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    fewer = [p for p in profiles if p.identity.level != "school"]
    done = ensure_profile_folder(fewer, out, FORMATS, build=_build(2), assessment_code="A2")
    assert _files(out) == set(done.files) | {MANIFEST, "notes.txt"}
    assert not (out / "school").exists()


def test_an_interrupted_write_is_not_reused(profiles: list[Profile], tmp_path: Path) -> None:
    out = tmp_path / "reports"
    ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1")
    (out / MANIFEST).unlink()  # the manifest is written last: without it the files are not trusted
    assert not ensure_profile_folder(profiles, out, FORMATS, build=_build(1), assessment_code="A1").reused


def test_removal_stays_inside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    outside = tmp_path / "precious.txt"
    outside.write_text("keep", encoding="utf-8")
    (out / "a.pdf").write_bytes(b"%PDF-")
    (out / MANIFEST).write_text(json.dumps({"files": ["../precious.txt", "a.pdf", 7]}), encoding="utf-8")
    assert remove_profile_folder(out) == 1
    assert outside.read_text(encoding="utf-8") == "keep" and not (out / "a.pdf").exists()
    assert not (out / MANIFEST).exists() and remove_profile_folder(out) == 0
