"""The whole database schema: importing this module registers every table on SQLModel.metadata.

Alembic's environment and the tests import it; a package that adds tables adds its models module
here (``web`` sits at the top of the import chain, so it may import them all).
"""

from __future__ import annotations

import assess.accounts.models  # noqa: F401
import assess.models  # noqa: F401
import assess.research.models  # noqa: F401
import assess.sampling.models  # noqa: F401
import assess.standards.models  # noqa: F401
import itembank.models  # noqa: F401
import reports.models  # noqa: F401

__all__: list[str] = []
