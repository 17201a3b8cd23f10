"""``VolumeDataset`` (CT/MR volumes, DICOM series and multi-frame DICOM), its 2-D view
``SlicedVolumeDataset`` (one item per slice) and ``PatchVolumeDataset`` (3-D patches of
volumes, random for training or on a grid for inference; see ``docs/patches.md``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from datamint.dataset.foreground import ForegroundIndex
from datamint.dataset.item_index import SliceSpec, axis_length
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.dataset.patch_index import GridPatches, GridSpec, PatchEpoch, Patches, PatchSpec
from datamint.entities import Resource
from datamint.exceptions import ValidationError
from datamint.storage.slice_cache import BOX

if TYPE_CHECKING:
    from datamint.dataset.aggregation import PatchAggregator
    from datamint.dataset.item_index import ItemIndex
    from datamint.dataset.prefetch import PrefetchReport

__all__ = ["PatchVolumeDataset", "SlicedVolumeDataset", "VolumeDataset"]


class VolumeDataset(MultiFrameDataset):
    """A dataset of volumes: DICOM (series, multi-frame and single files) and NIfTI resources.

    Items: ``image`` ``(C, D, H, W)`` in the file's storage order (a NIfTI stored
    ``(X, Y, Z)`` becomes ``(1, Z, Y, X)``), float32 by default; ``masks`` per annotator
    ``(N, D, H, W)`` uint8 with ``mask_labels``, or semantic ``(L+1, D, H, W)``;
    ``image_labels``; ``image_categories``; ``spacing`` ``(3,)`` mm along ``(D, H, W)``;
    ``affine`` ``(4, 4)`` float64 from the item's index ``(d, h, w)`` to RAS mm;
    ``metainfo`` (see ``item_format``).

    A project's PNG/JPEG images and videos are left out (see ``prepared.excluded``);
    single-frame DICOM and NIfTI are volumes of depth 1. Arguments are those of
    :class:`~datamint.dataset.base.DatamintBaseDataset`.

    Example::

        ds = VolumeDataset(project="demo", return_as_semantic_segmentation=True,
                           semantic_seg_merge_strategy="mode")
        axial = ds.slice("axial")        # 2-D items (C, H, W)
        train = ds.patches(size=(32, 96, 96), per_volume=8)   # random 3-D patches
        infer = ds.grid(size=(32, 96, 96), overlap=0.5)        # a sliding window
    """

    def _accepts(self, resource: Resource) -> bool:
        return resource.kind.is_volume

    def slice(self, axis: str | int = "axial") -> SlicedVolumeDataset:
        """A 2-D view: one item per slice along ``axis``.

        Args:
            axis: ``'axial'`` (0, depth), ``'coronal'`` (1, height) or ``'sagittal'``
                (2, width) of the ``(D, H, W)`` array.

        Returns:
            A :class:`~datamint.dataset.sliced_dataset.SlicedVolumeDataset` sharing this
            dataset's settings, prepared state and split attributes.

        Raises:
            ValueError: For any other axis.
        """
        return self._derive(slices=SliceSpec.of(axis), cls=SlicedVolumeDataset)

    def patches(
        self,
        size: int | Sequence[int],
        per_volume: int = 1,
        foreground_ratio: float = 0.33,
        label: str | None = None,
        pad_value: float | None = None,
        seed: int = 0,
    ) -> PatchVolumeDataset:
        """Random 3-D patches, ``per_volume`` of each volume per epoch (nnU-Net's sampling).

        A share ``foreground_ratio`` of the patches (each patch independently, with that
        probability) is centred on a voxel of class ``label`` chosen uniformly, or, with
        ``label=None``, on a voxel of a class chosen uniformly among those present in the
        volume (as nnU-Net oversamples foreground); the patch is then shifted to lie
        inside the volume, so the voxel stays in it. The other patches (and those of
        volumes without that foreground) start uniformly at any position where the patch
        fits. Along an axis where the volume is smaller than the patch, the volume is
        placed at a random offset inside the patch and the rest is padded. Foreground
        voxels come from every annotator's masks of the class after the dataset's
        filters, indexed once per annotation version into the array cache.

        Item ``i`` is patch ``i % per_volume`` of volume ``i // per_volume``; its draw
        depends only on ``(seed, epoch, i)``: call ``set_epoch(epoch)`` on the result
        before each epoch to get new patches, reproducibly; without it, DataLoader
        workers use the loader's per-epoch seed (new patches each epoch, repeated by
        ``torch.manual_seed``) and the main process epoch 0.

        Args:
            size: Patch size ``(D, H, W)`` in voxels, or one int for a cube.
            per_volume: Patches of each volume per epoch (``len = per_volume * volumes``).
            foreground_ratio: Probability in ``[0, 1]`` that a patch is foreground-centred.
            label: A segmentation class name (see ``segmentation_labels``), or None for any.
            pad_value: The image value outside the volume; default the volume's minimum
                (air in CT, 0 in most MR). Masks are padded with 0 (background).
            seed: Base seed (int >= 0).

        Returns:
            A :class:`~datamint.dataset.volume_dataset.PatchVolumeDataset` sharing this
            dataset's settings, prepared state and split attributes.

        Raises:
            ValueError: For a bad size, count, ratio, seed or pad value, or an unknown label.
            ValidationError: On a sliced view, or with ``return_boxes``.
        """
        spec = patch_spec(
            size,
            per_volume,
            foreground_ratio,
            label,
            pad_value,
            seed,
            self.segmentation_labels if label is not None else (),
        )
        return PatchVolumeDataset._of(self, spec)

    def grid(
        self,
        size: int | Sequence[int],
        overlap: float | Sequence[float] = 0.5,
        pad_value: float | None = None,
    ) -> PatchVolumeDataset:
        """Every patch of a sliding window over each volume, for inference.

        Along each axis patches start at ``0, step, 2 * step, ...`` with
        ``step = size - overlap``, and the last one is flush with the far edge, so every
        voxel is covered; an axis shorter than the patch has one patch at 0, padded past
        the edge. Items are numbered volume by volume (``volume_items(position)``) and
        carry ``location``; feed predictions to
        :class:`~datamint.dataset.aggregation.PatchAggregator` (``aggregator(position)``)
        to get whole-volume predictions back.

        Args:
            size: Patch size ``(D, H, W)`` in voxels, or one int for a cube.
            overlap: Overlap of neighbouring patches: ints are voxels, floats in ``[0, 1)``
                fractions of the size (as MONAI's ``sliding_window_inference``); one value
                or three.
            pad_value: The image value outside the volume; default the volume's minimum.

        Returns:
            A :class:`~datamint.dataset.volume_dataset.PatchVolumeDataset`; its length
            comes from the volumes' metadata (else their headers).

        Raises:
            ValueError: For a bad size, overlap or pad value.
            ValidationError: On a sliced view, or with ``return_boxes``.
        """
        return PatchVolumeDataset._of(self, grid_spec(size, overlap, pad_value))


class SlicedVolumeDataset(VolumeDataset):
    """One item per slice of each volume along ``slice_axis``.

    Build it with ``VolumeDataset(...).slice(axis)`` or directly with the
    ``VolumeDataset`` arguments plus ``slice_axis``. Items: ``image`` ``(C, h, w)``;
    ``masks`` per annotator ``(N, h, w)`` uint8 with ``mask_labels`` (or semantic
    ``(L+1, h, w)``); ``spacing`` ``(2,)`` mm (row, column); ``affine`` ``(4, 4)`` mapping
    ``(0, row, column)`` to RAS mm (column 0 the unit normal of the slice);
    ``metainfo`` with ``plane`` and ``index`` (the slice); other keys as for volumes.
    ``len`` is the sum over volumes of their size along the axis, read from metadata
    without downloading. ``subset()`` and ``split()`` select volumes, so the slices of
    one volume stay together.

    Args:
        *args: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.
        slice_axis: ``'axial'`` (default), ``'coronal'``, ``'sagittal'`` or 0/1/2.
        **kwargs: As :class:`~datamint.dataset.volume_dataset.VolumeDataset`.

    Raises:
        ValueError: For an unknown axis.
    """

    def __init__(self, *args: Any, slice_axis: str | int = "axial", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slices = SliceSpec.of(slice_axis)

    @property
    def slice_axis_index(self) -> int:
        """The sliced axis of ``(D, H, W)``: 0, 1 or 2."""
        assert self._slices is not None
        return self._slices.axis

    @property
    def slice_axis_name(self) -> str:
        """``'axial'``, ``'coronal'`` or ``'sagittal'``."""
        assert self._slices is not None
        return self._slices.name


class _Facts:
    """Shapes (metadata, else header) and foreground voxels of a dataset's volumes,
    memoised per process."""

    def __init__(self, dataset: PatchVolumeDataset) -> None:
        self.dataset = dataset
        self._shapes: np.ndarray | None = None
        self._foreground: ForegroundIndex | None = None
        self._found: dict[tuple[int, str | None], list[np.ndarray]] = {}

    def shape(self, position: int) -> tuple[int, int, int]:
        ds = self.dataset
        if self._shapes is None:
            self._shapes = np.full((len(ds.prepared.resources), 3), -1, dtype=np.int64)
        row = self._shapes[position]
        if row[0] < 0:
            resource = ds.prepared.resources[position]
            row[:] = [
                axis_length(resource, a, lambda r: ds.loader.header(r).shape) for a in range(3)
            ]
        return (int(row[0]), int(row[1]), int(row[2]))

    def foreground(self, position: int, label: str | None) -> list[np.ndarray]:
        found = self._found.get((position, label))
        if found is None:
            found = self._found[(position, label)] = self._lookup(position, label)
        return found

    def _lookup(self, position: int, label: str | None) -> list[np.ndarray]:
        ds = self.dataset
        if self._foreground is None:
            self._foreground = ForegroundIndex(ds.loader, ds.processor)
        resource = ds.prepared.resources[position]
        annotations = ds.prepared.annotations[position]
        dhw = self.shape(position)
        labels = [label] if label is not None else ds.schema.segmentation_classes
        found = [self._foreground.voxels(resource, annotations, dhw, c) for c in labels]
        return [v for v in found if len(v)]

    def __getstate__(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "_shapes": None, "_foreground": None, "_found": {}}


class PatchVolumeDataset(VolumeDataset):
    """3-D patches of a :class:`~datamint.dataset.volume_dataset.VolumeDataset`'s volumes.

    Build it with :meth:`VolumeDataset.patches` (random patches, new each epoch) or
    :meth:`VolumeDataset.grid` (every position of a sliding window). Items are shaped
    like volume items, cut to the patch:

    - ``image`` ``(C, D, H, W)`` (the patch size), read from the volume's 3-D chunked
      cache layout: only the chunks the patch overlaps are decompressed;
    - the target keys as for volumes (``masks`` per annotator ``(N, D, H, W)`` uint8 with
      ``mask_labels``, or semantic; ``image_labels``, ``image_categories``);
    - ``spacing`` float64 ``(3,)`` mm; ``affine`` float64 ``(4, 4)`` mapping the patch's
      index ``(d, h, w, 1)`` to RAS mm: the volume's affine with its translation moved to
      the patch's first voxel;
    - ``location`` int64 ``(6,)``: ``(d0, h0, w0, d1, h1, w1)``, the patch's start and stop
      in the stored volume's voxels (start may be negative, stop beyond the volume, where
      the patch is padded);
    - ``metainfo`` with ``plane`` ``"patch"`` and ``index`` the patch's number within its
      volume.

    Where a patch leaves the volume, the image is padded with ``pad_value`` (default:
    the volume's minimum, e.g. air in CT) and masks with 0. Every item has the same
    shapes, so a plain ``DataLoader`` batches them when the targets do too (e.g. merged
    semantic masks). ``subset``, ``filter``, ``split`` and ``kfold`` keep the patch view
    (splits partition volumes).

    Raises:
        TypeError: When constructed directly.
    """

    _patch_spec: PatchSpec | GridSpec
    _epoch: PatchEpoch

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "build a PatchVolumeDataset with VolumeDataset(...).patches(...) or "
            "VolumeDataset(...).grid(...)"
        )

    @classmethod
    def _of(
        cls, parent: VolumeDataset, spec: PatchSpec | GridSpec, epoch: int | None = None
    ) -> PatchVolumeDataset:
        """A patch view of ``parent`` (sharing its settings, prepared state and split)."""
        if parent._slices is not None:
            raise ValidationError("patches need whole volumes; take them before .slice()")
        if parent._config.targets.return_boxes:
            raise ValidationError(
                "return_boxes is not supported with patches (boxes are 2-D pixel boxes of "
                "whole slices); build the dataset with return_boxes=False"
            )
        import blosc2  # noqa: F401 - imported before DataLoader workers fork: they share it

        new = parent._derive(cls=cls)
        new._patch_spec = spec
        new._epoch = PatchEpoch(epoch)
        return new

    def _derive(self, **kwargs: Any) -> Any:
        new = super()._derive(**kwargs)
        if isinstance(new, PatchVolumeDataset):
            new._patch_spec = self._patch_spec
            new._epoch = PatchEpoch(self._epoch.explicit)
        return new

    # -- the view -------------------------------------------------------------------------
    @property
    def patch_spec(self) -> PatchSpec | GridSpec:
        """What this view draws (:class:`PatchSpec`) or covers (:class:`GridSpec`)."""
        return self._patch_spec

    @property
    def plane(self) -> str | None:
        """``"patch"``."""
        return "patch"

    @property
    def item_index(self) -> ItemIndex:
        """:class:`~datamint.dataset.patch_index.Patches` or ``GridPatches``."""
        index: Any = self._index  # Patches / GridPatches locate PatchRegions
        if index is None:
            spec = self._patch_spec
            resources = self.prepared.resources
            if isinstance(spec, GridSpec):
                loader = self.loader
                index = GridPatches.build(spec, resources, lambda r: loader.header(r).shape)
            else:
                index = Patches(spec, len(resources), _Facts(self), self._epoch)
            self._index = index
        return cast("ItemIndex", index)

    def slice(self, axis: str | int = "axial") -> Any:
        """Not available on patches: slice the ``VolumeDataset`` instead.

        Raises:
            ValidationError: Always.
        """
        raise ValidationError("a patch dataset cannot be sliced; slice the VolumeDataset")

    def patches(self, *args: Any, **kwargs: Any) -> PatchVolumeDataset:
        """Not available on patches: take patches of the ``VolumeDataset``.

        Raises:
            ValidationError: Always.
        """
        raise ValidationError("this is already a patch dataset; call .patches() on volumes")

    grid = patches

    # -- epochs -----------------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Draw random patches for ``epoch`` (call it before each epoch, as with
        ``DistributedSampler.set_epoch``): item ``i`` is then the same patch in every
        run with the same ``seed`` and ``epoch``, whatever the workers. Reaches
        persistent DataLoader workers too.

        Raises:
            ValueError: If ``epoch`` is not an int >= 0.
        """
        self._epoch.set(epoch)

    @property
    def epoch(self) -> int | None:
        """The epoch given to :meth:`set_epoch`, or None (see ``patch_index``)."""
        return self._epoch.explicit

    # -- grids ------------------------------------------------------------------------
    def _grid(self) -> GridPatches:
        index = self.item_index
        if not isinstance(index, GridPatches):
            raise ValidationError("only a grid view (VolumeDataset.grid) has this")
        return index

    def volume_items(self, position: int) -> range:
        """The item indices of the grid patches of the volume at ``position``.

        Raises:
            ValidationError: On random patches.
            IndexError: If ``position`` is out of range.
        """
        index = self._grid()
        if not 0 <= position < len(index.shapes):
            raise IndexError(f"volume {position} is out of range for {len(index.shapes)}")
        return index.items_of(position)

    def volume_shape(self, position: int) -> tuple[int, int, int]:
        """The ``(D, H, W)`` of the volume at ``position`` (metadata, else its header)."""
        index = self.item_index
        if isinstance(index, GridPatches):
            return index.volume_shape(position)
        assert isinstance(index, Patches)
        return index.facts.shape(position)

    def aggregator(self, position: int, mode: str = "gaussian", **kwargs: Any) -> PatchAggregator:
        """A :class:`~datamint.dataset.aggregation.PatchAggregator` for the volume at
        ``position``, with this grid's patch size and overlap.

        Raises:
            ValidationError: On random patches.
        """
        from datamint.dataset.aggregation import PatchAggregator

        spec = self._grid().spec
        return PatchAggregator(
            self.volume_shape(position), spec.size, spec.overlap, mode=mode, **kwargs
        )

    # -- prefetch -----------------------------------------------------------------------
    def prefetch(
        self,
        *,
        include_annotations: bool = False,
        num_workers: int = 8,
        progress: bool = True,
        decode: bool = False,
        decode_workers: int = 2,
        download_mode: str | None = None,
        verification_mode: str | None = None,
        local_files_only: bool = False,
    ) -> PrefetchReport:
        """As :meth:`DatamintBaseDataset.prefetch`; ``decode=True`` writes each volume's
        3-D chunked layout (what patches read).

        Args:
            include_annotations: Also download the segmentation files.
            num_workers: Parallel downloads.
            progress: Show a progress bar.
            decode: Also write each volume's 3-D chunked layout.
            decode_workers: Parallel decodes.
            download_mode: As :meth:`DatamintBaseDataset.prefetch`.
            verification_mode: As :meth:`DatamintBaseDataset.prefetch`.
            local_files_only: As :meth:`DatamintBaseDataset.prefetch`.
        """
        from datamint.dataset.prefetch import decode_resources

        report = super().prefetch(
            include_annotations=include_annotations,
            num_workers=num_workers,
            progress=progress,
            download_mode=download_mode,
            verification_mode=verification_mode,
            local_files_only=local_files_only,
        )
        if decode:
            decode_resources(
                self, axis_hint=BOX, max_workers=decode_workers, progress=progress, report=report
            )
        return report

    def __repr__(self) -> str:
        spec = self._patch_spec
        kind = "grid" if isinstance(spec, GridSpec) else "patches"
        return f"{super().__repr__()[:-1]}, {kind}={spec.size})"


def _check_ratio(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"foreground_ratio must be in [0, 1]; got {value!r}")
    return float(value)


def patch_spec(
    size: int | Sequence[int],
    per_volume: int,
    foreground_ratio: float,
    label: str | None,
    pad_value: float | None,
    seed: int,
    classes: Sequence[str],
) -> PatchSpec:
    """Check and build a :class:`PatchSpec` (``VolumeDataset.patches`` arguments).

    Raises:
        ValueError: For a bad size, count, ratio, seed or pad value, or a label that is
            not one of ``classes`` (names the known ones).
    """
    from datamint.dataset.patch_region import parse_size

    if isinstance(per_volume, bool) or not isinstance(per_volume, int) or per_volume < 1:
        raise ValueError(f"per_volume must be an int >= 1; got {per_volume!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0; got {seed!r}")
    if label is not None and label not in classes:
        raise ValueError(
            f"label {label!r} is not a segmentation class; the classes: {list(classes)}"
        )
    return PatchSpec(
        parse_size(size), per_volume, _check_ratio(foreground_ratio), label, _pad(pad_value), seed
    )


def grid_spec(
    size: int | Sequence[int], overlap: float | Sequence[float], pad_value: float | None
) -> GridSpec:
    """Check and build a :class:`GridSpec` (``VolumeDataset.grid`` arguments).

    Raises:
        ValueError: For a bad size, overlap or pad value.
    """
    from datamint.dataset.patch_region import parse_overlap, parse_size

    size3 = parse_size(size)
    return GridSpec(size3, parse_overlap(overlap, size3), _pad(pad_value))


def _pad(value: float | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"pad_value must be a number or None; got {value!r}")
    return float(value)
