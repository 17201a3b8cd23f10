"""The demo's figure: image | merged annotation | prediction, for one validation slice."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from datamint.storage.atomic import atomic_write_bytes

__all__ = ["save_figure"]

PANEL_PX = 256
# One RGB colour per class channel 1..L (Kelly's maximum-contrast colours).
PALETTE = [
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
]


def _grey(image: torch.Tensor) -> np.ndarray:
    img = image[0].numpy()
    lo, hi = np.percentile(img, [1, 99])
    return np.clip((img - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)


def _overlay(grey: np.ndarray, channels: np.ndarray) -> np.ndarray:
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    for k, mask in enumerate(channels):
        colour = np.array(PALETTE[k % len(PALETTE)], dtype=np.float32)
        on = mask > 0.5
        rgb[on] = 0.45 * rgb[on] + 0.55 * colour
    return rgb.astype(np.uint8)


def save_figure(
    model: torch.nn.Module,
    dataset: Any,
    collate: Callable[[Sequence[dict[str, Any]]], tuple[torch.Tensor, torch.Tensor]],
    path: Path,
    classes: Sequence[str],
    channels: Sequence[int],
) -> Path:
    """Write a PNG of the validation slice with the most annotated pixels.

    Args:
        model: The trained network (logits ``(B, L+1, H, W)``).
        dataset: The validation dataset.
        collate: Turns items into ``(image, masks)`` batches.
        path: Output PNG path (written atomically).
        classes: Names of the drawn classes, for the legend.
        channels: The mask channels of those classes (1-based codes); others are not drawn.

    Returns:
        ``path``.
    """
    best, best_area, best_index = None, -1.0, 0
    for i in range(len(dataset)):
        item = dataset[i]
        area = float(torch.as_tensor(item["masks"])[list(channels)].sum())
        if area > best_area:
            best, best_area, best_index = item, area, i
    assert best is not None, "the validation split is empty"
    image, mask = collate([best])
    model.eval()
    with torch.no_grad():
        pred = (torch.sigmoid(model(image))[0, list(channels)] > 0.5).numpy()
    grey = _grey(image[0])
    panels = [
        np.repeat(grey[..., None], 3, axis=2),
        _overlay(grey, mask[0, list(channels)].numpy()),
        _overlay(grey, pred),
    ]
    panels = [cv2.resize(p, (PANEL_PX, PANEL_PX), interpolation=cv2.INTER_NEAREST) for p in panels]
    canvas = np.full((PANEL_PX + 80, 3 * PANEL_PX + 20, 3), 255, np.uint8)
    for k, (panel, title) in enumerate(
        zip(panels, ("image", "annotators merged (mode)", "prediction"), strict=True)
    ):
        x = k * (PANEL_PX + 10)
        canvas[30 : 30 + PANEL_PX, x : x + PANEL_PX] = panel
        cv2.putText(
            canvas, title, (x + 4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA
        )
    resource = dataset.get_resource(best_index)
    info = best.get("metainfo") or {}
    caption = (
        f"{resource.filename} {info['plane']} slice {info['index']}"
        if info.get("plane")
        else resource.filename
    )
    cv2.putText(
        canvas,
        caption,
        (4, PANEL_PX + 48),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.45,
        (0, 0, 0),
        1,
        cv2.LINE_AA,
    )
    for k, name in enumerate(classes):
        x = 4 + k * 125
        cv2.rectangle(
            canvas, (x, PANEL_PX + 62), (x + 10, PANEL_PX + 70), PALETTE[k % len(PALETTE)], -1
        )
        cv2.putText(
            canvas,
            name[:16],
            (x + 14, PANEL_PX + 70),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.35,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode the figure for {path}")
    atomic_write_bytes(path, encoded.tobytes())
    return path
