"""The existing client's ``AnnotationProcessor`` methods, on whole resources (mixed into it).

They accept numpy arrays or torch tensors and return the type they were given. The
item path does not use them: it builds masks per region (see
:meth:`AnnotationProcessor.instances`), so a slice never loads a whole volume's masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from datamint.dataset.regions import Region
from datamint.entities import Annotation
from datamint.exceptions import AnnotationError
from datamint.targets.encode import instances_to_semantic
from datamint.targets.merge import (
    MergeStrategy,
    empty_semantic,
    merge_categories,
    merge_image_labels,
    merge_semantic,
)

if TYPE_CHECKING:
    from datamint.dataset.annotation_processor import MaskSource, TargetOptions
    from datamint.dataset.label_schema import LabelSchema

__all__ = ["ProcessorMethods"]


def _describe(ann: Annotation) -> str:
    return f"annotation {ann.id} ({ann.identifier!r} by {ann.author}) on resource {ann.resource_id}"


class ProcessorMethods:
    """get_author, resolve_seg_code, filter/group annotations, load_*, merges and conversions."""

    schema: LabelSchema
    options: TargetOptions
    mask_loader: MaskSource | None

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
        """Annotations of one ``type`` (``label``, ``category``, ``segmentation`` or ``all``)
        and ``scope`` (``image``, ``frame`` or ``all``).

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

    def load_segmentation_data(self, ann: Annotation) -> np.ndarray:
        """The annotation's file as a binary uint8 ``(N, H, W)`` mask (N = 1 for a frame).

        Raises:
            AnnotationError: If ``ann`` is not a segmentation or no mask loader was given.
        """
        if not ann.is_segmentation:
            raise AnnotationError(
                f"{_describe(ann)} is a {ann.annotation_type!r}, not a segmentation"
            )
        if self.mask_loader is None:
            raise AnnotationError(
                "this AnnotationProcessor has no mask_loader; build it from a dataset"
            )
        return np.asarray(self.mask_loader(ann), dtype=np.uint8)

    def collate_frame_segmentations(
        self, fr_anns: Sequence[Annotation], depth: int
    ) -> tuple[np.ndarray | None, int]:
        """Frame masks of one ``(author, identifier)`` group in a zero ``(depth, H, W)`` volume.

        Masks on the same frame are OR-ed (one rule in every dataset class).

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
        volume = self._frame_group(
            fr_anns, (depth, height, width), Region(), self.load_segmentation_data
        )  # type: ignore[attr-defined]
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
    ) -> tuple[
        dict[str, list[np.ndarray]], dict[str, list[int]], dict[str, list[list[Annotation]]]
    ]:
        """Frame-scoped segmentations per author, one ``(depth, H, W)`` instance per identifier."""
        segs: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        anns: dict[str, list[list[Annotation]]] = {}
        frame_anns = self.filter_annotations(list(annotations), "segmentation", "frame")
        for (author, _), group in self.group_annotations(
            frame_anns, by_author=True, by_identifier=True
        ).items():
            volume, code = self.collate_frame_segmentations(group, depth)
            if volume is not None:
                segs.setdefault(author, []).append(volume)
                codes.setdefault(author, []).append(code)
                anns.setdefault(author, []).append(group)
        return segs, codes, anns

    def load_segmentations(
        self, annotations: Iterable[Annotation], depth: int
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[Any]]]:
        """Every segmentation per author, frame groups first.

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
            labels[author] = np.asarray(
                fcodes.get(author, []) + icodes.get(author, []), dtype=np.int32
            )
            metas[author] = fanns.get(author, []) + ianns.get(author, [])
        return masks, labels, metas

    def instance_to_semantic_segmentation(
        self,
        segmentations: np.ndarray | torch.Tensor,
        seg_labels: Any,
        num_labels: int | None = None,
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
        return type(self)(self.schema, replace(self.options, image_labels_merge=None)).image_labels(
            annotations
        )  # type: ignore[call-arg,attr-defined]

    def convert_image_categories(
        self, annotations: Sequence[Annotation]
    ) -> dict[str, torch.Tensor]:
        """Per user, the int64 scalar index of their first image-scoped category."""
        return type(self)(
            self.schema, replace(self.options, image_categories_merge=None)
        ).image_categories(annotations)  # type: ignore[call-arg,attr-defined]

    def merge_image_labels(self, labels: Mapping[str, torch.Tensor], strategy: str) -> torch.Tensor:
        """Merge per-user multi-hot labels; int32 ``(n_labels,)``."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_image_labels(labels, rule, len(self.schema.image_labels))

    def merge_image_categories(self, categories: Mapping[str, Any], strategy: str) -> torch.Tensor:
        """Merge per-user category indices: ``mode`` -> int64 scalar, else multi-hot."""
        rule = MergeStrategy.parse(strategy, argument="strategy")
        assert rule is not None
        return merge_categories(
            {u: int(v) for u, v in categories.items()}, rule, len(self.schema.categories)
        )
