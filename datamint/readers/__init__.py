"""Decoders from files to ``(C, N, H, W)`` arrays with geometry.

One module per format: :mod:`~datamint.readers.dicom` (single- and multi-frame),
:mod:`~datamint.readers.dicom_series` (ZIP or folder), :mod:`~datamint.readers.nifti`,
:mod:`~datamint.readers.video`, :mod:`~datamint.readers.image`. :func:`read_file` picks
the reader from the file's bytes, then from a :class:`FileHint`
(:mod:`~datamint.readers.registry`). :func:`read_header` gives shape, dtype and geometry
without decoding pixels.

Values: DICOM monochrome data come out in modality units, the Modality LUT applied (CT
in Hounsfield units, int16 when 12 bits are stored); colour as RGB; NIfTI as float64;
PNG/JPEG/video as decoded. Geometry follows :mod:`datamint.geometry` (RAS, our
``(n, h, w)`` index; see ``docs/geometry.md``).

Example:
    >>> from datamint.readers import read_file, read_header
    >>> result = read_file("volumes/lung2_ct.nii.gz")     # doctest: +SKIP
    >>> result.array.shape, result.geometry.spacing_mm     # doctest: +SKIP
    ((1, 19, 161, 182), (5.0, 0.627, 0.627))
"""

import warnings
from typing import Any

from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, hint_kind
from datamint.readers.registry import (
    get_reader,
    read_file,
    read_header,
    reader_version,
    readers,
    register_reader,
)

__all__ = [
    "FileHint",
    "HeaderInfo",
    "ReadResult",
    "Reader",
    "get_reader",
    "hint_kind",
    "read_file",
    "read_header",
    "reader_version",
    "readers",
    "register_reader",
]


def __getattr__(name: str) -> Any:
    """``resource_kind``: the old name of :func:`hint_kind`, with a ``DeprecationWarning``
    (:func:`datamint.schema.resource_kind` classifies a whole record)."""
    if name == "resource_kind":
        warnings.warn(
            "datamint.readers.resource_kind is deprecated; use datamint.readers.hint_kind "
            "(or datamint.schema.resource_kind for a Resource record)",
            DeprecationWarning,
            stacklevel=2,
        )
        return hint_kind
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
