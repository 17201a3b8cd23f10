"""``VolumeDataset``: CT/MR volumes, DICOM series and multi-frame DICOM."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from datamint.dataset.item_index import SliceSpec
from datamint.dataset.multiframe_dataset import MultiFrameDataset
from datamint.entities import Resource

if TYPE_CHECKING:
    from datamint.dataset.patch_dataset import PatchVolumeDataset
    from datamint.dataset.sliced_dataset import SlicedVolumeDataset

__all__ = ["VolumeDataset"]


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
        from datamint.dataset.sliced_dataset import SlicedVolumeDataset

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
            A :class:`~datamint.dataset.patch_dataset.PatchVolumeDataset` sharing this
            dataset's settings, prepared state and split attributes.

        Raises:
            ValueError: For a bad size, count, ratio, seed or pad value, or an unknown label.
            ValidationError: On a sliced view, or with ``return_boxes``.
        """
        from datamint.dataset.patch_dataset import PatchVolumeDataset, patch_spec

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
            A :class:`~datamint.dataset.patch_dataset.PatchVolumeDataset`; its length
            comes from the volumes' metadata (else their headers).

        Raises:
            ValueError: For a bad size, overlap or pad value.
            ValidationError: On a sliced view, or with ``return_boxes``.
        """
        from datamint.dataset.patch_dataset import PatchVolumeDataset, grid_spec

        return PatchVolumeDataset._of(self, grid_spec(size, overlap, pad_value))
