"""Many profiles into files at once, on several processes: the CLI's ``report all`` and a console's job.

:func:`write_profile_files` renders each profile in each format into ``FOLDER/LEVEL/CODE.FORMAT``
(each file whole or not at all, :func:`reports.files.write_profile`). With ``workers > 1`` the
profiles are shared out over a process pool (``spawn``: a fresh interpreter per worker, nothing
inherited from a caller that may hold database connections or threads); each worker registers the
fonts once. The fonts are made ready before the pool starts, so no two processes build them.
Rendering is CPU-bound and reportlab holds the GIL, so processes, not threads.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reports.files import available_formats, write_profile
from reports.profile import Profile

__all__ = ["BulkResult", "write_profile_files"]

_NEEDS_FONTS = ("pdf", "html")


@dataclass(frozen=True)
class BulkResult:
    """What a bulk run wrote, and where the time went.

    ``seconds`` is wall-clock time; ``render_seconds[fmt]`` the time the workers spent rendering and
    writing each format, summed over them (per file: divide by ``files_by_format[fmt]``).
    """

    profiles: int
    files: int
    bytes: int
    seconds: float
    workers: int
    render_seconds: dict[str, float] = field(default_factory=dict)
    files_by_format: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Done:
    files: int
    bytes: int
    seconds: dict[str, float]


def _render_one(profile: Profile, folder: Path, formats: Sequence[str]) -> _Done:
    have = available_formats()
    seconds: dict[str, float] = {}
    size = 0
    for fmt in formats:
        t0 = time.perf_counter()
        size += write_profile(profile, folder / profile.identity.level / f"{profile.identity.code}.{fmt}", have[fmt])
        seconds[fmt] = time.perf_counter() - t0
    return _Done(len(formats), size, seconds)


def _job(args: tuple[Profile, Path, tuple[str, ...]]) -> _Done:
    return _render_one(*args)


def _prepare_worker(formats: tuple[str, ...]) -> None:
    if any(f in _NEEDS_FONTS for f in formats):
        from reports.fonts import register_fonts

        register_fonts()


def write_profile_files(
    profiles: Sequence[Profile],
    folder: Path,
    formats: Sequence[str],
    *,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    font_progress: Callable[[str], None] | None = None,
) -> BulkResult:
    """Write every profile in every format under ``folder``; ``progress(k)`` after each profile.

    Raises
    ------
    KeyError
        A format this build cannot write (see :func:`reports.files.available_formats`).
    reports.exceptions.FontUnavailable
        A PDF or HTML was asked for and the Chinese font cannot be made ready.
    """
    wanted = tuple(formats)
    have = available_formats()
    missing = [f for f in wanted if f not in have]
    if missing:
        raise KeyError(f"format {', '.join(missing)} cannot be written by this build")
    if any(f in _NEEDS_FONTS for f in wanted):
        from reports.fonts import font_files

        font_files(progress=font_progress)
    t0 = time.perf_counter()
    totals = {f: 0.0 for f in wanted}
    files = size = 0
    for k, done in enumerate(_run(profiles, folder, wanted, workers), start=1):
        files += done.files
        size += done.bytes
        for fmt, s in done.seconds.items():
            totals[fmt] += s
        if progress is not None:
            progress(k)
    return BulkResult(
        profiles=len(profiles), files=files, bytes=size, seconds=time.perf_counter() - t0, workers=max(1, workers),
        render_seconds=totals, files_by_format={f: len(profiles) for f in wanted},
    )  # fmt: skip


def _run(profiles: Sequence[Profile], folder: Path, formats: tuple[str, ...], workers: int) -> Iterator[_Done]:
    if workers <= 1 or len(profiles) < 2:
        _prepare_worker(formats)
        for p in profiles:
            yield _render_one(p, folder, formats)
        return
    ctx = multiprocessing.get_context("spawn")
    jobs = [(p, folder, formats) for p in profiles]
    chunk = max(1, min(16, len(jobs) // (workers * 8)))
    with ctx.Pool(workers, initializer=_prepare_worker, initargs=(formats,)) as pool:
        yield from pool.imap_unordered(_job, jobs, chunksize=chunk)
