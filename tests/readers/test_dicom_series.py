"""The demo DICOM series: order, HU, geometry against three independent sources, ZIP = folder,
and the series rules (one series, one orientation, no missing slice)."""

from __future__ import annotations

import re
import shutil
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut

from datamint.exceptions import InvalidResourceError
from datamint.geometry import lps_to_ras, reverse_index_axes
from datamint.readers import read_file, read_header

from .demo_files import DEMO, PYDICOM_FILES, cached_read, resources, series_zip

SERIES = "series/ct_lung2/"
FILES = sorted((DEMO / SERIES).glob("*.dcm"))


def test_slices_ascend_along_the_normal_inferior_to_superior() -> None:
    result = cached_read(SERIES)
    by_z = sorted(FILES, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    assert result.array.dtype == np.int16  # HU: stored + (0028,1052) -1024, 12 bits stored
    for k, path in enumerate(by_z):
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(result.array[0, k], ds.pixel_array.astype(np.int32) - 1024)
        # InstanceNumber 1 is the most superior slice, so it runs the other way.
        assert int(ds.InstanceNumber) == len(FILES) - k
    z = [(result.geometry.affine @ [k, 0, 0, 1])[2] for k in range(len(FILES))]
    assert np.all(np.diff(z) > 0)  # RAS z = superior
    assert result.metainfo.InstanceNumber == 20
    assert "PixelData" not in result.metainfo


def test_geometry_equals_mask_affine_permuted() -> None:
    record = next(r for r in resources() if r["filename"] == SERIES)
    geometry = cached_read(SERIES).geometry
    np.testing.assert_allclose(
        geometry.affine, reverse_index_axes(record["metadata"]["mask_affine"]), atol=1e-4
    )
    for mask in ("ct_lung2_series__lesion__alice", "ct_lung2_series__lesion__bob"):
        mask_result = read_file(DEMO / "masks3d" / f"{mask}.nii.gz")
        assert mask_result.array.shape == cached_read(SERIES).array.shape
        assert geometry.is_close(mask_result.geometry, atol_mm=1e-4)


def test_geometry_agrees_with_the_nifti_of_the_same_scan() -> None:
    """The series and volumes/lung2_ct.nii.gz are crops of one CT: same HU at the same mm."""
    series = cached_read(SERIES)
    nifti = cached_read("volumes/lung2_ct.nii.gz")
    to_nifti = np.linalg.inv(nifti.geometry.affine) @ series.geometry.affine
    index = np.indices(series.array.shape[1:]).reshape(3, -1)
    mapped = to_nifti[:3, :3] @ index + to_nifti[:3, 3:]
    rounded = np.round(mapped).astype(int)
    inside = np.all((rounded >= 0) & (rounded < np.array(nifti.array.shape[1:])[:, None]), axis=0)
    np.testing.assert_allclose(mapped, rounded, atol=1e-3)  # the grids coincide
    assert inside.sum() > 0.9 * inside.size
    hu_series = series.array[0].reshape(-1)[inside]  # the reader applied the intercept
    hu_nifti = nifti.array[0][tuple(rounded[:, inside])]
    np.testing.assert_array_equal(hu_series, hu_nifti)


def test_geometry_agrees_with_nibabel_dicom_wrapper() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nibabel.nicom warns that it is experimental on import
        from nibabel.nicom import dicomwrappers
    result = cached_read(SERIES)
    inverse = np.linalg.inv(result.geometry.affine)
    for path in FILES[:5]:
        ds = pydicom.dcmread(path)
        # nibabel indexes (row, column, slice) with its slice axis = column x row cosine.
        to_ours = inverse @ lps_to_ras(dicomwrappers.wrapper_from_data(ds).affine)
        k = round(to_ours[0, 3])
        np.testing.assert_allclose(
            to_ours, [[0, 0, -1, k], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], atol=1e-6
        )
        np.testing.assert_array_equal(result.array[0, k], apply_modality_lut(ds.pixel_array, ds))


def test_slice_geometry_equals_the_single_file_geometry() -> None:
    """Geometry.slice(0, k) of the volume is what the DICOM reader says about file k."""
    series = cached_read(SERIES)
    by_z = sorted(FILES, key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    for k in (0, 7, 19):
        single = read_file(by_z[k]).geometry
        assert series.geometry.slice(0, k).is_close(single, atol_mm=1e-6)
        assert single.origin_mm == pytest.approx(series.geometry.slice(0, k).origin_mm)


def test_zip_equals_folder(tmp_path: Path) -> None:
    folder = cached_read(SERIES)
    zipped = read_file(series_zip(FILES, tmp_path / "data"))
    assert zipped.reader == "dicom_series"
    np.testing.assert_array_equal(zipped.array, folder.array)
    assert zipped.geometry == folder.geometry
    assert zipped.metainfo.SOPInstanceUID == folder.metainfo.SOPInstanceUID
    header = read_header(tmp_path / "data")
    assert (header.shape, header.dtype, header.geometry) == (
        folder.array.shape,
        folder.array.dtype,
        folder.geometry,
    )
    assert (header.rescale_slope, header.rescale_intercept) == (1.0, -1024.0)


def _modified_copy(tmp_path: Path, edit: Callable[[Dataset], None]) -> tuple[Path, str]:
    folder = tmp_path / "series"
    shutil.copytree(DEMO / SERIES, folder)
    target = sorted(folder.glob("*.dcm"))[3]
    ds = pydicom.dcmread(target)
    edit(ds)
    ds.save_as(target)
    return folder, str(ds.SOPInstanceUID)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda ds: setattr(ds, "SeriesInstanceUID", "1.2.3.4"), "Series Instance UID"),
        (
            lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0.99, 0.141]),
            "Image Orientation",
        ),
        (lambda ds: delattr(ds, "ImagePositionPatient"), "Image Position"),
        (
            lambda ds: setattr(ds, "ImagePositionPatient", [15.7051, -135.7871, -215.0]),
            "same position",
        ),
    ],
    ids=["series_uid", "orientation", "no_position", "duplicate_position"],
)
def test_contract_violations_name_the_instance(
    tmp_path: Path, edit: Callable[[Dataset], None], message: str
) -> None:
    folder, uid = _modified_copy(tmp_path, edit)
    with pytest.raises(InvalidResourceError, match=message) as caught:
        read_file(folder)
    assert uid in str(caught.value) and str(folder) in str(caught.value)
    with pytest.raises(InvalidResourceError, match=message):
        read_header(folder)


def test_archive_without_dicom_is_invalid(tmp_path: Path) -> None:
    archive = tmp_path / "empty"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.txt", "nothing here")
    with pytest.raises(InvalidResourceError, match=f"{re.escape(str(archive))}.*no DICOM file"):
        read_file(archive)


def _by_position(folder: Path) -> list[Path]:
    return sorted(
        folder.glob("*.dcm"), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2])
    )


def test_missing_slice_names_its_neighbours(tmp_path: Path) -> None:
    folder = tmp_path / "gap"
    shutil.copytree(DEMO / SERIES, folder)
    by_z = _by_position(folder)
    by_z[7].unlink()
    before, after = (str(pydicom.dcmread(by_z[k]).SOPInstanceUID) for k in (6, 8))
    message = rf"about 1 slice\(s\) missing between instances {before} .* and {after} .*10 mm"
    with pytest.raises(InvalidResourceError, match=message):
        read_file(folder)
    with pytest.raises(InvalidResourceError, match=message):
        read_header(series_zip(sorted(folder.glob("*.dcm")), tmp_path / "data"))


def test_uneven_spacing_names_its_neighbours(tmp_path: Path) -> None:
    folder = tmp_path / "uneven"
    shutil.copytree(DEMO / SERIES, folder)
    path = _by_position(folder)[12]
    ds = pydicom.dcmread(path)
    ds.ImagePositionPatient = [*ds.ImagePositionPatient[:2], float(ds.ImagePositionPatient[2]) + 1]
    ds.save_as(path)
    with pytest.raises(InvalidResourceError, match=f"unevenly spaced.*{ds.SOPInstanceUID}"):
        read_header(folder)


def test_several_series_are_listed_with_their_counts(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    shutil.copytree(DEMO / SERIES, folder)
    extra = []
    for k, path in enumerate(FILES[:3]):
        ds = pydicom.dcmread(path)
        ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1"
        ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.1.{k + 1}"
        ds.save_as(folder / f"other_{k}.dcm")
        extra.append(ds.SOPInstanceUID)
    original = str(pydicom.dcmread(FILES[0]).SeriesInstanceUID)
    with pytest.raises(InvalidResourceError, match="holds 2 series") as caught:
        read_header(series_zip(sorted(folder.glob("*.dcm")), tmp_path / "data"))
    message = str(caught.value)
    assert f"{original}: 20 file(s)" in message
    assert "1.2.826.0.1.3680043.8.498.1: 3 file(s)" in message and extra[0] in message


def test_each_slice_is_rescaled_with_its_own_intercept(tmp_path: Path) -> None:
    folder, uid = _modified_copy(tmp_path, lambda ds: setattr(ds, "RescaleIntercept", -1000))
    result = read_file(folder)  # no warning: the values are right
    assert result.array.dtype == np.int16
    by_z = [pydicom.dcmread(p) for p in _by_position(folder)]
    k = next(i for i, ds in enumerate(by_z) if ds.SOPInstanceUID == uid)
    stored = by_z[k].pixel_array.astype(np.int32)
    np.testing.assert_array_equal(result.array[0, k], stored - 1000)
    np.testing.assert_array_equal(result.array[0, k + 1], cached_read(SERIES).array[0, k + 1])


def test_non_image_members(tmp_path: Path) -> None:
    """A DICOMDIR is skipped; any other non-image instance is an error naming it."""
    folder = tmp_path / "with_dicomdir"
    shutil.copytree(DEMO / SERIES, folder)
    dicomdir = Dataset()
    dicomdir.file_meta = pydicom.dataset.FileMetaDataset()
    dicomdir.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.1.3.10"
    dicomdir.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    dicomdir.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    dicomdir.FileSetID = "DEMO"
    dicomdir.save_as(folder / "DICOMDIR", enforce_file_format=True)
    np.testing.assert_array_equal(read_file(folder).array, cached_read(SERIES).array)
    shutil.copyfile(PYDICOM_FILES / "test-SR.dcm", folder / "report.dcm")
    with pytest.raises(InvalidResourceError, match=r"member 'report\.dcm'.*holds no image"):
        read_header(folder)
