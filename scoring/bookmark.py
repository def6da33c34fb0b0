r"""The bookmark method of standard setting: RP locations, the ordered item booklet, a panel's cuts.

Lewis, Mitzel & Green's bookmark procedure (Lewis, D. M., Mitzel, H. C., Mercado, R. J. &
Schulz, E. M. (2012). The bookmark standard setting procedure. In Cizek (Ed.), *Setting
performance standards*, 2nd ed., 225-253) orders the items of a test by the ability at which a
student has a response probability ``rp`` (0.67) of reaching each score point: for item :math:`j`
and score point :math:`k \ge 1`, the RP location is the :math:`\theta` that solves
:math:`P(X_j \ge k \mid \theta) = rp`. Each score point of a polytomous item is its own page.
Cumulative score probabilities rise with :math:`\theta` under every model here (2PL/3PL, GRM and
GPCM are stochastically ordered), so the root is unique; it is found by bisection on
:math:`[-12, 12]` (closed forms exist for the 2PL, 3PL and GRM: :math:`b_k + \operatorname{logit}(rp)/a`,
and are what the bisection reproduces). A 3PL item with :math:`c \ge rp` has no root: its page
sits at the low end of the bracket.

The convention for a bookmark: a panellist places the bookmark on page :math:`p` (1-based), the
last page a borderline student of the higher level masters with probability ``rp``; that
panellist's cut is the RP location of page :math:`p`. The panel's cut for a boundary is the
median of the panellists' cuts; its spread is their SD (``ddof=1``) and interquartile range
(linear interpolation of the quartiles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.irt import probabilities
from scoring.params import ItemParams

__all__ = ["RP", "BookletPage", "PanelCut", "order_booklet", "panel_cut", "rp_locations"]

FloatArray = npt.NDArray[np.float64]
RP = 0.67
"""The response probability of the ordered item booklet (RP67)."""
BRACKET = 12.0
"""RP locations are searched in ``[-BRACKET, BRACKET]`` (mirt's logistic metric)."""


def rp_locations(params: ItemParams, rp: float = RP, *, tol: float = 1e-10) -> list[tuple[int, int, float]]:
    r"""The RP location of every score point: ``(item index, score k, theta)`` with :math:`P(X \ge k) = rp`.

    Vectorised bisection over all pages at once (each page evaluates only its own item); the
    result is within ``tol`` of the root, or at the bracket's end where there is none.
    """
    if not 0.0 < rp < 1.0:
        raise ValueError("rp must lie strictly between 0 and 1")
    pages = [(j, k) for j in range(params.n_items) for k in range(1, int(params.max_scores[j]) + 1)]
    if not pages:
        return []
    item = np.array([j for j, _ in pages], dtype=np.int64)
    score = np.array([k for _, k in pages], dtype=np.int64)
    lo = np.full(len(pages), -BRACKET)
    hi = np.full(len(pages), BRACKET)
    columns = np.arange(params.kmax + 1)
    for _ in range(int(np.ceil(np.log2(2 * BRACKET / tol)))):
        mid = 0.5 * (lo + hi)
        p = probabilities(params, mid)[np.arange(len(pages)), item, :]  # (pages, kmax + 1)
        at_least = np.where(columns[None, :] >= score[:, None], p, 0.0).sum(axis=1)
        below = at_least < rp
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    theta = 0.5 * (lo + hi)
    return [(int(j), int(k), float(t)) for j, k, t in zip(item, score, theta, strict=True)]


@dataclass(frozen=True)
class BookletPage:
    """One page of the ordered item booklet: an item's score point and its RP location."""

    page: int
    item: str
    score: int
    theta: float


def order_booklet(params: ItemParams, rp: float = RP) -> list[BookletPage]:
    """The ordered item booklet: every score point, easiest RP location first (ties: item id, score)."""
    located = rp_locations(params, rp)
    located.sort(key=lambda x: (x[2], params.ids[x[0]], x[1]))
    return [BookletPage(n + 1, params.ids[j], k, t) for n, (j, k, t) in enumerate(located)]


@dataclass(frozen=True)
class PanelCut:
    """A panel's cut for one level boundary in one round (theta metric; pages 1-based)."""

    pages: tuple[int, ...]
    thetas: tuple[float, ...]
    median_page: float
    theta: float
    sd: float
    iqr: float


def panel_cut(booklet: list[BookletPage], pages: list[int]) -> PanelCut:
    """The panel's cut from its bookmarks: the median of the RP locations of the bookmarked pages.

    Raises
    ------
    ValueError
        No bookmark, or a page outside the booklet.
    """
    if not pages:
        raise ValueError("no bookmark")
    if any(not 1 <= p <= len(booklet) for p in pages):
        raise ValueError(f"a bookmark must be on a page from 1 to {len(booklet)}")
    thetas = np.array([booklet[p - 1].theta for p in pages])
    q1, q3 = np.percentile(thetas, [25.0, 75.0])
    return PanelCut(
        pages=tuple(pages),
        thetas=tuple(float(t) for t in thetas),
        median_page=float(np.median(pages)),
        theta=float(np.median(thetas)),
        sd=float(np.std(thetas, ddof=1)) if len(pages) > 1 else 0.0,
        iqr=float(q3 - q1),
    )
