from __future__ import annotations

from click.testing import CliRunner

from web.cli import cli


def test_simulate_refuses_a_tiny_sample(env_db: str) -> None:
    result = CliRunner().invoke(cli, ["simulate", "--students", "10"])
    assert result.exit_code != 0
    assert "10" in result.output


def test_demo_refuses_a_sample_too_small_to_calibrate(env_db: str) -> None:
    """Issue 12, defect 9: --students 300 was accepted and failed with "no responses at all"."""
    for n in ("300", "600", "1999"):
        result = CliRunner().invoke(cli, ["demo", "--students", n, "--no-serve"])
        assert result.exit_code == 2 and "2000" in result.output, result.output
    trial = CliRunner().invoke(cli, ["simulate", "--students", "3000", "--field-trial", "500"])
    assert trial.exit_code == 2 and "1000" in trial.output
