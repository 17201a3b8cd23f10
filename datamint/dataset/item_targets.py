"""One item's annotations to its target keys: the item path's own.

:class:`ItemTargets` reads a resource's annotations once into a :class:`TargetPlan` (which
instance masks, in which order and with which codes; the label and category vectors; the
boxes), kept per process for the resources read last, so the items of one volume (its
slices) only cut their region from masks already resolved. Mask math lives in
:mod:`datamint.targets`. The existing client's method names live on
:class:`~datamint.dataset.annotation_processor.AnnotationProcessor`, which delegates here.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from datamint.dataset.array_copy import fresh_array
from datamint.dataset.label_schema import LabelSchema
from datamint.dataset.patch_region import PatchRegion
from datamint.dataset.regions import Region
from datamint.entities import Annotation, Resource
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

__all__ = ["Instance", "ItemTargets", "MaskSource", "TargetOptions", "TargetPlan", "describe"]

MaskSource = Callable[[Annotation, "Resource | None"], np.ndarray]
"""``(annotation, its resource or None) -> binary uint8 (N, H, W)`` on the resource's grid."""

Labels = dict[str, torch.Tensor] | torch.Tensor


@dataclass(frozen=True)
class TargetOptions:
    """The dataset settings that shape targets."""

    return_segmentations: bool = True
    return_boxes: bool = False
    semantic: bool = False
    semantic_merge: MergeStrategy | None = None
    image_labels_merge: MergeStrategy | None = None
    image_categories_merge: MergeStrategy | None = None


def describe(ann: Annotation) -> str:
    """``annotation <id> ('<identifier>' by <author>) on resource <id>``, for messages."""
    return f"annotation {ann.id} ({ann.identifier!r} by {ann.author}) on resource {ann.resource_id}"


@dataclass(frozen=True)
class Instance:
    """One instance mask of an item: an image-scoped segmentation, or the frames of one
    ``(author, identifier)`` frame-scoped group.

    Attributes:
        author: Who drew it (``created_by``, else the model, else ``"unknown"``).
        code: The 1-based code of its class.
        annotations: The image-scoped annotation, or the group's frame annotations.
        frame_scoped: Whether it is a frame group.
    """

    author: str
    code: int
    annotations: tuple[Annotation, ...]
    frame_scoped: bool


@dataclass
class TargetPlan:
    """What one resource's annotations give every item of it, read once.

    Attributes:
        instances: In item order: frame-scoped groups (first-seen order), then
            image-scoped segmentations in response order; per author that puts its
            frame groups first.
        boxes: ``(frame_index or None, points, box class index)`` of each ``square``.
        labels: The ``image_labels`` value (built on first use).
        categories: The ``image_categories`` value (built on first use).
        masks: Per image-scoped instance, its whole mask on the resource's grid, once
            resolved for ``resource``.
        authors: The authors of the annotations (built on first use).
    """

    instances: tuple[Instance, ...]
    boxes: list[tuple[int | None, Any, int]] = field(default_factory=list)
    labels: Labels | None = None
    categories: Labels | None = None
    resource: Resource | None = None
    masks: list[np.ndarray] | None = None
    authors: frozenset[str] | None = None


def _copy(value: Labels) -> Labels:
    """A copy of a label value, so callers may change what an item holds."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    return {user: tensor.clone() for user, tensor in value.items()}


class ItemTargets:
    """Builds the target keys of items from their annotations.

    Args:
        schema: Codes of classes, labels and categories.
        options: Which keys to build and how to merge (default: instance masks, no merge).
        masks: Loads an annotation's binary ``(N, H, W)`` mask on its resource's grid.
        plans: Resources whose :class:`TargetPlan` is kept (per process).
    """

    def __init__(
        self,
        schema: LabelSchema,
        options: TargetOptions | None = None,
        masks: MaskSource | None = None,
        plans: int = 64,
    ) -> None:
        self.schema = schema
        self.options = options or TargetOptions()
        self.masks = masks
        self._plans: OrderedDict[int, tuple[tuple[Annotation, ...], TargetPlan]] = OrderedDict()
        self._plans_kept = plans

    # -- the plan ---------------------------------------------------------------------
    def plan(self, annotations: Sequence[Annotation]) -> TargetPlan:
        """The plan of a resource's annotations; kept when they come as a tuple (the
        dataset's), found again by identity.

        Raises:
            AnnotationError: If a segmentation's class is not in the schema, or a square
                has no two points; names the annotation.
        """
        if type(annotations) is not tuple:
            return self._make_plan(annotations)
        plans = self._plans
        key = id(annotations)
        entry = plans.get(key)
        if entry is not None and entry[0] is annotations:
            plans.move_to_end(key)
            return entry[1]
        plan = self._make_plan(annotations)
        plans[key] = (annotations, plan)
        if len(plans) > self._plans_kept:
            plans.popitem(last=False)
        return plan

    def _make_plan(self, annotations: Sequence[Annotation]) -> TargetPlan:
        groups: dict[tuple[str, str], list[Annotation]] = {}
        image_scoped: list[Annotation] = []
        box_classes = self.schema.box_classes
        boxes: list[tuple[int | None, Any, int]] = []
        for ann in annotations:
            kind = ann.annotation_type
            if kind == "segmentation":
                if ann.frame_index is None:
                    image_scoped.append(ann)
                else:
                    groups.setdefault((ann.author, ann.identifier), []).append(ann)
            elif kind == "square" and ann.identifier in box_classes:
                points = (ann.geometry or {}).get("points")
                if not points or len(points) < 2:
                    raise AnnotationError(
                        f"{describe(ann)}: a square needs geometry.points [[x1,y1,z],[x2,y2,z]]"
                    )
                boxes.append((ann.frame_index, points, box_classes.index(ann.identifier)))
        instances = [
            Instance(author, self._code(members[0]), tuple(members), True)
            for (author, _), members in groups.items()
        ]
        instances += [Instance(a.author, self._code(a), (a,), False) for a in image_scoped]
        return TargetPlan(tuple(instances), boxes)

    def _code(self, ann: Annotation) -> int:
        code = self.schema.segmentation_code(ann.identifier)
        if code is None:
            raise AnnotationError(
                f"{describe(ann)}: {ann.identifier!r} is not a segmentation class"
            )
        return code

    # -- segmentations ----------------------------------------------------------------
    def instances(
        self,
        annotations: Sequence[Annotation],
        dhw: Sequence[int],
        region: Region,
        resource: Resource | None = None,
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
            resource: The annotated resource (masks are put on its grid).

        Returns:
            ``(author -> list of uint8 masks of region.spatial_shape(dhw),
            author -> list of codes)``; authors without segmentations are absent.

        Raises:
            AnnotationError: If a mask's shape does not fit the resource, a frame index is
                out of range, or no mask source was given; names the annotation.
        """
        plan = self.plan(annotations)
        out: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        if not plan.instances:
            return out, codes
        full = plan.masks
        if full is None or plan.resource is not resource:
            full = self._whole_masks(plan, dhw, resource)
        if isinstance(region, PatchRegion):  # a patch's cut is already a new uint8 array
            cuts = [region.take(m) for m in full]
        else:  # views of the plan's masks: encode_segmentations stacks them into new arrays
            cuts = region.take_all(full) if full else []
        k = 0
        for instance in plan.instances:
            if instance.frame_scoped:
                mask = self._frame_group(instance.annotations, dhw, region, resource)
            else:
                mask = cuts[k]
                k += 1
            author = instance.author
            if author in out:
                out[author].append(mask)
                codes[author].append(instance.code)
            else:
                out[author] = [mask]
                codes[author] = [instance.code]
        return out, codes

    def _source(self) -> MaskSource:
        if self.masks is None:
            raise AnnotationError("no mask source was given: build the processor from a dataset")
        return self.masks

    def _whole_masks(
        self, plan: TargetPlan, dhw: Sequence[int], resource: Resource | None
    ) -> list[np.ndarray]:
        """Resolve (and keep in ``plan``) the whole masks of its image-scoped instances."""
        source = self._source()
        masks = []
        for instance in plan.instances:
            if instance.frame_scoped:
                continue
            ann = instance.annotations[0]
            mask = source(ann, resource)
            if tuple(mask.shape) != tuple(dhw):
                raise AnnotationError(
                    f"{describe(ann)}: mask shape (N, H, W) = {tuple(mask.shape)} does not "
                    f"match the resource's {tuple(dhw)}"
                )
            masks.append(mask)
        plan.masks, plan.resource = masks, resource
        return masks

    def _frame_group(
        self,
        members: Sequence[Annotation],
        dhw: Sequence[int],
        region: Region,
        resource: Resource | None,
    ) -> np.ndarray:
        """The frames of one group placed in a zero volume, cut to ``region``.

        Raises:
            AnnotationError: For a frame of the wrong shape or index.
        """
        source = self._source()
        depth, height, width = dhw
        patch = region if isinstance(region, PatchRegion) else None
        anatomical = region.view is not None  # place frames in the stored volume, then cut
        out = np.zeros(tuple(dhw) if anatomical else region.spatial_shape(dhw), dtype=np.uint8)
        for ann in members:
            frame = source(ann, resource)
            if frame.shape != (1, height, width):
                raise AnnotationError(
                    f"{describe(ann)}: a frame mask must be (1, {height}, {width}), "
                    f"got {tuple(frame.shape)}"
                )
            index = ann.frame_index
            assert index is not None
            if not 0 <= index < depth:
                raise AnnotationError(
                    f"{describe(ann)}: frame_index {index} is outside the resource's {depth} frames"
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
        stacked: dict[str, np.ndarray] = {}
        for author, masks in instances.items():
            if len(masks):
                stacked[author] = np.stack(masks).astype(np.uint8, copy=False)
        if not self.options.semantic:
            if not stacked:
                return {"masks": {}}
            labels = {}
            for author in stacked:
                labels[author] = np.asarray(codes[author], dtype=np.int32)
            return {"masks": stacked, "mask_labels": labels}
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

    def authors(self, annotations: Sequence[Annotation]) -> frozenset[str]:
        """The authors (``Annotation.author``) of ``annotations``, kept in their plan."""
        plan = self.plan(annotations)
        if plan.authors is None:
            plan.authors = frozenset(a.author for a in annotations)
        return plan.authors

    # -- labels, categories, boxes -----------------------------------------------------
    def image_labels(self, annotations: Sequence[Annotation]) -> Labels:
        """``image_labels`` from image-scoped ``label`` annotations: per
        user (``created_by`` or ``"unknown"``) an int32 multi-hot over
        ``schema.image_labels``, or their merge (``options.image_labels_merge``)."""
        plan = self.plan(annotations)
        if plan.labels is None:
            plan.labels = self._labels(annotations)
        return _copy(plan.labels)

    def _labels(self, annotations: Sequence[Annotation]) -> Labels:
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

    def image_categories(self, annotations: Sequence[Annotation]) -> Labels:
        """``image_categories``: the first category of each user counts;
        per user an int64 index into ``schema.categories``, or their merge."""
        plan = self.plan(annotations)
        if plan.categories is None:
            plan.categories = self._categories(annotations)
        return _copy(plan.categories)

    def _categories(self, annotations: Sequence[Annotation]) -> Labels:
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

        Raises:
            AnnotationError: If a square has no two points.
        """
        points, labels = [], []
        for frame_index, pts, label in self.plan(annotations).boxes:
            if region.axis == 0 and frame_index not in (None, region.index):
                continue
            points.append(pts)
            labels.append(label)
        boxes, box_labels = boxes_from_points(points, labels)
        return {"boxes": boxes, "box_labels": box_labels}
