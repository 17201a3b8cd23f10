"""A DICOM series goes over the wire as ONE multi-frame DICOM, as the platform sends it.

The demo series (20 single-frame CT files) is imported, uploaded as several files and as a
ZIP; each time the server stores one Legacy Converted Enhanced CT whose frames, read back
by our DICOM reader, equal the series reader's volume of the original files (pixels
exactly, affine within 1e-3 mm), so masks drawn on that volume still line up.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import httpx
import nibabel as nib
import numpy as np
import pydicom
import pytest

from datamint.dataset.volume_dataset import VolumeDataset
from datamint.demo import data_dir as demo_data_dir
from datamint.readers import ReadResult, read_file, read_header
from datamint.server.series_dicom import build_series_dicom
from datamint.testing.series_zip import stored_series_zip

from .conftest import demo_manifest

SERIES = "series/ct_lung2/"
LEGACY_ENHANCED_CT = "1.2.840.10008.5.1.4.1.1.2.2"
AFFINE_TOLERANCE_MM = 1e-3


def _series_record() -> dict[str, Any]:
    return next(r for r in demo_manifest()["resources"] if r["filename"] == SERIES)


def _source_files() -> list[Path]:
    return sorted((demo_data_dir() / SERIES).glob("*.dcm"))


def _by_position() -> list[Path]:
    """The source files from inferior to superior ((0020,0032) z, the slice normal)."""
    return sorted(_source_files(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> ReadResult:
    """The series reader's volume of the original files, read from a stored ZIP."""
    archive = tmp_path_factory.mktemp("zip") / "ct_lung2.zip"
    with open(archive, "wb") as fh:
        stored_series_zip([(p.name, p) for p in _source_files()], fh)
    result = read_file(archive)
    assert result.reader == "dicom_series"
    folder = read_file(demo_data_dir() / SERIES)
    assert np.array_equal(result.array, folder.array)
    return result


@pytest.fixture(scope="module")
def served(demo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo series' file as ``GET /resources/{id}/file`` serves it."""
    record = _series_record()
    response = httpx.get(
        f"{demo_server.url}/resources/{record['id']}/file",
        headers={"apikey": demo_server.api_key},
        trust_env=False,
        timeout=30.0,
    )
    assert response.status_code == 200
    path = tmp_path_factory.mktemp("served") / "ct_lung2.dcm"
    path.write_bytes(response.content)
    return path


def _assert_same_volume(path: Path, originals: ReadResult) -> None:
    result = read_file(path)
    assert result.reader == "dicom"
    assert result.array.dtype == originals.array.dtype
    assert np.array_equal(result.array, originals.array)
    assert result.geometry is not None and originals.geometry is not None
    assert result.geometry.n_axis == originals.geometry.n_axis
    difference = np.abs(result.geometry.affine - originals.geometry.affine)
    assert difference.max() < AFFINE_TOLERANCE_MM
    header = read_header(path)
    assert header.shape == originals.array.shape
    assert header.geometry is not None
    assert np.abs(header.geometry.affine - originals.geometry.affine).max() < AFFINE_TOLERANCE_MM


def test_imported_series_is_one_multiframe_dicom(
    demo_http: httpx.Client, demo_server: Any, served: Path
) -> None:
    record = demo_http.get(f"/resources/{_series_record()['id']}").json()
    assert record["mimetype"] == "application/dicom"
    assert record["storage"] == "DicomResource"
    metadata = record["metadata"]
    assert (metadata["frame_count"], metadata["width"], metadata["height"]) == (20, 128, 128)
    ds = pydicom.dcmread(served)
    assert ds.SOPClassUID == LEGACY_ENHANCED_CT and int(ds.NumberOfFrames) == 20
    shared = ds.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient] == [
        1,
        0,
        0,
        0,
        1,
        0,
    ]
    measures = shared.PixelMeasuresSequence[0]
    assert [float(v) for v in measures.PixelSpacing] == pytest.approx([0.6269531] * 2)
    assert float(measures.SpacingBetweenSlices) == pytest.approx(5.0)
    z = [
        float(frame.PlanePositionSequence[0].ImagePositionPatient[2])
        for frame in ds.PerFrameFunctionalGroupsSequence
    ]
    assert z == [-310.0 + 5.0 * k for k in range(20)]  # ascending along the normal (+z)
    # the shared rescale, repeated at the top level as in the platform's merged files
    transformation = shared.PixelValueTransformationSequence[0]
    assert float(transformation.RescaleIntercept) == float(ds.RescaleIntercept) == -1024.0
    assert float(ds.RescaleSlope) == 1.0


def test_served_series_equals_the_series_readers_volume(
    served: Path, originals: ReadResult
) -> None:
    _assert_same_volume(served, originals)


def test_demo_masks_line_up_with_the_served_series(
    demo_server: Any, served: Path, originals: ReadResult, tmp_path: Path
) -> None:
    """The mask's voxel (x, y, z) and the image's voxel (n=z, h=y, w=x) are one point in
    space and one voxel of the item, and the lesion sits in soft tissue, not lung."""
    ds = VolumeDataset(
        project="demo",
        server_url=demo_server.url,
        api_key=demo_server.api_key,
        cache_dir=tmp_path / "cache",
    )
    index = [r.filename for r in ds.resources].index(SERIES)
    item = ds[index]
    image = np.asarray(item["image"])
    assert np.array_equal(image, originals.array)
    source = next(
        a
        for a in demo_manifest()["annotations"]
        if a["resource_id"] == _series_record()["id"] and a["created_by"] == "alice@example.org"
    )
    nifti = nib.load(demo_data_dir() / source["file"])
    mask_xyz = np.asarray(nifti.dataobj) != 0
    ours = np.asarray(item["masks"]["alice@example.org"])[0].astype(bool)
    assert np.array_equal(ours, mask_xyz.transpose(2, 1, 0))
    swap = np.eye(4)[[2, 1, 0, 3]]  # (n, h, w) index -> (x, y, z) index
    assert originals.geometry is not None
    mask_affine = np.asarray(nifti.affine) @ swap
    served_geometry = read_header(served).geometry
    assert served_geometry is not None
    assert np.abs(served_geometry.affine - mask_affine).max() < AFFINE_TOLERANCE_MM
    assert (image[0][ours] > -400).mean() > 0.97  # tumour, not aerated lung (about -800 HU)


def test_reimport_keeps_the_same_bytes(tmp_path: Path) -> None:
    from datamint.server.importer import import_project
    from datamint.server.store import ProjectStore

    shas = []
    for name in ("a", "b"):
        store = ProjectStore(tmp_path / name)
        import_project(store, demo_data_dir())
        found = store.resources.get(_series_record()["id"])
        assert found is not None
        shas.append(found[1])
    assert shas[0] == shas[1]


def _upload(client: httpx.Client, files: list[tuple[str, tuple[str, bytes, str]]]) -> Any:
    return client.post("/resources", files=files, data={"bypass_inbox": "true"})


def _fetch(client: httpx.Client, record: dict[str, Any], tmp_path: Path) -> Path:
    response = client.get(record["resource_uri"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/dicom"
    path = tmp_path / "fetched.dcm"
    path.write_bytes(response.content)
    return path


def test_upload_of_several_files_is_one_series(
    member: httpx.Client, originals: ReadResult, tmp_path: Path
) -> None:
    files = [
        ("resource", (f"ct_lung2/{p.name}", p.read_bytes(), "application/dicom"))
        for p in reversed(_source_files())
    ]
    response = _upload(member, files)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["filename"] == "ct_lung2/"
    assert (record["mimetype"], record["storage"]) == ("application/dicom", "DicomResource")
    assert record["metadata"]["frame_count"] == 20 and len(record["files"]) == 20
    _assert_same_volume(_fetch(member, record, tmp_path), originals)


def test_upload_of_a_zip_is_one_series(
    member: httpx.Client, originals: ReadResult, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", "not a DICOM file")
        for index, path in enumerate(_source_files()):
            zf.write(path, f"export/{index:04d}")
    files = [("resource", ("lung.zip", buffer.getvalue(), "application/zip"))]
    response = _upload(member, files)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["filename"] == "lung/" and record["mimetype"] == "application/dicom"
    assert record["metadata"]["frame_count"] == 20
    assert {f["path"] for f in record["files"]} == {f"export/{i:04d}" for i in range(20)}
    _assert_same_volume(_fetch(member, record, tmp_path), originals)


def test_upload_of_a_zip_without_dicom_is_kept(member: httpx.Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("notes.txt", "just text")
    response = _upload(member, [("resource", ("notes.zip", buffer.getvalue(), "application/zip"))])
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["mimetype"] == "application/zip" and "files" not in record
    assert member.get(record["resource_uri"]).content == buffer.getvalue()


def test_upload_of_a_zip_with_one_dicom_is_that_file(member: httpx.Client) -> None:
    source = _source_files()[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(source, "one/slice.dcm")
    files = [("resource", ("one.zip", buffer.getvalue(), "application/zip"))]
    response = member.post("/resources", files=files, data={"mimetype": "application/zip"})
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["filename"], record["mimetype"]) == ("slice.dcm", "application/dicom")
    assert member.get(record["resource_uri"]).content == source.read_bytes()


def test_upload_of_a_corrupt_zip_is_refused(member: httpx.Client) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a.dcm", _source_files()[0].read_bytes())
    data = bytearray(buffer.getvalue())
    data[200:400] = bytes(200)  # inside the member: its CRC no longer matches
    response = _upload(member, [("resource", ("bad.zip", bytes(data), "application/zip"))])
    assert response.status_code == 422
    assert "corrupt ZIP archive" in response.json()["message"]


def _as_secondary_capture(path: Path) -> bytes:
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    out = io.BytesIO()
    ds.save_as(out)
    return out.getvalue()


def test_series_of_another_sop_class_is_refused(member: httpx.Client) -> None:
    files = [
        ("resource", (f"sc/{p.name}", _as_secondary_capture(p), "application/dicom"))
        for p in _by_position()[:3]
    ]
    response = _upload(member, files)
    assert response.status_code == 422
    message = json.dumps(response.json())
    assert "Secondary Capture Image Storage" in message and "CT, MR and PET" in message


def test_series_with_a_gap_is_refused(tmp_path: Path) -> None:
    files = _by_position()
    gapped = [(p.name, p) for p in files[:5] + files[6:]]
    with pytest.raises(ValueError, match=r"about 1 slice\(s\) missing"):
        build_series_dicom(gapped, io.BytesIO(), what="gapped/")
