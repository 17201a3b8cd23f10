"""Item indexes: which resource, and which part of it, each item index shows.

A dataset's items are ``(resource position, region)`` pairs. An :class:`ItemIndex` maps
a flat item index to that pair and back to the resource, in compact numpy arrays (no
Python object per item or per resource), so forked DataLoader workers share its pages.

- :class:`WholeResources`: one item per resource (volumes, videos, 2-D images);
- :class:`Slices`: one item per 2-D slice of each resource along one plane (sliced
  volumes, video frames); lengths come from each resource's metadata, so building the
  index downloads nothing unless a resource lacks its size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from datamint.dataset.regions import AXIS_NAMES, Region
from datamint.entities import Resource

__all__ = ["ItemIndex", "SliceSpec", "Slices", "WholeResources", "parse_axis"]


def parse_axis(axis: str | int) -> int:
    """``'axial'``/0, ``'coronal'``/1 or ``'sagittal'``/2 -> the axis of ``(D, H, W)``.

    Raises:
        ValueError: For any other value.
    """
    if isinstance(axis, str) and axis in AXIS_NAMES:
        return AXIS_NAMES.index(axis)
    if isinstance(axis, int) and not isinstance(axis, bool) and 0 <= axis <= 2:
        return axis
    raise ValueError(
        f"slice axis {axis!r} is not one of 'axial' (0), 'coronal' (1), 'sagittal' (2)"
    )


class ItemIndex(Protocol):
    """Maps item indices ``0 <= i < len(index)`` to ``(resource position, region)``."""

    def __len__(self) -> int: ...

    def locate(self, index: int) -> tuple[int, Region]:
        """The resource position (in the dataset's resources) and region of item ``index``."""
        ...

    def resource_position(self, index: int) -> int:
        """The resource position of item ``index``."""
        ...


@dataclass(frozen=True)
class WholeResources:
    """One item per resource.

    Attributes:
        count: Number of resources.
        region: The region every item shows: the whole resource, or (2-D images) the
            single frame ``Region(axis=0, index=0)``.
    """

    count: int
    region: Region = Region()  # noqa: RUF009 - frozen, shared safely

    def __len__(self) -> int:
        return self.count

    def locate(self, index: int) -> tuple[int, Region]:
        return index, self.region

    def resource_position(self, index: int) -> int:
        return index


@dataclass(frozen=True)
class SliceSpec:
    """What a sliced view cuts.

    Attributes:
        axis: The stored axis of ``(D, H, W)`` for raw slices (0, 1, 2) and frames (0);
            for an anatomical plane, the axis used when a volume has no patient geometry.
        name: ``"axial"``, ``"coronal"``, ``"sagittal"``, ``"axis0"`` / ``"axis1"`` /
            ``"axis2"`` for raw axes, or ``"frame"`` for videos.
        anatomical: Whether ``name`` is a plane resolved per volume from its affine.
    """

    axis: int
    name: str
    anatomical: bool = False

    @classmethod
    def of(cls, axis: str | int, *, frames: bool = False) -> SliceSpec:
        """The spec for a ``slice(axis)`` argument (a plane name, or 0/1/2 for the raw
        stored axis), or a video's frames.

        Raises:
            ValueError: For an unknown axis.
        """
        if frames:
            return cls(0, "frame")
        index = parse_axis(axis)
        if isinstance(axis, str):
            return cls(index, AXIS_NAMES[index], anatomical=True)
        return cls(index, f"axis{index}")


class Slices:
    """One item per slice of each resource along ``spec``.

    Args:
        spec: The plane or axis.
        lengths: Per resource, its number of slices.
        axes: Per resource, the stored axis sliced (an anatomical plane can be a
            different stored axis in each volume); default ``spec.axis`` for all.
    """

    def __init__(
        self,
        spec: SliceSpec,
        lengths: Sequence[int] | np.ndarray,
        axes: Sequence[int] | np.ndarray | None = None,
    ) -> None:
        self.spec = spec
        lengths = np.asarray(lengths, dtype=np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        self.offsets = offsets  # (R + 1,): first item of each resource, then the total
        self.axes = (
            np.full(len(lengths), spec.axis, dtype=np.int8)
            if axes is None
            else np.asarray(axes, dtype=np.int8)
        )

    @classmethod
    def build(
        cls,
        spec: SliceSpec,
        resources: Sequence[Resource],
        header_shape: Callable[[Resource], Sequence[int]],
        stored_axis: Callable[[Resource], int] | None = None,
    ) -> Slices:
        """The index of ``resources``, lengths from metadata where it has them.

        Args:
            spec: The plane or axis.
            resources: The dataset's resources, in order.
            header_shape: Reads a resource's ``(C, N, H, W)`` from its file header; called
                only for resources whose metadata lacks the size along the axis.
            stored_axis: For an anatomical ``spec``, the stored axis of a resource's plane.
        """
        axes = [
            stored_axis(r) if spec.anatomical and stored_axis is not None else spec.axis
            for r in resources
        ]
        lengths = [axis_length(r, a, header_shape) for r, a in zip(resources, axes, strict=True)]
        return cls(spec, lengths, axes)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def length(self, position: int) -> int:
        """The number of slices of the resource at ``position``."""
        return int(self.offsets[position + 1] - self.offsets[position])

    def resource_position(self, index: int) -> int:
        return int(np.searchsorted(self.offsets, index, side="right")) - 1

    def locate(self, index: int) -> tuple[int, Region]:
        position = self.resource_position(index)
        return position, Region(int(self.axes[position]), int(index - self.offsets[position]))


def axis_length(
    resource: Resource, axis: int, header_shape: Callable[[Resource], Sequence[int]]
) -> int:
    """A resource's size along ``axis`` of ``(D, H, W)``: metadata first, else its header."""
    if axis == 0:
        try:
            return resource.depth
        except ValueError:
            pass
    else:
        hw = resource.size_hw
        if hw is not None:
            return hw[axis - 1]
    return int(header_shape(resource)[1 + axis])
