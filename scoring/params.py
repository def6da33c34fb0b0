r"""Item parameter tables: the one type that travels between scoring, the item bank and files.

Parameters follow R's mirt ``coef(mod, IRTpars = TRUE)`` on the logistic metric (no 1.7):

* ``rasch`` (alias ``1pl``): :math:`P(X=1) = 1 / (1 + e^{-a(\theta - b)})` with ``a`` the common
  slope (1 after a Rasch calibration, whose latent SD is free); with K > 1 thresholds it is the
  partial credit model (a GPCM with that common slope).
* ``2pl``: as ``rasch`` with a free slope ``a``.
* ``3pl``: :math:`P(X=1) = c + (1 - c) / (1 + e^{-a(\theta - b)})`.
* ``grm`` (Samejima, 1969): :math:`P(X \ge k) = 1 / (1 + e^{-a(\theta - b_k)})`, ``b`` increasing.
* ``gpcm`` (Muraki, 1992): :math:`P(X = k) \propto \exp \sum_{v \le k} a(\theta - b_v)`.

``b`` is an ``(n_items, kmax)`` array padded with ``nan``: ``b[:, 0]`` is the difficulty of a
dichotomous item, ``b[:, :K]`` the K thresholds of an item scored ``0..K``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.exceptions import ModelError, ParameterError

__all__ = [
    "DICHOTOMOUS_MODELS",
    "MODELS",
    "POLYTOMOUS_MODELS",
    "ItemParams",
    "ItemParamsSE",
    "normalize_model",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MODELS: tuple[str, ...] = ("rasch", "2pl", "3pl", "grm", "gpcm")
"""Canonical model names."""
DICHOTOMOUS_MODELS: frozenset[str] = frozenset({"rasch", "2pl", "3pl"})
"""Models that may only have one threshold (except ``rasch``, which becomes the partial credit model)."""
POLYTOMOUS_MODELS: frozenset[str] = frozenset({"grm", "gpcm"})
"""Models for items scored 0..K."""
_ALIASES = {"1pl": "rasch", "pcm": "rasch", "graded": "grm", "2plm": "2pl", "3plm": "3pl"}
_MISSING = {"", "na", "nan", "none", "null"}


def normalize_model(name: str) -> str:
    """Return the canonical model name for ``name`` (case-insensitive; ``1pl`` -> ``rasch``).

    Raises
    ------
    ModelError
        If the name is not a known model.
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in MODELS:
        raise ModelError(f"unknown IRT model {name!r}; expected one of {', '.join(MODELS)} (or 1pl)")
    return key


def _readonly(x: npt.ArrayLike, dtype: type = np.float64) -> Any:
    arr: Any = np.array(x, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


def _to_float(value: Any, *, item: str, column: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in _MISSING:
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise ParameterError(f"item {item!r}: column {column!r} is not a number: {value!r}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"item {item!r}: column {column!r} is not a number: {value!r}") from None


@dataclass(frozen=True)
class ItemParams:
    """Parameters of a set of items in mirt's IRT parameterisation (logistic metric).

    Parameters
    ----------
    ids
        Unique item identifiers.
    models
        One model name per item: ``rasch``, ``2pl``, ``3pl``, ``grm`` or ``gpcm`` (``1pl`` is
        accepted and stored as ``rasch``).
    a
        Slopes, shape ``(n,)``, all positive.
    b
        Difficulties / thresholds, shape ``(n, kmax)``, ``nan`` padded on the right.
    c
        Lower asymptotes, shape ``(n,)``, in ``[0, 1)``; zero for every model but ``3pl``.

    Notes
    -----
    The arrays are copied and made read-only. Validation happens once, here; a malformed table
    raises :class:`~scoring.exceptions.ParameterError` naming the item.
    """

    ids: tuple[str, ...]
    models: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray

    def __post_init__(self) -> None:
        ids = tuple(str(i) for i in self.ids)
        n = len(ids)
        if len(set(ids)) != n:
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            raise ParameterError(f"duplicate item ids: {', '.join(dupes[:5])}")
        if len(self.models) != n:
            raise ParameterError(f"{len(self.models)} models for {n} items")
        models = tuple(normalize_model(m) for m in self.models)
        a = np.array(self.a, dtype=np.float64).reshape(-1) if np.ndim(self.a) else np.full(n, self.a, float)
        c = np.array(self.c, dtype=np.float64).reshape(-1) if np.ndim(self.c) else np.full(n, self.c, float)
        b = np.array(self.b, dtype=np.float64)
        if b.ndim == 1:
            b = b.reshape(-1, 1)
        if b.ndim != 2 or b.shape[0] != n or (n > 0 and b.shape[1] < 1):
            raise ParameterError(f"b must have shape (n_items, kmax) = ({n}, K); got {np.shape(self.b)}")
        if a.shape != (n,) or c.shape != (n,):
            raise ParameterError(f"a and c must have shape ({n},); got {a.shape} and {c.shape}")
        if b.shape[1] == 0:
            b = np.full((n, 1), np.nan)
        for j in range(n):
            self._check_item(ids[j], models[j], a[j], b[j], c[j])
        # trim all-nan trailing columns, keep at least one
        finite_cols = np.isfinite(b).any(axis=0)
        kmax = int(np.nonzero(finite_cols)[0].max() + 1) if finite_cols.any() else 1
        b = b[:, :kmax]
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "a", _readonly(a))
        object.__setattr__(self, "b", _readonly(b))
        object.__setattr__(self, "c", _readonly(c))

    @staticmethod
    def _check_item(item: str, model: str, a: float, b: FloatArray, c: float) -> None:
        if not (np.isfinite(a) and a > 0):
            raise ParameterError(f"item {item!r}: slope a must be a positive number, got {a}")
        if not (np.isfinite(c) and 0 <= c < 1):
            raise ParameterError(f"item {item!r}: lower asymptote c must lie in [0, 1), got {c}")
        if model != "3pl" and c != 0:
            raise ParameterError(f"item {item!r}: model {model} has no lower asymptote but c = {c}")
        finite = np.isfinite(b)
        k = int(finite.sum())
        if k == 0:
            raise ParameterError(f"item {item!r}: no difficulty / thresholds (b1 is empty)")
        if not finite[:k].all():
            raise ParameterError(f"item {item!r}: thresholds b1..b{k} must be given without gaps")
        if np.isinf(b[:k]).any():
            raise ParameterError(f"item {item!r}: thresholds must be finite")
        if model in ("2pl", "3pl") and k != 1:
            raise ParameterError(f"item {item!r}: model {model} takes one difficulty b1, got {k} thresholds")
        if model == "grm" and k > 1 and not np.all(np.diff(b[:k]) > 0):
            raise ParameterError(f"item {item!r}: GRM thresholds must be strictly increasing, got {b[:k]}")

    # ------------------------------------------------------------------ properties
    @property
    def n_items(self) -> int:
        """Number of items."""
        return len(self.ids)

    @property
    def kmax(self) -> int:
        """Largest number of thresholds of any item (columns of ``b``)."""
        return int(self.b.shape[1])

    @property
    def max_scores(self) -> IntArray:
        """Highest score K of each item (1 for a dichotomous item)."""
        out: IntArray = np.asarray(np.isfinite(self.b).sum(axis=1), dtype=np.int64)
        out.setflags(write=False)
        return out

    @property
    def n_categories(self) -> IntArray:
        """Number of score categories K + 1 of each item."""
        out = self.max_scores + 1
        out.setflags(write=False)
        return out

    @property
    def is_dichotomous(self) -> npt.NDArray[np.bool_]:
        """True for items scored 0/1."""
        return np.asarray(self.max_scores == 1)

    def index(self, item_id: str) -> int:
        """Position of ``item_id``."""
        try:
            return self.ids.index(item_id)
        except ValueError:
            raise ParameterError(f"unknown item id {item_id!r}") from None

    # ------------------------------------------------------------------ derived tables
    def subset(self, ids_or_index: Iterable[str] | Iterable[int] | npt.ArrayLike | slice) -> ItemParams:
        """Return the items selected by ids, integer positions, a boolean mask or a slice, in that order."""
        if isinstance(ids_or_index, slice):
            idx = np.arange(self.n_items)[ids_or_index]
        else:
            sel = list(ids_or_index)  # type: ignore[arg-type]
            if sel and all(isinstance(s, str) for s in sel):
                idx = np.array([self.index(str(s)) for s in sel], dtype=np.int64)
            else:
                arr = np.asarray(sel)
                if arr.dtype == bool:
                    if arr.shape != (self.n_items,):
                        raise ParameterError(f"boolean mask must have length {self.n_items}")
                    idx = np.nonzero(arr)[0]
                else:
                    idx = arr.astype(np.int64).reshape(-1)
        return ItemParams(
            ids=tuple(self.ids[i] for i in idx),
            models=tuple(self.models[i] for i in idx),
            a=self.a[idx],
            b=self.b[idx] if idx.size else np.full((0, 1), np.nan),
            c=self.c[idx],
        )

    @classmethod
    def concatenate(cls, parts: Sequence[ItemParams]) -> ItemParams:
        """Stack several tables (ids must stay unique)."""
        parts = [p for p in parts if p.n_items]
        if not parts:
            return cls((), (), np.zeros(0), np.full((0, 1), np.nan), np.zeros(0))
        kmax = max(p.kmax for p in parts)
        b = np.full((sum(p.n_items for p in parts), kmax), np.nan)
        row = 0
        for p in parts:
            b[row : row + p.n_items, : p.kmax] = p.b
            row += p.n_items
        return cls(
            ids=tuple(i for p in parts for i in p.ids),
            models=tuple(m for p in parts for m in p.models),
            a=np.concatenate([p.a for p in parts]),
            b=b,
            c=np.concatenate([p.c for p in parts]),
        )

    def to_rows(self) -> list[dict[str, Any]]:
        """Flat rows ``item, model, a, b1..bK, c`` (``None`` where an item has fewer thresholds).

        The columns are the ones of the CLI's ITEMS.csv and round-trip through :meth:`from_rows`.
        """
        rows: list[dict[str, Any]] = []
        for j, item in enumerate(self.ids):
            row: dict[str, Any] = {"item": item, "model": self.models[j], "a": float(self.a[j])}
            for k in range(self.kmax):
                v = self.b[j, k]
                row[f"b{k + 1}"] = float(v) if np.isfinite(v) else None
            row["c"] = float(self.c[j])
            rows.append(row)
        return rows

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> ItemParams:
        """Build a table from rows with keys ``item, model, a, b1..bK, c`` (``b`` alone = ``b1``).

        Missing values may be ``None``, ``nan``, ``""`` or ``"NA"``. A missing ``c`` is 0, a missing
        ``a`` is 1 for ``rasch`` items. Extra keys (e.g. standard errors ``se_a``) are ignored.
        """
        ids: list[str] = []
        models: list[str] = []
        a: list[float] = []
        c: list[float] = []
        bs: list[list[float]] = []
        for n, row in enumerate(rows, start=1):
            item = str(row.get("item", "") or "").strip()
            if not item:
                raise ParameterError(f"row {n}: empty item id")
            model = normalize_model(str(row.get("model", "") or "2pl"))
            aj = _to_float(row.get("a"), item=item, column="a")
            if math.isnan(aj) and model == "rasch":
                aj = 1.0
            cj = _to_float(row.get("c"), item=item, column="c")
            thresholds: dict[int, float] = {}
            for key, value in row.items():
                k = str(key).strip().lower()
                if k == "b":
                    thresholds[1] = _to_float(value, item=item, column=str(key))
                elif k.startswith("b") and k[1:].isdigit():
                    thresholds[int(k[1:])] = _to_float(value, item=item, column=str(key))
            kk = max(thresholds, default=1)
            brow = [thresholds.get(k, math.nan) for k in range(1, kk + 1)]
            ids.append(item)
            models.append(model)
            a.append(aj)
            c.append(0.0 if math.isnan(cj) else cj)
            bs.append(brow)
        kmax = max((len(r) for r in bs), default=1)
        b = np.full((len(ids), kmax), np.nan)
        for j, r in enumerate(bs):
            b[j, : len(r)] = r
        return cls(tuple(ids), tuple(models), np.array(a, dtype=float), b, np.array(c, dtype=float))

    def __len__(self) -> int:
        return self.n_items

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemParams):
            return NotImplemented
        return (
            self.ids == other.ids
            and self.models == other.models
            and np.array_equal(self.a, other.a)
            and np.array_equal(self.b, other.b, equal_nan=True)
            and np.array_equal(self.c, other.c)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True)
class ItemParamsSE:
    """Standard errors laid out like :class:`ItemParams` (``nan`` where a parameter is not estimated).

    Parameters
    ----------
    ids
        Item identifiers, in the order of the parameter table.
    a, b, c
        Standard errors of the slope, thresholds and lower asymptote; ``b`` is ``(n, kmax)``.
    """

    ids: tuple[str, ...]
    a: FloatArray
    b: FloatArray
    c: FloatArray

    def __post_init__(self) -> None:
        n = len(self.ids)
        b = np.array(self.b, dtype=np.float64)
        if b.ndim == 1:
            b = b.reshape(-1, 1)
        if b.shape[0] != n or np.shape(self.a) != (n,) or np.shape(self.c) != (n,):
            raise ParameterError("standard-error arrays do not match the number of items")
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "a", _readonly(self.a))
        object.__setattr__(self, "b", _readonly(b))
        object.__setattr__(self, "c", _readonly(self.c))

    def to_rows(self) -> list[dict[str, Any]]:
        """Rows ``item, se_a, se_b1..se_bK, se_c`` (``None`` where not estimated)."""

        def val(v: float) -> float | None:
            return float(v) if np.isfinite(v) else None

        rows = []
        for j, item in enumerate(self.ids):
            row: dict[str, Any] = {"item": item, "se_a": val(self.a[j])}
            for k in range(self.b.shape[1]):
                row[f"se_b{k + 1}"] = val(self.b[j, k])
            row["se_c"] = val(self.c[j])
            rows.append(row)
        return rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ItemParamsSE):
            return NotImplemented
        return (
            self.ids == other.ids
            and np.array_equal(self.a, other.a, equal_nan=True)
            and np.array_equal(self.b, other.b, equal_nan=True)
            and np.array_equal(self.c, other.c, equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]
