"""Sort keys and content digests shared by the item-bank modules."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = ["content_digest", "natural_key"]


def natural_key(code: str) -> tuple[Any, ...]:
    """Sort key that puts ``D1.2-010`` after ``D1.2-009`` and ``D1.10`` after ``D1.9``."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.split(r"(\d+)", code) if t)


def content_digest(value: Any) -> str:
    """SHA-256 of a JSON value in canonical form (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
