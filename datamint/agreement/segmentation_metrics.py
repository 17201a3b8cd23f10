"""How well two binary masks agree: overlap (Dice, IoU) and surface distances in mm.

Definitions
    Dice (Dice 1945, *Ecology* 26(3):297-302): ``2 |A ∩ B| / (|A| + |B|)``.
    IoU (Jaccard index; Taha & Hanbury 2015, *BMC Medical Imaging* 15:29):
    ``|A ∩ B| / (|A| + |B| - |A ∩ B|)``.
    Surface: the voxels of a mask with a face neighbour outside it, ``mask XOR
    binary_erosion(mask)`` with SciPy's default (face-connected) structuring element;
    outside the array counts as outside the mask. Distances between surfaces are
    Euclidean distances between voxel centres, in mm, from
    ``scipy.ndimage.distance_transform_edt(..., sampling=spacing)``.
    ASSD, average symmetric surface distance (Heimann et al. 2009, *IEEE TMI* 28(8):1251-1265;
    Taha & Hanbury 2015): the mean, over the surface voxels of both masks, of each voxel's
    distance to the other mask's surface.
    HD95, the 95th-percentile Hausdorff distance as in the Medical Segmentation Decathlon and
    MONAI's ``compute_hausdorff_distance(..., percentile=95)``: the larger of the two directed
    95th percentiles (``numpy.percentile``, linear interpolation) of those distances.

Empty masks
    Both empty: Dice 1, IoU 1, ASSD 0, HD95 0 (two annotators agreeing there is nothing).
    One empty: Dice 0, IoU 0, ASSD and HD95 ``inf`` (the distance to an empty set is the
    infimum over no points, +inf; it also sorts such pairs last when ranking by distance).

Axes and spacing
    Masks may be 2-D or 3-D. Axes of length 1 are dropped before surfaces are taken (a
    single slice is a 2-D image, not a slab whose every voxel is on the surface), together
    with their spacing, which may then be ``None``. The distances are ``nan`` when the
    spacing is unknown (``spacing=None``, or ``None`` along an axis longer than 1: videos,
    uncalibrated images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

__all__ = [
    "MaskAgreement",
    "assd",
    "compare_masks",
    "dice",
    "hd95",
    "iou",
    "surface_distances",
]

Spacing = Sequence[float | None] | None


@dataclass(frozen=True)
class MaskAgreement:
    """Every metric of two masks, from one pair of distance transforms.

    Attributes:
        dice: Dice coefficient in [0, 1].
        iou: Intersection over union in [0, 1].
        assd_mm: Average symmetric surface distance in mm (``inf`` if one mask is empty,
            ``nan`` without a spacing).
        hd95_mm: 95th-percentile symmetric Hausdorff distance in mm (same conventions).
        voxels_a: Number of voxels in mask A.
        voxels_b: Number of voxels in mask B.
    """

    dice: float
    iou: float
    assd_mm: float
    hd95_mm: float
    voxels_a: int
    voxels_b: int

    def to_dict(self) -> dict[str, float | int]:
        """The fields as a dict (floats may be ``nan`` or ``inf``)."""
        return asdict(self)


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a) != 0
    b = np.asarray(b) != 0
    if a.shape != b.shape:
        raise ValueError(f"masks must have the same shape, got {a.shape} and {b.shape}")
    return a, b


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient ``2 |A ∩ B| / (|A| + |B|)`` (Dice 1945); 1.0 when both are empty.

    Args:
        a: The first mask, any dtype (non-zero is inside).
        b: The second mask, of the same shape.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: If the shapes differ.
    """
    a, b = _pair(a, b)
    return _dice(int(a.sum()), int(b.sum()), int(np.count_nonzero(a & b)))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union (Jaccard index); 1.0 when both are empty.

    ``|A ∩ B| / (|A| + |B| - |A ∩ B|)``.

    Args:
        a: The first mask, any dtype (non-zero is inside).
        b: The second mask, of the same shape.

    Returns:
        A float in [0, 1].

    Raises:
        ValueError: If the shapes differ.
    """
    a, b = _pair(a, b)
    return _iou(int(a.sum()), int(b.sum()), int(np.count_nonzero(a & b)))


def _dice(na: int, nb: int, both: int) -> float:
    return 1.0 if na + nb == 0 else 2.0 * both / (na + nb)


def _iou(na: int, nb: int, both: int) -> float:
    union = na + nb - both
    return 1.0 if union == 0 else both / union


def _drop_unit_axes(
    a: np.ndarray, b: np.ndarray, spacing: Spacing
) -> tuple[np.ndarray, np.ndarray, tuple[float, ...] | None]:
    """Squeeze length-1 axes; the spacing of the kept axes, or None when one is unknown."""
    if spacing is not None and len(spacing) != a.ndim:
        raise ValueError(
            f"spacing {tuple(spacing)} has {len(spacing)} entries for masks of shape {a.shape}"
        )
    keep = [i for i, n in enumerate(a.shape) if n > 1]
    shape = tuple(a.shape[i] for i in keep)
    a, b = a.reshape(shape), b.reshape(shape)
    if spacing is None:
        return a, b, None
    kept = [spacing[i] for i in keep]
    if any(s is None for s in kept):
        return a, b, None
    values = tuple(float(s) for s in kept)  # type: ignore[arg-type]
    if not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing must be finite and positive (mm), got {tuple(spacing)}")
    return a, b, values


def _surface(mask: np.ndarray) -> np.ndarray:
    """Voxels of ``mask`` with a face neighbour outside it (or outside the array)."""
    if mask.ndim == 0:  # a single voxel is all surface
        return mask.copy()
    return mask & ~ndimage.binary_erosion(mask)


def _crop(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both masks cut to the bounding box of their union plus one voxel (exact: the
    distances are between surface voxels, which all lie inside it)."""
    union = a | b
    slices = []
    for axis in range(union.ndim):
        other = tuple(i for i in range(union.ndim) if i != axis)
        hits = np.flatnonzero(union.any(axis=other))
        slices.append(slice(max(int(hits[0]) - 1, 0), int(hits[-1]) + 2))
    box = tuple(slices)
    return a[box], b[box]


def surface_distances(
    a: np.ndarray, b: np.ndarray, spacing: Spacing
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances, A's surface to B's and B's to A's, in mm.

    Args:
        a: The first mask, 2-D or 3-D (non-zero is inside).
        b: The second mask, of the same shape.
        spacing: Voxel size in mm along each axis of the masks, e.g. ``(D, H, W)``
            spacing; ``None`` entries are allowed only on axes of length 1.

    Returns:
        ``(d_ab, d_ba)``: float64 arrays, one distance per surface voxel of A (to B's
        surface) and of B (to A's surface). Empty arrays when a mask is empty; a mask
        that is not empty against an empty one gets ``inf`` distances.

    Raises:
        ValueError: If the shapes differ, the spacing has the wrong length, an entry
            needed is ``None``, or an entry is not finite and positive.
    """
    a, b = _pair(a, b)
    a, b, sampling = _drop_unit_axes(a, b, spacing)
    if sampling is None:
        raise ValueError(
            f"surface distances need a spacing in mm for every axis longer than 1; got {spacing}"
        )
    return _directed(a, b, sampling)


def _directed(
    a: np.ndarray, b: np.ndarray, sampling: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    if not a.any() or not b.any():
        n_a = int(_surface(a).sum())
        n_b = int(_surface(b).sum())
        return np.full(n_a, np.inf), np.full(n_b, np.inf)
    if a.ndim == 0:  # one voxel in all, inside both masks
        return np.zeros(1), np.zeros(1)
    a, b = _crop(a, b)
    surf_a, surf_b = _surface(a), _surface(b)
    to_b = ndimage.distance_transform_edt(~surf_b, sampling=sampling)
    to_a = ndimage.distance_transform_edt(~surf_a, sampling=sampling)
    return np.asarray(to_b[surf_a], np.float64), np.asarray(to_a[surf_b], np.float64)


def _assd(d_ab: np.ndarray, d_ba: np.ndarray) -> float:
    n = d_ab.size + d_ba.size
    return 0.0 if n == 0 else float((d_ab.sum() + d_ba.sum()) / n)


def _hd(d_ab: np.ndarray, d_ba: np.ndarray, percentile: float) -> float:
    if d_ab.size == 0 and d_ba.size == 0:
        return 0.0
    if np.isinf(d_ab).any() or np.isinf(d_ba).any():
        return math.inf
    return float(max(np.percentile(d, percentile) for d in (d_ab, d_ba)))


def assd(a: np.ndarray, b: np.ndarray, spacing: Spacing) -> float:
    """Average symmetric surface distance in mm (Heimann et al. 2009).

    ``(Σ_{x ∈ ∂A} d(x, ∂B) + Σ_{y ∈ ∂B} d(y, ∂A)) / (|∂A| + |∂B|)``.

    Args:
        a: The first mask, 2-D or 3-D (non-zero is inside).
        b: The second mask, of the same shape.
        spacing: Voxel size in mm per axis (module docstring for ``None``).

    Returns:
        The distance in mm: 0 when both are empty, ``inf`` when one is, ``nan`` when
        the spacing is unknown.

    Raises:
        ValueError: If the shapes differ or the spacing is invalid.
    """
    return compare_masks(a, b, spacing).assd_mm


def hd95(a: np.ndarray, b: np.ndarray, spacing: Spacing, percentile: float = 95.0) -> float:
    """Percentile Hausdorff distance in mm, as MONAI's ``compute_hausdorff_distance``.

    ``max(P95{d(x, ∂B) : x ∈ ∂A}, P95{d(y, ∂A) : y ∈ ∂B})`` with ``numpy.percentile``
    (linear interpolation); ``percentile=100`` is the classic Hausdorff distance.

    Args:
        a: The first mask, 2-D or 3-D (non-zero is inside).
        b: The second mask, of the same shape.
        spacing: Voxel size in mm per axis (module docstring for ``None``).
        percentile: In [0, 100].

    Returns:
        The distance in mm: 0 when both are empty, ``inf`` when one is, ``nan`` when
        the spacing is unknown.

    Raises:
        ValueError: If the shapes differ, the spacing is invalid or the percentile is
            outside [0, 100].
    """
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {percentile}")
    a, b = _pair(a, b)
    a, b, sampling = _drop_unit_axes(a, b, spacing)
    if sampling is None:
        return math.nan
    return _hd(*_directed(a, b, sampling), percentile)


def compare_masks(a: np.ndarray, b: np.ndarray, spacing: Spacing) -> MaskAgreement:
    """Dice, IoU, ASSD and HD95 of two masks (module docstring for the definitions).

    Args:
        a: The first mask, 2-D or 3-D, any dtype (non-zero is inside), e.g. bool
            ``(D, H, W)``.
        b: The second mask, of the same shape.
        spacing: Voxel size in mm along each axis, e.g. ``(D, H, W)`` spacing; None, or
            None along an axis longer than 1, leaves the distances ``nan``.

    Returns:
        A :class:`MaskAgreement`.

    Raises:
        ValueError: If the shapes differ, or the spacing has the wrong length or a
            non-positive entry.
    """
    a, b = _pair(a, b)
    na, nb, both = int(a.sum()), int(b.sum()), int(np.count_nonzero(a & b))
    a, b, sampling = _drop_unit_axes(a, b, spacing)
    if sampling is None:
        distance_assd = distance_hd = math.nan
    else:
        d_ab, d_ba = _directed(a, b, sampling)
        distance_assd, distance_hd = _assd(d_ab, d_ba), _hd(d_ab, d_ba, 95.0)
    return MaskAgreement(
        dice=_dice(na, nb, both),
        iou=_iou(na, nb, both),
        assd_mm=distance_assd,
        hd95_mm=distance_hd,
        voxels_a=na,
        voxels_b=nb,
    )
