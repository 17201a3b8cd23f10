"""Batching dataset items (contract §7.5)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from datamint.exceptions import ValidationError

__all__ = ["MISMATCH_POLICIES", "collate_items", "detection_collate_fn", "make_collate_fn"]

MISMATCH_POLICIES = ("raise", "pad", "list")


def _pad(values: Sequence[Any]) -> list[Any]:
    """Zero-pad arrays/tensors at the end of every axis to the largest shape."""
    target = tuple(max(s) for s in zip(*(v.shape for v in values), strict=True))
    out = []
    for v in values:
        widths = [(0, t - n) for n, t in zip(v.shape, target, strict=True)]
        if isinstance(v, torch.Tensor):
            flat = [w for pair in reversed(widths) for w in pair]
            out.append(torch.nn.functional.pad(v, flat))
        else:
            out.append(np.pad(v, widths))
    return out


def _stack(key: str, values: Sequence[Any], on_mismatch: str) -> Any:
    first = values[0]
    if isinstance(first, torch.Tensor | np.ndarray):
        kind = type(first)
        if not all(isinstance(v, kind) for v in values):
            return list(values)
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            if on_mismatch == "list":
                return list(values)
            if on_mismatch == "pad" and len({len(s) for s in shapes}) == 1:
                values = _pad(values)
            else:
                raise ValidationError(
                    f"cannot batch key {key!r}: items have different shapes {sorted(shapes)}; "
                    "resize in alb_transform, or use get_collate_fn(on_mismatch='pad' or 'list')"
                )
        return torch.stack(list(values)) if kind is torch.Tensor else np.stack(values)
    return list(values)


def collate_items(batch: Sequence[dict[str, Any]], on_mismatch: str = "raise") -> dict[str, Any]:
    """Collate item dicts into one batch dict (contract §7.5).

    For each key of the first item: equal-shape tensors are stacked with
    ``torch.stack``, equal-shape ndarrays with ``np.stack``; anything else (dicts,
    entities, None) becomes a list.

    Args:
        batch: Items from one of the dataset classes.
        on_mismatch: When arrays of one key differ in shape: ``'raise'`` (default),
            ``'pad'`` (zero-pad at the end of each axis to the largest shape, then stack;
            ranks must agree) or ``'list'`` (keep a list).

    Returns:
        One dict with the same keys.

    Raises:
        ValidationError: On a shape mismatch under ``'raise'``; names the key and shapes.
    """
    if on_mismatch not in MISMATCH_POLICIES:
        raise ValidationError(f"on_mismatch={on_mismatch!r} is not one of {MISMATCH_POLICIES}")
    if not batch:
        return {}
    return {key: _stack(key, [item[key] for item in batch], on_mismatch) for key in batch[0]}


def make_collate_fn(on_mismatch: str = "raise") -> Any:
    """A picklable collate function with a fixed ``on_mismatch`` policy."""
    if on_mismatch not in MISMATCH_POLICIES:
        raise ValidationError(f"on_mismatch={on_mismatch!r} is not one of {MISMATCH_POLICIES}")
    return functools.partial(collate_items, on_mismatch=on_mismatch)


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
    out["image"] = _stack("image", out["image"], "raise")
    return out
