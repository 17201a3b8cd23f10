"""Shared by the DICOM header-scan tests: the demo series, transfer syntaxes the scanner
declines, a scan comparison and a hand-built nested sequence."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from datamint.readers.dicom_header_scan import HeaderScan

from .demo_files import DEMO

SERIES = DEMO / "series" / "ct_lung2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"


def same_scan(first: HeaderScan | None, second: HeaderScan | None) -> bool:
    """Equal scans: ``data`` may hold more than the header, only its header counts."""
    if first is None or second is None:
        return first is second
    return first[:-1] == second[:-1] and (
        first.data[: first.stop_offset] == second.data[: second.stop_offset]
    )


def nested_sequence() -> Sequence:
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
