"""``infolit calibrate`` and ``infolit score``: IRT calibration and scoring of CSV files.

Thin wrappers: parse the options, call :mod:`scoring`, write the files, print one summary line.
Every user error becomes a :class:`click.ClickException` with one clear line.
"""

from __future__ import annotations

import ctypes
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
import numpy as np

import scoring
from scoring.exceptions import ScoringError

__all__ = ["calibrate_command", "keep_freed_memory", "score_command"]

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024
"""glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems: larger arrays are always mapped on their own."""


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed memory for reuse (``mallopt``); ``False`` where that is not glibc's malloc.

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
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the symbols the process already has, libc's among them
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows): nothing to set
        return False
    ok: bool = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
    return bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1) and ok


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn scoring errors and warnings into one-line messages."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", scoring.ScoringWarning)
        try:
            yield
        except ScoringError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise click.ClickException(f"{getattr(exc, 'filename', '') or ''}: {exc.strerror or exc}") from None
        finally:
            for w in caught:
                if issubclass(w.category, scoring.ScoringWarning):
                    click.echo(f"warning: {w.message}", err=True)
                else:  # not ours: hand it back to the warning machinery
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


class _Progress:
    """tqdm progress over EM cycles on stderr (silent, and tqdm not even imported, when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="cycle", desc="calibrating", file=sys.stderr, leave=False)
        self.done = 0

    def __call__(self, cycles: int, loglik: float, change: float) -> None:
        if self.bar is None:
            return
        self.bar.update(max(0, cycles - self.done))
        self.done = cycles
        self.bar.set_postfix(loglik=f"{loglik:.2f}", change=f"{change:.1e}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@click.command("calibrate")
@click.argument("responses", type=_FILE)
@click.option("--out", "out", required=True, type=_OUT, help="ITEMS.csv to write (parameters and standard errors).")
@click.option(
    "--model",
    type=click.Choice(["1pl", "2pl", "3pl"], case_sensitive=False),
    default="2pl",
    show_default=True,
    help="Model of the dichotomous (0/1) items.",
)
@click.option(
    "--poly-model",
    type=click.Choice(["grm", "gpcm"], case_sensitive=False),
    default="grm",
    show_default=True,
    help="Model of the items scored above 1.",
)
@click.option("--anchors", type=_FILE, default=None, help="ITEMS.csv of anchor items whose parameters stay fixed.")
@click.option(
    "--weights",
    "weights_column",
    metavar="COLUMN",
    default=None,
    help="Column of RESPONSES.csv with sampling weights (not an item).",
)
@click.option("--theta-out", type=_OUT, default=None, help="Also write EAP scores (THETA.csv).")
@click.option("--max-cycles", type=click.IntRange(1), default=500, show_default=True, hidden=True)
def calibrate_command(
    responses: Path,
    out: Path,
    model: str,
    poly_model: str,
    anchors: Path | None,
    weights_column: str | None,
    theta_out: Path | None,
    max_cycles: int,
) -> None:
    """Calibrate the items of RESPONSES.csv by marginal maximum likelihood (EM, 61 nodes, like mirt).

    RESPONSES.csv: header = item ids, one row per person, integer scores, empty or NA = not
    administered, optional leading `person` column.
    """
    keep_freed_memory()
    with _user_errors():
        table = scoring.read_responses(responses, weights_column=weights_column)
        top = np.nanmax(table.responses, axis=0)
        models = [poly_model.lower() if k > 1 else model.lower() for k in top]
        fixed = scoring.read_items(anchors) if anchors is not None else None
        if fixed is not None and not set(fixed.ids) & set(table.item_ids):
            raise click.ClickException(f"{anchors}: none of its items occurs in {responses.name}")
        progress = _Progress(max_cycles)
        try:
            result = scoring.calibrate(
                table.responses,
                models,
                item_ids=table.item_ids,
                weights=table.weights,
                fixed=fixed,
                max_cycles=max_cycles,
                callback=progress,
            )
        finally:
            progress.close()
        scoring.write_items(out, result.params, result.se)
        if theta_out is not None:
            dist = result.distribution()
            est = scoring.estimate_eap(table.responses, result.params, prior_mean=dist.mean, prior_sd=dist.sd)
            scoring.write_theta(theta_out, table.person_ids, est)
    status = "converged" if result.converged else "NOT converged"
    anchored = f", {len(result.anchor_ids)} anchors fixed" if result.anchor_ids else ""
    click.echo(
        f"{result.params.n_items} items, {result.n_persons} persons{anchored}: {status} after {result.n_cycles} "
        f"EM cycles, log-likelihood {result.log_likelihood:.3f} -> {out}"
    )


@click.command("score")
@click.argument("responses", type=_FILE)
@click.option("--items", "items", required=True, type=_FILE, help="ITEMS.csv with the item parameters.")
@click.option(
    "--method",
    type=click.Choice(["eap", "map", "mle", "wle"], case_sensitive=False),
    default="eap",
    show_default=True,
    help="Ability estimator.",
)
@click.option("--pv", type=click.IntRange(1), default=None, metavar="M", help="Also draw M plausible values.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the plausible-value draws.")
@click.option("--out", "out", required=True, type=_OUT, help="THETA.csv to write.")
def score_command(responses: Path, items: Path, method: str, pv: int | None, seed: int, out: Path) -> None:
    """Estimate abilities for RESPONSES.csv with the parameters in ITEMS.csv (prior N(0, 1) for EAP/MAP)."""
    keep_freed_memory()
    with _user_errors():
        table = scoring.read_responses(responses, check_items=False)
        params = scoring.read_items(items)
        unknown = [i for i in table.item_ids if i not in params.ids]
        if unknown:
            more = f" (and {len(unknown) - 3} more)" if len(unknown) > 3 else ""
            raise click.ClickException(
                f"item{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown[:3]))}{more} of "
                f"{responses.name} not in {items.name}"
            )
        used = params.subset(list(table.item_ids))
        estimators: dict[str, Callable[[Any, scoring.ItemParams], scoring.AbilityEstimates]] = {
            "eap": scoring.estimate_eap,
            "map": scoring.estimate_map,
            "mle": scoring.estimate_mle,
            "wle": scoring.estimate_wle,
        }
        estimator = estimators[method.lower()]
        est = estimator(table.responses, used)
        values = None
        if pv is not None:
            values = scoring.draw_plausible_values(table.responses, used, pv, np.random.default_rng(seed))
        scoring.write_theta(out, table.person_ids, est, values)
    pv_note = f" and {pv} plausible values" if pv else ""
    click.echo(f"{est.n_persons} persons scored by {method.upper()}{pv_note} -> {out}")
