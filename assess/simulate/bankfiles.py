"""Item-bank files as the CAT engine's input, for studies that need no database.

The files are read by :func:`itembank.formats.read_bundle` (the reader the item import uses);
this module keeps what the engine needs: parameters, content areas, enemies and pilot items.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from assess.engine import EngineBank
from assess.exceptions import BankFileError
from itembank.formats import read_bundle
from scoring.params import ItemParams

__all__ = ["BankFiles", "build_engine_bank", "default_bank_dir", "load_bank_files"]

_POOL_STATUSES = ("operational", "pilot")


class BankFiles(NamedTuple):
    """What the starter bank files give the engine: parameters, content areas, enemies, pilots."""

    params: ItemParams
    areas: tuple[str, ...]
    enemies: tuple[tuple[str, str], ...]
    pilot: tuple[str, ...]


def default_bank_dir() -> Path:
    """The shipped starter bank, ``itembank/bank``."""
    return Path(__file__).resolve().parents[2] / "itembank" / "bank"


def _param_row(code: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One :meth:`ItemParams.from_rows` row from an item's ``params`` object."""
    b = params.get("b")
    thresholds = b if isinstance(b, list) else [b]
    row: dict[str, Any] = {"item": code, "model": params.get("model"), "a": params.get("a")}
    row.update({f"b{k + 1}": v for k, v in enumerate(thresholds)})
    row["c"] = params.get("c", 0.0)
    return row


def load_bank_files(paths: Iterable[str | Path]) -> BankFiles:
    """Read item-bank JSON files (docs/item-format.md) into the engine's inputs.

    Operational and pilot items are kept (drafts and retired items are not in the pool); an
    item's content area is its dimension, the part of its ``indicator`` before the dot
    (``D2.3`` -> ``D2``). A directory stands for its ``d*.json`` files.

    Raises
    ------
    BankFileError
        If a file is not an item-bank file or an item lacks its code, indicator or parameters.
    """
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        files.extend(sorted(path.glob("d*.json")) if path.is_dir() else [path])
    if not files:
        raise BankFileError("no item-bank files given")
    rows: list[dict[str, Any]] = []
    areas: list[str] = []
    enemies: list[tuple[str, str]] = []
    pilot: list[str] = []
    for path in files:
        bundle = read_bundle(path)
        if bundle.problems:
            first = bundle.problems[0]
            where = f" ({first.where})" if first.where else ""
            raise BankFileError(f"{path}: not an item-bank file{where}: {first.message}")
        for draft in bundle.items:
            item = draft.data
            where = f"{path.name}: {draft.origin.path}"
            if not isinstance(item, Mapping):
                raise BankFileError(f"{where}: not an object")
            code, indicator, params = item.get("code"), item.get("indicator"), item.get("params")
            if not isinstance(code, str) or not isinstance(indicator, str) or not isinstance(params, Mapping):
                raise BankFileError(f"{where}: needs 'code', 'indicator' and 'params'")
            if item.get("status", "operational") not in _POOL_STATUSES:
                continue
            rows.append(_param_row(code, params))
            areas.append(indicator.split(".")[0])
            enemies.extend((code, str(e)) for e in item.get("enemies") or ())
            if item.get("status") == "pilot":
                pilot.append(code)
    if not rows:
        raise BankFileError("the bank files hold no operational or pilot items")
    return BankFiles(ItemParams.from_rows(rows), tuple(areas), tuple(enemies), tuple(pilot))


def build_engine_bank(files: BankFiles) -> EngineBank:
    """The engine's bank for loaded bank files."""
    return EngineBank.build(files.params, files.areas, enemies=files.enemies, pilot=files.pilot)
