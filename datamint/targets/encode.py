"""Instance masks, labels and boxes to fixed-size training targets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from datamint.exceptions import AnnotationError

__all__ = ["boxes_from_points", "category_one_hot", "instances_to_semantic", "multi_hot"]


def instances_to_semantic(
    masks: np.ndarray, codes: Sequence[int] | np.ndarray, num_classes: int
) -> np.ndarray:
    """Turn instance masks into one semantic one-hot array.

    Channel ``k`` (1..L) is the OR of the instances coded ``k``; channel 0 (background)
    is 1 where no class channel is set, so the result is one-hot per pixel.

    Args:
        masks: uint8 ``(N, *spatial)`` binary instance masks (N may be 0).
        codes: ``(N,)`` 1-based segmentation codes.
        num_classes: L, the number of segmentation classes.

    Returns:
        float32 ``(L + 1, *spatial)``.

    Raises:
        AnnotationError: If a code is outside ``1..L``.
    """
    spatial = masks.shape[1:]
    out = np.zeros((num_classes + 1, *spatial), dtype=np.float32)
    for mask, code in zip(masks, codes, strict=True):
        code = int(code)
        if not 1 <= code <= num_classes:
            raise AnnotationError(
                f"segmentation code {code} is outside 1..{num_classes}; code 0 is background"
            )
        np.maximum(out[code], mask, out=out[code])
    out[0] = 1.0 - out[1:].max(axis=0) if num_classes else 1.0
    return out


def multi_hot(indices: Sequence[int], size: int) -> torch.Tensor:
    """Multi-hot int32 vector of length ``size`` with ones at ``indices``."""
    vec = torch.zeros(size, dtype=torch.int32)
    if len(indices):
        vec[torch.as_tensor(list(indices), dtype=torch.long)] = 1
    return vec


def category_one_hot(index: int, size: int) -> torch.Tensor:
    """One-hot int32 vector of length ``size``."""
    return multi_hot([index], size)


def boxes_from_points(
    points: Sequence[Sequence[Sequence[float]]], labels: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pascal-VOC boxes from ``square`` geometry.

    Args:
        points: Per box, ``[[x1, y1, z], [x2, y2, z]]`` in pixels.
        labels: Per box, the class code (0-based).

    Returns:
        ``boxes`` float32 ``(N, 4)`` as ``(x1, y1, x2, y2)`` and ``labels`` int64 ``(N,)``;
        degenerate boxes (``x2 <= x1`` or ``y2 <= y1``) are skipped.
    """
    kept_boxes: list[list[float]] = []
    kept_labels: list[int] = []
    for pts, label in zip(points, labels, strict=True):
        x1, y1 = float(pts[0][0]), float(pts[0][1])
        x2, y2 = float(pts[1][0]), float(pts[1][1])
        if x2 <= x1 or y2 <= y1:
            continue
        kept_boxes.append([x1, y1, x2, y2])
        kept_labels.append(int(label))
    boxes = torch.tensor(kept_boxes, dtype=torch.float32).reshape(-1, 4)
    return boxes, torch.tensor(kept_labels, dtype=torch.int64)
