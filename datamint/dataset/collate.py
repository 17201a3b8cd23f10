"""Batching dataset items (contract §7.5)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from datamint.exceptions import ValidationError

__all__ = ["collate_items", "detection_collate_fn"]


def _stack(key: str, values: Sequence[Any]) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor | np.ndarray):
        kind = type(first)
        if not all(isinstance(v, kind) for v in values):
            return list(values)
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise ValidationError(
                f"cannot batch key {key!r}: items have different shapes {sorted(shapes)}; "
                "resize in alb_transform or use a custom collate function"
            )
        return torch.stack(list(values)) if kind is torch.Tensor else np.stack(values)
    return list(values)


def collate_items(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate item dicts into one batch dict.

    For each key of the first item: equal-shape tensors are stacked with
    ``torch.stack``, equal-shape ndarrays with ``np.stack``; anything else (dicts,
    entities, None) becomes a list.

    Args:
        batch: Items from one of the dataset classes.

    Returns:
        One dict with the same keys.

    Raises:
        ValidationError: If tensors or arrays of one key differ in shape; names the key.
    """
    if not batch:
        return {}
    return {key: _stack(key, [item[key] for item in batch]) for key in batch[0]}


def detection_collate_fn(batch: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate for detection: ``image`` stacked, ``boxes``/``box_labels`` kept as lists.

    Args:
        batch: Items with ``return_boxes=True``.

    Returns:
        A dict with ``image`` stacked as in :func:`collate_items`, ``boxes`` a list of
        ``(N_i, 4)`` float32 tensors and ``box_labels`` a list of ``(N_i,)`` int64 tensors;
        other keys as lists.
    """
    out: dict[str, Any] = {key: [item[key] for item in batch] for key in batch[0]}
    out["image"] = _stack("image", out["image"])
    return out
