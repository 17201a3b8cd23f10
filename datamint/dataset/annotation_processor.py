"""``AnnotationProcessor``: the existing client's processor methods, over the item path's own.

Every method delegates to :class:`~datamint.dataset.item_targets.ItemTargets` (which
builds items) or to :mod:`datamint.targets`: mask order, codes, frame placement, labels
and merges have one implementation, the one items use. The ``load_*`` methods work on
whole resources; the conversions accept numpy arrays or torch tensors and return the type
they were given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from datamint.dataset.item_targets import (
    ItemTargets,
    Labels,
    MaskSource,
    TargetOptions,
    describe,
)
from datamint.dataset.label_schema import LabelSchema
from datamint.dataset.regions import Region
from datamint.entities import Annotation, Resource
from datamint.exceptions import AnnotationError
from datamint.targets.encode import instances_to_semantic
from datamint.targets.merge import (
    MergeStrategy,
    empty_semantic,
    merge_categories,
    merge_image_labels,
    merge_semantic,
)

__all__ = ["AnnotationProcessor", "Region", "TargetOptions"]

AnnotationMasks = Callable[[Annotation], np.ndarray]
"""Loads an annotation's file as a binary uint8 ``(N, H, W)`` mask."""


class AnnotationProcessor:
    """Builds the target keys of one item, and exposes each step on its own.

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
        mask_loader: AnnotationMasks | None = None,
    ) -> None:
        self.schema = schema
        self.options = options or TargetOptions()
        self.mask_loader = mask_loader
        source: MaskSource | None = None
        if mask_loader is not None:

            def source(ann: Annotation, resource: Resource | None) -> np.ndarray:
                return np.asarray(mask_loader(ann), dtype=np.uint8)

        self.targets = ItemTargets(schema, self.options, source)

    # -- the item path ----------------------------------------------------------------
    def instances(
        self,
        annotations: Sequence[Annotation],
        dhw: Sequence[int],
        region: Region,
        resource: Resource | AnnotationMasks | None = None,
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]]]:
        """Each author's instance masks inside ``region`` and their codes (see
        :meth:`datamint.dataset.item_targets.ItemTargets.instances`).

        Args:
            annotations: The item's annotations after filtering.
            dhw: The resource's ``(D, H, W)``.
            region: The part of the resource the item shows.
            resource: The annotated resource, or (as before) a callable loading an
                annotation's binary ``(N, H, W)`` mask; None uses ``mask_loader``.
        """
        if callable(resource):
            loads = resource

            def source(ann: Annotation, _: Resource | None) -> np.ndarray:
                return np.asarray(loads(ann), dtype=np.uint8)

            return ItemTargets(self.schema, self.options, source).instances(
                annotations, dhw, region
            )
        return self.targets.instances(annotations, dhw, region, resource)

    def encode_segmentations(
        self,
        instances: Mapping[str, Sequence[np.ndarray]],
        codes: Mapping[str, Sequence[int]],
        spatial: Sequence[int],
    ) -> dict[str, Any]:
        """See :meth:`ItemTargets.encode_segmentations
        <datamint.dataset.item_targets.ItemTargets.encode_segmentations>`."""
        return self.targets.encode_segmentations(instances, codes, spatial)

    def image_labels(self, annotations: Sequence[Annotation]) -> Labels:
        """``image_labels`` (per user int32 multi-hot, or merged)."""
        return self.targets.image_labels(annotations)

    def image_categories(self, annotations: Sequence[Annotation]) -> Labels:
        """``image_categories`` (per user int64 index, or merged)."""
        return self.targets.image_categories(annotations)

    def boxes(self, annotations: Sequence[Annotation], region: Region) -> dict[str, torch.Tensor]:
        """``boxes`` / ``box_labels`` from ``square`` annotations (pixels, pascal_voc)."""
        return self.targets.boxes(annotations, region)

    # -- the existing client's helpers --------------------------------------------------
    @staticmethod
    def get_author(ann: Annotation) -> str:
        """``created_by``, falling back to ``created_by_model``, then ``"unknown"``."""
        return ann.author

    def resolve_seg_code(self, identifier: str) -> int:
        """1-based code of a segmentation class.

        Raises:
            AnnotationError: If ``identifier`` is not a class of the schema.
        """
        code = self.schema.segmentation_code(identifier)
        if code is None:
            raise AnnotationError(
                f"{identifier!r} is not a segmentation class; the classes are "
                f"{list(self.schema.segmentation_classes)}"
            )
        return code

    @staticmethod
    def filter_annotations(
        annotations: Sequence[Annotation], type: str = "all", scope: str = "all"
    ) -> list[Annotation]:
        """Annotations of one ``type`` (``label``, ``category``, ``segmentation``,
        ``square`` or ``all``) and ``scope`` (``image``, ``frame`` or ``all``).

        Raises:
            ValueError: For another type or scope.
        """
        if type not in ("label", "category", "segmentation", "square", "all"):
            raise ValueError(
                f"type={type!r} is not one of label, category, segmentation, square, all"
            )
        if scope not in ("image", "frame", "all"):
            raise ValueError(f"scope={scope!r} is not one of image, frame, all")
        return [
            a
            for a in annotations
            if (type == "all" or a.annotation_type == type) and (scope == "all" or a.scope == scope)
        ]

    @staticmethod
    def group_annotations(
        annotations: Iterable[Annotation], by_author: bool = False, by_identifier: bool = False
    ) -> dict[tuple[str, ...], list[Annotation]]:
        """Group annotations by ``(author,)``, ``(identifier,)`` or ``(author, identifier)``.

        Raises:
            ValueError: If neither criterion is set.
        """
        if not (by_author or by_identifier):
            raise ValueError("group_annotations needs by_author and/or by_identifier")
        groups: dict[tuple[str, ...], list[Annotation]] = {}
        for ann in annotations:
            key = ((ann.author,) if by_author else ()) + (
                (ann.identifier,) if by_identifier else ()
            )
            groups.setdefault(key, []).append(ann)
        return groups

    # -- whole-resource masks -----------------------------------------------------------
    def load_segmentation_data(self, ann: Annotation) -> np.ndarray:
        """The annotation's file as a binary uint8 ``(N, H, W)`` mask (N = 1 for a frame).

        Raises:
            AnnotationError: If ``ann`` is not a segmentation or no mask loader was given.
        """
        if not ann.is_segmentation:
            raise AnnotationError(
                f"{describe(ann)} is a {ann.annotation_type!r}, not a segmentation"
            )
        if self.mask_loader is None:
            raise AnnotationError(
                "this AnnotationProcessor has no mask_loader; build it from a dataset"
            )
        return np.asarray(self.mask_loader(ann), dtype=np.uint8)

    def _whole(
        self, annotations: Sequence[Annotation], depth: int, frame_scoped: bool | None
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[Any]]]:
        """The item path's instances over the whole resource (only frame groups, only
        image-scoped ones, or both when ``frame_scoped`` is None), with their
        annotations: a frame group's list, or the image-scoped annotation."""
        plan = self.targets.plan(list(annotations))
        chosen = [
            i for i in plan.instances if frame_scoped is None or i.frame_scoped == frame_scoped
        ]
        if not chosen:
            return {}, {}, {}
        first = self.load_segmentation_data(chosen[0].annotations[0])
        dhw = (depth if chosen[0].frame_scoped else first.shape[0], *first.shape[1:])
        kept = [a for i in chosen for a in i.annotations]
        masks, codes = self.targets.instances(kept, dhw, Region())
        metas: dict[str, list[Any]] = {}
        for instance in chosen:
            group = list(instance.annotations)
            metas.setdefault(instance.author, []).append(
                group if instance.frame_scoped else group[0]
            )
        return masks, codes, metas

    def collate_frame_segmentations(
        self, fr_anns: Sequence[Annotation], depth: int
    ) -> tuple[np.ndarray | None, int]:
        """Frame masks of one ``(author, identifier)`` group in a zero ``(depth, H, W)`` volume.

        Masks on the same frame are OR-ed.

        Returns:
            ``(uint8 (depth, H, W) or None when the group is empty, code)``.

        Raises:
            AnnotationError: On mixed identifiers, a bad shape or a frame out of range.
        """
        if not fr_anns:
            return None, -1
        codes = {self.resolve_seg_code(a.identifier) for a in fr_anns}
        if len(codes) > 1:
            raise AnnotationError(
                f"frame annotations of one group have different codes {sorted(codes)}"
            )
        _, height, width = self.load_segmentation_data(fr_anns[0]).shape
        volume = self.targets._frame_group(fr_anns, (depth, height, width), Region(), None)
        return volume, codes.pop()

    def load_image_segmentations(
        self, annotations: Iterable[Annotation]
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[Annotation]]]:
        """Image-scoped segmentations per author: ``(masks (N, H, W), codes, annotations)``."""
        masks, codes, metas = self._whole(list(annotations), 0, False)
        return masks, codes, metas

    def load_frame_segmentations(
        self, annotations: Iterable[Annotation], depth: int
    ) -> tuple[
        dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[list[Annotation]]]
    ]:
        """Frame-scoped segmentations per author, one ``(depth, H, W)`` instance per identifier."""
        masks, codes, metas = self._whole(list(annotations), depth, True)
        return masks, codes, metas

    def load_segmentations(
        self, annotations: Iterable[Annotation], depth: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[Any]]]:
        """Every segmentation per author, frame groups first, as items
        hold them.

        Returns:
            ``(author -> uint8 (N, depth, H, W), author -> int32 (N,), author -> per
            instance its annotation, or a frame group's list of them)``.
        """
        masks, codes, metas = self._whole(list(annotations), depth, None)
        return (
            {a: np.stack(m).astype(np.uint8, copy=False) for a, m in masks.items()},
            {a: np.asarray(c, dtype=np.int32) for a, c in codes.items()},
            metas,
        )

    # -- conversions and merges ----------------------------------------------------------
    def instance_to_semantic_segmentation(
        self,
        segmentations: np.ndarray | torch.Tensor,
        seg_labels: np.ndarray | torch.Tensor | Sequence[int],
        num_labels: int | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Instances ``(N, *spatial)`` and codes ``(N,)`` -> one-hot ``(L+1, *spatial)`` float32.

        Returns the input's type (ndarray or tensor).
        """
        n = len(self.schema.segmentation_classes) if num_labels is None else num_labels
        as_tensor = isinstance(segmentations, torch.Tensor)
        masks = (
            segmentations.cpu().numpy()
            if isinstance(segmentations, torch.Tensor)
            else segmentations
        )
        codes = seg_labels.cpu().numpy() if isinstance(seg_labels, torch.Tensor) else seg_labels
        out = instances_to_semantic(np.asarray(masks, dtype=np.uint8), np.asarray(codes), n)
        return torch.from_numpy(out) if as_tensor else out

    def apply_merge_strategy(
        self,
        segmentations: Mapping[str, Any],
        strategy: str,
        output_shape: Sequence[int] | None = None,
    ) -> np.ndarray | torch.Tensor:
        """Merge per-author semantic masks ``(L+1, *spatial)``.

        Args:
            segmentations: author -> ndarray or tensor.
            strategy: ``'union'``, ``'intersection'`` or ``'mode'``.
            output_shape: ``(L+1, *spatial)`` for the all-background result when empty.

        Returns:
            float32, the inputs' type (a tensor when empty).

        Raises:
            ValueError: If empty and ``output_shape`` is None, or the strategy is unknown.
        """
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        if not segmentations:
            if output_shape is None:
                raise ValueError("output_shape is needed when no author has a segmentation")
            return empty_semantic(output_shape[0] - 1, output_shape[1:])
        first = next(iter(segmentations.values()))
        arrays = {
            a: np.asarray(m.cpu() if isinstance(m, torch.Tensor) else m)
            for a, m in segmentations.items()
        }
        merged = merge_semantic(arrays, rule, first.shape[0] - 1)
        return merged if isinstance(first, torch.Tensor) else merged.numpy()

    def convert_image_labels(self, annotations: Sequence[Annotation]) -> dict[str, torch.Tensor]:
        """Per user, the int32 multi-hot of image-scoped labels.

        Keys: ``created_by``, or ``"unknown"``.
        """
        options = replace(self.options, image_labels_merge=None)
        labels = ItemTargets(self.schema, options).image_labels(list(annotations))
        assert isinstance(labels, dict)
        return labels

    def convert_image_categories(
        self, annotations: Sequence[Annotation]
    ) -> dict[str, torch.Tensor]:
        """Per user, the int64 scalar index of their first image-scoped category."""
        options = replace(self.options, image_categories_merge=None)
        categories = ItemTargets(self.schema, options).image_categories(list(annotations))
        assert isinstance(categories, dict)
        return categories

    def merge_image_labels(self, labels: Mapping[str, torch.Tensor], strategy: str) -> torch.Tensor:
        """Merge per-user multi-hot labels; int32 ``(n_labels,)``."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_image_labels(labels, rule, len(self.schema.image_labels))

    def merge_image_categories(
        self, categories: Mapping[str, int | torch.Tensor], strategy: str
    ) -> torch.Tensor:
        """Merge per-user category indices: ``mode`` -> int64 scalar, else multi-hot."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_categories(
            {u: int(v) for u, v in categories.items()}, rule, len(self.schema.categories)
        )
