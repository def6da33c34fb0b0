"""CLI commands, one module per area, loaded only when their command runs.

:data:`COMMANDS` names every top-level command: the module and attribute that hold it, and the
first paragraph of its help, which ``infolit --help`` lists without importing anything (a test
checks that each summary is the command's own). :class:`LazyGroup` imports a command's module the
first time that command is asked for (click's lazy-group pattern), so ``infolit calibrate``
loads numpy and :mod:`scoring`, not the database, the web stack or the CAT study.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click

__all__ = ["COMMANDS", "LazyCommand", "LazyGroup", "register"]


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives, and what ``--help`` says of it before it is loaded.

    Parameters
    ----------
    module
        Module that defines the command.
    attribute
        Name of the :class:`click.Command` (or group) in that module.
    summary
        The first paragraph of the command's help.
    """

    module: str
    attribute: str
    summary: str

    def load(self) -> click.Command:
        """Import the module and return the command.

        The import runs without the cyclic garbage collector, and what it created is then frozen
        out of the collector's reach (:func:`gc.freeze`): modules, classes and functions live as
        long as the process, and tracing them over and over while numpy and :mod:`scoring` load
        took about 15 ms of ``infolit calibrate`` (``perf record``: gc_collect_main, visit_decref).
        """
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            module = importlib.import_module(self.module)
        finally:
            gc.freeze()
            if was_enabled:
                gc.enable()
        command = getattr(module, self.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.module}.{self.attribute} is not a click command")
        return command


COMMANDS: Mapping[str, LazyCommand] = {
    "db": LazyCommand("web.commands.db", "db_group", "Database schema (Alembic migrations)."),
    "framework": LazyCommand(
        "web.commands.framework",
        "framework_group",
        "The indicator framework: dimensions, sub-indicators, literacies, grade bands.",
    ),
    "items": LazyCommand("web.commands.items", "items_group", "The item bank: import, export and list items."),
    "people": LazyCommand(
        "web.commands.people",
        "people_group",
        "Schools, classes and students: register them from a file, list them, print their tickets.",
    ),
    "users": LazyCommand(
        "web.commands.users",
        "users_group",
        "Staff accounts: create, list, disable, enable, reset passwords; the roles.",
    ),
    "assessment": LazyCommand(
        "web.commands.assessments",
        "assessment_group",
        "Testing rounds: create one from an assessment file, list them, open and close their windows.",
    ),
    "calibrate": LazyCommand(
        "web.commands.scoring",
        "calibrate_command",
        "Calibrate the items of RESPONSES.csv by marginal maximum likelihood (EM, 61 nodes, like mirt).",
    ),
    "score": LazyCommand(
        "web.commands.scoring",
        "score_command",
        "Estimate abilities for RESPONSES.csv with the parameters in ITEMS.csv (prior N(0, 1) for EAP/MAP).",
    ),
    "simulate": LazyCommand(
        "web.commands.national",
        "simulate_command",
        "Simulate the national sample: schools in the three regions, a field trial, then adaptive tests.",
    ),
    "demo": LazyCommand(
        "web.commands.demo",
        "demo_command",
        "The main job on the embedded default: bank, national sample, calibration, adaptive tests, summary.",
    ),
    "exposure": LazyCommand(
        "web.commands.national",
        "exposure_command",
        "Turn on Sympson-Hetter exposure control for ASSESSMENT (its code) before it opens.",
    ),
    "cat-study": LazyCommand(
        "web.commands.cat",
        "cat_study_command",
        "Simulate students through the CAT engine and measure it against a linear form and catsim.",
    ),
    "report": LazyCommand(
        "web.commands.report",
        "report_group",
        "School and regional profiles (PDF, XLSX, CSV, HTML) and the plausible values behind them.",
    ),
    "sample": LazyCommand(
        "web.commands.sampling",
        "sample_group",
        "The national sample design: draw schools from a frame, weight the tested sample, report on it.",
    ),
    "sessions": LazyCommand(
        "web.commands.sessions",
        "sessions_group",
        "Students' sittings: close those abandoned past their deadline, scored on what they answered.",
    ),
    "jobs": LazyCommand(
        "web.commands.jobs",
        "jobs_group",
        "Background jobs (calibration runs): run a consumer, probe the queue, show a job.",
    ),
    "research": LazyCommand(
        "web.commands.research",
        "research_group",
        "Calibration runs: start one on an assessment's responses (a background job), list them, show one.",
    ),
    "scale": LazyCommand(
        "web.commands.scale",
        "scale_group",
        "The reporting scale's versions: show the one in force, list them, adopt or put one back.",
    ),
    "standard-setting": LazyCommand(
        "web.commands.scale",
        "standard_setting_group",
        "Bookmark standard setting: a band's ordered item booklet, panellists' bookmarks in rounds, cuts, impact.",
    ),
    "data": LazyCommand(
        "web.commands.data",
        "data_group",
        "Data out: an assessment's anonymised responses (wide, long) and a calibration's parameters.",
    ),
    "serve": LazyCommand(
        "web.commands.serve",
        "serve_command",
        "Serve the student pages, the JSON API (/api/v1, documented at /schema) and /healthz.",
    ),
}
"""Every top-level ``infolit`` command, by name."""


class LazyGroup(click.Group):
    """A click group whose commands are imported when first asked for (see :data:`COMMANDS`)."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Loaded and lazy commands, sorted by name."""
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command, importing its module the first time."""
        if cmd_name in self.lazy and cmd_name not in self.commands:
            self.add_command(self.lazy[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``--help``, from the summaries: nothing is imported to print it."""
        names = self.list_commands(ctx)
        shown: list[tuple[str, click.Command]] = []
        for name in names:
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
            else:
                command = click.Command(name, help=self.lazy[name].summary)
            shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in shown])


def register(group: click.Group) -> None:
    """Add every InfoLit command to ``group`` (lazily when it is a :class:`LazyGroup`)."""
    if isinstance(group, LazyGroup):
        group.lazy.update(COMMANDS)
        return
    for name, entry in COMMANDS.items():
        group.add_command(entry.load(), name)
