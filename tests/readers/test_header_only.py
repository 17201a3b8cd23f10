"""Header reads never decode pixels: decoders are replaced by tripwires while they run."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import cv2
import nibabel as nib
import pydicom
import pytest
from pydicom.pixels.decoders.base import Decoder

from datamint.readers import read_header

from .demo_files import DEMO
from .reference import REFERENCE

SERIES = DEMO / "series/ct_lung2"


def _tripwire(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a header read decoded pixel data")


@pytest.fixture
def no_pixel_decoding(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Forbid every pixel decoder; record each ``dcmread``'s ``stop_before_pixels``."""
    for owner, name in [
        (Decoder, "as_array"),
        (Decoder, "iter_array"),
        (nib.arrayproxy.ArrayProxy, "__array__"),
        (nib.arrayproxy.ArrayProxy, "__getitem__"),
        (cv2, "imdecode"),
    ]:
        monkeypatch.setattr(owner, name, _tripwire)
    stops: list[bool] = []
    original = pydicom.dcmread

    def dcmread(*args: Any, **kwargs: Any) -> Any:
        stops.append(bool(kwargs.get("stop_before_pixels")))
        return original(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", dcmread)
    return stops


@pytest.mark.parametrize(
    "relative",
    [
        "images2d/ct_spine_jpegll.dcm",
        "images2d/us_pelvis_palette16.dcm",  # the palette dtype comes from the LUT, not pixels
        "videos/echo_a4c_30f_jpeg.dcm",
        "volumes/lung2_ct.nii.gz",
        "images2d/fundus_retina.jpg",
        "images2d/histology_he_tile.png",
    ],
)
def test_file_headers(no_pixel_decoding: list[bool], relative: str) -> None:
    header = read_header(DEMO / relative)
    assert header.shape == REFERENCE[relative]["shape"]
    assert header.dtype == REFERENCE[relative]["dtype"]
    assert all(no_pixel_decoding)


def test_series_zip_reads_only_member_headers(
    no_pixel_decoding: list[bool], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    archive = Path(shutil.make_archive(str(tmp_path / "series"), "zip", SERIES))
    read_sizes: list[int] = []
    original = zipfile.ZipExtFile.read

    def read(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        data = original(self, n)
        read_sizes.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", read)
    header = read_header(archive)
    assert header.shape == (1, 20, 128, 128)
    assert no_pixel_decoding == []  # every member scanned without pydicom
    assert header.metainfo.SOPInstanceUID  # the first slice's header, parsed on first access
    assert no_pixel_decoding == [True]
    pixel_bytes = 20 * 128 * 128 * 2
    assert sum(read_sizes) < pixel_bytes / 4  # headers only: no member's pixel data read
    assert read_header(SERIES).geometry == header.geometry


def test_series_in_a_stored_zip_is_read_at_entry_offsets(
    no_pixel_decoding: list[bool], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Stored (uncompressed) entries are read with os.pread at their data offsets:
    headers only, equal to the folder's read; a deflated entry and a README mixed in work."""
    from datamint.testing.series_zip import stored_series_zip

    files = sorted(SERIES.glob("*.dcm"))
    readme = tmp_path / "README.txt"
    readme.write_text("not DICOM")
    archive = tmp_path / "series.zip"
    with open(archive, "wb") as fh:
        stored_series_zip([(p.name, p) for p in [*files[1:], readme]], fh)
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(files[0], files[0].name)  # one deflated entry: read through zipfile
    reads: list[int] = []
    real = os.pread

    def pread(fd: int, n: int, offset: int) -> bytes:
        data = real(fd, n, offset)
        reads.append(len(data))
        return data

    monkeypatch.setattr(os, "pread", pread)
    header = read_header(archive)
    assert header.shape == (1, 20, 128, 128)
    assert no_pixel_decoding == []
    assert len(reads) >= 19 and sum(reads) < 19 * 128 * 128 * 2 / 4  # no pixel data read
    folder = read_header(SERIES)
    assert header.geometry == folder.geometry
    assert header.metainfo.SOPInstanceUID == folder.metainfo.SOPInstanceUID


def test_series_in_a_stored_zip_decodes_like_the_folder(tmp_path: Path) -> None:
    from datamint.readers import read_file
    from datamint.testing.series_zip import stored_series_zip

    archive = tmp_path / "series.zip"
    with open(archive, "wb") as fh:
        stored_series_zip([(p.name, p) for p in sorted(SERIES.glob("*.dcm"))], fh)
    assert (read_file(archive).array == read_file(SERIES).array).all()
