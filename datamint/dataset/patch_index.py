"""Item indexes of 3-D patches: random patches per epoch, and a sliding-window grid.

- :class:`Patches`: ``per_volume`` random patches of every volume per epoch (item ``i``
  is patch ``i % per_volume`` of volume ``i // per_volume``), drawn by the nnU-Net rule
  (:func:`~datamint.dataset.patch_region.random_start`): with probability
  ``foreground_ratio`` a patch is centred on a random foreground voxel, else uniform.
- :class:`GridPatches`: every position of a grid covering each volume with a given
  overlap, the last patch flush with the far edge (for sliding-window inference).

Randomness (:class:`PatchEpoch`): item ``i``'s patch is a pure function of
``(seed, epoch, i)`` (``numpy.random.default_rng([seed, stream, epoch, i])``): the same
in any process and any worker, so a run repeats exactly, and no two items share a draw.
The epoch is the one given to ``set_epoch`` (kept in shared memory, so persistent
DataLoader workers see it too). Until ``set_epoch`` is called, DataLoader workers use
the loader's per-epoch base seed (``get_worker_info().seed - id``; torch draws it from
its generator each time an epoch starts, so every epoch gets new patches and
``torch.manual_seed`` repeats them), and the main process uses epoch 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from datamint.dataset.item_index import axis_length
from datamint.dataset.patch_region import PatchRegion, grid_starts, random_start
from datamint.entities import Resource

__all__ = ["GridPatches", "GridSpec", "PatchEpoch", "PatchSpec", "Patches", "VolumeFacts"]


@dataclass(frozen=True)
class PatchSpec:
    """What a random-patch view draws.

    Attributes:
        size: Patch size ``(D, H, W)`` in voxels.
        per_volume: Patches per volume per epoch.
        foreground_ratio: Probability that a patch is centred on a foreground voxel.
        label: The segmentation class whose voxels count as foreground; None: any
            class (a class present in the volume is chosen uniformly, then a voxel).
        pad_value: The image value outside the volume; None: the volume's minimum.
        seed: The base seed of every draw.
    """

    size: tuple[int, int, int]
    per_volume: int
    foreground_ratio: float
    label: str | None
    pad_value: float | None
    seed: int


@dataclass(frozen=True)
class GridSpec:
    """What a grid view covers.

    Attributes:
        size: Patch size ``(D, H, W)`` in voxels.
        overlap: Overlap of neighbouring patches, voxels per axis.
        pad_value: The image value outside the volume; None: the volume's minimum.
    """

    size: tuple[int, int, int]
    overlap: tuple[int, int, int]
    pad_value: float | None


class PatchEpoch:
    """The epoch random patches are drawn for, shared with DataLoader workers.

    Held in a one-element shared-memory int64 tensor: a value set in the main process
    reaches workers forked before (persistent workers) and after. -1 means "not set".

    Args:
        epoch: The initial epoch, or None.
    """

    def __init__(self, epoch: int | None = None) -> None:
        self._value = torch.full((1,), -1, dtype=torch.int64)
        self._value.share_memory_()  # type: ignore[no-untyped-call]
        if epoch is not None:
            self.set(epoch)

    def set(self, epoch: int) -> None:
        """Draw patches for ``epoch`` from now on.

        Raises:
            ValueError: If ``epoch`` is not an int >= 0.
        """
        if isinstance(epoch, bool) or not isinstance(epoch, int | np.integer) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0; got {epoch!r}")
        self._value[0] = int(epoch)

    @property
    def explicit(self) -> int | None:
        """The epoch given to :meth:`set`, or None."""
        value = int(self._value[0])
        return None if value < 0 else value

    def key(self) -> tuple[int, int]:
        """``(stream, epoch)`` for the draws: ``(0, epoch)`` when set (or in the main
        process: epoch 0), ``(1, base seed)`` in a DataLoader worker otherwise."""
        value = self.explicit
        if value is not None:
            return (0, value)
        info = torch.utils.data.get_worker_info()
        if info is None:
            return (0, 0)
        return (1, int(info.seed) - int(info.id))


class VolumeFacts(Protocol):
    """What drawing a patch needs to know about a volume."""

    def shape(self, position: int) -> tuple[int, int, int]:
        """The ``(D, H, W)`` of the volume at ``position``."""
        ...

    def foreground(self, position: int, label: str | None) -> list[np.ndarray]:
        """Flat voxel indices per class (only classes with voxels): of ``label``, or of
        every class when None."""
        ...


class Patches:
    """``spec.per_volume`` random patches of each of ``count`` volumes (module docstring).

    Args:
        spec: What to draw.
        count: Number of volumes.
        facts: Shapes and foreground voxels of the volumes.
        epoch: The epoch source.
    """

    def __init__(self, spec: PatchSpec, count: int, facts: VolumeFacts, epoch: PatchEpoch) -> None:
        self.spec = spec
        self.count = count
        self.facts = facts
        self.epoch = epoch

    def __len__(self) -> int:
        return self.spec.per_volume * self.count

    def resource_position(self, index: int) -> int:
        return index // self.spec.per_volume

    def locate(self, index: int) -> tuple[int, PatchRegion]:
        """The volume and patch of item ``index`` in the current epoch.

        Draws, from ``default_rng([seed, stream, epoch, index])``: whether the patch is
        foreground-centred (probability ``foreground_ratio``); if so, a class with
        voxels (uniformly, when ``label`` is None) and one of its voxels (uniformly),
        else nothing more; then the start (:func:`random_start`). A volume without
        foreground voxels gets a uniform patch.
        """
        spec = self.spec
        position, number = divmod(int(index), spec.per_volume)
        rng = np.random.default_rng([spec.seed, *self.epoch.key(), int(index)])
        dhw = self.facts.shape(position)
        centre = None
        if rng.random() < spec.foreground_ratio:
            classes = self.facts.foreground(position, spec.label)
            if classes:
                voxels = classes[int(rng.integers(len(classes)))]
                flat = int(voxels[int(rng.integers(len(voxels)))])
                centre = tuple(int(v) for v in np.unravel_index(flat, dhw))
        start = random_start(rng, dhw, spec.size, centre)
        return position, PatchRegion(
            start, spec.size, number, dhw, foreground=centre is not None, fill=spec.pad_value
        )


class GridPatches:
    """Every grid patch of each volume (module docstring), indexed volume by volume.

    Args:
        spec: Patch size, overlap and pad value.
        shapes: int64 ``(R, 3)``: each volume's ``(D, H, W)``.
    """

    def __init__(self, spec: GridSpec, shapes: np.ndarray) -> None:
        self.spec = spec
        self.shapes = np.asarray(shapes, dtype=np.int64).reshape(-1, 3)
        self.counts = np.array(
            [
                [
                    len(grid_starts(int(s), p, o))
                    for s, p, o in zip(row, spec.size, spec.overlap, strict=True)
                ]
                for row in self.shapes
            ],
            dtype=np.int64,
        ).reshape(-1, 3)
        offsets = np.zeros(len(self.shapes) + 1, dtype=np.int64)
        np.cumsum(self.counts.prod(axis=1), out=offsets[1:])
        self.offsets = offsets  # (R + 1,): first item of each volume, then the total

    @classmethod
    def build(
        cls,
        spec: GridSpec,
        resources: Sequence[Resource],
        header_shape: Callable[[Resource], Sequence[int]],
    ) -> GridPatches:
        """The grid of ``resources``, shapes from metadata where it has them, else from
        each file's header (``header_shape`` returns ``(C, D, H, W)``)."""
        shapes = [[axis_length(r, a, header_shape) for a in range(3)] for r in resources]
        return cls(spec, np.asarray(shapes, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def resource_position(self, index: int) -> int:
        return int(np.searchsorted(self.offsets, index, side="right")) - 1

    def items_of(self, position: int) -> range:
        """The item indices of the volume at ``position``."""
        return range(int(self.offsets[position]), int(self.offsets[position + 1]))

    def volume_shape(self, position: int) -> tuple[int, int, int]:
        """The ``(D, H, W)`` of the volume at ``position``."""
        d, h, w = (int(n) for n in self.shapes[position])
        return (d, h, w)

    def locate(self, index: int) -> tuple[int, PatchRegion]:
        position = self.resource_position(index)
        local = int(index - self.offsets[position])
        ks = np.unravel_index(local, tuple(int(n) for n in self.counts[position]))
        dhw = self.volume_shape(position)
        start = [
            int(grid_starts(s, p, o)[k])
            for s, p, o, k in zip(dhw, self.spec.size, self.spec.overlap, ks, strict=True)
        ]
        return position, PatchRegion(
            (start[0], start[1], start[2]), self.spec.size, local, dhw, fill=self.spec.pad_value
        )
