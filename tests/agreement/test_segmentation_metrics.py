"""Dice, IoU, ASSD and HD95 on small masks whose answers are worked out by hand.

The spacing is anisotropic, (D, H, W) = (2.0, 1.0, 0.5) mm, so an axis mix-up changes
every distance below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from datamint.agreement import assd, compare_masks, dice, hd95, iou, surface_distances

SPACING = (2.0, 1.0, 0.5)


def _box(shape, d, h, w):
    mask = np.zeros(shape, bool)
    mask[d[0] : d[1], h[0] : h[1], w[0] : w[1]] = True
    return mask


def test_single_voxels_are_apart_by_the_spacing_of_each_axis():
    a = np.zeros((3, 4, 6), bool)
    b = np.zeros_like(a)
    a[1, 1, 1] = True
    b[1, 2, 3] = True  # one row (1.0 mm) and two columns (2 x 0.5 mm) away
    assert hd95(a, b, SPACING) == pytest.approx(math.sqrt(2.0))
    assert assd(a, b, SPACING) == pytest.approx(math.sqrt(2.0))
    c = np.zeros_like(a)
    c[0, 1, 1], a[...] = True, False
    a[2, 1, 1] = True  # two slices apart: 2 x 2.0 mm
    assert hd95(a, c, SPACING) == pytest.approx(4.0)


def test_box_shifted_by_one_slice():
    """A = 3x3x4 box, B = A moved one slice (2.0 mm) along D.

    |A| = |B| = 36, |A ∩ B| = 24: Dice 48/72, IoU 24/48. Each surface has 34 voxels (the
    6-connected erosion of the box keeps 2). From A's surface to B's: the 12 voxels of
    A's first slice are 2.0 mm away, the 2 voxels inside B's interior are 0.5 mm away
    (one column, not one row or slice), the other 20 are on B's surface; the same the
    other way. ASSD = 2 (12 x 2.0 + 2 x 0.5) / 68 = 50/68; the 95th percentile of 34
    sorted distances sits at position 31.35, among the 2.0 mm ones.
    """
    shape = (6, 5, 6)
    a = _box(shape, (1, 4), (1, 4), (1, 5))
    b = _box(shape, (2, 5), (1, 4), (1, 5))
    result = compare_masks(a, b, SPACING)
    assert result.dice == pytest.approx(2 / 3)
    assert result.iou == pytest.approx(0.5)
    assert result.assd_mm == pytest.approx(50 / 68)
    assert result.hd95_mm == pytest.approx(2.0)
    assert (result.voxels_a, result.voxels_b) == (36, 36)
    d_ab, d_ba = surface_distances(a, b, SPACING)
    assert sorted(d_ab.tolist()) == [0.0] * 20 + [0.5] * 2 + [2.0] * 12
    assert sorted(d_ba.tolist()) == sorted(d_ab.tolist())


def test_hd95_interpolates_between_sorted_distances():
    """A 10-pixel row, and the same row plus one pixel 4 rows (4 x 3.0 mm) below.

    Directed distances from A: ten 0s and one 12.0; position 0.95 x 10 = 9.5 lies halfway
    between 0 and 12, so HD95 = 6.0 while the full Hausdorff distance is 12.0.
    ASSD = 12 / (11 + 10). Dice = 20/21, IoU = 10/11.
    """
    b = np.zeros((6, 12), bool)
    b[0, :10] = True
    a = b.copy()
    a[4, 0] = True
    spacing = (3.0, 1.0)
    assert hd95(a, b, spacing) == pytest.approx(6.0)
    assert hd95(a, b, spacing, percentile=100) == pytest.approx(12.0)
    assert assd(a, b, spacing) == pytest.approx(12 / 21)
    assert dice(a, b) == pytest.approx(20 / 21)
    assert iou(a, b) == pytest.approx(10 / 11)
    # A 2-D image stored as one slice: the unit axis is dropped with its unknown spacing.
    assert hd95(a[None], b[None], (None, 3.0, 1.0)) == pytest.approx(6.0)


def test_empty_mask_conventions():
    shape = (4, 4, 4)
    empty = np.zeros(shape, bool)
    full = _box(shape, (1, 3), (1, 3), (1, 3))
    both = compare_masks(empty, empty, SPACING)
    assert (both.dice, both.iou, both.assd_mm, both.hd95_mm) == (1.0, 1.0, 0.0, 0.0)
    one = compare_masks(full, empty, SPACING)
    assert (one.dice, one.iou) == (0.0, 0.0)
    assert math.isinf(one.assd_mm) and math.isinf(one.hd95_mm)
    assert compare_masks(empty, full, SPACING).hd95_mm == math.inf


def test_distances_need_a_spacing_but_overlap_does_not():
    a = _box((4, 4, 4), (0, 2), (0, 2), (0, 2))
    result = compare_masks(a, a, None)
    assert result.dice == 1.0 and math.isnan(result.assd_mm) and math.isnan(result.hd95_mm)
    assert math.isnan(compare_masks(a, a, (None, 1.0, 1.0)).hd95_mm)  # depth 4, no spacing
    with pytest.raises(ValueError, match="need a spacing in mm"):
        surface_distances(a, a, None)


def test_bad_input_is_named():
    a = np.zeros((2, 3, 4), bool)
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3, 4\) and \(2, 3, 5\)"):
        dice(a, np.zeros((2, 3, 5), bool))
    with pytest.raises(ValueError, match="2 entries for masks of shape"):
        compare_masks(a, a, (1.0, 1.0))
    with pytest.raises(ValueError, match="finite and positive"):
        compare_masks(a, a, (1.0, -1.0, 1.0))
