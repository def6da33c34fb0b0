"""Process-wide memory settings for the one-shot numeric commands (``infolit calibrate``, ``infolit score``).

glibc's malloc hands large freed blocks back to the kernel (blocks above its mmap threshold are
unmapped on ``free``; the top of the heap is trimmed past its trim threshold), so the next array of
the same size starts on fresh pages again, each one a page fault the kernel must zero. A
calibration allocates and frees arrays of several MB at every E-step; on a virtual machine those
faults cost as much as the arithmetic (measured with ``bench/cli.py``: about 13,500 minor faults
for one ``infolit calibrate`` of 30,000 x 48 without these settings). A command that exits within
seconds loses nothing by keeping its freed memory for reuse.

These are settings for the command's own process, made when the command runs; the library
(:mod:`scoring`) never touches the allocator, and a long-running server keeps glibc's defaults.
"""

from __future__ import annotations

import ctypes

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems: larger arrays are always mapped on their own."""


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse (``mallopt``); ``False`` where that is not glibc's malloc."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols the process already has, libc's among them
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to set
        return False
    ok: bool = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    return bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1) and ok
