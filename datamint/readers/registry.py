"""Which reader decodes a file: magic bytes first, then the Resource's hint.

Detection order:

1. **Bytes** (the file name is not needed, so a cache entry named ``data`` works):
   ``DICM`` at byte 128 -> ``dicom``; a folder or ZIP (``PK\\x03\\x04``) ->
   ``dicom_series``; a NIfTI-1/2 header, gzipped or not -> ``nifti``; ``ftyp`` at
   byte 4, RIFF AVI or Matroska -> ``video``; PNG/JPEG signatures -> ``image``.
   Readers registered with :func:`register_reader` are asked first.
2. **Hint**: the resource kind from ``storage``, ``mimetype`` and
   ``filename`` (:func:`~datamint.readers.base.hint_kind`, by the table of
   :func:`datamint.schema.resource_kind`), served by the reader listing that kind.
3. Otherwise :class:`~datamint.exceptions.UnsupportedFormatError`, naming the file
   and every reader tried with what it looks for.
"""

from __future__ import annotations

import os
from pathlib import Path

from datamint.exceptions import UnsupportedFormatError
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, hint_kind, read_head
from datamint.readers.dicom import DicomReader
from datamint.readers.dicom_series import DicomSeriesReader
from datamint.readers.image import ImageReader
from datamint.readers.nifti import NiftiReader
from datamint.readers.video import VideoReader

__all__ = [
    "get_reader",
    "read_file",
    "read_header",
    "reader_version",
    "readers",
    "register_reader",
]

_READERS: list[Reader] = [
    DicomReader(),
    DicomSeriesReader(),
    NiftiReader(),
    VideoReader(),
    ImageReader(),
]


def readers() -> tuple[Reader, ...]:
    """Every registered reader, in the order they are asked."""
    return tuple(_READERS)


def register_reader(reader: Reader) -> None:
    """Ask ``reader`` before the built-in ones; replaces a reader of the same name."""
    _READERS[:] = [reader] + [r for r in _READERS if r.name != reader.name]


def get_reader(path: str | os.PathLike[str], hint: FileHint | None = None) -> Reader:
    """The reader for a file or folder: by its bytes, else by the hint (module docstring).

    Args:
        path: A file (any name) or a folder (a DICOM series).
        hint: What the Resource record says; may be ``None``.

    Returns:
        The first reader whose signature matches, else the one serving the hint's kind.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnsupportedFormatError: If no reader matches; the message names the file, its
            first bytes, the hint, and every reader tried.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: '{path}'")
    head = b"" if path.is_dir() else read_head(path)
    for reader in _READERS:
        if reader.sniff(path, head):
            return reader
    kind = hint_kind(hint)
    for reader in _READERS:
        if kind is not None and kind in reader.kinds:
            return reader
    tried = "; ".join(f"{r.name} ({r.detects})" for r in _READERS)
    raise UnsupportedFormatError(
        f"no reader accepts '{path}' (first bytes {head[:16]!r}, hint {hint}, "
        f"resource kind {kind}); tried: {tried}"
    )


def read_file(path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
    """Decode a file to ``(C, N, H, W)`` with the reader :func:`get_reader` picks.

    Args:
        path: A file (any name) or a folder (a DICOM series).
        hint: What the Resource record says; may be ``None``.

    Returns:
        The reader's :class:`~datamint.readers.base.ReadResult`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnsupportedFormatError: If no reader accepts it, or its encoding is unsupported.
        InvalidResourceError: If it is corrupt, truncated, or its shape, geometry or tags
            are invalid.
    """
    return get_reader(path, hint).read(path, hint)


def read_header(path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
    """Shape, dtype and geometry of what :func:`read_file` would return, from headers.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        UnsupportedFormatError: If no reader accepts it.
        InvalidResourceError: If its header is corrupt or truncated.
    """
    return get_reader(path, hint).read_header(path, hint)


def reader_version(name: str) -> str:
    """The ``version`` of the reader called ``name`` (part of cache keys).

    Raises:
        ValueError: If no registered reader has that name.
    """
    for reader in _READERS:
        if reader.name == name:
            return reader.version
    raise ValueError(f"unknown reader {name!r}; known: {[r.name for r in _READERS]}")
