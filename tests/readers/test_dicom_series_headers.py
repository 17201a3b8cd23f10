"""Series header reads that use the DICOM header scanner, against the pure pydicom path
(the scanner switched off): folders, a stored ZIP, files the scanner declines, and
errors worded as pydicom's path words them.
"""

from __future__ import annotations

import pickle
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pydicom.data
import pydicom.datadict
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ImplicitVRLittleEndian, RLELossless

import datamint.readers.dicom_series_scan as dicom_series_scan
from datamint.exceptions import InvalidResourceError
from datamint.readers import read_file, read_header

from .demo_files import series_zip
from .dicom_scan_support import BIG_ENDIAN, SERIES, nested_sequence

PydicomOnly = Callable[[Callable[[], Any]], Any]


@pytest.fixture
def pydicom_only(monkeypatch: pytest.MonkeyPatch) -> PydicomOnly:
    """Run a callable with the scanner switched off (every member parsed by pydicom)."""

    def run(fn: Callable[[], Any]) -> Any:
        with monkeypatch.context() as patch:
            patch.setattr(dicom_series_scan, "scan_header", lambda *args, **kwargs: None)
            return fn()

    return run


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file())


def _rewritten(tmp_path: Path, edit: Callable[[Dataset, int], None], **write: Any) -> Path:
    folder = tmp_path / "series"
    folder.mkdir()
    for index, path in enumerate(sorted(SERIES.glob("*.dcm"))):
        ds = pydicom.dcmread(path)
        edit(ds, index)
        pydicom.dcmwrite(folder / path.name, ds, **write)
    return folder


def _assert_same_header(path: Path, pydicom_only: PydicomOnly) -> None:
    fast = read_header(path)
    slow = pydicom_only(lambda: read_header(path))
    assert (fast.shape, fast.dtype) == (slow.shape, slow.dtype)
    np.testing.assert_array_equal(fast.geometry.affine, slow.geometry.affine)
    assert fast.geometry == slow.geometry
    assert (fast.rescale_slope, fast.rescale_intercept) == (
        slow.rescale_slope,
        slow.rescale_intercept,
    )
    assert fast.metainfo.SOPInstanceUID == slow.metainfo.SOPInstanceUID
    assert fast.metainfo == slow.metainfo  # every element of the first slice's header
    assert fast.metainfo.filename == slow.metainfo.filename


def _implicit(ds: Dataset, index: int) -> None:
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian


def _with_sequence(ds: Dataset, index: int) -> None:
    ds.add_new(0x00081140, "SQ", nested_sequence())


def _own_intercepts(ds: Dataset, index: int) -> None:
    ds.RescaleIntercept = -1024 + (index % 3)


def _rle(ds: Dataset, index: int) -> None:
    ds.compress(RLELossless)


def _big_endian(ds: Dataset, index: int) -> None:
    ds.file_meta.TransferSyntaxUID = BIG_ENDIAN


def _modality_lut(ds: Dataset, index: int) -> None:
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 16]
    item.add_new(0x00283006, "US", (np.arange(4096) - 1024).clip(0).tolist())
    item.ModalityLUTType = "HU"
    ds.ModalityLUTSequence = Sequence([item])
    del ds.RescaleIntercept, ds.RescaleSlope


@pytest.mark.parametrize(
    "edit",
    [_implicit, _with_sequence, _own_intercepts, _rle, _big_endian, _modality_lut],
    ids=lambda f: f.__name__.strip("_"),
)
def test_series_header_equals_the_pydicom_path(
    tmp_path: Path, pydicom_only: PydicomOnly, edit: Callable[..., None]
) -> None:
    big = {"implicit_vr": False, "little_endian": False, "force_encoding": True}
    write = big if edit is _big_endian else {}
    folder = _rewritten(tmp_path, edit, **write)
    _assert_same_header(folder, pydicom_only)
    _assert_same_header(series_zip(_files(folder), tmp_path / "series.zip"), pydicom_only)
    fast, slow = read_file(folder), pydicom_only(lambda: read_file(folder))
    np.testing.assert_array_equal(fast.array, slow.array)
    assert fast.array.dtype == slow.array.dtype and fast.geometry == slow.geometry
    assert fast.metainfo == slow.metainfo


def test_demo_series_header_equals_the_pydicom_path(
    tmp_path: Path, pydicom_only: PydicomOnly
) -> None:
    _assert_same_header(SERIES, pydicom_only)
    archive = series_zip(_files(SERIES), tmp_path / "ct_lung2.zip")
    _assert_same_header(archive, pydicom_only)
    full = read_file(archive)
    assert full.metainfo == read_header(archive).metainfo
    assert "PixelData" not in full.metainfo


def test_the_fast_path_is_taken_for_the_demo_series(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bool] = []
    original = pydicom.dcmread

    def dcmread(*args: Any, **kwargs: Any) -> Any:
        calls.append(bool(kwargs.get("stop_before_pixels")))
        return original(*args, **kwargs)

    monkeypatch.setattr(pydicom, "dcmread", dcmread)
    header = read_header(SERIES)
    assert header.shape == (1, 20, 128, 128) and calls == []  # 20 files, no pydicom parse
    assert header.metainfo.InstanceNumber == 20  # parsed now, once, headers only
    assert header.metainfo is header.metainfo and calls == [True]


def test_header_with_deferred_metainfo_pickles() -> None:
    header = read_header(SERIES)
    copy = pickle.loads(pickle.dumps(header))
    assert copy.metainfo.SOPInstanceUID == header.metainfo.SOPInstanceUID
    assert copy == header


def _edited_copy(tmp_path: Path, edit: Callable[[Dataset], None], index: int = 3) -> Path:
    folder = tmp_path / "edited"
    shutil.copytree(SERIES, folder)
    target = sorted(folder.glob("*.dcm"))[index]
    ds = pydicom.dcmread(target)
    edit(ds)
    ds.save_as(target)
    target.write_bytes(target.read_bytes().replace(b"0.6269599", b"0.626x599"))  # bad DS
    return folder


def _truncate(folder: Path) -> None:
    target = sorted(folder.glob("*.dcm"))[2]
    target.write_bytes(target.read_bytes()[:900])


@pytest.mark.parametrize(
    "edit",
    [
        lambda ds: setattr(ds, "Rows", 64),
        lambda ds: setattr(ds, "PhotometricInterpretation", "MONOCHROME1"),
        lambda ds: setattr(ds, "NumberOfFrames", 2),
        lambda ds: setattr(ds, "ImageOrientationPatient", [1, 0, 0, 0, 0.99, 0.141]),
        lambda ds: delattr(ds, "Rows"),
        lambda ds: setattr(ds, "PixelSpacing", "0.6269531\\0.6269599"),  # patched to x
        lambda ds: setattr(ds, "SeriesInstanceUID", "1.2.3.4"),
        lambda ds: setattr(ds, "ImagePositionPatient", [15.7051, -135.7871, -215.0]),
        lambda ds: setattr(ds, "BitsAllocated", 12),
    ],
    ids=[
        "rows",
        "photometric",
        "frames",
        "orientation",
        "no_rows",
        "bad_spacing",
        "series",
        "position",
        "bits",
    ],
)
def test_errors_are_worded_as_on_the_pydicom_path(
    tmp_path: Path, pydicom_only: PydicomOnly, edit: Callable[[Dataset], None]
) -> None:
    """The same error, or (the edit not breaking a rule) the same header."""
    files = sorted(SERIES.glob("*.dcm"))
    lowest = min(range(len(files)), key=lambda k: pydicom.dcmread(files[k]).ImagePositionPatient[2])
    for index in (0, 3, lowest):  # first in member order, in the middle, first in volume order
        folder = _edited_copy(tmp_path / str(index), edit, index)
        try:
            slow = pydicom_only(lambda folder=folder: read_header(folder))
        except InvalidResourceError as exc:
            with pytest.raises(InvalidResourceError, match=re.escape(str(exc))):
                read_header(folder)
        else:
            _assert_same_header(folder, pydicom_only)
            assert slow.shape == read_header(folder).shape


def test_a_truncated_member_is_left_to_pydicom(tmp_path: Path, pydicom_only: PydicomOnly) -> None:
    folder = tmp_path / "truncated"
    shutil.copytree(SERIES, folder)
    _truncate(folder)
    with pytest.raises(InvalidResourceError) as slow:
        pydicom_only(lambda: read_header(folder))
    with pytest.raises(InvalidResourceError, match=re.escape(str(slow.value))):
        read_header(folder)
