"""The ``infolit`` root group: lazy commands, a --help that imports nothing, the same listing as before."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from web.cli import cli
from web.commands import COMMANDS, LazyGroup, register

HEAVY = ("numpy", "scoring", "sqlalchemy", "sqlmodel", "litestar", "assess", "itembank", "reports")


def loaded_after(args: list[str]) -> set[str]:
    code = f"import json, sys\nfrom web.cli import main\nrc = main({args!r})\nprint(json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_summary_is_the_commands_own_help(name: str) -> None:
    entry = COMMANDS[name]
    command = entry.load()
    assert command.name == name
    assert (command.help or "").split("\n\n")[0].strip() == entry.summary


def test_help_lists_what_an_eager_group_lists() -> None:
    eager = click.Group(cli.name, help=cli.help, params=list(cli.params), context_settings=cli.context_settings)
    register(eager)
    lazy = CliRunner().invoke(cli, ["--help"])
    plain = CliRunner().invoke(eager, ["--help"])
    assert lazy.exit_code == plain.exit_code == 0
    assert lazy.output == plain.output
    assert all(f"  {name}" in lazy.output for name in COMMANDS)


def test_help_imports_no_command_module_nor_the_stack() -> None:
    loaded = loaded_after(["--help"])
    assert not {m for m in loaded if m.startswith("web.commands.")}
    assert not {m.split(".")[0] for m in loaded} & set(HEAVY)


def test_a_command_loads_its_own_module_only() -> None:
    loaded = loaded_after(["calibrate", "--help"])
    assert "web.commands.scoring" in loaded
    assert not {m for m in loaded if m.startswith("web.commands.") and m != "web.commands.scoring"}
    assert not {m.split(".")[0] for m in loaded} & {"sqlalchemy", "sqlmodel", "litestar", "assess", "itembank"}


def test_unknown_commands_are_usage_errors() -> None:
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2 and "No such command 'no-such-command'" in result.output


def test_a_lazy_group_loads_a_command_once() -> None:
    group = LazyGroup("g", lazy={"score": COMMANDS["score"]})
    ctx = click.Context(group)
    first = group.get_command(ctx, "score")
    assert first is not None and first is group.get_command(ctx, "score")
    assert group.list_commands(ctx) == ["score"]
