"""Sliced views: a flat item index <-> (resource, slice) along one axis.

Lengths along the axis come from the resource metadata (``frame_count``, ``height``,
``width``; contract §5.2), so building a sliced view downloads and decodes nothing.
Only when metadata lacks a size is the file's header read.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from datamint.dataset.base import DatamintBaseDataset
from datamint.dataset.regions import AXIS_NAMES, Region
from datamint.entities import Resource
from datamint.exceptions import InvalidResourceError
from datamint.readers import FileHint, read_header

__all__ = ["SlicedMixin", "parse_axis"]


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


class SlicedMixin(DatamintBaseDataset):
    """Items are 2-D slices of the parent's resources along ``slice_axis``."""

    slice_axis_index: int = 0
    slice_axis_name: str = "axial"

    @classmethod
    def from_dataset(cls, parent: DatamintBaseDataset, slice_axis: str | int = "axial") -> Any:
        """A sliced view sharing every setting (and the prepared state) of ``parent``."""
        view = cls.__new__(cls)
        view.__dict__.update(parent.__dict__)
        view._set_axis(slice_axis)
        return view

    def _set_axis(self, axis: str | int) -> None:
        self.slice_axis_index = parse_axis(axis)
        self.slice_axis_name = AXIS_NAMES[self.slice_axis_index]
        self._offsets_for: Any = None

    def _axis_length(self, resource: Resource) -> int:
        if self.slice_axis_index == 0:
            try:
                return resource.depth
            except ValueError:
                pass
        else:
            hw = resource.size_hw
            if hw is not None:
                return hw[self.slice_axis_index - 1]
        path = self.loader._fetch_resource(resource)
        header = read_header(path, FileHint(resource.filename, resource.mimetype, resource.storage))
        return int(header.shape[1 + self.slice_axis_index])

    def _offsets(self) -> np.ndarray:
        """``(R + 1,)`` int64: item offset of each resource's first slice, then the total.

        One numpy array (not a list of Python ints), so forked workers share its pages.
        """
        prepared = self.prepared
        cached = getattr(self, "_offsets_cache", None)
        if cached is None or cached[0] is not prepared:
            lengths = np.fromiter(
                (self._axis_length(r) for r in prepared.resources), dtype=np.int64
            )
            offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
            np.cumsum(lengths, out=offsets[1:])
            cached = (prepared, offsets)
            self._offsets_cache = cached
        return cached[1]

    def __len__(self) -> int:
        return int(self._offsets()[-1])

    def locate(self, index: int) -> tuple[int, int]:
        """``(resource position, slice index)`` of flat item ``index``."""
        offsets = self._offsets()
        ri = int(np.searchsorted(offsets, index, side="right")) - 1
        return ri, int(index - offsets[ri])

    def _resource_position(self, index: int) -> int:
        return self.locate(index)[0]

    def _get_item(self, index: int) -> dict[str, Any]:
        ri, k = self.locate(index)
        resource = self.prepared.resources[ri]
        axis_name = self.slice_axis_name

        def wrap(info: Any) -> dict[str, Any]:
            parent_geometry = self.loader.geometry(resource)
            geometry = (
                None if parent_geometry is None else parent_geometry.slice(self.slice_axis_index, k)
            )
            return {"slice_axis": axis_name, "slice_index": k, "parent": info, "geometry": geometry}

        volume = self.loader.image(resource, axis_hint=self.slice_axis_index)
        actual = volume.shape[1 + self.slice_axis_index]
        if k >= actual:
            raise InvalidResourceError(
                f"resource {resource.id} ({resource.filename}): metadata gives "
                f"{self._axis_length(resource)} slices along {axis_name}, the file has {actual}"
            )
        return self._make_item(ri, Region(self.slice_axis_index, k), wrap)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_offsets_cache", None)
        return state
