"""The members of a DICOM series resource: the files of a folder or the entries of a ZIP.

:func:`_members` maps each member's name to an opener. A ZIP entry stored without
compression (``zip -0``; :func:`datamint.testing.series_zip.stored_series_zip`) is a
:class:`_StoredMember`: its header bytes are read with ``os.pread`` at the entry's data
offset, with no zipfile object per member (about 5 us instead of 30 us an entry). Other
entries open through :mod:`zipfile`. Folder files are listed as ``rglob("*")`` would,
without ``Path`` objects.
"""

from __future__ import annotations

import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from datamint.readers.base import decoding

__all__: list[str] = []  # internal to DicomSeriesReader

# Opens one member for binary reading: a file of a folder, or an entry of an open archive.
_Opener = Callable[[], IO[bytes]]


def _folder_files(root: Path) -> list[tuple[str, str]]:
    """``(member name, file path)`` of every file under ``root``, as ``rglob("*")``
    finds them (symlinked folders not entered) and in ``sorted(Path)`` order."""
    found: list[tuple[tuple[str, ...], str]] = []
    pending: list[tuple[str, tuple[str, ...]]] = [(str(root), ())]
    while pending:
        folder, parts = pending.pop()
        try:
            with os.scandir(folder) as scanned:
                entries = list(scanned)
        except PermissionError:
            continue
        for entry in entries:
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                pending.append((entry.path, (*parts, entry.name)))
            elif entry.is_file():
                found.append(((*parts, entry.name), entry.path))
    found.sort()
    return [(os.path.join(*parts), file) for parts, file in found]


class _FolderMember:
    """Opens one file of a folder (the opener of a folder member)."""

    __slots__ = ("file",)

    def __init__(self, file: str) -> None:
        self.file = file

    def __call__(self) -> IO[bytes]:
        return open(self.file, "rb")


class _Descriptor:
    """``read(size)`` on an OS file descriptor: the scanner's stream with no io objects
    (an ``open()`` costs twice an ``os.open``, and a series opens every file)."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def read(self, size: int, /) -> bytes:
        return os.read(self.fd, size)


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows: no newline translation


class _StoredMember:
    """A ZIP entry stored without compression (``zip -0``): its header is read
    with ``os.pread`` at the entry's data offset, with no zipfile object per member;
    calling it opens the entry through zipfile (for pydicom)."""

    __slots__ = ("fd", "offset", "open_entry", "size")

    def __init__(self, open_entry: _Opener, fd: int, offset: int, size: int) -> None:
        self.open_entry, self.fd, self.offset, self.size = open_entry, fd, offset, size

    def __call__(self) -> IO[bytes]:
        return self.open_entry()


class _Range:
    """``read(size)`` of the bytes ``[pos, end)`` of a file descriptor, with ``os.pread``."""

    __slots__ = ("end", "fd", "pos")

    def __init__(self, fd: int, pos: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, pos, end

    def read(self, size: int, /) -> bytes:
        size = min(size, self.end - self.pos)
        if size <= 0:
            return b""
        data = os.pread(self.fd, size, self.pos)
        self.pos += len(data)
        return data


def _stored_data_offset(fd: int, info: zipfile.ZipInfo) -> int | None:
    """Where a stored, unencrypted entry's bytes start (after its local file header,
    APPNOTE 4.3.7: 30 bytes + name + extra field), or None to go through zipfile."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    local = os.pread(fd, 30, info.header_offset)
    if len(local) != 30 or local[:4] != b"PK\x03\x04":
        return None
    name_length, extra_length = struct.unpack_from("<HH", local, 26)
    return info.header_offset + 30 + name_length + extra_length


@contextmanager
def _members(path: Path) -> Iterator[dict[str, _Opener]]:
    """Member name -> opener, for every file of a folder or every entry of a ZIP."""
    if path.is_dir():
        yield {member: _FolderMember(file) for member, file in _folder_files(path)}
        return
    with decoding(path, "dicom_series", "open the ZIP archive"):
        archive = zipfile.ZipFile(path)
    with archive:
        infos = [info for info in archive.infolist() if not info.is_dir()]
        fd = os.open(path, os.O_RDONLY | _O_BINARY) if hasattr(os, "pread") else None
        try:
            members: dict[str, _Opener] = {}
            for info in infos:
                opener: _Opener = lambda info=info: archive.open(info)  # noqa: E731
                offset = None if fd is None else _stored_data_offset(fd, info)
                if offset is not None:
                    opener = _StoredMember(opener, fd, offset, info.file_size)
                members[info.filename] = opener
            yield members
        finally:
            if fd is not None:
                os.close(fd)


def _where(path: Path, member: str, folder: bool) -> Path:
    """What messages name: the file of a folder, or ``archive::member``."""
    return path / member if folder else Path(f"{path}::{member}")
