"""Figures of a CAT study: bias and RMSE by ability band, and the item-exposure histogram.

Rendering only (matplotlib, imported when a figure is drawn; without it nothing is written and the
status line says so). The numbers come from :func:`assess.simulate.study.run_cat_study`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assess.simulate.study import CatStudy

__all__ = ["plot_study"]


def plot_study(study: CatStudy, path: Path) -> str:
    """Draw bias and RMSE by band and the item-exposure histogram into ``path``; return a status line."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"plot not written: matplotlib is not installed (pip install matplotlib); {path} untouched"
    edges = study.band_edges
    inner = edges[1:-1]
    step = float(np.diff(inner).mean()) if inner.size > 1 else 1.0
    centres = np.concatenate([[inner[0] - step / 2], (inner[:-1] + inner[1:]) / 2, [inner[-1] + step / 2]])
    fig, (ax_bias, ax_rmse, ax_exp) = plt.subplots(1, 3, figsize=(15, 4.5))
    for m in study.methods:
        ax_bias.plot(centres, m.band_bias, marker="o", label=m.name)
        ax_rmse.plot(centres, m.band_rmse, marker="o", label=m.name)
    ax_bias.axhline(0.0, color="grey", linewidth=0.8)
    ax_bias.set(title="conditional bias", xlabel="true theta (band centre)", ylabel="bias")
    ax_rmse.set(title="conditional RMSE", xlabel="true theta (band centre)", ylabel="RMSE")
    ax_bias.legend(fontsize=8)
    bins = np.linspace(0.0, 1.0, 41)
    for shown in (study.cat, study.catsim):
        if shown is not None:
            label = f"{shown.name} ({shown.exposure.pool_size} items)"
            ax_exp.hist(shown.exposure.rates, bins=bins, alpha=0.6, label=label)
    ax_exp.set(title="item exposure rates", xlabel="exposure rate", ylabel="items", yscale="log")
    ax_exp.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return f"plot written to {path}"
