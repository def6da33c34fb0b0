"""A folder of every profile's files that knows which stored build it holds, so a rerun can reuse it.

:func:`ensure_profile_folder` writes every profile in the formats asked for into
``FOLDER/LEVEL/CODE.FORMAT`` (with :func:`reports.bulk.write_profile_files`, on several processes),
plus ``profiles.csv`` and ``columns.csv`` (every number as one long table, and its dictionary),
and last a manifest, ``FOLDER/manifest.json``: the assessment, the stored build (its id and time)
and every file written. A later call for the same build finds the manifest and every file it
lists and writes nothing; for another build (the PVs were drawn again, a fresh database) it first
removes the files the old manifest lists, so no report of a school that is no longer in the
assessment stays behind. The manifest is written after every file, so a run that was interrupted
is never taken for a finished one. Files the manifest does not list are never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reports.bulk import BulkResult, write_profile_files
from reports.files import columns_csv, profiles_csv, write_profile
from reports.models import ProfileBuildPublic
from reports.profile import Profile

__all__ = ["MANIFEST", "FolderResult", "ensure_profile_folder", "remove_profile_folder"]

MANIFEST = "manifest.json"
"""The manifest's file name inside the folder."""
_TABLES = ("profiles.csv", "columns.csv")


@dataclass(frozen=True)
class FolderResult:
    """What the folder holds: the files (relative paths), whether they were there already, the bulk run."""

    folder: Path
    files: tuple[str, ...]
    reused: bool
    bulk: BulkResult | None = None


def _key(build: ProfileBuildPublic, assessment_code: str, formats: Sequence[str]) -> dict[str, object]:
    return {
        "assessment": assessment_code,
        "build_id": build.id,
        "built_at": build.built_at.isoformat(),
        "formats": list(formats),
    }


def _read_manifest(folder: Path) -> dict[str, object] | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _listed(manifest: dict[str, object]) -> list[str]:
    files = manifest.get("files")
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def _inside(folder: Path, relative: str) -> Path | None:
    """``folder / relative`` if it stays inside the folder (a tampered manifest cannot reach out)."""
    path = (folder / relative).resolve()
    return path if path.is_relative_to(folder.resolve()) else None


def remove_profile_folder(folder: Path) -> int:
    """Remove the files the folder's manifest lists, and the manifest; how many files went."""
    manifest = _read_manifest(folder)
    if manifest is None:
        return 0
    removed = 0
    for rel in _listed(manifest):
        path = _inside(folder, rel)
        if path is not None and path.is_file():
            path.unlink()
            removed += 1
    for level in sorted({Path(rel).parent for rel in _listed(manifest)}, reverse=True):
        sub = _inside(folder, str(level))
        if sub is not None and sub != folder.resolve() and sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    (folder / MANIFEST).unlink(missing_ok=True)
    return removed


def ensure_profile_folder(
    profiles: Sequence[Profile], folder: Path, formats: Sequence[str], *, build: ProfileBuildPublic,
    assessment_code: str, workers: int = 1, progress: Callable[[int], None] | None = None,
    font_progress: Callable[[str], None] | None = None,
) -> FolderResult:  # fmt: skip
    """The folder with every profile of ``build`` in every format: reused if it holds them, else written.

    Raises what :func:`reports.bulk.write_profile_files` raises.
    """
    key = _key(build, assessment_code, formats)
    manifest = _read_manifest(folder)
    if manifest is not None and {k: manifest.get(k) for k in key} == key:
        listed = _listed(manifest)
        if listed and all((folder / rel).is_file() for rel in listed):
            return FolderResult(folder, tuple(listed), reused=True)
    remove_profile_folder(folder)
    bulk = write_profile_files(
        profiles, folder, formats, workers=workers, progress=progress, font_progress=font_progress
    )
    if profiles:
        write_profile(profiles[0], folder / _TABLES[0], lambda _p: profiles_csv(profiles))
        write_profile(profiles[0], folder / _TABLES[1], lambda _p: columns_csv())
    files = [f"{p.identity.level}/{p.identity.code}.{fmt}" for p in profiles for fmt in formats]
    files += list(_TABLES) if profiles else []
    body = json.dumps({**key, "files": files}, ensure_ascii=False, indent=1)
    tmp = folder / f".{MANIFEST}.tmp"
    folder.mkdir(parents=True, exist_ok=True)
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, folder / MANIFEST)
    return FolderResult(folder, tuple(files), reused=False, bulk=bulk)
