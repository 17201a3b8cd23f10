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
"""

from __future__ import annotations

import bisect
import math
import re
import struct
from typing import NamedTuple, Protocol

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

#: Deepest sequence nesting walked (PS3.5 7.5 allows any; real files use 2 or 3).
MAX_DEPTH = 16

#: Top-level tags whose raw values :func:`scan_header` returns, with their VR (PS3.6).
WANTED: dict[int, str] = {
    0x00080016: "UI",  # SOP Class UID
    0x00080018: "UI",  # SOP Instance UID
    0x00080060: "CS",  # Modality
    0x0020000E: "UI",  # Series Instance UID
    0x00200032: "DS",  # Image Position (Patient)
    0x00200037: "DS",  # Image Orientation (Patient)
    0x00280002: "US",  # Samples per Pixel
    0x00280004: "CS",  # Photometric Interpretation
    0x00280006: "US",  # Planar Configuration
    0x00280008: "IS",  # Number of Frames
    0x00280010: "US",  # Rows
    0x00280011: "US",  # Columns
    0x00280030: "DS",  # Pixel Spacing
    0x00280100: "US",  # Bits Allocated
    0x00280101: "US",  # Bits Stored
    0x00280103: "US",  # Pixel Representation
    0x00281052: "DS",  # Rescale Intercept
    0x00281053: "DS",  # Rescale Slope
    0x00281054: "LO",  # Rescale Type
}

#: Top-level tags whose mere presence :attr:`HeaderScan.complex_tags` reports: (0028,3000)
#: Modality LUT Sequence, (5200,9229) Shared and (5200,9230) Per-Frame Functional Groups
#: Sequence. Every tag of (0028,1100)-(0028,12FF) (palette descriptors, data, UIDs) counts
#: too, see :func:`is_complex`.
COMPLEX_TAGS = frozenset({0x00283000, 0x52009229, 0x52009230})
_PALETTE_FIRST, _PALETTE_END = 0x00281100, 0x00281300
_LAST = 0x52009230  # the walk stops at the first top-level tag above this one

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

_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF


def _vr_code(vr: bytes) -> int:
    """The two VR bytes as the little-endian uint16 the walk unpacks (no bytes object)."""
    return vr[0] | vr[1] << 8


# PS3.5 7.1.2: VRs with 2 reserved bytes and a 32-bit length; the others have 16 bits.
_LONG_VRS = frozenset(map(_vr_code, b"OB OD OF OL OV OW SQ SV UC UN UR UT UV".split()))
_SHORT_VRS = frozenset(
    map(_vr_code, b"AE AS AT CS DA DS DT FD FL IS LO LT PN SH SL SS ST TM UI UL US".split())
)
_ITEM_CONTAINERS = frozenset(map(_vr_code, (b"SQ", b"UN", b"OB", b"OW")))  # undefined length ok
_UN = _vr_code(b"UN")
_UI = _vr_code(b"UI")
_WANTED_VRS = {tag: _vr_code(vr.encode()) for tag, vr in WANTED.items()}

_ELEMENT = struct.Struct("<HHHH")  # explicit VR: group, element, VR, 16-bit length
_IMPLICIT = struct.Struct("<HHL")  # group, element, 32-bit length (also items, PS3.5 7.5)
_U32 = struct.Struct("<L")
_TAG = struct.Struct("<HH")


class ByteStream(Protocol):
    """What :func:`scan_header` reads more from: ``read(size)`` returns at most ``size``
    bytes (short reads allowed), ``b""`` at the end (a file, a ZIP member, a socket)."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end of the stream."""


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


def is_complex(tag: int) -> bool:
    """Whether a top-level tag changes pixel values in ways the scan does not decode.

    True for (0028,3000) Modality LUT Sequence, (0028,1100)-(0028,12FF) palette colour
    elements, and (5200,9229)/(5200,9230) functional groups.
    """
    return tag in COMPLEX_TAGS or _PALETTE_FIRST <= tag < _PALETTE_END


class _Fallback(Exception):
    """Internal: the walk cannot go on with certainty; :func:`scan_header` returns None."""


class _Source:
    """The stream that yields the bytes after those read so far."""

    __slots__ = ("stream",)

    def __init__(self, stream: ByteStream | None) -> None:
        self.stream = stream

    def grow(self, buf: bytes, end: int) -> bytes:
        """``buf`` grown to ``end`` bytes or more (at least doubled), shorter only at EOF."""
        if self.stream is None:
            return buf
        chunks = [buf]
        have = len(buf)
        want = max(end - have, have, 4096)
        while have < end:
            data = self.stream.read(want)
            if not data:
                self.stream = None
                break
            chunks.append(data)
            have += len(data)
            want = max(end - have, 4096)
        return b"".join(chunks)

    def extend(self, buf: bytes, end: int) -> bytes:
        """``buf`` grown to at least ``end`` bytes.

        Raises:
            _Fallback: If the file ends before (a truncated file).
        """
        buf = self.grow(buf, end)
        if len(buf) < end:
            raise _Fallback
        return buf


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


def _looks_explicit(buf: bytes, pos: int) -> bool:
    """Whether the element at ``pos`` has two capital letters where an explicit VR goes."""
    return 0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B


# Top-level tags the walk must look at: the wanted ones, the complex ones, and the
# start of the palette range (every tag in it is looked at, see _after).
_SPECIAL = sorted({*WANTED, *COMPLEX_TAGS, _PALETTE_FIRST})
_NEVER = 1 << 32  # above every tag
_META_END = 0x0002FFFF  # the data set starts after group 0002 (no command group 0000)


def _after(tag: int) -> int:
    """The next top-level tag the walk must look at, once past ``tag``."""
    if _PALETTE_FIRST <= tag < _PALETTE_END:
        return tag + 1  # every palette element counts
    index = bisect.bisect_right(_SPECIAL, tag)
    return _SPECIAL[index] if index < len(_SPECIAL) else _NEVER


# The special tag after each wanted one: the walk's next threshold once it is kept.
_AFTER_WANTED = {tag: _after(tag) for tag in WANTED}


class _Walk:
    """State of one top-level walk (PS3.5 7.1): what was kept, where it stopped, and
    (when ``marks`` is a list) each element's ``(tag, offset, value offset, end)``."""

    __slots__ = ("complex_tags", "elements", "marks", "stop_tag")

    def __init__(self, record: bool = False) -> None:
        self.elements: dict[int, bytes] = {}
        self.complex_tags: list[int] = []
        self.stop_tag: int | None = None
        self.marks: list[tuple[int, int, int, int]] | None = [] if record else None

    def other(self, tag: int) -> int:
        """Note a complex tag (or pass a non-wanted one); return the next tag to look at."""
        if tag in COMPLEX_TAGS or _PALETTE_FIRST <= tag < _PALETTE_END:
            self.complex_tags.append(tag)
        return _after(tag)


def _grown(buf: bytes, pos: int, source: _Source) -> bytes | None:
    """After an element header ran past ``buf``: the grown buffer, or ``None`` when the
    file ends exactly at ``pos`` (between elements).

    Raises:
        _Fallback: If the file ends inside the element header at ``pos``.
    """
    size = len(buf)
    buf = source.grow(buf, pos + 12)
    if len(buf) > size:
        return buf
    if pos == size:
        return None
    raise _Fallback


def _walk_explicit(
    buf: bytes, pos: int, source: _Source, walk: _Walk, previous: int = _META_END
) -> tuple[bytes, int]:
    """Walk a top-level explicit VR data set (PS3.5 7.1.2) into ``walk``: wanted values,
    complex tags, the tag it stopped at (``None``: end of file). The hot loop: every name
    local, an element looked at only when its tag reaches the next special one, bounds
    checked by ``unpack_from`` itself (``struct.error`` means: read more).

    Args:
        buf: The bytes read so far.
        pos: Where an element starts.
        source: Where more bytes come from.
        walk: Receives the values.
        previous: The tag of the element before ``pos`` (``_META_END`` at the start).

    Returns:
        The bytes read so far, and where the walk stopped.

    Raises:
        _Fallback: In the cases of the module docstring.
    """
    head = _ELEMENT.unpack_from
    long_length = _U32.unpack_from
    short_vrs, long_vrs, containers = _SHORT_VRS, _LONG_VRS, _ITEM_CONTAINERS
    wanted, after_wanted, elements, marks = _WANTED_VRS, _AFTER_WANTED, walk.elements, walk.marks
    last, undefined, un = _LAST, _UNDEFINED, _UN
    next_special = _after(previous)
    while True:
        try:
            group, element, vr, length = head(buf, pos)
            tag = group << 16 | element
            if not previous < tag <= last:
                if tag > last:
                    walk.stop_tag = tag
                    return buf, pos
                raise _Fallback  # PS3.5 7.1: ascending order, each tag once
            if vr in short_vrs:
                start = pos + 8
            elif vr in long_vrs:
                length = long_length(buf, pos + 8)[0]
                start = pos + 12
            else:
                raise _Fallback  # unknown VR, or implicit data under an explicit syntax
        except struct.error:
            grown = _grown(buf, pos, source)
            if grown is None:
                return buf, pos
            buf = grown
            continue
        if length == undefined:
            if tag in wanted or vr not in containers:
                raise _Fallback
            buf, end = _skip_items(buf, start, False, source, 1)
        else:
            end = start + length
        if tag >= next_special:
            expected = wanted.get(tag)
            if expected is None:
                next_special = walk.other(tag)
            else:
                if vr != expected and vr != un:  # UN: PS3.5 6.2.2, an implicit LE value
                    raise _Fallback
                if end > len(buf):
                    buf = source.extend(buf, end)
                elements[tag] = buf[start:end]
                next_special = after_wanted[tag]
        if marks is not None:
            marks.append((tag, pos, start, end))
        previous = tag
        pos = end


def _walk_implicit(
    buf: bytes, pos: int, source: _Source, walk: _Walk, previous: int = _META_END
) -> tuple[bytes, int]:
    """As :func:`_walk_explicit`, for implicit VR (PS3.5 7.1.3): no VR, and an undefined
    length means a sequence.

    Returns:
        The bytes read so far, and where the walk stopped.

    Raises:
        _Fallback: In the cases of the module docstring.
    """
    head = _IMPLICIT.unpack_from
    last, undefined, marks = _LAST, _UNDEFINED, walk.marks
    next_special = _after(previous)
    checked = previous != _META_END
    while True:
        try:
            group, element, length = head(buf, pos)
        except struct.error:
            grown = _grown(buf, pos, source)
            if grown is None:
                return buf, pos
            buf = grown
            continue
        if not checked:  # pydicom reads data with an explicit VR as explicit
            if _looks_explicit(buf, pos):
                raise _Fallback
            checked = True
        tag = group << 16 | element
        if not previous < tag <= last:
            if tag > last:
                walk.stop_tag = tag
                return buf, pos
            raise _Fallback
        start = pos + 8
        if length == undefined:
            if tag in _WANTED_VRS:
                raise _Fallback
            buf, end = _skip_items(buf, start, True, source, 1)
        else:
            end = start + length
        if tag >= next_special:
            if tag in _WANTED_VRS:
                if end > len(buf):
                    buf = source.extend(buf, end)
                walk.elements[tag] = buf[start:end]
                next_special = _AFTER_WANTED[tag]
            else:
                next_special = walk.other(tag)
        if marks is not None:
            marks.append((tag, pos, start, end))
        previous = tag
        pos = end


class _Run(NamedTuple):
    """Consecutive top-level elements that two files of a series hold byte for byte."""

    data: bytes  # the elements, headers and values
    last_tag: int
    values: tuple[tuple[int, bytes], ...]  # wanted (tag, value) inside
    complex_tags: tuple[int, ...]


class ScanTemplate:
    """What the files of one series share, so that :func:`scan_header` skips it.

    Files of a series usually differ in a few top-level elements only ((0008,0018) SOP
    Instance UID, (0020,0013) Instance Number, (0020,0032) Image Position, ...). Pass one
    template to every :func:`scan_header` call of a series: the first two files it sees
    with the same encoding are walked in full and compared element by element; in later
    files each run of elements that were equal in both is checked with one byte
    comparison (``bytes.startswith``) and skipped, and only the elements that differed
    are parsed. Equal bytes from an element boundary parse to equal elements (PS3.5 7.1
    is a function of the bytes), so the result is the same as without a template; any
    difference (another tag, a run that does not match) hands the rest of the file to
    the plain walk. A template is not thread-safe: one per series read.
    """

    def __init__(self) -> None:
        self._first: tuple[bool, bytes, list[tuple[int, int, int, int]]] | None = None
        self._segments: tuple[_Run | int, ...] | None = None  # int: a differing tag
        self._implicit = False
        self._learned = False

    def _recording(self, implicit: bool) -> bool:
        """Whether the next walk with this encoding should record its elements."""
        return not self._learned and (self._first is None or self._first[0] == implicit)

    def _learn(self, implicit: bool, data: bytes, marks: list[tuple[int, int, int, int]]) -> None:
        """Keep the first walk; from the second, build the runs (or give up)."""
        if self._first is None:
            self._first = (implicit, data, marks)
            return
        self._learned = True
        _, first_data, first_marks = self._first
        self._first = None
        if [mark[0] for mark in marks] != [mark[0] for mark in first_marks]:
            return  # another structure: no template
        segments: list[_Run | int] = []
        run: list[tuple[int, int, int, int]] = []
        for mark, (_, offset2, _, end2) in zip(first_marks, marks, strict=True):
            tag, offset, _, end = mark
            if first_data[offset:end] == data[offset2:end2]:
                run.append(mark)
                continue
            if run:
                segments.append(_make_run(first_data, run))
                run = []
            segments.append(tag)
        if run:
            segments.append(_make_run(first_data, run))
        self._segments = tuple(segments)
        self._implicit = implicit


def _make_run(data: bytes, marks: list[tuple[int, int, int, int]]) -> _Run:
    """The run of the consecutive elements ``marks`` of ``data``, with its wanted values
    and complex tags."""
    values = []
    complex_tags = []
    for tag, _, start, end in marks:
        if tag in _WANTED_VRS:
            values.append((tag, data[start:end]))
        elif tag in COMPLEX_TAGS or _PALETTE_FIRST <= tag < _PALETTE_END:
            complex_tags.append(tag)
    block = data[marks[0][1] : marks[-1][3]]
    return _Run(block, marks[-1][0], tuple(values), tuple(complex_tags))


def _walk_templated(
    buf: bytes, pos: int, source: _Source, walk: _Walk, template: ScanTemplate, implicit: bool
) -> tuple[bytes, int]:
    """Skip the runs of ``template`` that match, parse the elements between them, and
    hand the rest to the plain walk at the first difference (or after the last run).

    Raises:
        _Fallback: In the cases of the module docstring.
    """
    segments = template._segments
    walk_rest = _walk_implicit if implicit else _walk_explicit
    if segments is None or template._implicit != implicit:
        return walk_rest(buf, pos, source, walk)
    if implicit and (len(buf) < pos + 6 or _looks_explicit(buf, pos)):
        return walk_rest(buf, pos, source, walk)  # the plain walk decides
    elements, complex_tags = walk.elements, walk.complex_tags
    previous = _META_END
    for segment in segments:
        if type(segment) is _Run:
            if not buf.startswith(segment.data, pos):
                break
            pos += len(segment.data)
            for tag, value in segment.values:
                elements[tag] = value
            complex_tags.extend(segment.complex_tags)
            previous = segment.last_tag
            continue
        # One element that differed: parse it if it is simple, else let the walk do it.
        try:
            if implicit:
                group, element, length = _IMPLICIT.unpack_from(buf, pos)
                start, vr = pos + 8, 0
            else:
                group, element, vr, length = _ELEMENT.unpack_from(buf, pos)
                if vr in _SHORT_VRS:
                    start = pos + 8
                elif vr in _LONG_VRS:
                    length = _U32.unpack_from(buf, pos + 8)[0]
                    start = pos + 12
                else:
                    break
        except struct.error:
            break
        tag = group << 16 | element
        end = start + length
        if tag != segment or length == _UNDEFINED or end > len(buf):
            break
        expected = _WANTED_VRS.get(tag)
        if expected is not None:
            if vr and vr != expected and vr != _UN:
                raise _Fallback
            elements[tag] = buf[start:end]
        elif tag in COMPLEX_TAGS or _PALETTE_FIRST <= tag < _PALETTE_END:
            complex_tags.append(tag)
        previous = tag
        pos = end
    else:  # every segment matched: the next element is usually where the walk stops
        if len(buf) >= pos + 8:  # as the plain walk needs it
            group, element = _TAG.unpack_from(buf, pos)
            if group << 16 | element > _LAST:
                walk.stop_tag = group << 16 | element
                return buf, pos
    return walk_rest(buf, pos, source, walk, previous)


def _skip_items(
    buf: bytes, pos: int, implicit: bool, source: _Source, depth: int
) -> tuple[bytes, int]:
    """Skip an undefined-length value made of items (a sequence, or encapsulated
    fragments), from its first item to just after its (FFFE,E0DD) (PS3.5 7.5, A.4).

    Returns:
        The (maybe grown) buffer and the position after the delimiter.

    Raises:
        _Fallback: If anything but items and the delimiter is found, or too deep.
    """
    if depth > MAX_DEPTH:
        raise _Fallback
    while True:
        if pos + 8 > len(buf):
            buf = source.extend(buf, pos + 8)
        group, element, length = _IMPLICIT.unpack_from(buf, pos)
        tag = group << 16 | element
        pos += 8
        if tag == _SEQUENCE_END and length == 0:
            return buf, pos
        if tag != _ITEM:
            raise _Fallback
        if length == _UNDEFINED:
            buf, pos = _skip_item_dataset(buf, pos, implicit, source, depth)
        else:
            pos += length


def _skip_item_dataset(
    buf: bytes, pos: int, implicit: bool, source: _Source, depth: int
) -> tuple[bytes, int]:
    """Skip the data set of an undefined-length item, to just after its (FFFE,E00D).

    In an explicit VR parent, the item is read as implicit VR when its first element's
    VR bytes are not two capital letters (PS3.5 6.2.2 for UN; pydicom's rule).

    Raises:
        _Fallback: If the item is malformed or truncated.
    """
    if pos + 8 > len(buf):
        buf = source.extend(buf, pos + 8)
    implicit = implicit or not _looks_explicit(buf, pos)
    previous = -1
    while True:
        if pos + 8 > len(buf):
            buf = source.extend(buf, pos + 8)
        group, element, length = _IMPLICIT.unpack_from(buf, pos)
        tag = group << 16 | element
        if tag == _ITEM_END:  # no VR, even in explicit VR (PS3.5 7.5)
            if length != 0:
                raise _Fallback
            return buf, pos + 8
        vr = 0
        start = pos + 8
        if not implicit:
            _, _, vr, length = _ELEMENT.unpack_from(buf, pos)
            if vr in _LONG_VRS:
                if pos + 12 > len(buf):
                    buf = source.extend(buf, pos + 12)
                length = _U32.unpack_from(buf, pos + 8)[0]
                start = pos + 12
            elif vr not in _SHORT_VRS:
                raise _Fallback
        if tag <= previous or group == 0xFFFE:
            raise _Fallback
        previous = tag
        if length == _UNDEFINED:
            if not (implicit or vr in _ITEM_CONTAINERS):
                raise _Fallback
            buf, pos = _skip_items(buf, start, implicit, source, depth + 1)
        else:
            pos = start + length


def uint16_value(raw: bytes) -> int | None:
    """A US value (PS3.5 6.2): one little-endian uint16, or ``None`` unless ``raw`` is
    exactly 2 bytes (empty, or several values)."""
    return int.from_bytes(raw, "little") if len(raw) == 2 else None


def text_value(raw: bytes) -> str | None:
    """A single CS, UI or LO value as pydicom gives it: ASCII, trailing spaces and NULs
    removed (leading ones kept); ``None`` for non-ASCII bytes or several values."""
    try:
        value = raw.decode("ascii").rstrip(" \x00")
    except UnicodeDecodeError:
        return None
    return None if "\\" in value else value


# PS3.5 6.2 DS: optional sign, digits with an optional point, optional exponent; spaces
# around. Python's float() accepts more ("nan", "1_0"), hence the pattern first.
_DECIMALS = re.compile(
    rb" *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *"
    rb"(?:\\ *[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)? *)*"
)


def decimal_values(raw: bytes) -> tuple[float, ...] | None:
    """A DS value (PS3.5 6.2: decimal strings separated by backslashes) as floats.

    Returns:
        One float per value, or ``None`` if a value is empty, not a decimal number
        (``nan``, ``inf`` included), or too large for a finite float. Trailing spaces
        and NULs are padding.
    """
    text = raw.rstrip(b" \x00")
    if _DECIMALS.fullmatch(text) is None:
        return None
    numbers = tuple(map(float, text.split(b"\\")))
    return numbers if math.isfinite(sum(numbers)) else None


def integer_value(raw: bytes) -> int | None:
    """A single IS value (PS3.5 6.2: an optionally signed decimal integer), or ``None``
    when empty, several values, or not an integer."""
    text = raw.rstrip(b" \x00").strip(b" ")
    digits = text[1:] if text[:1] in (b"+", b"-") else text
    if not digits.isdigit():
        return None
    return int(text)
