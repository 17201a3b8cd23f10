"""An item's ``affine`` and ``spacing``: where its pixels are, in RAS millimetres.

Every item carries

- ``affine``: float64 ``(4, 4)``. For a whole-resource item it maps the item's array
  index ``(d, h, w, 1)`` to RAS mm. For a 2-D item (a slice, a frame, an image) it maps
  ``(0, row, column, 1)``: column 0 is the unit normal of the slice plane, columns 1
  and 2 the row and column steps, column 3 the position of pixel ``(0, 0)``. So a 2-D
  item's affine is also the affine of that slice as a one-slice volume ``(1, H, W)``.
- ``spacing``: float64, the lengths of the affine's index columns in mm: ``(3,)``
  ``(d, h, w)`` for whole-resource items, ``(2,)`` ``(row, column)`` for 2-D items.

Where a file records no position (PNG/JPEG, videos) the affine is in pixel units
(the identity), so every spacing is 1.0; along a video's frame axis it is 1.0 as well
(frames are time, not space).

After an ``alb_transform`` (see :func:`geometry_rule`), geometry is kept for pixel-level
transforms, rescaled for resizes, and set to NaN for anything that moves pixels in
other ways (crops, flips, rotations, elastic ...): a NaN affine never silently claims
a position it does not know. ``dataset.geometry(i)`` gives the untransformed geometry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from datamint.dataset.regions import Region
from datamint.entities import Resource
from datamint.geometry import Geometry, reverse_index_axes
from datamint.geometry_planes import PlaneView

__all__ = [
    "GEOMETRY_RULES",
    "geometry_rule",
    "identity_view",
    "item_affine",
    "metadata_geometry",
    "spacing_of",
    "transformed_affine",
]

GEOMETRY_RULES = ("keep", "resize", "drop")
_RESIZES = ("Resize", "LongestMaxSize", "SmallestMaxSize")
_NEUTRAL = ("ToTensorV2",)


def metadata_geometry(resource: Resource) -> Geometry | None:
    """A resource's geometry from its metadata alone (no download), or None.

    NIfTI resources carry ``metadata.affine`` (the file's, over its ``(x, y, z)`` index,
    RAS mm) and ``metadata.shape_xyz``; their ``(n, h, w)`` geometry is that affine with
    the index axes reversed. Others (DICOM) carry no affine: None, read the header.
    """
    metadata = resource.get("metadata") or {}
    affine = metadata.get("affine")
    if affine is None or metadata.get("shape_xyz") is None:
        return None
    try:
        return Geometry(reverse_index_axes(np.asarray(affine, dtype=np.float64)))
    except ValueError:
        return None


def identity_view(view: PlaneView, axis: int) -> bool:
    """Whether ``view`` slices stored axis ``axis`` in stored order with no transpose or
    flip, i.e. is what a raw slice gives."""
    rest = [a for a in (0, 1, 2) if a != axis]
    return (
        view.axis == axis
        and not (view.reverse or view.row_flip or view.col_flip)
        and (view.row_axis, view.col_axis) == tuple(rest)
    )


def item_affine(geometry: Geometry | None, region: Region) -> np.ndarray:
    """The affine of the item that shows ``region`` of a resource with ``geometry``.

    Args:
        geometry: The resource's geometry (affine over ``(n, h, w)``), or None.
        region: The whole resource, or one slice along an axis.

    Returns:
        A new writable float64 ``(4, 4)`` array (module docstring); the identity when
        there is no geometry, or when a slice has none (a video cut across its frames).
    """
    if geometry is not None and region.axis is not None:
        if region.view is not None and region.view.anatomical:
            raise ValueError("anatomical slices: use PlaneView.slice_geometry")
        geometry = geometry.slice(region.axis, region.index)
    if geometry is None:
        return np.eye(4)
    return np.array(geometry.affine, dtype=np.float64)


def spacing_of(affine: np.ndarray, spatial_ndim: int) -> np.ndarray:
    """float64 ``(spatial_ndim,)``: the norms of the affine's last ``spatial_ndim`` index
    columns (mm per step along each of the item's spatial axes)."""
    norms = np.linalg.norm(affine[:3, :3], axis=0)
    return np.ascontiguousarray(norms[3 - spatial_ndim :], dtype=np.float64)


def _leaves(transform: Any) -> Iterator[Any]:
    children = getattr(transform, "transforms", None)
    if children is None:
        yield transform
        return
    for child in children:
        yield from _leaves(child)


def geometry_rule(transform: Any) -> str:
    """How an albumentations pipeline changes an item's geometry.

    Returns:
        ``"keep"`` when every transform is pixel-level (an albumentations
        ``ImageOnlyTransform`` such as ``Normalize`` or ``RandomBrightnessContrast``, or
        ``ToTensorV2``); ``"resize"`` when, besides those, it only resizes (``Resize``,
        ``LongestMaxSize``, ``SmallestMaxSize``, always applied); ``"drop"`` otherwise.
    """
    if transform is None:
        return "keep"
    from albumentations.core.transforms_interface import ImageOnlyTransform

    rule = "keep"
    for leaf in _leaves(transform):
        name = type(leaf).__name__
        if isinstance(leaf, ImageOnlyTransform) or name in _NEUTRAL:
            continue
        if name in _RESIZES and float(getattr(leaf, "p", 1.0)) >= 1.0:
            rule = "resize"
            continue
        return "drop"
    return rule


def transformed_affine(
    affine: np.ndarray, rule: str, before: Sequence[int], after: Sequence[int]
) -> np.ndarray:
    """The affine after a transform that turned spatial shape ``before`` into ``after``.

    A resize by ``s = before / after`` along an axis scales that index column by ``s``
    and moves the origin by ``(s - 1) / 2`` old steps (pixel centres, as OpenCV's resize
    maps them). The trailing ``len(before)`` index columns are the spatial axes.

    Args:
        affine: float64 ``(4, 4)`` of the item before the transform.
        rule: From :func:`geometry_rule`.
        before, after: Spatial shapes, ``(H, W)`` or ``(D, H, W)``.

    Returns:
        A new float64 ``(4, 4)``; all NaN when ``rule`` is ``"drop"``, or when the shape
        changed under ``"keep"`` (a transform we did not expect to move pixels did).
    """
    before, after = tuple(before), tuple(after)
    if rule == "drop" or (rule == "keep" and before != after) or len(before) != len(after):
        return np.full((4, 4), np.nan)
    out = np.array(affine, dtype=np.float64)
    if before == after:
        return out
    first = 3 - len(before)
    for j, (old, new) in enumerate(zip(before, after, strict=True)):
        scale = old / new
        column = out[:3, first + j].copy()
        out[:3, 3] += column * (scale - 1.0) / 2.0
        out[:3, first + j] = column * scale
    return out
