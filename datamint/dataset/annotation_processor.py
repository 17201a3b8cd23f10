"""One item's annotations to its target keys.

:class:`AnnotationProcessor` gathers each author's instance masks for a region of
the resource (the whole volume, one slice, or the single frame of a 2-D image),
then encodes them (instance, semantic, or merged semantic), and builds the image
labels, categories and boxes. Mask math lives in :mod:`datamint.targets`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from datamint.dataset.array_copy import fresh_array
from datamint.dataset.label_schema import LabelSchema
from datamint.dataset.patch_region import PatchRegion
from datamint.dataset.processor_methods import ProcessorMethods
from datamint.dataset.regions import Region
from datamint.entities import Annotation
from datamint.exceptions import AnnotationError
from datamint.targets.encode import boxes_from_points, instances_to_semantic, multi_hot
from datamint.targets.merge import (
    MergeStrategy,
    empty_semantic,
    merge_categories,
    merge_image_labels,
    merge_semantic,
    staple_semantic,
)

__all__ = ["AnnotationProcessor", "Region"]


MaskSource = Callable[[Annotation], np.ndarray]  # annotation -> uint8 (N, H, W)


@dataclass(frozen=True)
class TargetOptions:
    """The dataset settings that shape targets."""

    return_segmentations: bool = True
    return_boxes: bool = False
    semantic: bool = False
    semantic_merge: MergeStrategy | None = None
    image_labels_merge: MergeStrategy | None = None
    image_categories_merge: MergeStrategy | None = None


def _describe(ann: Annotation) -> str:
    return f"annotation {ann.id} ({ann.identifier!r} by {ann.author}) on resource {ann.resource_id}"


class AnnotationProcessor(ProcessorMethods):
    """Builds the target keys of one item, and exposes each step on its own.

    The item path uses :meth:`instances` (each author's masks inside a region) and
    :meth:`encode_segmentations`. The public methods named after the existing client's
    (``load_segmentations``, ``apply_merge_strategy``, ``convert_image_labels`` ...)
    work on whole resources and accept numpy arrays or torch tensors alike.

    Args:
        schema: Codes of classes, labels and categories.
        options: Which keys to build and how to merge (default: instance masks, no merge).
        mask_loader: Loads an annotation's binary ``(N, H, W)`` mask; needed by the
            ``load_*`` methods (datasets pass their cached loader).
    """

    def __init__(
        self,
        schema: LabelSchema,
        options: TargetOptions | None = None,
        mask_loader: MaskSource | None = None,
    ) -> None:
        self.schema = schema
        self.options = options or TargetOptions()
        self.mask_loader = mask_loader

    # -- segmentations ----------------------------------------------------------------
    def instances(
        self,
        annotations: Sequence[Annotation],
        dhw: Sequence[int],
        region: Region,
        masks: MaskSource,
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]]]:
        """Each author's instance masks inside ``region``, and their 1-based codes.

        Order within an author: frame-scoped groups first, one instance
        per ``(author, identifier)`` with the group's frames placed at their
        ``frame_index`` (frames of one group on the same index are OR-ed), then
        image-scoped annotations in response order.

        Args:
            annotations: The item's annotations after filtering.
            dhw: The resource's ``(D, H, W)``.
            region: The part of the resource the item shows.
            masks: Loads an annotation's binary ``(N, H, W)`` mask.

        Returns:
            ``(author -> list of uint8 masks of region.spatial_shape(dhw),
            author -> list of codes)``; authors without segmentations are absent.

        Raises:
            AnnotationError: If a mask's shape does not fit the resource, or a frame
                index is out of range; names the annotation.
        """
        segs = [a for a in annotations if a.is_segmentation]
        groups: dict[tuple[str, str], list[Annotation]] = {}
        image_scoped: list[Annotation] = []
        for ann in segs:
            if ann.frame_index is None:
                image_scoped.append(ann)
            else:
                groups.setdefault((ann.author, ann.identifier), []).append(ann)
        out: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}

        def add(author: str, identifier: str, mask: np.ndarray, ann: Annotation) -> None:
            code = self.schema.segmentation_code(identifier)
            if code is None:
                raise AnnotationError(
                    f"{_describe(ann)}: {identifier!r} is not a segmentation class"
                )
            out.setdefault(author, []).append(mask)
            codes.setdefault(author, []).append(code)

        for (author, identifier), members in groups.items():
            add(author, identifier, self._frame_group(members, dhw, region, masks), members[0])
        for ann in image_scoped:
            full = masks(ann)
            if tuple(full.shape) != tuple(dhw):
                raise AnnotationError(
                    f"{_describe(ann)}: mask shape (N, H, W) = {tuple(full.shape)} does not match "
                    f"the resource's {tuple(dhw)}"
                )
            cut = region.take(full)  # a patch's is already a new uint8 array
            if not isinstance(region, PatchRegion):
                cut = fresh_array(cut, np.uint8)
            add(ann.author, ann.identifier, cut, ann)
        return out, codes

    @staticmethod
    def _frame_group(
        members: Sequence[Annotation], dhw: Sequence[int], region: Region, masks: MaskSource
    ) -> np.ndarray:
        depth, height, width = dhw
        patch = region if isinstance(region, PatchRegion) else None
        anatomical = region.view is not None  # place frames in the stored volume, then cut
        out = np.zeros(tuple(dhw) if anatomical else region.spatial_shape(dhw), dtype=np.uint8)
        for ann in members:
            frame = masks(ann)
            if frame.shape != (1, height, width):
                raise AnnotationError(
                    f"{_describe(ann)}: a frame mask must be (1, {height}, {width}), "
                    f"got {tuple(frame.shape)}"
                )
            index = ann.frame_index
            assert index is not None
            if not 0 <= index < depth:
                raise AnnotationError(
                    f"{_describe(ann)}: frame_index {index} is outside the resource's "
                    f"{depth} frames"
                )
            frame2d = frame[0]
            if patch is not None:  # the frame's rows and columns inside the patch, if any
                k = index - patch.start[0]
                if 0 <= k < patch.size[0]:
                    out[k] |= patch.take_plane(frame2d)
            elif region.axis is None or anatomical:
                out[index] |= frame2d
            elif region.axis == 0:
                if index == region.index:
                    out |= frame2d
            elif region.axis == 1:
                out[index] |= frame2d[region.index]
            else:
                out[index] |= frame2d[:, region.index]
        return fresh_array(region.take(out)) if anatomical else out

    def encode_segmentations(
        self,
        instances: Mapping[str, Sequence[np.ndarray]],
        codes: Mapping[str, Sequence[int]],
        spatial: Sequence[int],
    ) -> dict[str, Any]:
        """Encode instance masks as the ``masks`` (and ``mask_labels``) keys.

        Args:
            instances: author -> masks of shape ``spatial`` (after any transform).
            codes: author -> 1-based codes, parallel to ``instances``.
            spatial: The item's spatial shape (used when there is no mask at all).

        Returns:
            Instance mode: ``{"masks": {author: uint8 (N, *spatial)}, "mask_labels":
            {author: int32 (N,)}}`` (``mask_labels`` absent when there is no mask).
            Semantic: ``{"masks": {author: float32 (L+1, *spatial)}}``. Merged:
            ``{"masks": torch.float32 (L+1, *spatial)}``.
        """
        n_classes = len(self.schema.segmentation_classes)
        stacked = {
            a: np.stack([np.asarray(m, dtype=np.uint8) for m in ms])
            for a, ms in instances.items()
            if len(ms)
        }
        if not self.options.semantic:
            if not stacked:
                return {"masks": {}}
            return {
                "masks": stacked,
                "mask_labels": {a: np.asarray(codes[a], dtype=np.int32) for a in stacked},
            }
        semantic = {a: instances_to_semantic(m, codes[a], n_classes) for a, m in stacked.items()}
        strategy = self.options.semantic_merge
        if strategy is None:
            return {"masks": semantic}
        if not semantic:
            return {"masks": empty_semantic(n_classes, spatial)}
        if strategy is MergeStrategy.STAPLE:
            estimate = staple_semantic(semantic, n_classes)
            return {"masks": estimate.probabilities, "staple": estimate}
        return {"masks": merge_semantic(semantic, strategy, n_classes)}

    # -- labels, categories, boxes -----------------------------------------------------
    def image_labels(self, annotations: Sequence[Annotation]) -> Any:
        """``image_labels`` from image-scoped ``label`` annotations."""
        names = self.schema.image_labels
        per_user: dict[str, list[int]] = {}
        for ann in annotations:
            if (
                ann.annotation_type == "label"
                and ann.frame_index is None
                and ann.identifier in names
            ):
                per_user.setdefault(ann.created_by or "unknown", []).append(
                    names.index(ann.identifier)
                )
        vectors = {user: multi_hot(sorted(set(idx)), len(names)) for user, idx in per_user.items()}
        strategy = self.options.image_labels_merge
        if strategy is None:
            return vectors
        return merge_image_labels(vectors, strategy, len(names))

    def image_categories(self, annotations: Sequence[Annotation]) -> Any:
        """``image_categories``: the first category of each user counts."""
        categories = self.schema.categories
        per_user: dict[str, int] = {}
        for ann in annotations:
            if ann.annotation_type != "category" or ann.frame_index is not None:
                continue
            pair = (ann.identifier, str(ann.text_value))
            user = ann.created_by or "unknown"
            if pair in categories and user not in per_user:
                per_user[user] = categories.index(pair)
        strategy = self.options.image_categories_merge
        if strategy is None:
            return {user: torch.tensor(idx, dtype=torch.int64) for user, idx in per_user.items()}
        return merge_categories(per_user, strategy, len(categories))

    def boxes(self, annotations: Sequence[Annotation], region: Region) -> dict[str, torch.Tensor]:
        """``boxes`` / ``box_labels`` from ``square`` annotations (pixels, pascal_voc).

        On an axial slice, frame-scoped boxes count only on their own frame.
        """
        classes = self.schema.box_classes
        points, labels = [], []
        for ann in annotations:
            if ann.annotation_type != "square" or ann.identifier not in classes:
                continue
            if region.axis == 0 and ann.frame_index not in (None, region.index):
                continue
            pts = (ann.geometry or {}).get("points")
            if not pts or len(pts) < 2:
                raise AnnotationError(
                    f"{_describe(ann)}: a square needs geometry.points [[x1,y1,z],[x2,y2,z]]"
                )
            points.append(pts)
            labels.append(classes.index(ann.identifier))
        boxes, box_labels = boxes_from_points(points, labels)
        return {"boxes": boxes, "box_labels": box_labels}
