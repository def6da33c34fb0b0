"""``infolit db``: schema migrations."""

from __future__ import annotations

import click

from itembank.db import get_engine
from web import migrate

__all__ = ["db_group"]


@click.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def upgrade_command(revision: str) -> None:
    """Create or upgrade the schema of the configured database (INFOLIT_DATABASE_URL)."""
    engine = get_engine()
    migrate.upgrade(engine, revision)
    click.echo(f"database at revision {migrate.current_revision(engine)} ({engine.url.render_as_string()})")


@db_group.command("current")
def current_command() -> None:
    """Print the schema revision of the configured database."""
    click.echo(migrate.current_revision(get_engine()) or "empty")
