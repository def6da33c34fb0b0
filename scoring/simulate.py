"""Synthetic item banks, designs and responses; all randomness through an explicit ``np.random.Generator``.

Used by parameter-recovery tests, the benchmark and CAT simulation studies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from scoring._lazy import is_sparse
from scoring.exceptions import DataError, ParameterError
from scoring.irt import probabilities
from scoring.params import ItemParams, normalize_model

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "booklet_design",
    "random_item_params",
    "random_sparse_design",
    "simulate_responses",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def random_item_params(
    n: int,
    model: str | Sequence[str],
    rng: np.random.Generator,
    *,
    n_categories: int = 4,
    a_logmean: float = 0.0,
    a_logsd: float = 0.3,
    a_bounds: tuple[float, float] = (0.4, 2.5),
    b_mean: float = 0.0,
    b_sd: float = 1.0,
    b_bounds: tuple[float, float] = (-2.5, 2.5),
    c_bounds: tuple[float, float] = (0.1, 0.25),
    step_sd: float = 0.6,
    prefix: str = "item",
) -> ItemParams:
    """Draw a plausible item bank.

    Slopes are log-normal (``exp(N(a_logmean, a_logsd))``, clipped to ``a_bounds``; 1 for
    ``rasch``), difficulties normal (clipped to ``b_bounds``), lower asymptotes uniform on
    ``c_bounds`` (3PL). Polytomous items (``grm``, ``gpcm``) get ``n_categories`` categories: a
    location from the difficulty distribution plus ordered, centred steps spaced at least 0.3 apart.

    Parameters
    ----------
    n
        Number of items.
    model
        One model for all items or one per item.
    rng
        Random generator.
    """
    models = [normalize_model(model)] * n if isinstance(model, str) else [normalize_model(m) for m in model]
    if len(models) != n:
        raise ParameterError(f"{len(models)} models for {n} items")
    if n_categories < 2:
        raise ParameterError("n_categories must be at least 2")
    a = np.clip(np.exp(rng.normal(a_logmean, a_logsd, n)), *a_bounds)
    loc = np.clip(rng.normal(b_mean, b_sd, n), *b_bounds)
    c = rng.uniform(*c_bounds, n)
    kmax = max([n_categories - 1 if m in ("grm", "gpcm") else 1 for m in models], default=1)
    b = np.full((n, kmax), np.nan)
    for j, m in enumerate(models):
        if m in ("grm", "gpcm"):
            k = n_categories - 1
            steps = np.sort(rng.normal(0.0, step_sd * k / 2, k))
            steps = steps - steps.mean()
            for s in range(1, k):  # minimum spacing
                steps[s] = max(steps[s], steps[s - 1] + 0.3)
            b[j, :k] = loc[j] + steps - steps.mean()
        else:
            b[j, 0] = loc[j]
        if m == "rasch":
            a[j] = 1.0
        if m != "3pl":
            c[j] = 0.0
    width = len(str(n))
    ids = tuple(f"{prefix}{j + 1:0{width}d}" for j in range(n))
    return ItemParams(ids, tuple(models), a, b, c)


def _sample_categories(p: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Draw one category per row from probabilities ``p`` (rows, K+1) by inverse CDF."""
    cum = np.cumsum(p, axis=1)
    u = rng.random(p.shape[0]) * cum[:, -1]
    return np.asarray((cum < u[:, None]).sum(axis=1), dtype=np.float64)


def simulate_responses(
    params: ItemParams,
    theta: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    design_mask: npt.ArrayLike | sp.spmatrix | sp.sparray | None = None,
) -> FloatArray | sp.csr_matrix:
    """Draw item scores for persons with abilities ``theta`` under ``params``.

    Parameters
    ----------
    params
        Item parameters; the columns of the result follow its items.
    theta
        Abilities, shape ``(n_persons,)``.
    rng
        Random generator.
    design_mask
        Which items each person takes: a boolean persons x items array (``None``: all), or a
        ``scipy.sparse`` matrix whose stored entries mark the administered items.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        Persons x items scores with ``nan`` where not administered; for a sparse design a CSR
        matrix whose stored entries (explicit zeros included) are the responses, which
        :func:`scoring.calibrate` and the ability estimators accept directly.
    """
    t = np.asarray(theta, dtype=np.float64).reshape(-1)
    n, j_items = t.size, params.n_items
    if design_mask is not None and is_sparse(design_mask):
        import scipy.sparse as sp

        csc = sp.csc_matrix(design_mask, dtype=bool)
        if csc.shape != (n, j_items):
            raise DataError(f"design mask has shape {csc.shape}, expected {(n, j_items)}")
        csc.sort_indices()
        data = np.empty(csc.nnz)
        for j in range(j_items):
            lo, hi = csc.indptr[j], csc.indptr[j + 1]
            if hi > lo:
                p = probabilities(params.subset([j]), t[csc.indices[lo:hi]])[:, 0, :]
                data[lo:hi] = _sample_categories(p, rng)
        out = sp.csc_matrix((data, csc.indices.copy(), csc.indptr.copy()), shape=(n, j_items)).tocsr()
        out.sort_indices()
        return out
    mask = np.ones((n, j_items), dtype=bool) if design_mask is None else np.asarray(design_mask, dtype=bool)
    if mask.shape != (n, j_items):
        raise DataError(f"design mask has shape {mask.shape}, expected {(n, j_items)}")
    x = np.full((n, j_items), np.nan)
    for j in range(j_items):
        rows = np.nonzero(mask[:, j])[0]
        if rows.size:
            p = probabilities(params.subset([j]), t[rows])[:, 0, :]
            x[rows, j] = _sample_categories(p, rng)
    return x


def random_sparse_design(
    n_persons: int,
    n_items: int,
    per_person: int,
    rng: np.random.Generator,
    *,
    sparse: bool = False,
) -> BoolArray | sp.csr_matrix:
    """Each person takes ``per_person`` items drawn at random without replacement.

    Returns a boolean persons x items mask, or with ``sparse=True`` a boolean CSR matrix (for very
    large designs: 1,000,000 x 300 with 30 per person is 30 million stored entries).
    """
    if not 0 < per_person <= n_items:
        raise ValueError("per_person must lie in 1..n_items")
    cols = np.empty((n_persons, per_person), dtype=np.int32)
    chunk = max(1, 4_000_000 // n_items)
    for s0 in range(0, n_persons, chunk):
        s1 = min(n_persons, s0 + chunk)
        keys = rng.random((s1 - s0, n_items), dtype=np.float32)
        part = np.argpartition(keys, per_person - 1, axis=1)[:, :per_person]
        cols[s0:s1] = np.sort(part, axis=1)
    if sparse:
        import scipy.sparse as sp

        indptr = np.arange(0, (n_persons + 1) * per_person, per_person, dtype=np.int64)
        return sp.csr_matrix((np.ones(cols.size, dtype=bool), cols.ravel(), indptr), shape=(n_persons, n_items))
    mask = np.zeros((n_persons, n_items), dtype=bool)
    np.put_along_axis(mask, cols.astype(np.int64), True, axis=1)
    return mask


def booklet_design(
    n_persons: int,
    n_items: int,
    n_blocks: int,
    *,
    blocks_per_booklet: int = 2,
    rng: np.random.Generator | None = None,
) -> BoolArray:
    """Linked booklet design: items in ``n_blocks`` consecutive blocks, booklet b = blocks b..b+k-1 (mod).

    There are ``n_blocks`` booklets; neighbouring booklets share a block, so all items are linked
    in one chain. Booklets rotate over persons (``p mod n_blocks``), or are assigned by a random
    permutation of that rotation when ``rng`` is given.
    """
    if not 1 <= blocks_per_booklet <= n_blocks <= n_items:
        raise ValueError("need 1 <= blocks_per_booklet <= n_blocks <= n_items")
    block_of = np.minimum((np.arange(n_items) * n_blocks) // n_items, n_blocks - 1)
    booklets = np.zeros((n_blocks, n_items), dtype=bool)
    for b in range(n_blocks):
        blocks = [(b + i) % n_blocks for i in range(blocks_per_booklet)]
        booklets[b] = np.isin(block_of, blocks)
    assign = np.arange(n_persons) % n_blocks
    if rng is not None:
        assign = rng.permutation(assign)
    return booklets[assign]
