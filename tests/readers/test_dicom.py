"""Single-file DICOM values: Modality LUT and its dtype, MONOCHROME1, palette, YBR, metainfo."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, convert_color_space
from pydicom.sequence import Sequence

from datamint.readers import read_file, read_header

from .demo_files import DEMO, PYDICOM_FILES, cached_read

MONOCHROME = [
    "images2d/cr_chest_pa_j2ki.dcm",
    "images2d/cr_tibia_j2kr.dcm",
    "images2d/ct_abdomen_pancreas_j2k.dcm",
    "images2d/ct_spine_jpegll.dcm",
    "images2d/mr_liver_overlay.dcm",
    "images2d/us_echo_jpegll.dcm",
    "videos/mr_enhanced_10f.dcm",
]


def _pixels(relative: str) -> np.ndarray:
    return pydicom.dcmread(DEMO / relative).pixel_array


def _saved(tmp_path: Path, ds: Dataset, name: str = "data") -> Path:
    path = tmp_path / name
    ds.save_as(path)
    return path


def test_ct_comes_out_in_hounsfield_units_as_int16() -> None:
    """(0028,1052) Rescale Intercept -1024, slope 1, 12 bits stored: int16 HU exactly."""
    relative = "images2d/ct_spine_jpegll.dcm"
    result = cached_read(relative)
    assert result.array.dtype == np.int16
    np.testing.assert_array_equal(result.array[0, 0], _pixels(relative).astype(np.int32) - 1024)
    header = read_header(DEMO / relative)
    assert header.dtype == np.int16
    assert (header.rescale_slope, header.rescale_intercept) == (1.0, -1024.0)


@pytest.mark.parametrize("relative", MONOCHROME)
def test_monochrome_values_equal_pydicoms_modality_lut(relative: str) -> None:
    ds = pydicom.dcmread(DEMO / relative)
    expected = apply_modality_lut(ds.pixel_array, ds)  # float64 when it rescales
    if ds.PhotometricInterpretation == "MONOCHROME1":
        bits = int(ds.BitsStored)
        expected = (2**bits - 1) - expected
    got = cached_read(relative).array[0]
    assert got.shape == (int(ds.get("NumberOfFrames") or 1), ds.Rows, ds.Columns)
    np.testing.assert_array_equal(got, expected.reshape(got.shape))
    assert np.issubdtype(got.dtype, np.integer)  # integer slope and intercept stay integers


@pytest.mark.parametrize(
    ("slope", "intercept", "dtype"),
    [
        (1, 0, np.int16),  # identity: the stored dtype
        (1, -1024, np.int32),  # 16 signed bits stored: -33792..31743 does not fit int16
        (1, 100.5, np.float32),
        (0.5, -10, np.float32),
    ],
)
def test_rescale_dtype_rule(tmp_path: Path, slope: float, intercept: float, dtype: type) -> None:
    ds = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm")  # int16, Bits Stored 16
    stored = ds.pixel_array.astype(np.float64)
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    path = _saved(tmp_path, ds)
    array = read_file(path).array
    assert array.dtype == dtype
    assert read_header(path).dtype == dtype
    np.testing.assert_array_equal(array[0, 0], (stored * slope + intercept).astype(dtype))


@pytest.mark.parametrize("vr", ["OW", "US"])
def test_modality_lut_sequence_is_applied(tmp_path: Path, vr: str) -> None:
    """(0028,3000): LUT Descriptor (entries, first mapped, bits), values below/above clip."""
    ds = pydicom.dcmread(PYDICOM_FILES / "MR_small.dcm")
    stored = ds.pixel_array.astype(np.int64)
    first, entries = 100, 1000
    lut = (np.arange(entries) * 3 + 7).astype(np.uint16)
    item = Dataset()
    item.LUTDescriptor = [entries, first, 12]
    if vr == "OW":  # 16-bit words in the file's byte order
        item.add_new(0x00283006, "OW", lut.astype("<u2").tobytes())
    else:
        item.add_new(0x00283006, "US", lut.tolist())
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    path = _saved(tmp_path, ds)
    array = read_file(path).array
    expected = lut[np.clip(stored - first, 0, entries - 1)]
    assert array.dtype == np.uint16 and read_header(path).dtype == np.uint16
    np.testing.assert_array_equal(array[0, 0], expected)


def test_monochrome1_is_inverted_after_the_rescale(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/cr_tibia_j2kr.dcm")  # MONOCHROME1, 10 bits stored
    stored = ds.pixel_array.astype(np.int32)
    ds.RescaleSlope, ds.RescaleIntercept = 1, -100
    array = read_file(_saved(tmp_path, ds)).array
    # Output range [-100, 923]; x = v - 100 becomes -100 + 923 - x = 923 - v.
    assert array.dtype == np.int16
    np.testing.assert_array_equal(array[0, 0], 923 - stored)


def test_per_frame_rescale_of_an_enhanced_object(tmp_path: Path) -> None:
    """(0028,9145) per frame in (5200,9230): each frame is rescaled with its own values."""
    ds = pydicom.dcmread(DEMO / "videos/mr_enhanced_10f.dcm")
    stored = ds.pixel_array.astype(np.float64)
    frames = []
    for k in range(10):
        frame, pvt = Dataset(), Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = 1, -k, "US"
        frame.PixelValueTransformationSequence = Sequence([pvt])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    path = _saved(tmp_path, ds)
    array = read_file(path).array
    assert array.dtype == np.int16 and read_header(path).dtype == np.int16
    np.testing.assert_array_equal(array[0], stored - np.arange(10)[:, None, None])


def test_colour_is_not_rescaled(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/us_tee_doppler_rgb.dcm")
    ds.RescaleSlope, ds.RescaleIntercept = 2, 5
    array = read_file(_saved(tmp_path, ds)).array
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array[:, 0], ds.pixel_array.transpose(2, 0, 1))


@pytest.mark.parametrize(
    ("relative", "eight_bit"),
    [
        ("images2d/us_obstetric_palette.dcm", lambda lut: lut >> 8),  # v * 256
        ("images2d/us_pelvis_palette16.dcm", lambda lut: lut // 257),  # v * 257, segmented
    ],
)
def test_eight_bit_palettes_give_uint8_rgb(
    relative: str, eight_bit: Callable[[np.ndarray], np.ndarray]
) -> None:
    ds = pydicom.dcmread(DEMO / relative)
    assert ds.RedPaletteColorLookupTableDescriptor[2] == 16  # 16-bit words, 8-bit colours
    expected = eight_bit(apply_color_lut(ds.pixel_array, ds))
    array = cached_read(relative).array
    assert array.dtype == np.uint8 and read_header(DEMO / relative).dtype == np.uint8
    np.testing.assert_array_equal(array[:, 0], expected.transpose(2, 0, 1))


def test_sixteen_bit_palette_stays_uint16(tmp_path: Path) -> None:
    assert cached_read("images2d/us_obstetric_palette.dcm").array.dtype == np.uint8  # cached
    ds = pydicom.dcmread(DEMO / "images2d/us_obstetric_palette.dcm")
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, dtype="<u2").copy()
    red[1::2] += 1  # now uses all 16 bits
    ds.RedPaletteColorLookupTableData = red.tobytes()
    path = _saved(tmp_path, ds)
    array = read_file(path).array
    assert array.dtype == np.uint16 and read_header(path).dtype == np.uint16
    expected = apply_color_lut(ds.pixel_array, ds)
    np.testing.assert_array_equal(array[:, 0], expected.transpose(2, 0, 1))


def test_palette_with_eight_bit_descriptor(tmp_path: Path) -> None:
    ds = pydicom.dcmread(DEMO / "images2d/us_obstetric_palette.dcm")
    for colour in ("Red", "Green", "Blue"):
        words = np.frombuffer(getattr(ds, f"{colour}PaletteColorLookupTableData"), dtype="<u2")
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 8])
        setattr(ds, f"{colour}PaletteColorLookupTableData", (words >> 8).astype(np.uint8).tobytes())
    array = read_file(_saved(tmp_path, ds)).array
    assert array.dtype == np.uint8
    np.testing.assert_array_equal(array, cached_read("images2d/us_obstetric_palette.dcm").array)


def test_metainfo_is_the_dataset_without_pixel_data() -> None:
    metainfo = cached_read("images2d/mr_liver_overlay.dcm").metainfo
    assert isinstance(metainfo, Dataset)
    assert "PixelData" not in metainfo
    assert metainfo.Modality == "MR"
    assert metainfo.Rows == 484
    # The overlay plane (6000,3000) is not pixel data and stays available.
    assert metainfo.overlay_array(0x6000).shape == (484, 484)


@pytest.mark.parametrize(
    ("relative", "bits_stored"),
    [("images2d/cr_chest_pa_j2ki.dcm", 15), ("images2d/cr_tibia_j2kr.dcm", 10)],
)
def test_monochrome1_is_inverted_within_bits_stored(relative: str, bits_stored: int) -> None:
    result = cached_read(relative)
    stored = _pixels(relative)
    assert result.metainfo.PhotometricInterpretation == "MONOCHROME1"
    assert result.array.dtype == stored.dtype
    np.testing.assert_array_equal(result.array[0, 0], (2**bits_stored - 1) - stored)


def test_rgb_keeps_channel_order() -> None:
    relative = "images2d/us_tee_doppler_rgb.dcm"
    np.testing.assert_array_equal(
        cached_read(relative).array[:, 0], _pixels(relative).transpose(2, 0, 1)
    )


def test_ybr_jpeg_cine_is_converted_once() -> None:
    relative = "videos/echo_a4c_30f_jpeg.dcm"
    array = cached_read(relative).array
    rgb = _pixels(relative)  # pydicom 3 returns RGB for YBR_FULL_422 JPEG already
    np.testing.assert_array_equal(array, rgb.transpose(3, 0, 1, 2))
    twice = convert_color_space(rgb[:2], "YBR_FULL", "RGB")
    assert not np.array_equal(array[:, :2], twice.transpose(3, 0, 1, 2))
    assert cached_read(relative).metainfo.PhotometricInterpretation == "YBR_FULL_422"


def test_multiframe_frames_become_n() -> None:
    relative = "videos/mr_enhanced_10f.dcm"
    np.testing.assert_array_equal(cached_read(relative).array[0], _pixels(relative))
