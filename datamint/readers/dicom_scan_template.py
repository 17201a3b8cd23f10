"""What the files of one DICOM series share, so that the header scanner skips it.

:class:`ScanTemplate` (passed to :func:`~datamint.readers.dicom_header_scan.scan_header`)
learns, from the first two files it sees with one encoding, which runs of top-level
elements they hold byte for byte; ``_walk_templated`` then checks each run of a later
file with one comparison and parses only the elements that differ, handing the rest of
the file to the plain walk of :mod:`datamint.readers.dicom_header_walk` at the first
difference. The result is the same as without a template.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from datamint.readers.dicom_element_bytes import (
    _ELEMENT,
    _IMPLICIT,
    _LONG_VRS,
    _SHORT_VRS,
    _TAG,
    _U32,
    _UN,
    _UNDEFINED,
    _Fallback,
    _looks_explicit,
    _Source,
)
from datamint.readers.dicom_header_walk import (
    _LAST,
    _META_END,
    _PALETTE_END,
    _PALETTE_FIRST,
    _WANTED_VRS,
    COMPLEX_TAGS,
    _Walk,
    _walk_explicit,
    _walk_implicit,
)

__all__ = ["ScanTemplate"]


class _Run(NamedTuple):
    """Consecutive top-level elements that two files of a series hold byte for byte."""

    data: bytes  # the elements, headers and values
    last_tag: int
    values: tuple[tuple[int, bytes], ...]  # wanted (tag, value) inside
    complex_tags: tuple[int, ...]


class ScanTemplate:
    """What the files of one series share, so that
    :func:`~datamint.readers.dicom_header_scan.scan_header` skips it.

    Files of a series usually differ in a few top-level elements only ((0008,0018) SOP
    Instance UID, (0020,0013) Instance Number, (0020,0032) Image Position, ...). Pass one
    template to every ``scan_header`` call of a series: the first two files it sees
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
        _Fallback: In the cases of the dicom_header_scan module docstring.
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
