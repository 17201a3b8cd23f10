"""Merging several annotators into one target (contract §8).

Only authors with at least one annotation of the kind being merged take part: an
absent author never vetoes an ``intersection`` and does not count in ``mode``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from datamint.exceptions import ValidationError

__all__ = [
    "MergeStrategy",
    "empty_semantic",
    "merge_categories",
    "merge_image_labels",
    "merge_semantic",
]


class MergeStrategy(str, enum.Enum):
    """How several annotators' votes combine."""

    UNION = "union"
    INTERSECTION = "intersection"
    MODE = "mode"

    @classmethod
    def parse(cls, value: str | MergeStrategy | None, *, argument: str) -> MergeStrategy | None:
        """Return the strategy for ``value`` (None stays None).

        Raises:
            ValidationError: If ``value`` is not ``'union'``, ``'intersection'`` or ``'mode'``.
        """
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            raise ValidationError(
                f"{argument}={value!r} is not one of 'union', 'intersection', 'mode'"
            ) from None


def merge_semantic(
    per_author: Mapping[str, np.ndarray], strategy: MergeStrategy, num_classes: int
) -> torch.Tensor:
    """Merge per-author semantic masks channel by channel (contract §8.1).

    Every channel, background included, is merged on its own, so after ``union`` a
    pixel can be 1 in background and in a class: the result is not one-hot.
    ``union``: any author; ``intersection``: every author; ``mode``: at least half the
    authors (``sum >= n / 2``, a tie counts as positive).

    Args:
        per_author: author -> float32/uint8 ``(L + 1, *spatial)`` one-hot array.
        strategy: The merge rule.
        num_classes: L; used for the empty result.

    Returns:
        float32 tensor ``(L + 1, *spatial)`` of 0/1. With no author: all background
        (requires at least the spatial shape, so callers pass a zero-author case
        through :func:`empty_semantic` instead).

    Raises:
        ValueError: If ``per_author`` is empty (the spatial shape is then unknown).
    """
    if not per_author:
        raise ValueError("merge_semantic needs at least one author; use empty_semantic()")
    # Votes are counted in numpy on uint8 (an author votes where its mask is non-zero):
    # about 10x cheaper than float32 torch ops, and free of intra-op thread contention.
    masks = [np.asarray(m) for m in per_author.values()]
    votes = (masks[0] != 0).astype(np.uint8)
    for mask in masks[1:]:
        votes += mask != 0
    n = len(masks)
    if strategy is MergeStrategy.UNION:
        merged = votes > 0
    elif strategy is MergeStrategy.INTERSECTION:
        merged = votes == n
    else:
        merged = votes.astype(np.uint16) * 2 >= n
    if merged.shape[0] != num_classes + 1:
        raise ValueError(f"expected {num_classes + 1} channels, got {merged.shape[0]}")
    return torch.from_numpy(merged.astype(np.float32))


def empty_semantic(num_classes: int, spatial: Sequence[int]) -> torch.Tensor:
    """All-background float32 ``(L + 1, *spatial)``: channel 0 ones, the rest zeros."""
    out = np.zeros((num_classes + 1, *spatial), dtype=np.float32)  # numpy: no intra-op threads
    out[0] = 1.0
    return torch.from_numpy(out)


def merge_image_labels(
    per_user: Mapping[str, torch.Tensor], strategy: MergeStrategy, num_labels: int
) -> torch.Tensor:
    """Merge per-user multi-hot image labels (contract §8.2).

    ``union``: max > 0; ``intersection``: min > 0; ``mode``: mean >= 0.5.

    Args:
        per_user: user -> int32 ``(n_labels,)`` multi-hot.
        strategy: The merge rule.
        num_labels: n_labels, for the all-zeros result when nobody labelled the item.

    Returns:
        int32 ``(n_labels,)``.
    """
    if not per_user:
        return torch.zeros(num_labels, dtype=torch.int32)
    stack = torch.stack([v.to(torch.float32) for v in per_user.values()])
    if strategy is MergeStrategy.UNION:
        merged = stack.max(0).values > 0
    elif strategy is MergeStrategy.INTERSECTION:
        merged = stack.min(0).values > 0
    else:
        merged = stack.mean(0) >= 0.5
    return merged.to(torch.int32)


def merge_categories(
    per_user: Mapping[str, int], strategy: MergeStrategy, num_categories: int
) -> torch.Tensor:
    """Merge per-user category indices (contract §8.3).

    Args:
        per_user: user -> category index (into the schema's ``(identifier, value)`` list).
        strategy: ``mode`` gives ``bincount(...).argmax()``, a tie going to the lowest
            index, ``-1`` when nobody voted (int64 scalar); ``union``/``intersection``
            combine one-hot vectors into an int32 ``(n_categories,)`` multi-hot.
        num_categories: Length of the category list.

    Returns:
        A tensor as described for each strategy.
    """
    votes = torch.tensor(list(per_user.values()), dtype=torch.int64)
    if strategy is MergeStrategy.MODE:
        if votes.numel() == 0:
            return torch.tensor(-1, dtype=torch.int64)
        return torch.bincount(votes, minlength=num_categories).argmax().to(torch.int64)
    if votes.numel() == 0:
        return torch.zeros(num_categories, dtype=torch.int32)
    one_hot = torch.zeros((votes.numel(), num_categories), dtype=torch.int32)
    one_hot[torch.arange(votes.numel()), votes] = 1
    if strategy is MergeStrategy.UNION:
        return (one_hot.max(0).values > 0).to(torch.int32)
    return (one_hot.min(0).values > 0).to(torch.int32)
