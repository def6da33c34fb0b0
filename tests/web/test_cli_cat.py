from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assess.simulate.bankfiles import default_bank_dir
from web.commands.cat import cat_study_command

FAST = ["--students", "300", "--length", "12", "--min-length", "10", "--no-catsim", "--quiet"]


def run(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cat_study_command, args)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_cat_study_prints_the_quality_table() -> None:
    code, out = run(FAST + ["--seed", "3"])
    assert code == 0, out
    assert "CAT study: 300 examinees" in out
    assert "blueprint: 10-12 items" in out
    for name in ("engine CAT", "linear form"):
        assert name in out
    assert "catsim" not in out
    assert "conditional bias / RMSE by band of true theta" in out
    assert out.count("..") >= 8  # eight ability bands


def test_the_seed_fixes_the_numbers() -> None:
    def rows(out: str) -> list[list[str]]:  # the summary rows without their two timing columns
        return [line.split()[:-2] for line in out.splitlines() if line.startswith(("engine CAT  ", "linear form  "))]

    first, again, other = (rows(run(FAST + ["--seed", seed])[1]) for seed in ("5", "5", "6"))
    assert len(first) == 2
    assert first == again
    assert first != other


def test_sympson_hetter_option_calibrates_exposure() -> None:
    code, out = run(FAST + ["--sympson-hetter", "--target-exposure", "0.3", "--randomesque", "1"])
    assert code == 0, out
    assert "Sympson-Hetter on" in out
    assert "target exposure of 0.3" in out


def test_progress_bars_name_each_stage() -> None:
    result = CliRunner().invoke(cat_study_command, ["--students", "100", "--length", "8", "--no-catsim"])
    assert result.exit_code == 0, result.output
    assert "adaptive sessions" in result.output and "linear form" in result.output


def test_a_tiny_run_with_catsim() -> None:
    pytest.importorskip("catsim")
    code, out = run(["--students", "60", "--catsim-students", "30", "--length", "8", "--min-length", "8", "--quiet"])
    assert code == 0, out
    assert "catsim max-info" in out and "catsim items, EAP" in out
    assert "dichotomous operational items" in out
    assert "first 30 of the 60 examinees" in out


def test_plot_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "study.png"
    code, out = run(FAST + ["--plot", str(target)])
    assert code == 0, out
    assert f"plot written to {target}" in out
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    target = tmp_path / "study.png"
    code, out = run(FAST + ["--plot", str(target)])
    assert code == 0, out
    assert "matplotlib is not installed" in out
    assert not target.exists()


def test_bank_dir_takes_whatever_files_exist(tmp_path: Path) -> None:
    shutil.copy(default_bank_dir() / "d1.json", tmp_path / "d1.json")
    code, out = run(FAST + ["--bank-dir", str(tmp_path)])
    assert code == 0, out
    assert f"bank: 1 files in {tmp_path}" in out


def test_user_errors_are_one_clear_line(tmp_path: Path) -> None:
    code, out = run(FAST + ["--bank-dir", str(tmp_path)])
    assert code == 1 and "no item-bank files" in out
    code, out = run(FAST + ["--grades", "4,x"])
    assert code == 2 and "--grades" in out
    code, out = run(FAST + ["--grades", "5"])
    assert code == 1 and "no mean ability for grade" in out
    code, out = run(["--length", "10", "--min-length", "12", "--no-catsim"])
    assert code == 2 and "--min-length" in out
