"""Imports flow one way: scoring <- itembank <- assess <- reports <- web.

Parses every module of every package and fails on an import of a package that sits above it
(for example ``itembank`` importing ``assess``), so the layering cannot erode unnoticed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORDER = ["scoring", "itembank", "assess", "reports", "web"]


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ORDER)
def test_package_imports_only_packages_below_it(package: str) -> None:
    above = set(ORDER[ORDER.index(package) + 1 :])
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = _imported_top_levels(path) & above
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "imports must flow scoring <- itembank <- assess <- reports <- web:\n" + "\n".join(
        offenders
    )


def test_scoring_imports_no_database_web_or_pdf_library() -> None:
    forbidden = {"sqlmodel", "sqlalchemy", "litestar", "reportlab", "alembic", "psycopg"}
    offenders = []
    for path in sorted((REPO / "scoring").rglob("*.py")):
        bad = _imported_top_levels(path) & forbidden
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_live_core_does_not_import_the_simulation_package() -> None:
    """``assess.simulate`` stands on the live core; nothing else in ``assess`` may import it."""
    simulate = REPO / "assess" / "simulate"
    offenders = []
    for path in sorted((REPO / "assess").rglob("*.py")):
        if simulate in path.parents:
            continue
        bad = {m for m in _imported_modules(path) if m == "assess.simulate" or m.startswith("assess.simulate.")}
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "the live core must not import assess.simulate:\n" + "\n".join(offenders)
