"""The operator at the command line, as the audit log names it (``cli:<login name>``, an admin)."""

from __future__ import annotations

import getpass

from assess.accounts.scope import Actor

__all__ = ["operator"]


def operator() -> Actor:
    """The acting operator: an admin with no restriction, named by the login name."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        name = "operator"
    return Actor.command_line(name)
