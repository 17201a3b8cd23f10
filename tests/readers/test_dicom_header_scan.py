"""The DICOM header scanner against pydicom, file by file.

The scanner (``datamint.readers.dicom_header_scan``) may decline a file (``None``: the
reader asks pydicom), never report a value pydicom would not. Checked on every DICOM
file of the demo data and of pydicom's own test files, and on hand-built files
(undefined lengths, UN, truncation).
"""

from __future__ import annotations

import io
import struct
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.data
import pydicom.datadict
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

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

from .demo_files import DEMO, PYDICOM_FILES
from .dicom_scan_support import BIG_ENDIAN, DEFLATED, SERIES, nested_sequence, same_scan

# pydicom test files the scanner declines, and why (module docstring of the scanner).
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
    assert same_scan(scan, scan_header(data))  # one buffer or a stream: the same
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


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_undefined_length_sequences_before_the_image_tags(syntax: str) -> None:
    ds = _image_dataset()
    ds.add_new(0x00081140, "SQ", nested_sequence())  # Referenced Image Sequence
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
        assert same_scan(scan_header(data[:cut], None, template), scan)
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
    odd.add_new(0x00081140, "SQ", nested_sequence())
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
        assert same_scan(scan_header(head, None, template), scan_header(head))
    assert template._segments is not None  # the template was learned and used
