"""The DICOM header scanner against pydicom, and the series header read that uses it.

The scanner (``datamint.readers.dicom_header_scan``) may decline a file (``None``: the
reader asks pydicom), never report a value pydicom would not. Checked on every DICOM
file of the demo data and of pydicom's own test files, on hand-built files (undefined
lengths, UN, truncation), and through ``read_header`` of series against the pure
pydicom path (the scanner switched off).
"""

from __future__ import annotations

import io
import pickle
import random
import re
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pydicom.data
import pydicom.datadict
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

import datamint.readers.dicom_series as dicom_series
import datamint.readers.dicom_series_scan as dicom_series_scan
from datamint.exceptions import InvalidResourceError
from datamint.readers import read_file, read_header
from datamint.readers.dicom_header_scan import (
    PREFIX_BYTES,
    WANTED,
    HeaderScan,
    ScanTemplate,
    decimal_values,
    integer_value,
    is_complex,
    scan_header,
    text_value,
    uint16_value,
)

DEMO = Path(dicom_series.__file__).resolve().parents[1] / "demo" / "data"
SERIES = DEMO / "series" / "ct_lung2"
PYDICOM_FILES = Path(pydicom.data.__file__).resolve().parent / "test_files"

BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"

# pydicom test files the scanner declines, and why (module docstring of the scanner).
# Runs a callable with the scanner switched off (the ``pydicom_only`` fixture).
PydicomOnly = Callable[[Callable[[], Any]], Any]

DECLINED = {
    "SC_rgb_jpeg.dcm": "implicit VR data under an explicit (JPEG) transfer syntax",
    "nested_priv_SQ.dcm": "a data set tag (0001,0001) not above group 0002",
    "meta_missing_tsyntax.dcm": "no (0002,0010) Transfer Syntax UID",
    "rtplan_truncated.dcm": "truncated before the walk ends",
}


def _dicom_files() -> list[Path]:
    """Every Part 10 file of the demo data and of pydicom's test files."""
    files = sorted(DEMO.rglob("*.dcm")) + sorted(p for p in PYDICOM_FILES.rglob("*") if p.is_file())
    return [p for p in files if p.read_bytes()[128:132] == b"DICM"]


def _pydicom_header(source: Path | bytes) -> Dataset:
    data = source if isinstance(source, bytes) else source.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns on some odd test files
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def _same(first: HeaderScan | None, second: HeaderScan | None) -> bool:
    """Equal scans: ``data`` may hold more than the header, only its header counts."""
    if first is None or second is None:
        return first is second
    return first[:-1] == second[:-1] and (
        first.data[: first.stop_offset] == second.data[: second.stop_offset]
    )


def _declined_reason(path: Path, ds: Dataset) -> str | None:
    syntax = str(ds.file_meta.get("TransferSyntaxUID", ""))
    if syntax == BIG_ENDIAN:
        return "big endian"
    if syntax == DEFLATED:
        return "deflated"
    return DECLINED.get(path.name)


def _assert_matches_pydicom(scan: HeaderScan, ds: Dataset) -> None:
    """Every wanted value is pydicom's raw value (and decodes to its value); every
    complex tag and the transfer syntax agree."""
    assert scan.transfer_syntax == str(ds.file_meta.TransferSyntaxUID)
    assert scan.media_sop_class == str(ds.file_meta.get("MediaStorageSOPClassUID", ""))
    present = set(map(int, ds.keys()))  # tags, without converting the values
    assert set(scan.elements) == present & set(WANTED)
    assert set(scan.complex_tags) == {tag for tag in present if is_complex(tag)}
    for tag, raw in scan.elements.items():
        element = ds.get_item(tag)
        assert (element.value or b"") == raw, hex(tag)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom validates odd values (test files)
            value = ds[tag].value
        vr = WANTED[tag]
        if vr == "US" and uint16_value(raw) is not None:
            assert uint16_value(raw) == value
        elif vr in ("CS", "UI", "LO") and text_value(raw) is not None:
            assert text_value(raw) == str(value)
        elif vr == "DS" and decimal_values(raw) is not None:
            expected = [float(v) for v in (value if ds[tag].VM > 1 else [value])]
            assert list(decimal_values(raw) or ()) == expected
        elif vr == "IS" and integer_value(raw) is not None:
            assert integer_value(raw) == int(value)


@pytest.mark.parametrize("path", _dicom_files(), ids=lambda p: p.name)
def test_scan_equals_pydicom_or_declines_for_a_documented_reason(path: Path) -> None:
    data = path.read_bytes()
    ds = _pydicom_header(data)
    with io.BytesIO(data) as stream:
        scan = scan_header(stream.read(PREFIX_BYTES), stream)
    assert _same(scan, scan_header(data))  # one buffer or a stream: the same
    if scan is None:
        assert _declined_reason(path, ds) is not None, f"{path.name} declined"
        return
    assert _declined_reason(path, ds) is None, f"{path.name} should be declined"
    _assert_matches_pydicom(scan, ds)
    if scan.stop_tag == 0x7FE00010:  # the bytes before the pixel data are the whole header
        header = _pydicom_header(scan.data[: scan.stop_offset])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert header == ds


def test_wanted_vrs_are_the_dictionary_vrs() -> None:
    """Implicit VR files carry no VR: the scanner's table must be pydicom's (PS3.6)."""
    for tag, vr in WANTED.items():
        assert pydicom.datadict.dictionary_VR(tag) == vr, hex(tag)


def test_decoders_refuse_what_they_cannot_decode_exactly() -> None:
    assert decimal_values(b"15.7051\\-135.7871\\-250.0000 ") == (15.7051, -135.7871, -250.0)
    assert decimal_values(b" +.5e-3\x00") == (0.0005,)
    for bad in (b"", b"nan", b"inf", b"1_0", b"1\\", b"1 2", b"0x10", b"1e999"):
        assert decimal_values(bad) is None, bad
    assert integer_value(b"+12 ") == 12
    assert integer_value(b"1.0") is None and integer_value(b"1\\2") is None
    assert uint16_value(b"\x80\x00") == 128 and uint16_value(b"\x80\x00\x01\x00") is None
    assert text_value(b"MONOCHROME2 ") == "MONOCHROME2" and text_value(b"A\\B") is None
    assert text_value("É".encode("latin-1")) is None


# --- hand-built files ---------------------------------------------------------------


def _image_dataset(rows: int = 4) -> Dataset:
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.10"
    ds.Modality = "CT"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.11"
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = ds.Columns = rows
    ds.PixelSpacing = [0.5, 0.5]
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
    ds.PixelData = np.arange(rows * rows, dtype="<i2").tobytes()
    return ds


def _part10(ds: Dataset, syntax: str = ExplicitVRLittleEndian) -> bytes:
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = syntax
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _nested_sequence() -> Sequence:
    """Undefined-length sequence: an undefined-length item holding an undefined-length
    sequence (defined-length items inside) and decoy image tags, then a defined item."""
    inner_item = Dataset()
    inner_item.Rows = 999  # a decoy: not a top-level Rows
    inner = Sequence([inner_item, Dataset()])
    inner.is_undefined_length = True
    outer_item = Dataset()
    outer_item.ReferencedSOPInstanceUID = "1.2.3"
    outer_item.add_new(0x00089215, "SQ", inner)  # Derivation Code Sequence
    outer_item.is_undefined_length_sequence_item = True
    plain_item = Dataset()
    plain_item.ImagePositionPatient = [9, 9, 9]
    outer = Sequence([outer_item, plain_item])
    outer.is_undefined_length = True
    return outer


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_undefined_length_sequences_before_the_image_tags(syntax: str) -> None:
    ds = _image_dataset()
    ds.add_new(0x00081140, "SQ", _nested_sequence())  # Referenced Image Sequence
    data = _part10(ds, syntax)
    assert b"\xff\xff\xff\xff" in data  # the undefined lengths were written
    scan = scan_header(data)
    assert scan is not None and scan.implicit_vr == (syntax == ImplicitVRLittleEndian)
    _assert_matches_pydicom(scan, _pydicom_header(data))
    assert uint16_value(scan.elements[0x00280010]) == 4  # not the nested 999


def _un_sequence(explicit_items: bool) -> bytes:
    """(0009,1010) UN of undefined length holding one undefined-length item (PS3.5
    6.2.2: implicit VR inside, or explicit as some writers do) and the delimiters."""
    if explicit_items:
        element = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 4) + b"ABCD"
    else:
        element = struct.pack("<HHL", 0x0010, 0x0010, 4) + b"ABCD"
    item = struct.pack("<HHL", 0xFFFE, 0xE000, 0xFFFFFFFF) + element
    item += struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    header = struct.pack("<HH2sHL", 0x0009, 0x1010, b"UN", 0, 0xFFFFFFFF)
    return header + item + struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)


@pytest.mark.parametrize("explicit_items", [False, True], ids=["implicit_items", "explicit"])
def test_un_of_undefined_length_is_skipped_as_a_sequence(explicit_items: bool) -> None:
    ds = _image_dataset()
    ds.add_new(0x00090010, "LO", "DATAMINT TEST")  # private creator of (0009,10xx)
    data = _part10(ds)
    marker = struct.pack("<HH2sH", 0x0010, 0x0010, b"PN", 0)  # nothing in group 0010
    split = data.index(struct.pack("<HH", 0x0020, 0x000E))  # before Series Instance UID
    assert marker not in data
    data = data[:split] + _un_sequence(explicit_items) + data[split:]
    ds_read = _pydicom_header(data)
    assert ds_read[0x00091010].VR == "SQ"  # pydicom reads UN undefined length as SQ
    scan = scan_header(data)
    assert scan is not None
    _assert_matches_pydicom(scan, ds_read)


def test_a_decoy_inside_a_sequence_of_defined_length_is_not_read() -> None:
    ds = _image_dataset()
    item = Dataset()
    item.Rows = 999
    ds.add_new(0x00081140, "SQ", Sequence([item]))  # defined length: skipped whole
    data = _part10(ds)
    scan = scan_header(data)
    assert scan is not None and uint16_value(scan.elements[0x00280010]) == 4


def test_declined_structures() -> None:
    good = _part10(_image_dataset())
    assert scan_header(good) is not None
    for syntax in (BIG_ENDIAN, DEFLATED, "1.2.3.4.5", " 1.2.840.10008.1.2"):
        patched = good.replace(ExplicitVRLittleEndian.encode() + b"\x00", syntax.encode())
        if len(patched) == len(good):  # same length: only the syntax differs
            assert scan_header(patched) is None, syntax
    rows = struct.pack("<HH2sH", 0x0028, 0x0010, b"US", 2)
    assert scan_header(good.replace(rows, struct.pack("<HH2sH", 0x0028, 0x0010, b"SS", 2))) is None
    assert scan_header(good.replace(rows, struct.pack("<HH2sH", 0x0028, 0x0010, b"XX", 2))) is None
    assert scan_header(b"not a DICOM file") is None


def test_truncated_files_give_none_or_values_from_the_full_file() -> None:
    """Cut anywhere: never an exception, never a value the whole file does not hold."""
    files = sorted(SERIES.glob("*.dcm"))
    template = ScanTemplate()  # learned from two files, then used on the cut third one
    assert all(scan_header(path.read_bytes(), None, template) for path in files[1:3])
    data = files[0].read_bytes()
    full = scan_header(data)
    assert full is not None and full.stop_tag == 0x7FE00010
    for cut in range(0, full.stop_offset + 16):
        scan = scan_header(data[:cut])
        assert _same(scan_header(data[:cut], None, template), scan)
        if scan is None:
            continue
        assert cut >= full.stop_offset or scan.stop_tag is None
        assert all(full.elements[tag] == raw for tag, raw in scan.elements.items())
    with io.BytesIO(data[: full.stop_offset - 30]) as cut_inside:
        assert scan_header(cut_inside.read(200), cut_inside) is None


def test_a_template_changes_nothing_even_when_a_file_deviates() -> None:
    files = sorted(SERIES.glob("*.dcm"))
    heads = [p.read_bytes()[:PREFIX_BYTES] for p in files]
    odd = pydicom.dcmread(files[5])
    odd.PixelSpacing = [0.7, 0.7]  # inside a run the first two files share
    odd.add_new(0x00081140, "SQ", _nested_sequence())
    buffer = io.BytesIO()
    odd.save_as(buffer)
    heads[5] = buffer.getvalue()
    implicit = pydicom.dcmread(files[6])
    implicit.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    buffer = io.BytesIO()
    implicit.save_as(buffer)
    heads[6] = buffer.getvalue()
    template = ScanTemplate()
    for head in heads:
        assert _same(scan_header(head, None, template), scan_header(head))
    assert template._segments is not None  # the template was learned and used


# --- series ---------------------------------------------------------------------------


@pytest.fixture
def pydicom_only(monkeypatch: pytest.MonkeyPatch) -> PydicomOnly:
    """Run a callable with the scanner switched off (every member parsed by pydicom)."""

    def run(fn: Callable[[], Any]) -> Any:
        with monkeypatch.context() as patch:
            patch.setattr(dicom_series_scan, "scan_header", lambda *args, **kwargs: None)
            return fn()

    return run


def _zip(folder: Path, archive: Path) -> Path:
    files = sorted(p for p in folder.iterdir() if p.is_file())
    random.Random(0).shuffle(files)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", "not a DICOM file")
        for index, path in enumerate(files):
            zf.write(path, f"series/{index:04d}")
    return archive


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
    ds.add_new(0x00081140, "SQ", _nested_sequence())


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
    _assert_same_header(_zip(folder, tmp_path / "series.zip"), pydicom_only)
    fast, slow = read_file(folder), pydicom_only(lambda: read_file(folder))
    np.testing.assert_array_equal(fast.array, slow.array)
    assert fast.array.dtype == slow.array.dtype and fast.geometry == slow.geometry
    assert fast.metainfo == slow.metainfo


def test_demo_series_header_equals_the_pydicom_path(
    tmp_path: Path, pydicom_only: PydicomOnly
) -> None:
    _assert_same_header(SERIES, pydicom_only)
    archive = _zip(SERIES, tmp_path / "ct_lung2.zip")
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
