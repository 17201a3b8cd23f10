"""A heatmap of mean pairwise Dice between annotators, one panel per label (matplotlib).

Needs the ``plot`` extra: ``pip install "datamint-open[plot]"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from datamint.agreement.table import AgreementTable
from datamint.storage.atomic import atomic_open

__all__ = ["heatmap_size_px", "plot_dice_heatmap"]

PANEL_SIZE_IN = (4.2, 3.6)  # width, height of one label's panel, inches
DPI = 100


def _matplotlib() -> tuple[Any, Any]:
    """``(Figure, colormaps)``; a bare Figure draws to files without touching pyplot's
    state or backend (safe in notebooks and headless workers)."""
    try:
        from matplotlib import colormaps
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            'the agreement heatmap needs matplotlib: pip install "datamint-open[plot]"'
        ) from exc
    return Figure, colormaps


def _short(name: str) -> str:
    """An annotator's name without the e-mail domain, for axis labels."""
    return name.split("@", 1)[0]


def heatmap_size_px(n_labels: int, dpi: int = DPI) -> tuple[int, int]:
    """The ``(width, height)`` in pixels of a heatmap with ``n_labels`` panels.

    Args:
        n_labels: Number of label panels.
        dpi: Dots per inch the PNG is written with.
    """
    return round(PANEL_SIZE_IN[0] * n_labels * dpi), round(PANEL_SIZE_IN[1] * dpi)


def plot_dice_heatmap(
    table: AgreementTable,
    path: str | Path,
    labels: Sequence[str] | None = None,
    dpi: int = DPI,
) -> list[str]:
    """Write a PNG of the mean Dice between each two annotators, one panel per label.

    Each cell is the mean over resources of the Dice of that pair on that label
    (:meth:`AgreementTable.dice_matrix`); the diagonal is 1, pairs never compared are
    blank. The image is :func:`heatmap_size_px` pixels. The file is written atomically.

    Args:
        table: An agreement table with segmentation rows.
        path: The PNG to write (its folder is created if missing).
        labels: The labels to draw, in order; default every segmentation label of the
            table.
        dpi: Pixels per inch.

    Returns:
        The labels drawn.

    Raises:
        ValueError: If there is no segmentation label to draw.
        ImportError: If matplotlib is not installed (names the ``plot`` extra).
    """
    chosen = list(labels) if labels is not None else table.labels("segmentation")
    if not chosen:
        raise ValueError("no segmentation pairs to plot: the table has no segmentation rows")
    figure, colormaps = _matplotlib()
    width, height = PANEL_SIZE_IN
    fig = figure(figsize=(width * len(chosen), height), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, len(chosen), squeeze=False)
    cmap = colormaps["viridis"].with_extremes(bad="#dddddd")
    image = None
    for ax, label in zip(axes[0], chosen, strict=True):
        names, matrix = table.dice_matrix(label)
        image = ax.imshow(np.ma.masked_invalid(matrix), vmin=0.0, vmax=1.0, cmap=cmap)
        ticks = np.arange(len(names))
        short = [_short(n) for n in names]
        ax.set_xticks(ticks, short, rotation=30, ha="right")
        ax.set_yticks(ticks, short)
        for i in range(len(names)):
            for j in range(len(names)):
                if np.isfinite(matrix[i, j]):
                    colour = "black" if matrix[i, j] > 0.6 else "white"
                    ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", color=colour)
        n_resources = len(set(table.where(kind="segmentation", label=label)["resource_id"]))
        ax.set_title(f"{label} ({n_resources} resource{'s' if n_resources != 1 else ''})")
    fig.colorbar(image, ax=axes[0].tolist(), label="mean Dice", shrink=0.8)
    fig.suptitle("Mean pairwise Dice between annotators")
    with atomic_open(path) as fh:
        fig.savefig(fh, format="png", dpi=dpi)
    return chosen
