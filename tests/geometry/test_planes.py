"""Anatomical planes: "axial" is axial whatever the storage order, in one display layout.

Phantom files (datamint.testing.phantoms) store one patient box in many orders; each
voxel's value names its exact RAS position. Read back with ``read_file``, every plane of
every storage must give the same items: slices of constant S (axial), A (coronal) or R
(sagittal) stepping toward S/A/R, rows from anterior (axial) or superior, columns from
patient right (axial, coronal) or anterior (sagittal).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

import datamint
from datamint.geometry import (
    Calibration,
    Geometry,
    NAxis,
    PlaneView,
    plane_view,
    resolve_plane,
)
from datamint.geometry_planes import anatomical_axes
from datamint.readers import ReadResult, read_file, read_header
from datamint.testing.phantoms import (
    BOX_COUNTS,
    OBLIQUE_DEG,
    PLANE_LENGTHS,
    PLANE_SHAPES,
    Phantom,
    box_affine,
    write_dicom_multiframe_phantom,
    write_dicom_series_phantom,
    write_nifti_phantom,
)

DEMO = Path(datamint.__file__).resolve().parent / "demo" / "data"
PLANES = ("axial", "coronal", "sagittal")
# Per plane: (world axis of the normal, of the rows, of the columns); rows and columns
# run toward the negative RAS direction (posterior, inferior, left).
LAYOUT = {"axial": (2, 1, 0), "coronal": (1, 2, 0), "sagittal": (0, 2, 1)}
R, A, S = 0, 1, 2

Writer = Callable[[Path], Phantom]
STORAGES: dict[str, Writer] = {
    "nifti RAS": lambda d: write_nifti_phantom(d / "ras.nii.gz", "RAS"),
    "nifti LPS": lambda d: write_nifti_phantom(d / "lps.nii.gz", "LPS"),
    "nifti LAS qform": lambda d: write_nifti_phantom(d / "las.nii", "LAS", forms="qform"),
    "nifti coronal LSA": lambda d: write_nifti_phantom(d / "lsa.nii.gz", "LSA"),
    "nifti sagittal PIR sform": lambda d: write_nifti_phantom(d / "pir.nii", "PIR", forms="sform"),
    "nifti oblique RAS": lambda d: write_nifti_phantom(d / "obl.nii.gz", "RAS", OBLIQUE_DEG),
    "nifti oblique LSA qform": lambda d: write_nifti_phantom(
        d / "obl_lsa.nii", "LSA", OBLIQUE_DEG, forms="qform"
    ),
    "dicom axial SPL": lambda d: write_dicom_series_phantom(d / "axial", "SPL"),
    "dicom axial IPR": lambda d: write_dicom_series_phantom(d / "axial_ipr", "IPR"),
    "dicom coronal AIL": lambda d: write_dicom_series_phantom(d / "coronal", "AIL"),
    "dicom sagittal LIP": lambda d: write_dicom_series_phantom(d / "sagittal", "LIP"),
    "dicom oblique SPL": lambda d: write_dicom_series_phantom(d / "oblique", "SPL", OBLIQUE_DEG),
    "dicom multi-frame IPL": lambda d: write_dicom_multiframe_phantom(d / "mf.dcm", "IPL"),
    "dicom multi-frame oblique RIP": lambda d: write_dicom_multiframe_phantom(
        d / "mf_obl.dcm", "RIP", OBLIQUE_DEG
    ),
}


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Phantom, ReadResult]]:
    folder = tmp_path_factory.mktemp("phantoms")
    out = {}
    for name, write in STORAGES.items():
        phantom = write(folder)
        result = read_file(phantom.path)
        result.array.flags.writeable = False
        out[name] = (phantom, result)
    return out


def expected_world(plane: str, oblique: bool) -> np.ndarray:
    """float64 ``(slices, rows, cols, 3)``: the RAS mm each item voxel must show, from the
    box alone (its RAS-ordered affine), in the documented convention."""
    slices, rows, cols = (BOX_COUNTS[d] for d in LAYOUT[plane])
    k, r, c = np.meshgrid(np.arange(slices), np.arange(rows), np.arange(cols), indexing="ij")
    box_index = np.zeros((4, k.size))
    box_index[3] = 1.0
    normal, along_rows, along_cols = LAYOUT[plane]
    box_index[normal] = k.ravel()  # toward +normal
    box_index[along_rows] = BOX_COUNTS[along_rows] - 1 - r.ravel()  # toward -direction
    box_index[along_cols] = BOX_COUNTS[along_cols] - 1 - c.ravel()
    affine = box_affine("RAS", OBLIQUE_DEG if oblique else (0.0, 0.0, 0.0))
    return (affine @ box_index)[:3].T.reshape(slices, rows, cols, 3)


def items_world(phantom: Phantom, array: np.ndarray, view: PlaneView) -> np.ndarray:
    """The RAS mm encoded in every voxel of every item, ``(slices, rows, cols, 3)``."""
    return np.stack(
        [phantom.world(view.take(array, k)[0]) for k in range(view.length(array.shape))]
    )


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("storage", STORAGES)
def test_every_storage_gives_the_same_items_for_a_plane(
    phantoms: dict[str, tuple[Phantom, ReadResult]], storage: str, plane: str
) -> None:
    phantom, result = phantoms[storage]
    array, geometry = result.array, result.geometry
    view = resolve_plane(geometry.affine, plane)
    assert view.length(array.shape) == PLANE_LENGTHS[plane]
    assert view.plane_shape(array.shape) == PLANE_SHAPES[plane]
    world = items_world(phantom, array, view)
    np.testing.assert_allclose(world, expected_world(plane, "oblique" in storage), atol=1e-4)
    assert plane_view(geometry, plane) == view
    assert plane_view(read_header(phantom.path).geometry, plane) == view


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("storage", [s for s in STORAGES if "oblique" not in s])
def test_slices_are_the_plane_and_follow_the_display_convention(
    phantoms: dict[str, tuple[Phantom, ReadResult]], storage: str, plane: str
) -> None:
    phantom, result = phantoms[storage]
    world = items_world(phantom, result.array, resolve_plane(result.geometry.affine, plane))
    normal, along_rows, along_cols = LAYOUT[plane]
    # Each item is that plane: the coordinate along its normal is one value per slice...
    assert np.all(np.ptp(world[..., normal], axis=(1, 2)) == 0)
    # ...increasing toward S (axial), A (coronal), R (sagittal).
    assert np.all(np.diff(world[:, 0, 0, normal]) > 0)
    # Row 0 is the most anterior (axial) or superior; column 0 the most right (axial,
    # coronal) or anterior (sagittal); both strictly decrease, and are one per row/column.
    assert np.all(np.ptp(world[..., along_rows], axis=(0, 2)) == 0)
    assert np.all(np.diff(world[0, :, 0, along_rows]) < 0)
    assert np.all(np.ptp(world[..., along_cols], axis=(0, 1)) == 0)
    assert np.all(np.diff(world[0, 0, :, along_cols]) < 0)


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("storage", [s for s in STORAGES if "oblique" in s])
def test_oblique_slices_are_closest_to_the_plane(
    phantoms: dict[str, tuple[Phantom, ReadResult]], storage: str, plane: str
) -> None:
    phantom, result = phantoms[storage]
    world = items_world(phantom, result.array, resolve_plane(result.geometry.affine, plane))
    normal, along_rows, along_cols = LAYOUT[plane]
    for points in world.reshape(len(world), -1, 3):  # one slice: a plane within ~22 degrees
        centred = points - points.mean(axis=0)
        fitted_normal = np.linalg.svd(centred)[2][-1]
        assert abs(fitted_normal[normal]) > np.cos(np.radians(25))
    assert np.all(np.diff(world[..., normal].mean(axis=(1, 2))) > 0)
    assert np.all(np.diff(world[..., along_rows].mean(axis=(0, 2))) < 0)
    assert np.all(np.diff(world[..., along_cols].mean(axis=(0, 1))) < 0)


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("storage", STORAGES)
def test_slice_affine_maps_each_pixel_to_its_encoded_position(
    phantoms: dict[str, tuple[Phantom, ReadResult]], storage: str, plane: str
) -> None:
    phantom, result = phantoms[storage]
    array, geometry = result.array, result.geometry
    view = resolve_plane(geometry.affine, plane)
    world = items_world(phantom, array, view)
    rows, cols = view.plane_shape(array.shape)
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    index = np.stack([np.zeros(r.size), r.ravel(), c.ravel(), np.ones(r.size)])
    for k in range(view.length(array.shape)):
        affine = view.slice_affine(geometry.affine, array.shape, k)
        mapped = (affine @ index)[:3].T.reshape(rows, cols, 3)
        np.testing.assert_allclose(mapped, world[k], atol=1e-4)
        if k + 1 < len(world):  # column 0 is the step to the next item
            np.testing.assert_allclose(
                affine[:3, 0], world[k + 1, 0, 0] - world[k, 0, 0], atol=1e-4
            )
        item = view.slice_geometry(geometry, array.shape, k)
        assert item.n_axis is NAxis.SINGLE
        np.testing.assert_allclose(item.affine[:, 1:], affine[:, 1:], atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(item.affine[:3, 0]), 1.0)


@pytest.mark.parametrize("plane", PLANES)
@pytest.mark.parametrize("storage", ["nifti RAS", "dicom coronal AIL", "nifti oblique RAS"])
def test_take_and_reorient_are_views_that_agree(
    phantoms: dict[str, tuple[Phantom, ReadResult]], storage: str, plane: str
) -> None:
    _, result = phantoms[storage]
    array, geometry = result.array, result.geometry
    view = resolve_plane(geometry.affine, plane)
    whole = view.reorient(array)
    assert whole.shape == (1, PLANE_LENGTHS[plane], *PLANE_SHAPES[plane])
    assert np.shares_memory(whole, array)
    for k in range(view.length(array.shape)):
        item = view.take(array, k)
        assert np.shares_memory(item, array) and item.base is not None
        np.testing.assert_array_equal(item, whole[:, k])
    masks = np.stack([array[0], -array[0]])  # leading axes (labels) are kept
    np.testing.assert_array_equal(view.take(masks, 2), np.stack([whole[0, 2], -whole[0, 2]]))
    reoriented = view.reorient_geometry(geometry, array.shape)
    for k in (0, view.length(array.shape) - 1):
        np.testing.assert_allclose(
            reoriented.affine @ [k, 1, 2, 1],
            view.slice_affine(geometry.affine, array.shape, k) @ [0, 1, 2, 1],
        )


def test_stored_slice_order_is_reversed_only_where_it_runs_away_from_s_a_r(
    phantoms: dict[str, tuple[Phantom, ReadResult]],
) -> None:
    def reverse(storage: str, plane: str) -> bool:
        return resolve_plane(phantoms[storage][1].geometry.affine, plane).reverse

    assert not reverse("dicom axial SPL", "axial")  # sorted along the normal, toward S
    assert reverse("dicom axial IPR", "axial")  # columns toward R: the normal is I
    assert reverse("dicom coronal AIL", "coronal")  # IOP 1,0,0,0,0,-1: the normal is P
    assert not reverse("dicom sagittal LIP", "sagittal")  # IOP 0,1,0,0,0,-1: normal R
    assert reverse("dicom multi-frame IPL", "axial")  # frames in file order, head first
    assert not reverse("nifti RAS", "axial") and reverse("nifti LPS", "sagittal")


def test_an_axial_dicom_series_keeps_its_stored_layout(
    phantoms: dict[str, tuple[Phantom, ReadResult]],
) -> None:
    _, result = phantoms["dicom axial SPL"]
    view = resolve_plane(result.geometry.affine, "axial")
    assert (view.axis, view.reverse, view.row_flip, view.col_flip) == (0, False, False, False)
    assert view.take(result.array, 3).strides == result.array[:, 3].strides
    nifti = resolve_plane(box_affine("SAR"), "axial")  # an RAS NIfTI, as (n, h, w)
    assert (nifti.axis, nifti.reverse, nifti.row_flip, nifti.col_flip) == (0, False, True, True)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_integer_axes_are_raw_array_axes(
    phantoms: dict[str, tuple[Phantom, ReadResult]], axis: int
) -> None:
    _, result = phantoms["nifti coronal LSA"]
    array, geometry = result.array, result.geometry
    view = resolve_plane(None, axis)
    assert view == resolve_plane(geometry.affine, axis) == plane_view(geometry, axis)
    assert not view.anatomical and not (view.reverse or view.row_flip or view.col_flip)
    raw = [lambda k: array[:, k], lambda k: array[:, :, k], lambda k: array[:, :, :, k]][axis]
    for k in range(view.length(array.shape)):
        np.testing.assert_array_equal(view.take(array, k), raw(k))
        assert view.slice_geometry(geometry, array.shape, k) == geometry.slice(axis, k)
        np.testing.assert_allclose(
            view.slice_affine(geometry.affine, array.shape, k)[:, 1:],
            geometry.slice(axis, k).affine[:, 1:],
        )


def signed_permutations() -> list[str]:
    letters = [("R", "L"), ("A", "P"), ("S", "I")]
    out = []
    for order in ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)):
        for signs in np.ndindex(2, 2, 2):
            out.append("".join(letters[w][s] for w, s in zip(order, signs, strict=True)))
    return out


@pytest.mark.parametrize("codes", signed_permutations())
def test_all_48_axis_orders_give_the_same_items(codes: str) -> None:
    """Without files: the box in each of the 48 signed axis orders of (n, h, w)."""
    affine = box_affine(codes)
    shape = tuple(BOX_COUNTS["RAS".index(c) if c in "RAS" else "LPI".index(c)] for c in codes)
    index = np.indices(shape)
    world = np.einsum("ij,j...->...i", affine[:3, :3], index) + affine[:3, 3]
    for plane in PLANES:
        view = resolve_plane(affine, plane)
        reoriented = np.moveaxis(view.reorient(np.moveaxis(world, -1, 0)), 0, -1)
        np.testing.assert_allclose(reoriented, expected_world(plane, oblique=False), atol=1e-9)


def test_ties_at_45_degrees_go_to_the_lowest_axis_for_s_then_a() -> None:
    def rotated_about_s(degrees: float) -> np.ndarray:
        t = np.radians(degrees)
        affine = np.eye(4)  # n -> S; h and w rotate in the R-A plane
        affine[:3, :3] = [[0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)], [1, 0, 0]]
        return affine

    assert anatomical_axes(rotated_about_s(44.0))[0] == (1, 2, 0)  # h ~ R, w ~ A
    assert anatomical_axes(rotated_about_s(46.0))[0] == (2, 1, 0)  # h ~ A, w ~ L
    assert anatomical_axes(rotated_about_s(45.0))[0] == (2, 1, 0)  # tie: A-P takes h
    tilted = np.eye(4)[:, [2, 1, 0, 3]]  # n -> S, h -> A, w -> R
    tilted[:3, 0] = [0, np.sqrt(0.5), np.sqrt(0.5)]  # n at 45 degrees between A and S
    tilted[:3, 1] = [0, np.sqrt(0.5), -np.sqrt(0.5)]
    axes, signs = anatomical_axes(tilted)
    assert axes == (2, 1, 0) and signs == (1, 1, 1)  # tie: S-I takes n, the lowest


def test_plane_view_falls_back_to_stored_axes_without_patient_geometry() -> None:
    spacing_only = Geometry(np.diag([3.0, 2.0, 1.0, 1.0]), calibration=Calibration.SPACING)
    cine = Geometry(box_affine("SPL"), n_axis=NAxis.TIME, frame_interval_s=0.04)
    for geometry in (None, spacing_only, cine):
        for plane, axis in zip(PLANES, (0, 1, 2), strict=True):
            view = plane_view(geometry, plane)
            assert view.plane == plane and not view.anatomical
            assert (view.axis, view.reverse, view.row_flip, view.col_flip) == (axis, *[False] * 3)
    lps = Geometry(box_affine("SPL"), space="LPS")  # n -> S, h -> A, w -> R once in RAS
    assert plane_view(lps, "sagittal") == resolve_plane(lps.to_space("RAS").affine, "sagittal")
    item = plane_view(spacing_only, "coronal").slice_geometry(spacing_only, (4, 5, 6), 1)
    assert item == spacing_only.slice(1, 1)


def test_reorient_geometry_refuses_to_turn_frames_into_rows() -> None:
    cine = Geometry(box_affine("SPL"), n_axis=NAxis.TIME, frame_interval_s=0.04)
    with pytest.raises(ValueError, match="n axis is time"):
        resolve_plane(cine.affine, "coronal").reorient_geometry(cine, (7, 6, 5))
    kept = resolve_plane(None, 0).reorient_geometry(cine, (7, 6, 5))
    assert kept.is_close(cine)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: resolve_plane(np.eye(4), "transverse"), ValueError, "plane must be one of"),
        (lambda: resolve_plane(np.eye(4), 3), ValueError, "must be 0, 1 or 2"),
        (lambda: resolve_plane(np.eye(4), True), ValueError, "plane must be one of"),
        (lambda: resolve_plane(None, "axial"), ValueError, "needs a RAS affine"),
        (lambda: resolve_plane(np.diag([1, 1, 0, 1]), "axial"), ValueError, "singular"),
        (lambda: resolve_plane(np.eye(3), "axial"), ValueError, r"shape \(4, 4\)"),
        (lambda: resolve_plane(None, 0).take(np.zeros((4, 5)), 0), ValueError, "last axes"),
        (lambda: resolve_plane(None, 0).take([[[1]]], 0), TypeError, "numpy array"),
        (lambda: resolve_plane(None, 0).take(np.zeros((4, 5, 6)), 4), IndexError, "out of range"),
        (lambda: resolve_plane(None, 1).take(np.zeros((4, 5, 6)), -1), IndexError, "out of range"),
        (lambda: resolve_plane(None, 2).slice_affine(np.eye(4), (2, 2, 2), 2), IndexError, "2"),
    ],
)
def test_invalid_input(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize(
    "name",
    ["brain1_mr", "breast1_mr", "colin27_t1_2mm", "itk_kmeanstest_t1", "lung2_ct", "mni152_t1_2mm"],
)
def test_demo_volumes_agree_with_nibabel_axis_codes(name: str) -> None:
    """nibabel's ``aff2axcodes`` of the file affine names each file axis (x, y, z); ours
    are (n, h, w) = (z, y, x). The demo itk_kmeanstest_t1 is stored coronally."""
    path = DEMO / "volumes" / f"{name}.nii.gz"
    file_codes = nib.aff2axcodes(nib.load(path).affine)
    geometry = read_header(path).geometry
    for plane, letters in (("axial", "SI"), ("coronal", "AP"), ("sagittal", "RL")):
        file_axis = next(i for i, code in enumerate(file_codes) if code in letters)
        view = resolve_plane(geometry.affine, plane)
        assert view.axis == 2 - file_axis
        assert view.reverse == (file_codes[file_axis] == letters[1])
    assert resolve_plane(geometry.affine, "axial").axis == (1 if name == "itk_kmeanstest_t1" else 0)
