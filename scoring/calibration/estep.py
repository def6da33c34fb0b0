r"""Step 3a of a calibration, the E-step: posterior weights and expected counts over the nodes.

With the stacked category indicators ``Y`` (persons x sum of categories; one 1 per administered
response) and the log-probabilities ``log P`` (categories x nodes), the log-likelihood of every
person at every node is the product ``Y @ log P``. Posterior weights are normalised person by
person, and the expected counts of every item category at every node are ``Y.T @ (w * posterior)``.
Persons are processed in chunks, so memory stays at the indicators plus one chunk of posteriors;
large problems use float32 for the products (the counts are summed in float64).

Layouts
-------
``sparse``
    CSR chunks (CAT and booklet designs); posteriors persons x nodes.
``dense``
    Dense indicator blocks when the data are dense enough; the products are taken node-major
    (``log P.T @ Y.T``), so that the maxima and sums over the nodes run along contiguous rows.
``reduced``
    Complete data (no missing response): only the categories above 0 get a column, since
    :math:`\ell_p(\theta) = \sum_j \log P_{j0}(\theta) + \sum_j \sum_{k \ge 1} y_{pjk}
    (\log P_{jk} - \log P_{j0})(\theta)` and the counts of category 0 follow from the posterior
    totals; this halves the work for dichotomous items. Node-major like ``dense``.
``binary``
    ``dense`` for dichotomous items and one group. The indicators are the responses of 1 and the
    administered items, ``[Y1; M]``: :math:`\ell_p = \sum_j m_{pj} \log P_{j0} + \sum_j y_{pj1}
    D_j` with :math:`D_j = \log P_{j1} - \log P_{j0}`. For the logistic models without a lower
    asymptote :math:`D_j(\theta) = a_j \theta + d_j` (checked on the nodes at every E-step), so
    the second sum is :math:`\theta u_p + v_p` with :math:`u_p = \sum_j y_{pj1} a_j`, :math:`v_p =
    \sum_j y_{pj1} d_j`, two extra rows: the first product runs over half the columns. Otherwise
    (3PL) it runs over both blocks, exactly as ``dense``.

References
----------
Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
application of an EM algorithm. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["BINARY_LAYOUT", "BLOCK_PERSONS", "EXP_FLOOR", "KEEP_POSTERIORS", "SINGLE_ABOVE", "EStep"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SINGLE_ABOVE = 500_000
"""``precision="auto"`` takes float32 products above this many responses.

Measured on 30,000 persons x 30 of 48 items (900,000 responses): float32 moves the estimates by
1e-6 (their standard errors are about 0.03) and makes an E-step two to three times faster
(numpy's float32 ``exp`` is vectorised, its float64 one is not on this machine)."""


BINARY_LAYOUT = True
"""Whether dense dichotomous data of one group take the ``binary`` layout (see the module docstring)."""
KEEP_POSTERIORS = 16_000_000
"""The log-likelihood pass at the estimates keeps its posteriors (persons x nodes values) up to this many."""
BLOCK_PERSONS = 4096
"""Persons per block of the float64 passes over a node-major chunk (see :meth:`EStep.blocks`)."""
EXP_FLOOR = {np.dtype(np.float32): -80.0, np.dtype(np.float64): -700.0}
"""Lowest log posterior weight (relative to a person's highest) before ``exp``, by precision.

Below it, ``exp`` gives subnormal numbers (float32 ones under exp(-87.3), float64 ones under
exp(-708)), and a product over subnormals runs on the processor's slow path: on a Xeon with
AVX-512 the E-step's ``posterior @ indicators`` took 48 ms where the same product over normal
numbers took 7. With the floor every weight stays normal, after the division by the person's sum
(at most the number of nodes) too: exp(-80) / 61 is 3e-37, above float32's 1.2e-38. A weight of
exp(-80) = 2e-35 beside a largest one of 1 is far below float32's resolution (1e-7): no estimate,
count or log-likelihood moves."""


def _relative_weights(ll: Any, axis: int, floor_dtype: Any) -> tuple[Any, Any]:
    """In place, ``ll`` (log-likelihoods) becomes ``exp(ll - max)``, its logs floored at ``EXP_FLOOR[floor_dtype]``.

    Returns each person's max and sum of the weights (``keepdims``): the log marginal is
    ``max + log(sum)``, the posterior the weights over the sum. ``floor_dtype`` is the precision
    the weights end in (the float64 pass keeps float32 posteriors: float32's floor, so the cast
    stays normal).
    """
    m = ll.max(axis=axis, keepdims=True)
    ll -= m
    np.maximum(ll, EXP_FLOOR[np.dtype(floor_dtype)], out=ll)  # no subnormal weights (see EXP_FLOOR)
    np.exp(ll, out=ll)
    return m, ll.sum(axis=axis, keepdims=True)


class EStep:
    """Chunked E-step over the category indicators of the responses (see the module docstring).

    Parameters
    ----------
    indptr, cats
        The responses person by person: stacked category columns ``cats[indptr[p]:indptr[p + 1]]``.
    offsets
        Stacked column of every item's category 0 (length n_items + 1).
    weights
        Per-person weights, or ``None``.
    gidx, n_groups
        Group of every person, and the number of groups.
    precision
        ``"double"``, ``"single"`` or ``"auto"`` (single above :data:`SINGLE_ABOVE` responses).
    chunk_rows
        Persons per chunk (default: about one million responses, at most 32,768 persons).
    threads
        Python threads over the chunks.
    nodes
        The quadrature nodes (the ``binary`` layout needs them; without them it is not used).
    dense
        The same responses as a dense persons x items matrix, if at hand: the ``binary`` layout
        then takes its indicators from it (cheaper than from the stacked columns).
    """

    def __init__(
        self,
        indptr: IntArray,
        cats: npt.NDArray[np.int32],
        offsets: IntArray,
        weights: FloatArray | None,
        gidx: IntArray,
        n_groups: int,
        precision: str,
        chunk_rows: int | None,
        threads: int,
        nodes: FloatArray | None = None,
        dense: FloatArray | None = None,
    ) -> None:
        n = indptr.size - 1
        nnz = int(indptr[-1])
        n_items = offsets.size - 1
        n_cols = int(offsets[-1])
        self.n = n
        self.n_cols = n_cols
        self.n_groups = n_groups
        self.indptr = indptr
        self.cats = cats
        self.offsets = offsets
        self.threads = max(1, int(threads))
        if precision not in ("auto", "single", "double"):
            raise ValueError(f"precision must be 'auto', 'single' or 'double', not {precision!r}")
        if precision == "auto":
            precision = "single" if nnz > SINGLE_ABOVE else "double"
        self.dtype: type[np.floating[Any]] = np.float32 if precision == "single" else np.float64
        self.nodes = nodes
        self.dense = dense
        self.mode = _choose_mode(n, n_items, n_cols, nnz)
        if BINARY_LAYOUT and self.mode == "dense" and n_cols == 2 * n_items and n_groups == 1 and nodes is not None:
            self.mode = "binary"
        self.n_items = n_items
        self.node_major = self.mode != "sparse"
        # Node-major with one group: the indicators get a last row of ones, so the first product
        # adds the log prior (and the reduced layout's constant) and the second sums the posterior
        # over the persons, with no pass of their own.
        self.ones_row = self.node_major and n_groups == 1
        item_of_col = np.repeat(np.arange(n_items), np.diff(offsets))
        is_zero = np.zeros(n_cols, dtype=bool)
        is_zero[offsets[:-1]] = True
        self.pos_cols = np.nonzero(~is_zero)[0]  # columns of categories >= 1
        self.zero_of_pos = offsets[item_of_col[self.pos_cols]]  # category-0 column of their item
        if chunk_rows is None:
            per_row = max(1.0, nnz / max(n, 1))
            chunk_rows = int(min(32768, max(1024, 1_000_000 / per_row)))
        self.chunks = [
            self._chunk(start, min(n, start + chunk_rows), weights, gidx) for start in range(0, n, chunk_rows)
        ]
        self.n_calls = 0
        self.seconds = 0.0
        self._kept: tuple[FloatArray, FloatArray, list[Any]] | None = None

    def _chunk(self, start: int, stop: int, weights: FloatArray | None, gidx: IntArray) -> dict[str, Any]:
        """The indicators (in the layout's form), weights and groups of persons ``start..stop - 1``."""
        ip = self.indptr[start : stop + 1] - self.indptr[start]
        ind = self.cats[self.indptr[start] : self.indptr[stop]]
        chunk: dict[str, Any] = {"start": start, "stop": stop}
        if self.mode == "sparse":
            import scipy.sparse as sp

            ones = np.ones(ind.size, dtype=self.dtype)
            chunk["y"] = sp.csr_matrix((ones, ind, ip), shape=(stop - start, self.n_cols))
        elif self.mode == "binary" and self.dense is not None:
            chunk["yt"] = self._binary_from_dense(self.dense[start:stop])
        elif self.mode == "binary":
            chunk["yt"] = self._binary_indicators(ip, ind, stop - start)
        else:
            rows = np.repeat(np.arange(stop - start), np.diff(ip))
            cols: npt.NDArray[np.integer[Any]] = ind
            width = self.n_cols
            if self.mode == "reduced":
                remap = np.full(self.n_cols, -1, dtype=np.int64)
                remap[self.pos_cols] = np.arange(self.pos_cols.size)
                keep = remap[ind] >= 0
                rows, cols = rows[keep], remap[ind[keep]]
                width = self.pos_cols.size
            n_rows = stop - start
            yt = np.zeros((width + self.ones_row, n_rows), dtype=self.dtype)  # columns x persons: both
            yt.reshape(-1)[cols.astype(np.int64) * n_rows + rows] = 1  # products run on contiguous operands
            if self.ones_row:
                yt[-1] = 1
            chunk["yt"] = yt
        chunk["w"] = None if weights is None else np.asarray(weights[start:stop], dtype=self.dtype)
        if self.n_groups > 1:
            g = gidx[start:stop]
            chunk["g"] = g
            chunk["gsel"] = [np.nonzero(g == k)[0] for k in range(self.n_groups)]
        return chunk

    def _binary_indicators(self, ip: IntArray, ind: npt.NDArray[np.int32], n_rows: int) -> Any:
        """The ``binary`` indicators of a chunk, ``(2J + 3, n)``: ``[Y1; M; u; v; 1]``.

        The responses of 1, the administered items, two rows the E-step fills and a row of ones.
        """
        j = self.n_items
        at = (ind >> 1).astype(np.int64)  # stacked column 2j + score -> item j
        at *= n_rows
        at += np.repeat(np.arange(n_rows), np.diff(ip))  # flat position of (item, person) in Y1
        z = np.zeros((2 * j + 3, n_rows), dtype=self.dtype)
        flat = z.reshape(-1)
        flat[at[(ind & 1).astype(bool)]] = 1
        at += j * n_rows
        flat[at] = 1
        z[-1] = 1
        return z

    def _binary_from_dense(self, x: FloatArray) -> Any:
        """The ``binary`` indicators of a chunk from its dense responses (scores 0/1, ``nan`` missing)."""
        j = self.n_items
        z = np.empty((2 * j + 3, x.shape[0]), dtype=self.dtype)
        np.copyto(z[:j], np.ascontiguousarray((x == 1).T))  # transposed as bytes first: 4x faster than
        np.copyto(z[j : 2 * j], np.ascontiguousarray(~np.isnan(x).T))  # casting through the transpose
        z[2 * j : 2 * j + 2] = 0
        z[-1] = 1
        return z

    def _prepare_binary(self, logp: FloatArray, logprior: Any, dtype: Any) -> tuple[Any, Any]:
        """The ``binary`` layout's matrix and, when every D_j is linear in theta, the (2, J) coefficients."""
        assert self.nodes is not None
        lp0 = logp[0::2]
        diff = logp[1::2] - lp0
        q = logp.shape[1]
        # The float64 pass of a float32 engine asks for linearity to float64 rounding.
        lin = _linear_in_nodes(diff, self.nodes, 1e-9 if dtype == self.dtype else 1e-12)
        if lin is not None:
            lp = np.concatenate([lp0.T, self.nodes[:, None], np.ones((q, 1)), logprior[0][:, None]], axis=1)
            return np.ascontiguousarray(lp, dtype=dtype), lin.astype(dtype)
        lp = np.concatenate([diff.T, lp0.T, np.zeros((q, 2)), logprior[0][:, None]], axis=1)
        return np.ascontiguousarray(lp, dtype=dtype), None

    def prepare(self, logp: FloatArray, logprior: Any, dtype: Any = None) -> tuple[Any, Any]:
        """The matrix the chunk indicators multiply, and what :meth:`log_likelihoods` still adds per node.

        Node-major layouts get ``log P.T`` (nodes x columns), the sparse one ``log P``. With the
        row of ones (one group, node-major) the log prior and the reduced layout's constant are its
        last column and nothing is left to add (``None``); otherwise the second item is ``(log
        prior, constant or None)``.
        """
        dtype = self.dtype if dtype is None else dtype
        if self.mode == "binary":
            return self._prepare_binary(logp, np.asarray(logprior), dtype)
        const = None
        if self.mode == "reduced":
            const = logp[self.offsets[:-1]].sum(axis=0)
            logp = logp[self.pos_cols] - logp[self.zero_of_pos]
        if self.ones_row:
            extra = logprior[0] if const is None else logprior[0] + const
            lp = np.concatenate([logp.T, np.asarray(extra)[:, None]], axis=1)
            return np.ascontiguousarray(lp, dtype=dtype), None
        lp = logp.T if self.node_major else logp
        add = (np.asarray(logprior, dtype=dtype), None if const is None else const.astype(dtype))
        return np.ascontiguousarray(lp, dtype=dtype), add

    def log_likelihoods(self, chunk: dict[str, Any], prepared: tuple[Any, Any]) -> Any:
        """Log-likelihood plus log prior of every person of a chunk at every node.

        Shape ``(Q, n)`` in the node-major layouts, ``(n, Q)`` in the sparse one.
        """
        lp, add = prepared
        if self.mode == "binary":
            z = chunk["yt"]
            if add is None:
                return lp @ z
            j = self.n_items
            if lp.dtype == z.dtype:
                z[2 * j : 2 * j + 2] = add @ z[:j]  # u and v of every person at these parameters
                return lp @ z[j:]
            z64 = np.empty((j + 3, z.shape[1]))  # the float64 pass: u and v summed in float64
            z64[:j] = z[j : 2 * j]
            z64[j : j + 2] = add @ z[:j].astype(np.float64)
            z64[-1] = 1.0
            return lp @ z64
        if self.node_major:
            ll = lp @ chunk["yt"]
            if add is None:
                return ll
            logprior, const = add  # several groups (one group has the row of ones)
            ll += logprior[chunk["g"]].T
            if const is not None:
                ll += const[:, None]
            return ll
        logprior, const = add
        ll = chunk["y"] @ lp
        ll += logprior[0] if self.n_groups == 1 else logprior[chunk["g"]]
        if const is not None:
            ll += const
        return ll

    def posterior(self, chunk: dict[str, Any], prepared: tuple[Any, Any]) -> tuple[Any, FloatArray]:
        """Normalised posterior of a chunk (oriented as :meth:`log_likelihoods`) and each person's log marginal."""
        ll = self.log_likelihoods(chunk, prepared)
        axis = 0 if self.node_major else 1
        m, s = _relative_weights(ll, axis, ll.dtype)
        ll /= s
        lmarg = m.reshape(-1).astype(np.float64) + np.log(s.reshape(-1).astype(np.float64))
        return ll, lmarg

    def _one(self, chunk: dict[str, Any], prepared: tuple[Any, Any]) -> tuple[float, Any, FloatArray]:
        post, lmarg = self.posterior(chunk, prepared)
        w = chunk["w"]
        if w is not None:
            total = float(np.dot(lmarg, w))
            post *= w[None, :] if self.node_major else w[:, None]
        else:
            total = float(lmarg.sum())
        q = post.shape[0] if self.node_major else post.shape[1]
        ng = np.zeros((self.n_groups, q))
        if self.node_major:
            both = post @ chunk["yt"].T  # (Q, columns): faster than its transpose
            if self.mode == "binary":
                ng[0] = both[:, -1]
                j = self.n_items
                ones = both[:, :j].T.astype(np.float64)
                counts = np.empty((2 * j, q))
                counts[1::2] = ones
                counts[0::2] = np.maximum(both[:, j : 2 * j].T - ones, 0.0)  # administered minus 1s
                return total, counts, ng
            if self.ones_row:
                ng[0] = both[:, -1]
                return total, both[:, :-1].T, ng
            for k, sel in enumerate(chunk["gsel"]):  # several groups
                if sel.size:
                    ng[k] = post[:, sel].sum(axis=1)
            return total, both.T, ng
        cnt = chunk["y"].T @ post
        if self.n_groups == 1:
            ng[0] = post.sum(axis=0)
        else:
            for k, sel in enumerate(chunk["gsel"]):
                if sel.size:
                    ng[k] = post[sel].sum(axis=0)
        return total, cnt, ng

    def run(self, logp: FloatArray, logprior: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Marginal log-likelihood, expected category counts (C, Q) and group node counts (G, Q)."""
        t0 = time.perf_counter()
        prepared = self.prepare(logp, logprior)
        q = logp.shape[1]
        cnt = np.zeros((self.pos_cols.size if self.mode == "reduced" else self.n_cols, q))
        ng = np.zeros((self.n_groups, q))
        total = 0.0
        if self.threads > 1 and len(self.chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor  # imported when asked for (start-up)

            with ThreadPoolExecutor(self.threads) as pool:
                results = list(pool.map(lambda ch: self._one(ch, prepared), self.chunks))
        else:
            results = [self._one(chunk, prepared) for chunk in self.chunks]
        for tot, c, g in results:
            total += tot
            cnt += c
            ng += g
        if self.mode == "reduced":
            counts = np.zeros((self.n_cols, q))
            counts[self.pos_cols] = cnt
            counts[self.offsets[:-1]] = ng.sum(axis=0)[None, :]
            np.subtract.at(counts, self.zero_of_pos, cnt)
            np.maximum(counts, 0.0, out=counts)
        else:
            counts = cnt
        self.n_calls += 1
        self.seconds += time.perf_counter() - t0
        return total, counts, ng

    def loglik_double(self, logp: FloatArray, logprior: FloatArray) -> float:
        """Marginal log-likelihood evaluated in float64 (for reporting after a float32 run).

        The posteriors of this pass are kept (in the engine's precision, when they take at most
        :data:`KEEP_POSTERIORS` values): the standard errors that follow are taken at the same
        point and use them through :meth:`kept_posteriors` instead of another pass. Node-major
        chunks run in blocks of :data:`BLOCK_PERSONS` persons, so the float64 temporaries stay
        small and are reused (see :meth:`blocks`).
        """
        prepared = self.prepare(logp, logprior, np.float64)
        axis = 0 if self.node_major else 1
        keep = self.n * logp.shape[1] <= KEEP_POSTERIORS
        total = 0.0
        posts = []
        for chunk in self.chunks:
            n_rows = chunk["stop"] - chunk["start"]
            shape = (logp.shape[1], n_rows) if self.node_major else (n_rows, logp.shape[1])
            kept = np.empty(shape, self.dtype) if keep else None
            for at, block in self.blocks(chunk):
                ll = self.log_likelihoods(block, prepared)
                m, s = _relative_weights(ll, axis, self.dtype if keep else ll.dtype)
                lmarg = m.reshape(-1) + np.log(s.reshape(-1))
                w = block["w"]
                total += float(lmarg.sum()) if w is None else float(np.dot(lmarg, w.astype(np.float64)))
                if kept is not None:
                    ll /= s
                    kept[(slice(None), at) if self.node_major else at] = ll
            if kept is not None:
                posts.append(kept)
        self._kept = (logp.copy(), np.array(logprior, dtype=np.float64), posts) if keep else None
        return total

    def blocks(self, chunk: dict[str, Any]) -> list[tuple[slice, dict[str, Any]]]:
        """A node-major chunk as blocks of at most :data:`BLOCK_PERSONS` persons: (their columns, a chunk of them).

        A block's indicators are a view of the chunk's (its columns), so what is written into
        them (the ``binary`` layout's ``u`` and ``v``) lands in the chunk. Small blocks keep the
        float64 passes (the log-likelihood at the estimates, the standard errors) in memory
        already touched: fresh pages of a chunk-sized float64 temporary cost more than the
        arithmetic on them. The sparse layout's chunk is one block.
        """
        n_rows = chunk["stop"] - chunk["start"]
        if not self.node_major or n_rows <= BLOCK_PERSONS:
            return [(slice(0, n_rows), chunk)]
        out = []
        for a in range(0, n_rows, BLOCK_PERSONS):
            b = min(n_rows, a + BLOCK_PERSONS)
            block = {"start": chunk["start"] + a, "stop": chunk["start"] + b, "yt": chunk["yt"][:, a:b]}
            block["w"] = None if chunk["w"] is None else chunk["w"][a:b]
            if "g" in chunk:
                block["g"] = chunk["g"][a:b]
                block["gsel"] = [np.nonzero(block["g"] == k)[0] for k in range(self.n_groups)]
            out.append((slice(a, b), block))
        return out

    def kept_posteriors(self, logp: FloatArray, logprior: FloatArray) -> list[Any] | None:
        """The posteriors of every chunk kept by :meth:`loglik_double`, if it ran at this log P and prior."""
        kept = self._kept
        if kept is None or not (np.array_equal(kept[0], logp) and np.array_equal(kept[1], logprior)):
            return None
        return kept[2]

    def in_double(self, weights: FloatArray | None, gidx: IntArray, chunk_rows: int | None) -> EStep:
        """The same E-step in float64 on one thread (for the observed information)."""
        return EStep(
            self.indptr,
            self.cats,
            self.offsets,
            weights,
            gidx,
            self.n_groups,
            "double",
            chunk_rows,
            1,
            self.nodes,
            self.dense,
        )

    def chunk_responses(self, chunk: dict[str, Any]) -> tuple[IntArray, npt.NDArray[np.int32]]:
        """Person (row within the chunk) and stacked category column of every response of a chunk."""
        a, b = chunk["start"], chunk["stop"]
        ip = self.indptr[a : b + 1] - self.indptr[a]
        return np.repeat(np.arange(b - a), np.diff(ip)), self.cats[self.indptr[a] : self.indptr[b]]

    def chunk_indicators_t(self, chunk: dict[str, Any]) -> Any:
        """Full (all categories) dense 0/1 indicators of a chunk, columns x persons, in the engine's precision."""
        if self.mode == "dense":
            return chunk["yt"][: self.n_cols]
        if self.mode == "binary":  # categories 0 and 1 of every item from [Y1; M]
            j = self.n_items
            z = chunk["yt"]
            yt = np.empty((self.n_cols, z.shape[1]), dtype=self.dtype)
            np.subtract(z[j : 2 * j], z[:j], out=yt[0::2])
            yt[1::2] = z[:j]
            return yt
        rows, cols = self.chunk_responses(chunk)
        yt = np.zeros((self.n_cols, chunk["stop"] - chunk["start"]), dtype=self.dtype)
        yt[cols, rows] = 1
        return yt

    def chunk_indicators(self, chunk: dict[str, Any]) -> Any:
        """Full (all categories) sparse indicators of a chunk, a ``scipy.sparse.csr_matrix``."""
        import scipy.sparse as sp

        a, b = chunk["start"], chunk["stop"]
        ip = self.indptr[a : b + 1] - self.indptr[a]
        ind = self.cats[self.indptr[a] : self.indptr[b]]
        return sp.csr_matrix((np.ones(ind.size), ind, ip), shape=(b - a, self.n_cols))


def _linear_in_nodes(diff: FloatArray, nodes: FloatArray, rtol: float) -> FloatArray | None:
    """``(a, d)`` with ``diff[j] = a[j] * nodes + d[j]`` on every node (to ``rtol``), else ``None``."""
    centred = nodes - nodes.mean()
    a = diff @ centred / float(centred @ centred)
    d = diff.mean(axis=1) - a * nodes.mean()
    scale = 1.0 + float(np.abs(diff).max(initial=0.0))
    if float(np.abs(diff - a[:, None] * nodes - d[:, None]).max(initial=0.0)) > rtol * scale:
        return None
    return np.stack([a, d])


def _choose_mode(n: int, n_items: int, n_cols: int, nnz: int) -> str:
    """``reduced`` for complete data, ``dense`` when dense enough, else ``sparse``.

    Small problems stay sparse: BLAS start-up dominates tiny dense products.
    """
    big_enough = n * n_cols >= 2_000_000
    if nnz == n * n_items and big_enough and n * n_cols <= 200_000_000:
        return "reduced"
    if nnz / max(1, n * n_items) > 0.3 and big_enough and n * n_cols <= 100_000_000:
        return "dense"
    return "sparse"
