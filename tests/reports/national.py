"""Helpers for tests on the simulated national database (the ``national_db`` fixture of conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from assess.simulate.pipeline import NationalRun


def copy_national(national_db: tuple[Path, NationalRun], folder: Path) -> tuple[Path, NationalRun]:
    """A private copy of the simulated database in ``folder``."""
    source, run = national_db
    target = folder / "national.db"
    shutil.copyfile(source, target)
    return target, run


def invoke(path: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``infolit ARGS`` against the SQLite database at ``path``."""
    from itembank import db, settings
    from web.cli import cli

    monkeypatch.setenv("INFOLIT_DATABASE_URL", f"sqlite:///{path}")
    settings.get_settings.cache_clear()
    db.get_engine.cache_clear()
    try:
        return CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        db.get_engine().dispose()
        settings.get_settings.cache_clear()
        db.get_engine.cache_clear()
