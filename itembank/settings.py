"""Settings for every InfoLit process, read once from the environment.

``itembank`` is the lowest package that touches persistence, so the settings live here and every
package above it (``assess``, ``reports``, ``web``) reads them through :func:`get_settings`.

Environment variables
---------------------
``INFOLIT_DATA_DIR``
    Folder for the embedded database, exports and screenshots (default ``./data``).
``INFOLIT_DATABASE_URL``
    SQLAlchemy URL. Defaults to a SQLite file ``infolit.db`` in the data folder; a
    ``postgresql+psycopg://user:pass@host/db`` URL is taken unchanged.
``INFOLIT_SECRET_KEY``
    Key for signing session cookies and CSRF tokens (a random key per process if unset, which is
    only right for a single-process demo).
``INFOLIT_DEBUG``
    ``1`` for tracebacks and debug pages.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["Settings", "get_settings", "settings_from_env"]


@dataclass(frozen=True)
class Settings:
    """Process-wide settings; build with :func:`settings_from_env` or :func:`get_settings`."""

    data_dir: Path
    database_url: str
    secret_key: str
    debug: bool = False
    session_minutes: int = 120

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is the embedded SQLite default."""
        return self.database_url.startswith("sqlite")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def settings_from_env(env: dict[str, str] | None = None) -> Settings:
    """Build settings from an environment mapping (``os.environ`` by default)."""
    env = dict(os.environ if env is None else env)
    data_dir = Path(env.get("INFOLIT_DATA_DIR") or "data").expanduser()
    url = env.get("INFOLIT_DATABASE_URL") or f"sqlite:///{(data_dir / 'infolit.db').resolve()}"
    return Settings(
        data_dir=data_dir,
        database_url=url,
        secret_key=env.get("INFOLIT_SECRET_KEY") or secrets.token_urlsafe(32),
        debug=_truthy(env.get("INFOLIT_DEBUG")),
        session_minutes=int(env.get("INFOLIT_SESSION_MINUTES") or 120),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings of this process, read from the environment on first use."""
    return settings_from_env()
