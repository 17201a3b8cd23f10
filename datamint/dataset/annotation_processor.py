"""One item's annotations to its target keys (contract §7.3 and §8).

:class:`AnnotationProcessor` gathers each author's instance masks for a region of
the resource (the whole volume, one slice, or the single frame of a 2-D image),
then encodes them (instance, semantic, or merged semantic), and builds the image
labels, categories and boxes. Mask math lives in :mod:`datamint.targets`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from datamint.dataset.label_schema import LabelSchema
from datamint.entities import Annotation
from datamint.exceptions import AnnotationError
from datamint.targets.encode import boxes_from_points, instances_to_semantic, multi_hot
from datamint.targets.merge import (
    MergeStrategy,
    empty_semantic,
    merge_categories,
    merge_image_labels,
    merge_semantic,
)

__all__ = ["AnnotationProcessor", "Region"]

AXIS_NAMES = ("axial", "coronal", "sagittal")


@dataclass(frozen=True)
class Region:
    """Which part of a ``(D, H, W)`` resource an item shows.

    Attributes:
        axis: None for the whole volume; 0 (axial, depth), 1 (coronal, height) or 2
            (sagittal, width) for one slice.
        index: The slice index along ``axis``.
    """

    axis: int | None = None
    index: int = 0

    def spatial_shape(self, dhw: Sequence[int]) -> tuple[int, ...]:
        """The item's spatial shape for a resource of shape ``dhw``."""
        if self.axis is None:
            return tuple(dhw)
        return tuple(n for i, n in enumerate(dhw) if i != self.axis)

    def take(self, array: np.ndarray) -> np.ndarray:
        """Cut this region from an array whose last three axes are ``(D, H, W)``."""
        if self.axis is None:
            return np.asarray(array)
        return np.take(array, self.index, axis=array.ndim - 3 + self.axis)


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


class AnnotationProcessor:
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

        Order within an author (contract §7.3): frame-scoped groups first, one instance
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
                raise AnnotationError(f"{_describe(ann)}: {identifier!r} is not a segmentation class")
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
            add(ann.author, ann.identifier, np.array(region.take(full), dtype=np.uint8), ann)
        return out, codes

    @staticmethod
    def _frame_group(
        members: Sequence[Annotation], dhw: Sequence[int], region: Region, masks: MaskSource
    ) -> np.ndarray:
        depth, height, width = dhw
        out = np.zeros(region.spatial_shape(dhw), dtype=np.uint8)
        for ann in members:
            frame = masks(ann)
            if frame.shape != (1, height, width):
                raise AnnotationError(
                    f"{_describe(ann)}: a frame mask must be (1, {height}, {width}), got {tuple(frame.shape)}"
                )
            index = ann.frame_index
            assert index is not None
            if not 0 <= index < depth:
                raise AnnotationError(
                    f"{_describe(ann)}: frame_index {index} is outside the resource's {depth} frames"
                )
            frame2d = frame[0]
            if region.axis is None:
                out[index] |= frame2d
            elif region.axis == 0:
                if index == region.index:
                    out |= frame2d
            elif region.axis == 1:
                out[index] |= frame2d[region.index]
            else:
                out[index] |= frame2d[:, region.index]
        return out

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
            a: np.stack([np.asarray(m, dtype=np.uint8) for m in ms]) for a, ms in instances.items() if len(ms)
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
        return {"masks": merge_semantic(semantic, strategy, n_classes)}

    # -- labels, categories, boxes -----------------------------------------------------
    def image_labels(self, annotations: Sequence[Annotation]) -> Any:
        """``image_labels`` of contract §7.3 from image-scoped ``label`` annotations."""
        names = self.schema.image_labels
        per_user: dict[str, list[int]] = {}
        for ann in annotations:
            if ann.annotation_type == "label" and ann.frame_index is None and ann.identifier in names:
                per_user.setdefault(ann.created_by or "unknown", []).append(names.index(ann.identifier))
        vectors = {user: multi_hot(sorted(set(idx)), len(names)) for user, idx in per_user.items()}
        strategy = self.options.image_labels_merge
        if strategy is None:
            return vectors
        return merge_image_labels(vectors, strategy, len(names))

    def image_categories(self, annotations: Sequence[Annotation]) -> Any:
        """``image_categories`` of contract §7.3: the first category of each user counts."""
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
                raise AnnotationError(f"{_describe(ann)}: a square needs geometry.points [[x1,y1,z],[x2,y2,z]]")
            points.append(pts)
            labels.append(classes.index(ann.identifier))
        boxes, box_labels = boxes_from_points(points, labels)
        return {"boxes": boxes, "box_labels": box_labels}

    # -- the existing client's public methods ------------------------------------------
    @staticmethod
    def get_author(ann: Annotation) -> str:
        """``created_by``, falling back to ``created_by_model``, then ``"unknown"`` (§7.1)."""
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
        annotations: Sequence[Annotation], type: str = "all", scope: str = "all"  # noqa: A002
    ) -> list[Annotation]:
        """Annotations of one ``type`` (``label``, ``category``, ``segmentation`` or ``all``)
        and ``scope`` (``image``, ``frame`` or ``all``).

        Raises:
            ValueError: For another type or scope.
        """
        if type not in ("label", "category", "segmentation", "square", "all"):
            raise ValueError(f"type={type!r} is not one of label, category, segmentation, square, all")
        if scope not in ("image", "frame", "all"):
            raise ValueError(f"scope={scope!r} is not one of image, frame, all")
        return [
            a for a in annotations
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
            key = ((ann.author,) if by_author else ()) + ((ann.identifier,) if by_identifier else ())
            groups.setdefault(key, []).append(ann)
        return groups

    def load_segmentation_data(self, ann: Annotation) -> np.ndarray:
        """The annotation's file as a binary uint8 ``(N, H, W)`` mask (N = 1 for a frame).

        Raises:
            AnnotationError: If ``ann`` is not a segmentation or no mask loader was given.
        """
        if not ann.is_segmentation:
            raise AnnotationError(f"{_describe(ann)} is a {ann.annotation_type!r}, not a segmentation")
        if self.mask_loader is None:
            raise AnnotationError("this AnnotationProcessor has no mask_loader; build it from a dataset")
        return np.asarray(self.mask_loader(ann), dtype=np.uint8)

    def collate_frame_segmentations(
        self, fr_anns: Sequence[Annotation], depth: int
    ) -> tuple[np.ndarray | None, int]:
        """Frame masks of one ``(author, identifier)`` group in a zero ``(depth, H, W)`` volume.

        Masks on the same frame are OR-ed (one rule everywhere, contract §14).

        Returns:
            ``(uint8 (depth, H, W) or None when the group is empty, code)``.

        Raises:
            AnnotationError: On mixed identifiers, a bad shape or a frame out of range.
        """
        if not fr_anns:
            return None, -1
        codes = {self.resolve_seg_code(a.identifier) for a in fr_anns}
        if len(codes) > 1:
            raise AnnotationError(f"frame annotations of one group have different codes {sorted(codes)}")
        _, height, width = self.load_segmentation_data(fr_anns[0]).shape
        volume = self._frame_group(fr_anns, (depth, height, width), Region(), self.load_segmentation_data)
        return volume, codes.pop()

    def load_image_segmentations(
        self, annotations: Iterable[Annotation]
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[Annotation]]]:
        """Image-scoped segmentations per author: ``(masks (N, H, W), codes, annotations)``."""
        segs: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        anns: dict[str, list[Annotation]] = {}
        for ann in self.filter_annotations(list(annotations), "segmentation", "image"):
            segs.setdefault(ann.author, []).append(self.load_segmentation_data(ann))
            codes.setdefault(ann.author, []).append(self.resolve_seg_code(ann.identifier))
            anns.setdefault(ann.author, []).append(ann)
        return segs, codes, anns

    def load_frame_segmentations(
        self, annotations: Iterable[Annotation], depth: int
    ) -> tuple[dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[list[Annotation]]]]:
        """Frame-scoped segmentations per author, one ``(depth, H, W)`` instance per identifier."""
        segs: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        anns: dict[str, list[list[Annotation]]] = {}
        frame_anns = self.filter_annotations(list(annotations), "segmentation", "frame")
        for (author, _), group in self.group_annotations(frame_anns, by_author=True, by_identifier=True).items():
            volume, code = self.collate_frame_segmentations(group, depth)
            if volume is not None:
                segs.setdefault(author, []).append(volume)
                codes.setdefault(author, []).append(code)
                anns.setdefault(author, []).append(group)
        return segs, codes, anns

    def load_segmentations(
        self, annotations: Iterable[Annotation], depth: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[Any]]]:
        """Every segmentation per author, frame groups first (contract §7.3).

        Returns:
            ``(author -> uint8 (N, depth, H, W), author -> int32 (N,), author -> annotations)``.
        """
        annotations = list(annotations)
        fsegs, fcodes, fanns = self.load_frame_segmentations(annotations, depth)
        isegs, icodes, ianns = self.load_image_segmentations(annotations)
        masks: dict[str, np.ndarray] = {}
        labels: dict[str, np.ndarray] = {}
        metas: dict[str, list[Any]] = {}
        for author in dict.fromkeys([*fsegs, *isegs]):
            masks[author] = np.stack(fsegs.get(author, []) + isegs.get(author, []))
            labels[author] = np.asarray(fcodes.get(author, []) + icodes.get(author, []), dtype=np.int32)
            metas[author] = fanns.get(author, []) + ianns.get(author, [])
        return masks, labels, metas

    def instance_to_semantic_segmentation(
        self, segmentations: np.ndarray | torch.Tensor, seg_labels: Any, num_labels: int | None = None
    ) -> np.ndarray | torch.Tensor:
        """Instances ``(N, *spatial)`` and codes ``(N,)`` -> one-hot ``(L+1, *spatial)`` float32.

        Returns the input's type (ndarray or tensor).
        """
        n = len(self.schema.segmentation_classes) if num_labels is None else num_labels
        as_tensor = isinstance(segmentations, torch.Tensor)
        out = instances_to_semantic(
            np.asarray(segmentations.cpu() if as_tensor else segmentations, dtype=np.uint8),
            np.asarray(seg_labels.cpu() if isinstance(seg_labels, torch.Tensor) else seg_labels),
            n,
        )
        return torch.from_numpy(out) if as_tensor else out

    def apply_merge_strategy(
        self, segmentations: Mapping[str, Any], strategy: str, output_shape: Sequence[int] | None = None
    ) -> np.ndarray | torch.Tensor:
        """Merge per-author semantic masks ``(L+1, *spatial)`` with ``union``/``intersection``/``mode`` (§8.1).

        Args:
            segmentations: author -> ndarray or tensor.
            strategy: The rule.
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
        arrays = {a: np.asarray(m.cpu() if isinstance(m, torch.Tensor) else m) for a, m in segmentations.items()}
        merged = merge_semantic(arrays, rule, first.shape[0] - 1)
        return merged if isinstance(first, torch.Tensor) else merged.numpy()

    def convert_image_labels(self, annotations: Sequence[Annotation]) -> dict[str, torch.Tensor]:
        """Per user, the int32 multi-hot of image-scoped labels (keys: ``created_by`` or ``"unknown"``)."""
        unmerged = AnnotationProcessor(self.schema, replace(self.options, image_labels_merge=None))
        return unmerged.image_labels(annotations)

    def convert_image_categories(self, annotations: Sequence[Annotation]) -> dict[str, torch.Tensor]:
        """Per user, the int64 scalar index of their first image-scoped category."""
        unmerged = AnnotationProcessor(self.schema, replace(self.options, image_categories_merge=None))
        return unmerged.image_categories(annotations)

    def merge_image_labels(self, labels: Mapping[str, torch.Tensor], strategy: str) -> torch.Tensor:
        """Merge per-user multi-hot labels (§8.2); int32 ``(n_labels,)``."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_image_labels(labels, rule, len(self.schema.image_labels))

    def merge_image_categories(self, categories: Mapping[str, Any], strategy: str) -> torch.Tensor:
        """Merge per-user category indices (§8.3): ``mode`` -> int64 scalar, else int32 multi-hot."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_categories({u: int(v) for u, v in categories.items()}, rule, len(self.schema.categories))
