"""Merging several annotators into one target.

Only authors with at least one annotation of the kind being merged take part: an
absent author never vetoes an ``intersection`` and does not count in ``mode`` or ``mean``.

Votes (``union``, ``intersection``, ``mode``) apply to segmentations, image labels and
categories and give 0/1 targets. Soft consensus applies to semantic segmentations only
and gives values in [0, 1]: ``mean`` (the fraction of annotators marking each voxel) and
``staple`` (the STAPLE posterior, :mod:`datamint.targets.staple`).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from datamint.exceptions import ValidationError

__all__ = [
    "SEMANTIC_MERGE_STRATEGIES",
    "VOTING_MERGE_STRATEGIES",
    "MergeStrategy",
    "SemanticStaple",
    "empty_semantic",
    "merge_categories",
    "merge_image_labels",
    "merge_semantic",
    "staple_semantic",
]


class MergeStrategy(str, enum.Enum):
    """How several annotators' votes combine.

    Attributes:
        UNION: Marked by any annotator.
        INTERSECTION: Marked by every annotator.
        MODE: Marked by at least half the annotators (a tie counts as positive).
        MEAN: Semantic segmentations only: the fraction of annotators marking the voxel
            (soft labels, float32 in [0, 1]).
        STAPLE: Semantic segmentations only: the STAPLE posterior probability per class
            channel (Warfield, Zou & Wells 2004), float32 in [0, 1].
    """

    UNION = "union"
    INTERSECTION = "intersection"
    MODE = "mode"
    MEAN = "mean"
    STAPLE = "staple"

    @classmethod
    def parse(
        cls,
        value: str | MergeStrategy | None,
        *,
        argument: str,
        allowed: Collection[MergeStrategy] | None = None,
    ) -> MergeStrategy | None:
        """Return the strategy for ``value`` (None stays None).

        Args:
            value: A strategy or its name.
            argument: The argument's name, for the error message.
            allowed: The strategies this argument takes; default
                :data:`VOTING_MERGE_STRATEGIES` (``'union'``, ``'intersection'``,
                ``'mode'``). Semantic segmentation merges pass
                :data:`SEMANTIC_MERGE_STRATEGIES` to also take ``'mean'`` and ``'staple'``.

        Raises:
            ValidationError: If ``value`` is not one of ``allowed``; names the argument.
        """
        if value is None:
            return None
        choices = VOTING_MERGE_STRATEGIES if allowed is None else allowed
        try:
            strategy = cls(value)
        except ValueError:
            strategy = None
        if strategy is None or strategy not in choices:
            names = ", ".join(repr(s.value) for s in cls if s in choices)
            raise ValidationError(f"{argument}={value!r} is not one of {names}") from None
        return strategy


VOTING_MERGE_STRATEGIES = frozenset(
    {MergeStrategy.UNION, MergeStrategy.INTERSECTION, MergeStrategy.MODE}
)
"""Strategies every merge takes (segmentations, image labels, categories)."""

SEMANTIC_MERGE_STRATEGIES = frozenset(MergeStrategy)
"""Strategies semantic segmentation merges take: the votes plus ``mean`` and ``staple``."""


def merge_semantic(
    per_author: Mapping[str, np.ndarray], strategy: MergeStrategy, num_classes: int
) -> torch.Tensor:
    """Merge per-author semantic masks channel by channel.

    Every channel, background included, is merged on its own, so after ``union`` a
    pixel can be 1 in background and in a class: the result is not one-hot.
    ``union``: any author; ``intersection``: every author; ``mode``: at least half the
    authors (``sum >= n / 2``, a tie counts as positive); ``mean``: the fraction of
    authors marking the pixel (one-hot inputs give channels summing to 1); ``staple``:
    the STAPLE posterior probability of each channel (see :func:`staple_semantic`,
    which also returns each author's sensitivity and specificity).

    Args:
        per_author: author -> float32/uint8 ``(L + 1, *spatial)`` one-hot array.
        strategy: The merge rule.
        num_classes: L; used for the empty result.

    Returns:
        float32 tensor ``(L + 1, *spatial)``: 0/1 for the votes, values in [0, 1] for
        ``mean`` and ``staple``. With no author: all background (requires at least the
        spatial shape, so callers pass a zero-author case through :func:`empty_semantic`
        instead).

    Raises:
        ValueError: If ``per_author`` is empty (the spatial shape is then unknown), or
            the channel count is not ``num_classes + 1``.
    """
    if not per_author:
        raise ValueError("merge_semantic needs at least one author; use empty_semantic()")
    if strategy is MergeStrategy.STAPLE:
        return staple_semantic(per_author, num_classes).probabilities
    # Votes are counted in numpy on uint8 (an author votes where its mask is non-zero):
    # about 10x cheaper than float32 torch ops, and free of intra-op thread contention.
    masks = [np.asarray(m) for m in per_author.values()]
    votes = (masks[0] != 0).astype(np.uint8)
    for mask in masks[1:]:
        votes += mask != 0
    n = len(masks)
    if votes.shape[0] != num_classes + 1:
        raise ValueError(f"expected {num_classes + 1} channels, got {votes.shape[0]}")
    if strategy is MergeStrategy.UNION:
        merged = votes > 0
    elif strategy is MergeStrategy.INTERSECTION:
        merged = votes == n
    elif strategy is MergeStrategy.MODE:
        merged = votes.astype(np.uint16) * 2 >= n
    else:  # MEAN
        return torch.from_numpy(votes.astype(np.float32) / np.float32(n))
    return torch.from_numpy(merged.astype(np.float32))


@dataclass(frozen=True)
class SemanticStaple:
    """STAPLE over annotators' semantic masks, channel by channel.

    Attributes:
        probabilities: float32 tensor ``(L + 1, *spatial)``: per channel, the posterior
            probability that the voxel belongs to it. Channels are estimated on their
            own (background too), so they need not sum to 1; ``>= 0.5`` gives each
            channel's STAPLE segmentation.
        authors: The authors, in the order of the rows below.
        sensitivity: float64 ``(n_authors, L + 1)``: each author's estimated sensitivity
            per channel (``nan`` for a channel nobody marked).
        specificity: float64 ``(n_authors, L + 1)``: estimated specificity per channel
            (``nan`` for a channel everybody marked everywhere).
    """

    probabilities: torch.Tensor
    authors: tuple[str, ...]
    sensitivity: np.ndarray
    specificity: np.ndarray

    def as_metadata(self, class_names: Sequence[str] | None = None) -> dict[str, Any]:
        """Per-author performance as plain dicts, for an item's metadata.

        Args:
            class_names: The L class names (channels 1..L); channel 0 is
                ``"background"``. Default: the channel indices as strings.

        Returns:
            ``{"sensitivity": {author: {channel: float}}, "specificity": {...}}``;
            ``nan`` where undefined.

        Raises:
            ValueError: If ``class_names`` does not have L names.
        """
        n_channels = self.sensitivity.shape[1]
        if class_names is None:
            names = [str(c) for c in range(n_channels)]
        elif len(class_names) != n_channels - 1:
            raise ValueError(f"expected {n_channels - 1} class names, got {len(class_names)}")
        else:
            names = ["background", *class_names]
        tables = {"sensitivity": self.sensitivity, "specificity": self.specificity}
        return {
            key: {
                author: {name: float(v) for name, v in zip(names, values[row], strict=True)}
                for row, author in enumerate(self.authors)
            }
            for key, values in tables.items()
        }


def staple_semantic(
    per_author: Mapping[str, np.ndarray],
    num_classes: int,
    *,
    max_iter: int = 1000,
    tol: float = 1e-7,
) -> SemanticStaple:
    """Run binary STAPLE on every channel of per-author semantic masks.

    Each channel (background included) is one binary problem over the taking-part
    authors, with its own global prior (Warfield, Zou & Wells 2004; see
    :func:`datamint.targets.staple.staple`). The estimate covers the array given: a
    slice item gives per-slice sensitivities, a volume item per-volume ones.

    Args:
        per_author: author -> ``(L + 1, *spatial)`` one-hot array (non-zero is marked).
        num_classes: L.
        max_iter: Most EM iterations per channel.
        tol: Convergence tolerance on sensitivity and specificity.

    Returns:
        A :class:`SemanticStaple`.

    Raises:
        ValueError: If ``per_author`` is empty, shapes differ, or the channel count is
            not ``num_classes + 1``.
    """
    from datamint.targets.staple import staple  # SciPy loads only when STAPLE is used

    if not per_author:
        raise ValueError("staple_semantic needs at least one author; use empty_semantic()")
    authors = tuple(per_author)
    masks = [np.asarray(per_author[a]) for a in authors]
    shapes = {m.shape for m in masks}
    if len(shapes) != 1:
        raise ValueError(f"the authors' masks differ in shape: {sorted(shapes)}")
    shape = masks[0].shape
    if shape[0] != num_classes + 1:
        raise ValueError(f"expected {num_classes + 1} channels, got {shape[0]}")
    probabilities = np.empty(shape, dtype=np.float32)
    sensitivity = np.empty((len(authors), shape[0]))
    specificity = np.empty((len(authors), shape[0]))
    for channel in range(shape[0]):
        decisions = np.stack([m[channel] != 0 for m in masks])
        estimate = staple(decisions, max_iter=max_iter, tol=tol)
        probabilities[channel] = estimate.probabilities
        sensitivity[:, channel] = estimate.sensitivity
        specificity[:, channel] = estimate.specificity
    return SemanticStaple(torch.from_numpy(probabilities), authors, sensitivity, specificity)


def empty_semantic(num_classes: int, spatial: Sequence[int]) -> torch.Tensor:
    """All-background float32 ``(L + 1, *spatial)``: channel 0 ones, the rest zeros."""
    out = np.zeros((num_classes + 1, *spatial), dtype=np.float32)  # numpy: no intra-op threads
    out[0] = 1.0
    return torch.from_numpy(out)


def _require_vote(strategy: MergeStrategy, function: str) -> None:
    if strategy not in VOTING_MERGE_STRATEGIES:
        raise ValueError(
            f"{function} takes 'union', 'intersection' or 'mode', not {strategy.value!r} "
            "(soft strategies apply to semantic segmentations only)"
        )


def merge_image_labels(
    per_user: Mapping[str, torch.Tensor], strategy: MergeStrategy, num_labels: int
) -> torch.Tensor:
    """Merge per-user multi-hot image labels.

    ``union``: max > 0; ``intersection``: min > 0; ``mode``: mean >= 0.5.

    Args:
        per_user: user -> int32 ``(n_labels,)`` multi-hot.
        strategy: The merge rule.
        num_labels: n_labels, for the all-zeros result when nobody labelled the item.

    Returns:
        int32 ``(n_labels,)``.

    Raises:
        ValueError: For ``mean`` or ``staple`` (semantic segmentations only).
    """
    _require_vote(strategy, "merge_image_labels")
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
    """Merge per-user category indices.

    Args:
        per_user: user -> category index (into the schema's ``(identifier, value)`` list).
        strategy: ``mode`` gives ``bincount(...).argmax()``, a tie going to the lowest
            index, ``-1`` when nobody voted (int64 scalar); ``union``/``intersection``
            combine one-hot vectors into an int32 ``(n_categories,)`` multi-hot.
        num_categories: Length of the category list.

    Returns:
        A tensor as described for each strategy.

    Raises:
        ValueError: For ``mean`` or ``staple`` (semantic segmentations only).
    """
    _require_vote(strategy, "merge_categories")
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
