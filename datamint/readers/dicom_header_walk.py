"""The top-level walks of the DICOM header scanner: which tags it keeps, and the loops.

:func:`~datamint.readers.dicom_header_scan.scan_header` (whose module docstring states
the rules) walks a data set's top-level elements with ``_walk_explicit`` (PS3.5 7.1.2)
or ``_walk_implicit`` (7.1.3) into a ``_Walk``: the raw values of :data:`WANTED`, the
tags :func:`is_complex` flags, and the tag the walk stopped at (the first past
(5200,9230)). These are the hot loops: one iteration per element, every name local, an
element looked at only when its tag reaches the next special one. Sequences of
undefined length are skipped by :mod:`datamint.readers.dicom_element_bytes`.
"""

from __future__ import annotations

import bisect
import struct

from datamint.readers.dicom_element_bytes import (
    _ELEMENT,
    _IMPLICIT,
    _ITEM_CONTAINERS,
    _LONG_VRS,
    _SHORT_VRS,
    _U32,
    _UN,
    _UNDEFINED,
    _Fallback,
    _grown,
    _looks_explicit,
    _skip_items,
    _Source,
    _vr_code,
)

__all__ = ["COMPLEX_TAGS", "WANTED", "is_complex"]

#: Top-level tags whose raw values ``scan_header`` returns, with their VR (PS3.6).
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

#: Top-level tags whose mere presence ``HeaderScan.complex_tags`` reports: (0028,3000)
#: Modality LUT Sequence, (5200,9229) Shared and (5200,9230) Per-Frame Functional Groups
#: Sequence. Every tag of (0028,1100)-(0028,12FF) (palette descriptors, data, UIDs) counts
#: too, see :func:`is_complex`.
COMPLEX_TAGS = frozenset({0x00283000, 0x52009229, 0x52009230})
_PALETTE_FIRST, _PALETTE_END = 0x00281100, 0x00281300
_LAST = 0x52009230  # the walk stops at the first top-level tag above this one

_WANTED_VRS = {tag: _vr_code(vr.encode()) for tag, vr in WANTED.items()}


def is_complex(tag: int) -> bool:
    """Whether a top-level tag changes pixel values in ways the scan does not decode.

    True for (0028,3000) Modality LUT Sequence, (0028,1100)-(0028,12FF) palette colour
    elements, and (5200,9229)/(5200,9230) functional groups.
    """
    return tag in COMPLEX_TAGS or _PALETTE_FIRST <= tag < _PALETTE_END


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
        _Fallback: In the cases of the dicom_header_scan module docstring.
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
        _Fallback: In the cases of the dicom_header_scan module docstring.
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
