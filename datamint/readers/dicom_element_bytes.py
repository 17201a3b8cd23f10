"""Byte-level pieces of the DICOM header scanner: element encoding, the byte source,
and skipping undefined-length sequences.

Used by :mod:`datamint.readers.dicom_header_walk` (the top-level walks),
:mod:`datamint.readers.dicom_scan_template` and
:func:`~datamint.readers.dicom_header_scan.scan_header`, whose module docstring states
the rules. Here: the PS3.5 7.1 element headers (explicit VR with a 16- or 32-bit
length, implicit VR), where more bytes of a file come from (:class:`ByteStream`,
``_Source``), and the nesting walk that skips sequences and items of undefined length
(PS3.5 7.5) down to :data:`MAX_DEPTH`. ``_Fallback`` is the scanner's one internal
signal: the walk cannot go on with certainty, so ``scan_header`` returns ``None``.
"""

from __future__ import annotations

import struct
from typing import Protocol

__all__ = ["MAX_DEPTH", "ByteStream"]

#: Deepest sequence nesting walked (PS3.5 7.5 allows any; real files use 2 or 3).
MAX_DEPTH = 16

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

_ELEMENT = struct.Struct("<HHHH")  # explicit VR: group, element, VR, 16-bit length
_IMPLICIT = struct.Struct("<HHL")  # group, element, 32-bit length (also items, PS3.5 7.5)
_U32 = struct.Struct("<L")
_TAG = struct.Struct("<HH")


class ByteStream(Protocol):
    """What :func:`~datamint.readers.dicom_header_scan.scan_header` reads more from:
    ``read(size)`` returns at most ``size`` bytes (short reads allowed), ``b""`` at the
    end (a file, a ZIP member, a socket)."""

    def read(self, size: int, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end of the stream."""


class _Fallback(Exception):
    """Internal: the walk cannot go on with certainty; ``scan_header`` returns None."""


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


def _looks_explicit(buf: bytes, pos: int) -> bool:
    """Whether the element at ``pos`` has two capital letters where an explicit VR goes."""
    return 0x40 < buf[pos + 4] < 0x5B and 0x40 < buf[pos + 5] < 0x5B


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
