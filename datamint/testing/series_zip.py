"""A DICOM series as a reproducible ZIP of stored (uncompressed) entries.

The series reader reads such archives with ``os.pread`` at each entry's data offset
(:mod:`datamint.readers.dicom_series_members`); tests and benchmarks make them here. (The
reference server no longer stores series as ZIPs: it merges them into one multi-frame
DICOM, :mod:`datamint.server.series_dicom`.)
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO

__all__ = ["stored_series_zip"]

#: DOS epoch: the earliest ZIP timestamp; used for every entry so archives are reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK_BYTES = 1 << 20


def stored_series_zip(files: list[tuple[str, Path]], out: BinaryIO) -> None:
    """Write the files of a series as a reproducible ZIP archive.

    Entries are stored (ZIP_STORED), sorted by their path, named by base name, dated
    1980-01-01 00:00:00 with mode 0644, so equal inputs give byte-identical archives.

    Args:
        files: ``(path in the series, file on disk)`` pairs; base names must be unique.
        out: Seekable binary file to write the archive into.

    Raises:
        ValueError: If two files share a base name (the archive would be ambiguous).
        OSError: If a file cannot be read.
    """
    ordered = sorted(files, key=lambda item: item[0])
    names = [PurePosixPath(rel).name for rel, _ in ordered]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"series files share base names {duplicates}; rename them")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, (_, path) in zip(names, ordered, strict=True):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            size = path.stat().st_size
            with (
                open(path, "rb") as src,
                archive.open(info, "w", force_zip64=size >= 0x7FFFFFFF) as dst,
            ):
                for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                    dst.write(chunk)
