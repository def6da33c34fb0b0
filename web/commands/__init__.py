"""CLI command groups, one module per area; :func:`register` adds them all to the root group."""

from __future__ import annotations

import click

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add every InfoLit command to ``group``."""
    from web.commands import cat, db, framework, items, national, people, scoring, serve

    group.add_command(db.db_group)
    group.add_command(framework.framework_group)
    group.add_command(items.items_group)
    group.add_command(people.people_group)
    group.add_command(scoring.calibrate_command)
    group.add_command(scoring.score_command)
    group.add_command(national.simulate_command)
    group.add_command(national.demo_command)
    group.add_command(national.exposure_command)
    group.add_command(cat.cat_study_command)
    group.add_command(serve.serve_command)
