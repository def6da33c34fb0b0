"""Start-up helpers: heavy scipy parts are imported where they are used, not by ``import scoring``.

``import scoring`` loads numpy only; scipy.sparse, scipy.stats, scipy.optimize and scipy.linalg
come in with the first function that needs them.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["is_sparse"]


def is_sparse(x: Any) -> bool:
    """Whether ``x`` is a scipy.sparse matrix or array, without importing scipy.sparse.

    Nothing can be a sparse matrix before scipy.sparse has been imported, so the module is only
    consulted once it is loaded.
    """
    module = sys.modules.get("scipy.sparse")
    return module is not None and bool(module.issparse(x))
