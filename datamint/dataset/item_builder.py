"""``ItemBuilder``: one item from a resource, its annotations and a region.

The builder is made once per process (per DataLoader worker) and holds what every item
of a dataset shares: the loader (caches and open volumes), one
:class:`~datamint.dataset.item_targets.ItemTargets`, and the per-volume
slice geometry. Building an item opens the volume once, reads the header once per
resource version (memoised by the loader), cuts the region, gathers each annotator's
masks for it, runs the transform, and assembles the keys of the item format:

``"standard"`` (default)
    ``image``, the target keys, ``spacing``, ``affine`` and, with ``return_metainfo``,
    ``metainfo`` = ``{"resource_id", "filename", "modality", "plane", "index"}`` (str,
    str, str, str, int; ``plane`` ``""`` and ``index`` -1 for whole resources and 2-D images;
    ``"patch"`` and the patch's number within its volume for 3-D patches).
    Only arrays, numbers and strings: every item pickles cheaply into and out of
    DataLoader workers, and fixed-shape items batch with torch's default collate.
``"client"``
    The existing Datamint client's keys: ``image``, ``metainfo`` (the reader's header:
    a pydicom ``Dataset`` without pixel data, the NIfTI header dict, None; on 2-D slices
    ``{"slice_axis", "slice_index", "parent", "geometry"}``), ``annotations`` (the
    ``Annotation`` entities), ``resource`` (the ``Resource``), the target keys, plus
    ``spacing`` and ``affine``.

3-D patches (a :class:`~datamint.dataset.patch_region.PatchRegion`) are read from the
volume's chunked layout (only the chunks they overlap), padded where they leave the volume
(image: the region's ``fill``, else the volume's minimum; masks: 0), and carry
``location``: int64 ``(6,)`` ``(d0, h0, w0, d1, h1, w1)`` in the stored volume's voxels.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from datamint.dataset.array_copy import fresh_array
from datamint.dataset.augment import TransformRunner
from datamint.dataset.collate import Item
from datamint.dataset.config import DatasetConfig
from datamint.dataset.item_geometry import (
    geometry_rule,
    identity_view,
    item_affine,
    spacing_of,
    transformed_affine,
)
from datamint.dataset.item_index import SliceSpec
from datamint.dataset.item_targets import ItemTargets
from datamint.dataset.label_schema import LabelSchema
from datamint.dataset.loading import ItemLoader
from datamint.dataset.patch_region import PatchRegion
from datamint.dataset.regions import Region
from datamint.dataset.worker_memory import keep_freed_memory_in_worker
from datamint.entities import Annotation, Resource
from datamint.exceptions import InvalidResourceError
from datamint.geometry import Geometry
from datamint.geometry_planes import plane_view
from datamint.storage.slice_cache import BOX
from datamint.targets.merge import SemanticStaple

__all__ = ["ItemBuilder"]


class ItemBuilder:
    """Builds the items of one dataset in one process.

    Args:
        config: The dataset's settings (item format, target options, metainfo).
        schema: The dataset's label schema.
        loader: This process's loader.
    """

    def __init__(
        self,
        config: DatasetConfig,
        schema: LabelSchema,
        loader: ItemLoader,
        annotators: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.annotators = annotators
        self._annotator_index = {a: i for i, a in enumerate(annotators)}
        self.loader = loader
        self.targets = ItemTargets(schema, config.targets, loader.mask_on_image)
        # (resource version, axis) -> (affine of slice 0, step of the origin per slice)
        self._slice_affines: dict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._rules: dict[int, str] = {}
        self._views: dict[tuple[Any, ...], Any] = {}  # (version, plane) -> PlaneView | None
        self._pid = 0  # the process this builder last built in (a fork inherits the builder)
        self._minima: dict[tuple[Any, ...], Any] = {}  # version -> minimum of a memory map

    def build(
        self,
        resource: Resource,
        annotations: tuple[Annotation, ...],
        region: Region,
        *,
        spec: SliceSpec | None = None,
        augment: TransformRunner | None = None,
        single_frame: bool = False,
    ) -> Item:
        """The item showing ``region`` of ``resource``.

        Args:
            resource: The resource.
            annotations: Its annotations after every filter.
            region: The whole resource, one slice (``Region(axis, index)``: for an
                anatomical ``spec``, ``index`` counts toward S, A or R), or a 3-D patch
                (``PatchRegion``).
            spec: What a sliced view cuts (None for whole resources and 2-D images);
                anatomical planes are resolved here from the resource's geometry.
            augment: The dataset's albumentations transform, if any.
            single_frame: Require one frame (2-D image datasets).

        Returns:
            An :class:`~datamint.dataset.collate.Item` (module docstring for the keys).

        Raises:
            InvalidResourceError: If a 2-D image has several frames, the file has fewer
                slices than its metadata promised, or another shape than a patch was
                drawn for.
            ReaderError, AnnotationError, DownloadError: From decoding and targets; they
                name the resource or annotation.
        """
        if self._pid != os.getpid():  # first item in this process (a DataLoader worker?)
            self._pid = os.getpid()
            keep_freed_memory_in_worker()
        loader = self.loader
        plane = "" if spec is None else spec.name
        if spec is not None and spec.anatomical:
            region = self._anatomical(resource, region, spec)
        patch_region = region if isinstance(region, PatchRegion) else None
        patch = patch_region is not None
        plane = "patch" if patch else plane
        hint = BOX if patch else region.axis
        volume = loader.image(resource, axis_hint=hint)  # (C, D, H, W), opened once
        dhw = tuple(map(int, volume.shape[1:]))
        if (
            patch_region is not None
            and patch_region.dhw is not None
            and (tuple(patch_region.dhw) != dhw)
        ):
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}): its patch was drawn for a "
                f"volume of (D, H, W) = {tuple(patch_region.dhw)} (from its metadata), the file "
                f"has {dhw}"
            )
        if single_frame and dhw[0] != 1:
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}) has {dhw[0]} frames; ImageDataset "
                "needs single-frame images (use VolumeDataset or VideoDataset)"
            )
        if region.axis is not None and region.index >= region.view_length(dhw):
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}): its metadata promised slice "
                f"{region.index} along {plane or region.axis}, the file has {dhw[region.axis]}"
            )
        cast = loader.item_dtype(resource)
        if patch_region is not None:
            fill = patch_region.fill
            if fill is None and patch_region.needs_padding(dhw):
                fill = self._minimum(resource, volume)
            image = patch_region.take(volume, fill=0 if fill is None else fill, dtype=cast)
        else:
            image = region.take(volume)
        flags = image.flags if type(image) is np.ndarray else None
        if (
            flags is None
            or not (flags.owndata and flags.writeable and flags.c_contiguous)
            or (cast is not None and image.dtype != cast)
        ):  # one contiguous copy, unless the slice is already a fresh array of the item's dtype
            image = fresh_array(image, cast)

        processor, opts = self.targets, self.config.targets
        instances: dict[str, list[np.ndarray]] = {}
        codes: dict[str, list[int]] = {}
        if opts.return_segmentations:
            instances, codes = processor.instances(annotations, dhw, region, resource)
        boxes = None
        if opts.return_boxes and not patch:  # boxes are in the stored layout's pixels
            stored = region.stored_index_in(dhw)
            raw = region if region.axis is None else Region(region.axis, stored)
            boxes = processor.boxes(annotations, raw)
        affine = self._affine(resource, region, dhw)
        if augment is not None:
            before = tuple(image.shape[1:])
            if image.ndim == 3:
                image, instances, boxes = augment.run_2d(image, instances, boxes)
            else:
                image, instances = augment.run_3d(image, instances)
            affine = transformed_affine(affine, self._rule(augment), before, tuple(image.shape[1:]))

        item = Item(image=image)
        standard = self.config.item_format == "standard"
        if not standard:
            if self.config.return_metainfo:
                item["metainfo"] = self._client_metainfo(resource, region, plane, dhw)
            item["annotations"] = list(annotations)
            item["resource"] = resource
        if opts.return_segmentations:
            encoded = processor.encode_segmentations(instances, codes, tuple(image.shape[1:]))
            if standard and not opts.semantic:
                encoded.setdefault("mask_labels", {})
            staple = encoded.pop("staple", None)
            item.update(encoded)
            if staple is not None:
                item.update(self._staple_rates(staple))
        if boxes is not None:
            item.update(boxes)
        item["image_labels"] = processor.image_labels(annotations)
        item["image_categories"] = processor.image_categories(annotations)
        if standard:
            item["annotators"] = self._contributors(annotations)
        item["spacing"] = spacing_of(affine, image.ndim - 1)
        item["affine"] = affine
        if patch_region is not None:
            item["location"] = patch_region.location
        if standard and self.config.return_metainfo:
            item["metainfo"] = {
                "resource_id": resource.id,
                "filename": resource.filename or "",
                "modality": resource.modality or "",
                "plane": plane,
                "index": region.index if plane else -1,
            }
        return item

    def _minimum(self, resource: Resource, volume: Any) -> Any:
        """The smallest value of the cached volume (the default pad value of patches)."""
        if hasattr(volume, "minimum"):
            return volume.minimum()
        key = self.loader.version(resource)
        if key not in self._minima:
            self._minima[key] = np.min(volume).item() if volume.size else 0
        return self._minima[key]

    def _contributors(self, annotations: tuple[Annotation, ...]) -> np.ndarray:
        """int32 ``(A,)``: 1 for each of the dataset's annotators with an annotation here."""
        out = np.zeros(len(self.annotators), dtype=np.int32)
        for author in self.targets.authors(annotations):
            position = self._annotator_index.get(author)
            if position is not None:
                out[position] = 1
        return out

    def _staple_rates(self, staple: SemanticStaple) -> dict[str, np.ndarray]:
        """STAPLE's per-annotator rates as float32 ``(A, L + 1)`` over the dataset's
        annotators (rows of annotators who did not take part are NaN)."""
        shape = (len(self.annotators), staple.sensitivity.shape[1])
        rates = {"staple_sensitivity": staple.sensitivity, "staple_specificity": staple.specificity}
        out = {}
        for key, values in rates.items():
            table = np.full(shape, np.nan, dtype=np.float32)
            for row, author in enumerate(staple.authors):
                position = self._annotator_index.get(author)
                if position is not None:
                    table[position] = values[row]
            out[key] = table
        return out

    def _rule(self, augment: TransformRunner) -> str:
        key = id(augment.transform)
        rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = geometry_rule(augment.transform)
        return rule

    def _anatomical(self, resource: Resource, region: Region, spec: SliceSpec) -> Region:
        """``region`` with the resource's :class:`PlaneView` for ``spec`` (None when the
        plane is the stored axis in stored layout: the raw, faster path)."""
        key = (resource.file_version, spec.name)
        view = self._views.get(key, False)
        if view is False:
            view = plane_view(self.loader.geometry(resource), spec.name)
            if identity_view(view, view.axis):
                view = None
            self._views[key] = view
        axis = region.axis if view is None else view.axis
        if axis != region.axis:
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}): its metadata puts the "
                f"{spec.name} plane on stored axis {region.axis}, its file on axis {axis}"
            )
        return Region(axis, region.index, view)

    def _affine(self, resource: Resource, region: Region, dhw: tuple[int, ...]) -> np.ndarray:
        """The item's affine; slices reuse the volume's slice-0 affine and per-slice step."""
        if isinstance(region, PatchRegion):
            return region.shift_affine(item_affine(self.loader.geometry(resource), Region()))
        if region.axis is None:
            return item_affine(self.loader.geometry(resource), region)
        view = region.view
        key = (resource.file_version, region.axis, view)
        cached = self._slice_affines.get(key)
        if cached is None:

            def at(k: int) -> np.ndarray:
                sliced = self._slice_geometry(resource, region, dhw, k)
                return np.eye(4) if sliced is None else np.array(sliced.affine, dtype=np.float64)

            first = at(0)
            try:
                step = at(1)[:, 3] - first[:, 3]
            except (ValueError, IndexError):  # a single slice: there is no slice 1
                step = np.zeros(4)
            cached = self._slice_affines[key] = (first, step)
        first, step = cached
        affine: np.ndarray = first.copy()
        affine[:, 3] += region.index * step
        return affine

    def _client_metainfo(
        self, resource: Resource, region: Region, plane: str, dhw: tuple[int, ...]
    ) -> Any:
        info = self.loader.metainfo(resource)
        if region.axis is None or plane == "":
            return info
        return {
            "slice_axis": plane,
            "slice_index": region.index,
            "parent": info,
            "geometry": self._slice_geometry(resource, region, dhw, region.index),
        }

    def _slice_geometry(
        self, resource: Resource, region: Region, dhw: tuple[int, ...], k: int
    ) -> Geometry | None:
        """Geometry of slice ``k`` (in ``region``'s plane) as a 2-D image, or None."""
        geometry = self.loader.geometry(resource)
        if geometry is None or region.axis is None:
            return geometry
        if region.view is not None:
            return region.view.slice_geometry(geometry, dhw, k)
        return geometry.slice(region.axis, k)
