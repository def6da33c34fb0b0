"""`import scoring` must stay pure numerics: no database, web or PDF library gets loaded."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("sqlmodel", "sqlalchemy", "litestar", "reportlab", "alembic", "psycopg", "click")


def test_importing_scoring_loads_no_database_web_or_pdf_library() -> None:
    code = (
        "import json, sys\n"
        "import scoring, scoring.calibrate, scoring.ability, scoring.io, scoring.simulate\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(out.stdout))
    assert "numpy" in loaded and "scoring" in loaded
    assert not loaded & set(FORBIDDEN), sorted(loaded & set(FORBIDDEN))


def test_public_names_are_curated() -> None:
    import scoring

    assert sorted(scoring.__all__) == sorted(set(scoring.__all__))
    for name in scoring.__all__:
        assert hasattr(scoring, name), name


def test_importing_scoring_loads_numpy_but_no_scipy() -> None:
    """Heavy scipy parts (sparse, stats, linalg, optimize, special) load where they are used."""
    code = "import json, sys\nimport scoring\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(out.stdout))
    assert "numpy" in loaded
    assert not {m for m in loaded if m == "scipy" or m.startswith("scipy.")}, sorted(m for m in loaded if "scipy" in m)
