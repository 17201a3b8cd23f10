"""The bundled demo project for the reader tests: paths, records, and files read once."""

from __future__ import annotations

import functools
import json
import random
import zipfile
from pathlib import Path
from typing import Any

import pydicom.data

import datamint.readers
from datamint.readers import ReadResult, read_file

DEMO = Path(datamint.readers.__file__).resolve().parents[1] / "demo" / "data"


def project() -> dict[str, Any]:
    """The demo ``project.json``."""
    return json.loads((DEMO / "project.json").read_text(encoding="utf-8"))


def resources() -> list[dict[str, Any]]:
    """Every resource record of the demo project."""
    return project()["resources"]


@functools.cache
def cached_read(relative: str) -> ReadResult:
    """``read_file`` of a demo file, decoded once per session; do not modify the array."""
    result = read_file(DEMO / relative)
    result.array.flags.writeable = False
    return result


#: Test files shipped inside the pydicom 3 wheel (MIT licence): one MR image in many
#: transfer syntaxes, plus JPEG, JPEG-LS, RLE and deflated samples. Read from disk, never
#: downloaded (``pydicom.data.get_testdata_file`` could fetch missing ones).
PYDICOM_FILES = Path(pydicom.data.__file__).resolve().parent / "test_files"


def series_zip(files: list[Path], archive: Path) -> Path:
    """Write ``files`` to ``archive`` as a deflated ZIP of a series, the way uploads arrive:
    members in shuffled order (seed 0) named ``series/0000``..., plus a non-DICOM README."""
    shuffled = list(files)
    random.Random(0).shuffle(shuffled)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("README.txt", "not a DICOM file")
        for index, path in enumerate(shuffled):
            zf.write(path, f"series/{index:04d}")
    return archive
