"""A minimal DICOM Part 10 header scanner: the few top-level values a series header needs.

``pydicom.dcmread(stop_before_pixels=True)`` costs about 0.45 ms per file and builds a
``Dataset`` that a series header read then mostly ignores. :func:`scan_header` walks the
same bytes in one tight loop and returns the raw values of :data:`WANTED` only:

1. PS3.10 7.1: 128-byte preamble, ``b"DICM"``, then the File Meta Information group
   (0002,eeee), always Explicit VR Little Endian, for (0002,0002) Media Storage SOP Class
   UID and (0002,0010) Transfer Syntax UID.
2. The data set, if its transfer syntax is Implicit VR Little Endian
   (1.2.840.10008.1.2), Explicit VR Little Endian (1.2.840.10008.1.2.1) or one of the
   encapsulated syntaxes of :data:`ENCAPSULATED_SYNTAXES` (JPEG, JPEG-LS, JPEG 2000, RLE,
   MPEG, HTJ2K, ...: their data set is Explicit VR Little Endian, PS3.5 A.4). Data
   elements are encoded as PS3.5 7.1.2 (explicit: 2-byte length, or 2 reserved bytes and
   a 4-byte length for OB, OD, OF, OL, OV, OW, SQ, SV, UC, UN, UR, UT, UV) and 7.1.3
   (implicit: 4-byte length). Sequences and items of undefined length are skipped by
   walking their nesting (PS3.5 7.5): items until (FFFE,E0DD) Sequence Delimitation Item,
   each item's data set until (FFFE,E00D) Item Delimitation Item. In implicit VR an
   undefined length means a sequence; in explicit VR so does UN of undefined length,
   whose content is implicit VR (PS3.5 6.2.2): an item is read as implicit unless its
   first element carries a valid explicit VR, the rule pydicom applies.
3. The walk stops at the first top-level tag past (5200,9230), so at (7FE0,0010) Pixel
   Data at the latest: no pixel data is read. What follows the stop is not read, so a
   file corrupt only between its stop tag and its pixel data (an overlay group, say)
   scans while pydicom might refuse it; values are not converted beyond the wanted ones.

``None`` means "ask pydicom", never an error: Explicit VR Big Endian, deflated data sets
(1.2.840.10008.1.2.1.99, 1.2.840.10008.1.2.4.95), an unknown transfer syntax, no
(0002,0010), a data set tag not above group 0002 or out of ascending order, an unknown
VR (implicit VR data under an explicit syntax, which pydicom reads with a warning), an
explicit VR in the first element of an implicit data set, an unexpected structure (an
item or delimiter where none belongs, nesting deeper than :data:`MAX_DEPTH`), a wanted
element of undefined length or with a VR other than its dictionary VR or UN, or a file
truncated before the walk ends. The scanner never guesses: a caller that gets ``None``
parses the file with pydicom, as it would have without the scanner.

Speed: about 15 us for the 47 elements of a demo CT header, one Python loop iteration
per element. A :class:`ScanTemplate` shared by the files of a series brings it to about
6 us: what the first two files hold byte for byte is checked with one comparison per run
of elements in the next ones, and only the elements that differ are parsed.

The ``*_value`` decoders turn a raw value into what pydicom reports for a clean,
single-valued element (trailing space/NUL padding removed, PS3.5 6.2), and return
``None`` for anything else (several values, non-ASCII bytes, a malformed number), so the
caller can fall back as well.

Modules: this one reads the File Meta Information and picks the walk;
:mod:`~datamint.readers.dicom_header_walk` holds :data:`WANTED` and the top-level walks,
:mod:`~datamint.readers.dicom_element_bytes` the element encoding, byte source and
sequence skipping, :mod:`~datamint.readers.dicom_scan_template` the :class:`ScanTemplate`,
:mod:`~datamint.readers.dicom_header_values` the decoders. Every name of ``__all__`` is
importable from here.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from datamint.readers.dicom_element_bytes import (
    _ELEMENT,
    _LONG_VRS,
    _SHORT_VRS,
    _U32,
    _UNDEFINED,
    MAX_DEPTH,
    ByteStream,
    _Fallback,
    _Source,
    _vr_code,
)
from datamint.readers.dicom_header_values import (
    decimal_values,
    integer_value,
    text_value,
    uint16_value,
)
from datamint.readers.dicom_header_walk import (
    COMPLEX_TAGS,
    WANTED,
    _Walk,
    _walk_explicit,
    _walk_implicit,
    is_complex,
)
from datamint.readers.dicom_scan_template import ScanTemplate, _walk_templated

__all__ = [
    "COMPLEX_TAGS",
    "ENCAPSULATED_SYNTAXES",
    "MAX_DEPTH",
    "PREFIX_BYTES",
    "WANTED",
    "ByteStream",
    "HeaderScan",
    "ScanTemplate",
    "decimal_values",
    "integer_value",
    "is_complex",
    "scan_header",
    "text_value",
    "uint16_value",
]

#: How many bytes a caller should read first: the demo CT headers take about 1.6 KB.
PREFIX_BYTES = 8192

#: Transfer syntaxes whose data set is Explicit VR Little Endian although the pixel data
#: are encapsulated (PS3.5 A.4, PS3.6 Table A-1); deflated ones are left out.
ENCAPSULATED_SYNTAXES = frozenset(
    {
        *(f"1.2.840.10008.1.2.4.{n}" for n in (50, 51, 57, 70, 80, 81, 90, 91, 92, 93, 94)),
        *(f"1.2.840.10008.1.2.4.{n}" for n in range(100, 109)),  # MPEG-2, MPEG-4, HEVC
        *(f"1.2.840.10008.1.2.4.{n}" for n in (110, 111, 112)),  # JPEG XL
        *(f"1.2.840.10008.1.2.4.{n}" for n in (201, 202, 203)),  # HTJ2K
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.1.98",  # Encapsulated Uncompressed Explicit VR Little Endian
        "1.2.840.10008.1.2.8.1",  # Deflated Image Frame Compression (frames, not data set)
    }
)
_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"

_UI = _vr_code(b"UI")


class HeaderScan(NamedTuple):
    """What :func:`scan_header` read from one file.

    Args:
        transfer_syntax: (0002,0010) Transfer Syntax UID, padding removed.
        media_sop_class: (0002,0002) Media Storage SOP Class UID, ``""`` when absent.
        implicit_vr: Whether the data set is Implicit VR Little Endian.
        elements: Tag -> raw value bytes (padding included) of every :data:`WANTED`
            tag present at the top level; its VR is ``WANTED[tag]``.
        complex_tags: The top-level tags present that :func:`is_complex` flags, in
            file order.
        stop_offset: Where the walk stopped: the file offset of the first top-level
            element past (5200,9230), or the file size.
        stop_tag: That element's tag (e.g. ``0x7FE00010`` Pixel Data), or ``None``
            when the file ended first. With a pixel data tag, ``stop_offset`` bytes
            hold the whole header that ``dcmread(stop_before_pixels=True)`` reads.
        data: The bytes read from the start of the file: ``data[:stop_offset]`` is the
            header walked (``data`` may hold more).
    """

    transfer_syntax: str
    media_sop_class: str
    implicit_vr: bool
    elements: dict[int, bytes]
    complex_tags: tuple[int, ...]
    stop_offset: int
    stop_tag: int | None
    data: bytes


def scan_header(
    head: bytes, stream: ByteStream | None = None, template: ScanTemplate | None = None
) -> HeaderScan | None:
    """Read the :data:`WANTED` top-level values of a DICOM Part 10 file (module docstring).

    Args:
        head: The file's first bytes (e.g. :data:`PREFIX_BYTES`; any length).
        stream: The rest of the file, positioned right after ``head`` (a file or
            ``zipfile.ZipFile.open`` member), read only as far as the walk needs;
            ``None`` when ``head`` is the whole file.
        template: Shared by the files of one series, to skip what they have in common
            (:class:`ScanTemplate`); the result is the same with or without.

    Returns:
        A :class:`HeaderScan`, or ``None`` when pydicom must parse the file instead:
        no ``DICM`` prefix, big endian, deflated, unknown transfer syntax, malformed or
        truncated structure (the cases of the module docstring).

    Raises:
        OSError: If reading ``stream`` fails.
    """
    if len(head) < 132 or head[128:132] != b"DICM":
        return None
    source = _Source(stream)
    try:
        buf, pos, syntax, sop_class = _scan_meta(head, source)
        if syntax == _IMPLICIT_LE:
            implicit = True
        elif syntax == _EXPLICIT_LE or syntax in ENCAPSULATED_SYNTAXES:
            implicit = False
        else:
            return None
        if template is None:
            walk = _Walk()
            walk_all = _walk_implicit if implicit else _walk_explicit
            buf, pos = walk_all(buf, pos, source, walk)
        elif template._recording(implicit):
            walk = _Walk(record=True)
            walk_all = _walk_implicit if implicit else _walk_explicit
            buf, pos = walk_all(buf, pos, source, walk)
            template._learn(implicit, buf, walk.marks or [])
        else:
            walk = _Walk()
            buf, pos = _walk_templated(buf, pos, source, walk, template, implicit)
    except _Fallback:
        return None
    return HeaderScan(
        syntax,
        sop_class,
        implicit,
        walk.elements,
        tuple(walk.complex_tags),
        pos,
        walk.stop_tag,
        buf,
    )


def _scan_meta(buf: bytes, source: _Source) -> tuple[bytes, int, str, str]:
    """Group 0002 (PS3.10 7.1): explicit VR little endian, whatever the transfer syntax.

    Raises:
        _Fallback: If malformed, truncated, or without (0002,0010).
    """
    pos = 132
    syntax: str | None = None
    sop_class = ""
    head = _ELEMENT.unpack_from
    while True:
        try:
            group, element, vr, length = head(buf, pos)
            if group != 2:
                break
            if vr in _SHORT_VRS:
                start = pos + 8
            elif vr in _LONG_VRS:
                length = _U32.unpack_from(buf, pos + 8)[0]
                start = pos + 12
                if length == _UNDEFINED:
                    raise _Fallback
            else:
                raise _Fallback
        except struct.error:  # the meta group ends the file: no data set, ask pydicom
            buf = source.extend(buf, pos + 12)
            continue
        end = start + length
        if element == 0x0010 or element == 0x0002:
            if vr != _UI:
                raise _Fallback
            if end > len(buf):
                buf = source.extend(buf, end)
            value = text_value(buf[start:end])
            if value is None:
                raise _Fallback
            if element == 0x0010:
                syntax = value  # leading spaces kept: such a UID is in none of our lists
            else:
                sop_class = value.strip(" \x00")  # as dicom_series_order.text()
        pos = end
    if syntax is None:
        raise _Fallback
    return buf, pos, syntax, sop_class
