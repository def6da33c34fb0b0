"""Imports flow one way: scoring <- itembank <- assess <- reports <- web.

Parses every module of every package and fails on an import of a package that sits above it
(for example ``itembank`` importing ``assess``), so the layering cannot erode unnoticed. Inside
the packages: the live core of ``assess`` never imports the simulation package
(``assess.simulate``), a web controller never talks to the database library (it calls a
service), and ``web/deps.py`` takes nothing from a controller.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ORDER = ["scoring", "itembank", "assess", "reports", "web"]


def _imported_modules(source: str, filename: str = "<source>") -> set[str]:
    """Every module an absolute import in ``source`` names: ``a.b`` for ``import a.b``, and both
    ``a.b`` and ``a.b.c`` for ``from a.b import c`` (``c`` may be a module)."""
    tree = ast.parse(source, filename=filename)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _imports_under(source: str, prefix: str, filename: str = "<source>") -> list[str]:
    """The modules ``source`` imports that are ``prefix`` or lie under it."""
    return sorted(m for m in _imported_modules(source, filename) if m == prefix or m.startswith(prefix + "."))


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
    assert not offenders, "imports must flow scoring <- itembank <- assess <- reports <- web:\n" + "\n".join(offenders)


def test_scoring_imports_no_database_web_or_pdf_library() -> None:
    forbidden = {"sqlmodel", "sqlalchemy", "litestar", "reportlab", "alembic", "psycopg"}
    offenders = []
    for path in sorted((REPO / "scoring").rglob("*.py")):
        bad = _imported_top_levels(path) & forbidden
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not offenders, "\n".join(offenders)


def _live_core_offenders(root: Path) -> list[str]:
    """Modules of ``root``/assess outside ``assess/simulate/`` that import ``assess.simulate``."""
    offenders = []
    for path in sorted((root / "assess").rglob("*.py")):
        if (root / "assess" / "simulate") in path.parents:
            continue
        bad = _imports_under(path.read_text(encoding="utf-8"), "assess.simulate", str(path))
        if bad:
            offenders.append(f"{path.relative_to(root)} imports {bad}")
    return offenders


def test_the_live_core_never_imports_the_simulation_package() -> None:
    offenders = _live_core_offenders(REPO)
    assert not offenders, "simulation stands on the live core, never the other way round:\n" + "\n".join(offenders)


def test_the_live_core_rule_catches_every_way_of_importing_the_simulation_package(tmp_path: Path) -> None:
    (tmp_path / "assess" / "simulate").mkdir(parents=True)
    (tmp_path / "assess" / "simulate" / "national.py").write_text("from assess.sitting import answer\n")
    (tmp_path / "assess" / "clean.py").write_text("import assess.sitting\nfrom assess import banks\n")
    ways = {
        "a.py": "from assess.simulate.national import run_adaptive\n",
        "b.py": "import assess.simulate.pipeline\n",
        "c.py": "from assess import simulate\n",
        "d.py": "def f() -> None:\n    from assess.simulate import study\n",
    }
    for name, source in ways.items():
        (tmp_path / "assess" / name).write_text(source)
    offenders = _live_core_offenders(tmp_path)
    assert [line.split()[0] for line in offenders] == [f"assess/{name}" for name in sorted(ways)]


def _controller_offenders(root: Path) -> list[str]:
    offenders = []
    for path in sorted((root / "web" / "controllers").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        bad = _imports_under(source, "sqlmodel", str(path)) + _imports_under(source, "sqlalchemy", str(path))
        if bad:
            offenders.append(f"{path.relative_to(root)} imports {bad}")
    return offenders


def test_web_controllers_do_not_import_the_database_library() -> None:
    offenders = _controller_offenders(REPO)
    assert not offenders, "a controller parses, calls a service and renders:\n" + "\n".join(offenders)


def test_the_controller_rule_catches_a_controller_that_queries(tmp_path: Path) -> None:
    (tmp_path / "web" / "controllers" / "sub").mkdir(parents=True)
    (tmp_path / "web" / "controllers" / "ok.py").write_text("from itembank.db import session_scope\n")
    (tmp_path / "web" / "controllers" / "a.py").write_text("from sqlmodel import select\n")
    (tmp_path / "web" / "controllers" / "sub" / "b.py").write_text("import sqlalchemy.exc\n")
    offenders = _controller_offenders(tmp_path)
    assert [line.split()[0] for line in offenders] == ["web/controllers/a.py", "web/controllers/sub/b.py"]


def test_web_dependencies_take_nothing_from_a_controller() -> None:
    path = REPO / "web" / "deps.py"
    bad = _imports_under(path.read_text(encoding="utf-8"), "web.controllers", str(path))
    assert not bad, f"web/deps.py imports {bad}: exceptions and services live outside the controllers"
