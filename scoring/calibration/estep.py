r"""Step 3a of a calibration, the E-step: posterior weights and expected counts over the nodes.

With the stacked category indicators ``Y`` (persons x sum of categories; one 1 per administered
response) and the log-probabilities ``log P`` (categories x nodes), the log-likelihood of every
person at every node is the product ``Y @ log P``. Posterior weights are normalised row by row,
and the expected counts of every item category at every node are ``Y.T @ (w * posterior)``.
Persons are processed in chunks, so memory stays at the indicators plus one chunk of posteriors;
large problems use float32 for the products (the counts are summed in float64).

References
----------
Bock, R. D. & Aitkin, M. (1981). Marginal maximum likelihood estimation of item parameters:
application of an EM algorithm. *Psychometrika*, 46, 443-459.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EStep"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class EStep:
    r"""Chunked E-step over the category indicators of the responses.

    Three layouts: ``sparse`` (CSR chunks; CAT and booklet designs), ``dense`` (cached dense
    indicator blocks when the data are dense enough), and ``reduced`` for complete data (no
    missing response): only the categories above 0 get a column, since
    :math:`\ell_p(\theta) = \sum_j \log P_{j0}(\theta) + \sum_j \sum_{k \ge 1} y_{pjk}
    (\log P_{jk} - \log P_{j0})(\theta)` and the counts of category 0 follow from the posterior
    totals; this halves the work for dichotomous items.
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
            precision = "single" if nnz > 1_000_000 else "double"
        self.dtype: type[np.floating[Any]] = np.float32 if precision == "single" else np.float64
        complete = nnz == n * n_items
        density = nnz / max(1, n * n_items)
        # small problems stay sparse: BLAS thread start-up dominates tiny dense products
        big_enough = n * n_cols >= 2_000_000
        if complete and big_enough and n * n_cols <= 200_000_000:
            self.mode = "reduced"
        elif density > 0.3 and big_enough and n * n_cols <= 100_000_000:
            self.mode = "dense"
        else:
            self.mode = "sparse"
        item_of_col = np.repeat(np.arange(n_items), np.diff(offsets))
        is_zero = np.zeros(n_cols, dtype=bool)
        is_zero[offsets[:-1]] = True
        self.pos_cols = np.nonzero(~is_zero)[0]  # columns of categories >= 1
        self.zero_of_pos = offsets[item_of_col[self.pos_cols]]  # category-0 column of their item
        self.item_of_pos = item_of_col[self.pos_cols]
        remap = np.full(n_cols, -1, dtype=np.int64)
        remap[self.pos_cols] = np.arange(self.pos_cols.size)
        if chunk_rows is None:
            per_row = max(1.0, nnz / max(n, 1))
            chunk_rows = int(min(32768, max(1024, 1_000_000 / per_row)))
        self.chunks: list[dict[str, Any]] = []
        for start in range(0, n, chunk_rows):
            stop = min(n, start + chunk_rows)
            ip = indptr[start : stop + 1] - indptr[start]
            ind = cats[indptr[start] : indptr[stop]]
            chunk: dict[str, Any] = {"start": start, "stop": stop}
            if self.mode == "reduced":
                rows = np.repeat(np.arange(stop - start), np.diff(ip))
                keep = remap[ind] >= 0
                yd = np.zeros((stop - start, self.pos_cols.size), dtype=self.dtype)
                yd[rows[keep], remap[ind[keep]]] = 1
                chunk["y"] = yd
            elif self.mode == "dense":
                rows = np.repeat(np.arange(stop - start), np.diff(ip))
                yd = np.zeros((stop - start, n_cols), dtype=self.dtype)
                yd[rows, ind] = 1
                chunk["y"] = yd
            else:
                import scipy.sparse as sp

                chunk["y"] = sp.csr_matrix((np.ones(ind.size, dtype=self.dtype), ind, ip), shape=(stop - start, n_cols))
            chunk["w"] = None if weights is None else np.asarray(weights[start:stop], dtype=self.dtype)
            if n_groups > 1:
                g = gidx[start:stop]
                chunk["g"] = g
                chunk["gsel"] = [np.nonzero(g == k)[0] for k in range(n_groups)]
            self.chunks.append(chunk)
        self.n_calls = 0
        self.seconds = 0.0

    def prepare(self, logp: FloatArray, dtype: Any = None) -> tuple[Any, Any]:
        """The matrix multiplied by the chunk indicators, and a constant row (reduced layout)."""
        dtype = self.dtype if dtype is None else dtype
        if self.mode == "reduced":
            lp = logp[self.pos_cols] - logp[self.zero_of_pos]
            const = logp[self.offsets[:-1]].sum(axis=0)
            return np.ascontiguousarray(lp, dtype=dtype), const.astype(dtype)
        return np.ascontiguousarray(logp, dtype=dtype), None

    def posterior(self, chunk: dict[str, Any], prepared: tuple[Any, Any], logprior: Any) -> tuple[Any, FloatArray]:
        """Normalised posterior (n, Q) of a chunk and each person's log marginal likelihood."""
        lp, const = prepared
        ll = chunk["y"] @ lp
        if self.n_groups == 1:
            ll += logprior[0] if const is None else logprior[0] + const
        else:
            ll += logprior[chunk["g"]]
            if const is not None:
                ll += const
        m = ll.max(axis=1, keepdims=True)
        ll -= m
        np.exp(ll, out=ll)
        s = ll.sum(axis=1, keepdims=True)
        ll /= s
        lmarg = m[:, 0].astype(np.float64) + np.log(s[:, 0].astype(np.float64))
        return ll, lmarg

    def _one(self, chunk: dict[str, Any], prepared: tuple[Any, Any], lpr: Any) -> tuple[float, Any, FloatArray]:
        post, lmarg = self.posterior(chunk, prepared, lpr)
        w = chunk["w"]
        if w is not None:
            total = float(np.dot(lmarg, w))
            post *= w[:, None]
        else:
            total = float(lmarg.sum())
        cnt = chunk["y"].T @ post
        ng = np.zeros((self.n_groups, post.shape[1]))
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
        prepared = self.prepare(logp)
        lpr = np.asarray(logprior, dtype=self.dtype)
        q = logp.shape[1]
        cnt = np.zeros((self.pos_cols.size if self.mode == "reduced" else self.n_cols, q))
        ng = np.zeros((self.n_groups, q))
        total = 0.0
        if self.threads > 1 and len(self.chunks) > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                results = pool.map(lambda ch: self._one(ch, prepared, lpr), self.chunks)
                for tot, c, g in results:
                    total += tot
                    cnt += c
                    ng += g
        else:
            for chunk in self.chunks:
                tot, c, g = self._one(chunk, prepared, lpr)
                total += tot
                cnt += c
                ng += g
        if self.mode == "reduced":
            counts = np.zeros((self.n_cols, q))
            counts[self.pos_cols] = cnt
            per_group_total = ng.sum(axis=0)
            counts[self.offsets[:-1]] = per_group_total[None, :]
            np.subtract.at(counts, self.zero_of_pos, cnt)
            np.maximum(counts, 0.0, out=counts)
        else:
            counts = cnt
        self.n_calls += 1
        self.seconds += time.perf_counter() - t0
        return total, counts, ng

    def loglik_double(self, logp: FloatArray, logprior: FloatArray) -> float:
        """Marginal log-likelihood evaluated in float64 (for reporting after a float32 run)."""
        if self.dtype == np.float64:
            return self.run(logp, logprior)[0]
        lp, const = self.prepare(logp, np.float64)
        total = 0.0
        for chunk in self.chunks:
            ll = chunk["y"].astype(np.float64) @ lp
            ll += logprior[chunk["g"]] if self.n_groups > 1 else logprior[0]
            if const is not None:
                ll += const
            m = ll.max(axis=1, keepdims=True)
            lmarg = m[:, 0] + np.log(np.exp(ll - m).sum(axis=1))
            w = chunk["w"]
            total += float(lmarg.sum()) if w is None else float(np.dot(lmarg, w.astype(np.float64)))
        return total

    def in_double(self, weights: FloatArray | None, gidx: IntArray, chunk_rows: int | None) -> EStep:
        """The same E-step in float64 on one thread (for the observed information)."""
        return EStep(
            self.indptr, self.cats, self.offsets, weights, gidx, self.n_groups, "double", chunk_rows, 1
        )

    def chunk_indicators(self, chunk: dict[str, Any]) -> Any:
        """Full (all categories) sparse indicators of a chunk, a ``scipy.sparse.csr_matrix``."""
        import scipy.sparse as sp

        a, b = chunk["start"], chunk["stop"]
        ip = self.indptr[a : b + 1] - self.indptr[a]
        ind = self.cats[self.indptr[a] : self.indptr[b]]
        return sp.csr_matrix((np.ones(ind.size), ind, ip), shape=(b - a, self.n_cols))
