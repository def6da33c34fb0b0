"""CLI command groups, one module per area; :func:`register` adds them all to the root group."""

from __future__ import annotations

import click

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add every InfoLit command to ``group``."""
    from web.commands import db

    group.add_command(db.db_group)
