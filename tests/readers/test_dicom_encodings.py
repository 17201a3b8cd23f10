"""DICOM transfer syntaxes, and DICOM inputs that must fail with a clear error.

One MR image in seven encodings (pydicom's own test files) must decode to the same
values; other samples are compared with pydicom's ``pixel_array``.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from datamint.exceptions import InvalidResourceError, ReaderError, UnsupportedFormatError
from datamint.readers import FileHint, read_file, read_header

from .demo_files import DEMO, PYDICOM_FILES, cached_read

MR_SMALL_ENCODINGS = [
    "MR_small_implicit.dcm",  # Implicit VR Little Endian
    "MR_small_bigendian.dcm",  # Explicit VR Big Endian
    "MR_small_expb.dcm",  # Explicit VR Big Endian
    "MR_small_RLE.dcm",  # RLE Lossless
    "MR_small_jp2klossless.dcm",  # JPEG 2000 Lossless
    "MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS Lossless
]


@pytest.mark.parametrize("name", MR_SMALL_ENCODINGS)
def test_one_image_in_every_lossless_syntax(name: str) -> None:
    reference = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm").pixel_array
    result = read_file(PYDICOM_FILES / name)
    assert result.array.dtype == np.dtype(np.int16)  # native byte order, also for big endian
    assert result.array.dtype.isnative and result.array.flags.c_contiguous
    np.testing.assert_array_equal(result.array[0, 0], reference)
    header = read_header(PYDICOM_FILES / name)
    assert (header.shape, header.dtype) == (result.array.shape, result.array.dtype)


def test_excess_padding_warns_and_decodes() -> None:
    reference = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm").pixel_array
    with pytest.warns(UserWarning, match="excess padding"):  # pydicom's own warning
        array = read_file(PYDICOM_FILES / "MR_small_padded.dcm").array
    np.testing.assert_array_equal(array[0, 0], reference)


@pytest.mark.parametrize(
    "name",
    [
        "image_dfl.dcm",  # Deflated Explicit VR Little Endian
        "JPGExtended.dcm",  # JPEG Extended 12-bit
        "JPEGLSNearLossless_16.dcm",  # JPEG-LS near-lossless, 16-bit
        "SC_rgb_jpeg_dcmtk.dcm",  # JPEG Baseline, YBR_FULL
        "SC_rgb_rle.dcm",  # RLE, RGB
        "SC_rgb_rle_16bit_2frame.dcm",  # RLE, 16-bit RGB, 2 frames
        "SC_rgb_small_odd_big_endian.dcm",  # big endian RGB, odd size
        "JPEG2000.dcm",  # JPEG 2000 lossy
    ],
)
def test_other_syntaxes_match_pydicom(name: str) -> None:
    ds = pydicom.dcmread(PYDICOM_FILES / name)
    assert "RescaleIntercept" not in ds or float(ds.RescaleIntercept) == 0
    expected = ds.pixel_array
    frames = int(ds.get("NumberOfFrames") or 1)
    samples = int(ds.SamplesPerPixel)
    expected = expected.reshape(frames, ds.Rows, ds.Columns, samples).transpose(3, 0, 1, 2)
    result = read_file(PYDICOM_FILES / name)
    np.testing.assert_array_equal(result.array, expected)
    assert result.array.dtype == expected.dtype.newbyteorder("=")
    assert read_header(PYDICOM_FILES / name).shape == result.array.shape


@pytest.mark.parametrize(
    "uid",
    ["1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.100"],  # JPEG XL Lossless, MPEG-2
    ids=["jpeg_xl", "mpeg2"],
)
def test_syntax_without_a_decoder_is_unsupported(tmp_path: Path, uid: str) -> None:
    ds = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm")
    mpeg2 = "1.2.840.10008.1.2.4.100"  # pydicom 3.0 writes it, but cannot write JPEG XL:
    ds.file_meta.TransferSyntaxUID = UID(mpeg2)  # same length, so patch the bytes after
    ds.PixelData = encapsulate([b"\x00\x01" * 64])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "scan.dcm"
    ds.save_as(path, implicit_vr=False, little_endian=True)
    path.write_bytes(path.read_bytes().replace(mpeg2.encode(), uid.encode()))
    with pytest.raises(UnsupportedFormatError, match=re.escape(str(path))) as caught:
        read_file(path)
    assert uid in str(caught.value) and "decoder" in str(caught.value)
    header = read_header(path)  # the header alone is fine: nothing is decoded
    assert header.shape == (1, 1, 64, 64)


def test_dicom_without_pixel_data_is_invalid(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/mr_liver_overlay.dcm")
    del ds.PixelData
    path = tmp_path / "no_pixels.dcm"
    ds.save_as(path)
    with pytest.raises(InvalidResourceError, match=r"no_pixels\.dcm.*\(7FE0,0010\) Pixel Data"):
        read_file(path)


def test_truncated_pixel_data_is_invalid() -> None:
    with pytest.raises(InvalidResourceError, match=r"MR_truncated\.dcm"):
        read_file(PYDICOM_FILES / "MR_truncated.dcm")


def test_png_named_dcm_is_read_as_png(tmp_path: Path) -> None:
    """The bytes decide: a PNG uploaded as ``.dcm`` (DICOM hint) still reads right."""
    path = tmp_path / "scan.dcm"
    shutil.copyfile(DEMO / "images2d/histology_he_tile.png", path)
    hint = FileHint("scan.dcm", "application/dicom", "DicomResource")
    result = read_file(path, hint)
    assert result.reader == "image"
    np.testing.assert_array_equal(result.array, cached_read("images2d/histology_he_tile.png").array)
    assert read_header(path, hint).shape == result.array.shape


def test_dicom_named_png_is_read_as_dicom(tmp_path: Path) -> None:
    path = tmp_path / "photo.png"
    shutil.copyfile(DEMO / "images2d/ct_spine_jpegll.dcm", path)
    result = read_file(path, FileHint("photo.png", "image/png", "ImageResource"))
    assert result.reader == "dicom"
    np.testing.assert_array_equal(result.array, cached_read("images2d/ct_spine_jpegll.dcm").array)


def test_junk_with_a_dicom_hint_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"this is a text file, not DICOM\n" * 20)
    with pytest.raises(UnsupportedFormatError, match=re.escape(str(path))):
        read_file(path, FileHint("scan.dcm", "application/dicom", None))


def test_dicom_truncated_inside_the_header(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes((DEMO / "images2d/mr_liver_overlay.dcm").read_bytes()[:700])
    with pytest.raises(ReaderError, match=re.escape(str(path))):
        read_header(path)
    with pytest.raises(ReaderError, match=re.escape(str(path))):
        read_file(path)
