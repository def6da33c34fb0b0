"""`infolit calibrate` and `infolit score` through click's CliRunner."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from scoring import random_item_params, read_items, simulate_responses, write_items
from web.commands.scoring import calibrate_command, score_command

REF = Path(__file__).resolve().parents[1] / "data" / "reference"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_responses(
    path: Path, x: np.ndarray, ids: tuple[str, ...], extra: dict[str, np.ndarray] | None = None
) -> None:
    extra = extra or {}
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["person", *ids, *extra])
        for p, row in enumerate(x):
            cells = ["" if np.isnan(v) else str(int(v)) for v in row]
            w.writerow([f"s{p + 1}", *cells, *[str(v[p]) for v in extra.values()]])


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_calibrate_mixed_file_writes_items_and_theta(runner: CliRunner, tmp_path: Path) -> None:
    rng = np.random.default_rng(41)
    bank = random_item_params(10, ["2pl"] * 7 + ["grm"] * 3, rng)
    x = simulate_responses(bank, rng.standard_normal(1500), rng)
    x[rng.random(x.shape) < 0.1] = np.nan
    write_responses(tmp_path / "resp.csv", x, bank.ids, {"w": rng.uniform(0.5, 2.0, 1500)})
    result = runner.invoke(
        calibrate_command,
        [
            str(tmp_path / "resp.csv"),
            "--out",
            str(tmp_path / "items.csv"),
            "--weights",
            "w",
            "--theta-out",
            str(tmp_path / "theta.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "converged" in result.output and "1500 persons" in result.output
    items = read_items(tmp_path / "items.csv")
    assert items.ids == bank.ids  # the weights column is not an item
    assert items.models == ("2pl",) * 7 + ("grm",) * 3  # dichotomous -> --model, 0..K -> --poly-model
    header = rows(tmp_path / "items.csv")[0].keys()
    assert {"se_a", "se_b1", "se_c"} <= set(header)
    theta = rows(tmp_path / "theta.csv")
    assert len(theta) == 1500 and list(theta[0]) == ["person", "theta", "se"]


def test_calibrate_models_and_anchors(runner: CliRunner, tmp_path: Path) -> None:
    rng = np.random.default_rng(42)
    bank = random_item_params(12, ["2pl"] * 8 + ["gpcm"] * 4, rng)
    x = simulate_responses(bank, rng.normal(0.5, 1.0, 2000), rng)
    write_responses(tmp_path / "resp.csv", x, bank.ids)
    write_items(tmp_path / "anchors.csv", bank.subset(range(6)))
    result = runner.invoke(
        calibrate_command,
        [
            str(tmp_path / "resp.csv"),
            "--out",
            str(tmp_path / "items.csv"),
            "--model",
            "1pl",
            "--poly-model",
            "gpcm",
            "--anchors",
            str(tmp_path / "anchors.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "6 anchors fixed" in result.output
    items = read_items(tmp_path / "items.csv")
    assert items.models == ("2pl",) * 6 + ("rasch",) * 2 + ("gpcm",) * 4  # anchors keep their own model
    assert np.allclose(items.a[:6], bank.a[:6])


def test_score_every_method_and_plausible_values(runner: CliRunner, tmp_path: Path) -> None:
    shutil.copy(REF / "science.csv", tmp_path / "science.csv")
    assert (
        runner.invoke(
            calibrate_command, [str(tmp_path / "science.csv"), "--out", str(tmp_path / "items.csv")]
        ).exit_code
        == 0
    )
    for method in ("eap", "map", "mle", "wle"):
        out = tmp_path / f"theta_{method}.csv"
        result = runner.invoke(
            score_command,
            [
                str(tmp_path / "science.csv"),
                "--items",
                str(tmp_path / "items.csv"),
                "--method",
                method,
                "--out",
                str(out),
            ],
        )
        assert result.exit_code == 0, result.output
        assert len(rows(out)) == 392
    result = runner.invoke(
        score_command,
        [
            str(tmp_path / "science.csv"),
            "--items",
            str(tmp_path / "items.csv"),
            "--pv",
            "5",
            "--out",
            str(tmp_path / "pv.csv"),
        ],
    )
    assert result.exit_code == 0
    assert list(rows(tmp_path / "pv.csv")[0]) == ["person", "theta", "se", "pv1", "pv2", "pv3", "pv4", "pv5"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"person,q1,q2\ns1,1,x\ns2,0,1\n", "row 2 (person s1), column 'q2': 'x' is not an integer score"),
        (b"q1,q2\n1,\n0,NA\n", "item 'q2' has no responses"),
        (b"q1,q2\n1,1\n0,1\n", "item 'q2' has one response category only"),
        ("q1,q2\nJosé,1\n".encode("latin-1"), "not a UTF-8 file"),
    ],
)
def test_calibrate_errors_are_one_line(runner: CliRunner, tmp_path: Path, content: bytes, message: str) -> None:
    (tmp_path / "bad.csv").write_bytes(content)
    result = runner.invoke(calibrate_command, [str(tmp_path / "bad.csv"), "--out", str(tmp_path / "items.csv")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "items.csv").exists()


def test_score_rejects_items_missing_from_the_parameter_file(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("q1,q9\n1,0\n0,1\n", encoding="utf-8")
    (tmp_path / "items.csv").write_text("item,model,a,b1,c\nq1,2pl,1,0,0\n", encoding="utf-8")
    result = runner.invoke(
        score_command,
        [str(tmp_path / "r.csv"), "--items", str(tmp_path / "items.csv"), "--out", str(tmp_path / "t.csv")],
    )
    assert result.exit_code == 1
    assert "item 'q9' of r.csv not in items.csv" in result.output


def test_missing_required_options_are_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "r.csv").write_text("q1\n1\n0\n", encoding="utf-8")
    assert runner.invoke(calibrate_command, [str(tmp_path / "r.csv")]).exit_code == 2
    assert runner.invoke(score_command, [str(tmp_path / "r.csv"), "--out", "x.csv"]).exit_code == 2


@pytest.mark.skipif(__import__("platform").libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_the_numeric_commands_keep_freed_memory_for_reuse(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both commands set glibc's malloc to keep freed memory (bench/cli.py measures what it saves)."""
    import web.commands.scoring as commands
    from web.commands.scoring import keep_freed_memory

    assert keep_freed_memory() is True  # mallopt found and both settings accepted
    calls: list[bool] = []
    monkeypatch.setattr(commands, "keep_freed_memory", lambda: calls.append(True) or True)
    rng = np.random.default_rng(3)
    bank = random_item_params(5, "2pl", rng)
    x = np.asarray(simulate_responses(bank, rng.standard_normal(400), rng), dtype=float)
    write_responses(tmp_path / "r.csv", x, bank.ids)
    result = runner.invoke(calibrate_command, [str(tmp_path / "r.csv"), "--out", str(tmp_path / "items.csv")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        score_command,
        [str(tmp_path / "r.csv"), "--items", str(tmp_path / "items.csv"), "--out", str(tmp_path / "t.csv")],
    )
    assert result.exit_code == 0, result.output
    assert calls == [True, True]
