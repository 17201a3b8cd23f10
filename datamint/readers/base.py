"""What every reader promises: :class:`Reader`, :class:`ReadResult`, :class:`HeaderInfo`.

A reader turns one file on disk into a ``(C, N, H, W)`` array plus its
:class:`~datamint.geometry.Geometry`. It is picked by :mod:`datamint.readers.registry`
from the file's first bytes, then from a :class:`FileHint`. Readers never raise a
library's own exception: a file they cannot decode raises
:class:`~datamint.exceptions.InvalidResourceError` or
:class:`~datamint.exceptions.UnsupportedFormatError`, naming the path and the problem.
"""

from __future__ import annotations

import abc
import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from datamint.exceptions import InvalidResourceError, ReaderError
from datamint.geometry import Geometry
from datamint.schema import ResourceKind, resource_kind

__all__ = [
    "HEAD_BYTES",
    "Deferred",
    "FileHint",
    "HeaderInfo",
    "ReadResult",
    "Reader",
    "hint_kind",
    "read_head",
]

#: How many leading bytes the registry reads to detect a format.
HEAD_BYTES = 4096


@dataclass(frozen=True)
class FileHint:
    """What the server's Resource record says about a file; every field may be ``None``.

    Only consulted when the file's first bytes are not conclusive.

    Args:
        filename: The resource's ``filename`` (e.g. ``"ct.nii.gz"``); only its suffix is used.
        mimetype: The resource's ``mimetype`` (e.g. ``"application/dicom"``).
        storage: The resource's ``storage`` (e.g. ``"DicomResource"``).
    """

    filename: str | None = None
    mimetype: str | None = None
    storage: str | None = None


def hint_kind(hint: FileHint | None) -> str | None:
    """The resource kind a hint names, by the one table of :func:`datamint.schema.resource_kind`.

    Args:
        hint: What the Resource record says, or ``None``.

    Returns:
        ``"dicom"``, ``"nifti"``, ``"volume"``, ``"video"`` or ``"image"`` (the values
        of :class:`~datamint.schema.ResourceKind` that a reader may serve); ``None`` when
        there is no hint or it matches no kind (``generic``).
    """
    if hint is None:
        return None
    kind = resource_kind(
        {"filename": hint.filename, "mimetype": hint.mimetype, "storage": hint.storage}
    )
    return None if kind is ResourceKind.GENERIC else kind.value


class Deferred:
    """A :attr:`HeaderInfo.metainfo` computed on first access, by ``load()``.

    A reader whose metainfo costs more than the rest of its header read (a DICOM
    series: one pydicom parse, about 0.45 ms) passes ``HeaderInfo(..., metainfo=Deferred(
    load))``; reading ``info.metainfo`` calls ``load`` once and keeps its result. Keep
    ``load`` picklable (no lambda) so the header stays picklable, and independent of
    files that may vanish (hold the bytes it parses).

    Args:
        load: Returns the metainfo; its exceptions propagate to whoever reads it.
    """

    def __init__(self, load: Callable[[], Any]) -> None:
        self.load = load


class _DeferredField:
    """Data descriptor behind :attr:`HeaderInfo.metainfo`: resolves a :class:`Deferred`
    on first read (two threads may both load; they get equal values)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.slot = f"_{name}"

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return None  # the dataclass default
        value = obj.__dict__.get(self.slot)
        if isinstance(value, Deferred):
            value = value.load()
            obj.__dict__[self.slot] = value
        return value

    def __set__(self, obj: object, value: Any) -> None:
        obj.__dict__[self.slot] = value


@dataclass
class HeaderInfo:
    """What a file holds, read without decoding pixels where the format allows.

    Args:
        shape: ``(C, N, H, W)`` of the array :meth:`Reader.read` would return.
        dtype: dtype of that array.
        geometry: As :attr:`ReadResult.geometry`.
        rescale_slope: DICOM (0028,1053) Rescale Slope (top level, or the shared
            (0028,9145) Pixel Value Transformation Sequence), when present; already
            applied to the array by :meth:`Reader.read` (for a series: the first slice's,
            each slice being rescaled with its own).
        rescale_intercept: DICOM (0028,1052) Rescale Intercept, as ``rescale_slope``.
        metainfo: As :attr:`ReadResult.metainfo`, from the header alone (DICOM: the
            dataset read up to its pixel data; NIfTI: the same dict; others ``None``).
            A :class:`Deferred` passed here is loaded on first access (a DICOM series
            parses its first slice with pydicom only then).
    """

    shape: tuple[int, int, int, int]
    dtype: np.dtype
    geometry: Geometry | None
    rescale_slope: float | None = None
    rescale_intercept: float | None = None
    metainfo: Any = _DeferredField()


@dataclass
class ReadResult:
    """A decoded file.

    Args:
        array: ``(C, N, H, W)``, C-contiguous, native byte order, in the decoder's
            dtype: uint8 for JPEG/video, uint8 or uint16 for PNG, float64 for NIfTI; for
            DICOM monochrome the modality values (CT in Hounsfield units: int16, int32
            or float32, see :mod:`~datamint.readers.dicom_modality`), for DICOM colour
            uint8 (or uint16) RGB.
        geometry: Where the voxels are, or ``None`` when the file says nothing physical.
        metainfo: DICOM: the pydicom ``Dataset`` with PixelData removed (for a series,
            that of the first slice in our order). NIfTI: ``{'affine': (4, 4) file
            affine on the file's (x, y, z) index, 'header': dict, 'shape': tuple}``.
            PNG/JPEG/video: ``None``.
        reader: Name of the reader that produced it (e.g. ``"dicom"``).
    """

    array: np.ndarray
    geometry: Geometry | None
    metainfo: Any
    reader: str


class Reader(abc.ABC):
    """Decodes one format. Subclasses set :attr:`name`, :attr:`version`, :attr:`detects`.

    ``version`` changes whenever the output for the same file changes; it is part of
    the cache key, so a new version never serves an old decoding.
    """

    #: Short name, e.g. ``"dicom"``.
    name: ClassVar[str]
    #: Bumped when the output for the same file changes (cache keys use it).
    version: ClassVar[str]
    #: Resource kinds (:class:`~datamint.schema.ResourceKind`) this reader serves when the
    #: bytes are not conclusive.
    kinds: ClassVar[tuple[str, ...]] = ()
    #: One line saying what the reader recognises, for error messages.
    detects: ClassVar[str] = ""

    @abc.abstractmethod
    def sniff(self, path: Path, head: bytes) -> bool:
        """Whether the file's first bytes (or the path, for folders) are this format.

        Args:
            path: The file or folder.
            head: Its first :data:`HEAD_BYTES` bytes (``b""`` for a folder).
        """

    def accepts(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> bool:
        """Whether this reader takes the file: by its bytes, else by the hint's kind."""
        path = Path(path)
        if self.sniff(path, read_head(path)):
            return True
        return hint_kind(hint) in self.kinds

    @abc.abstractmethod
    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode the whole file.

        Raises:
            InvalidResourceError: If the file is corrupt, truncated, or its shape, geometry
                or tags are invalid.
            UnsupportedFormatError: If it is not this reader's format.
        """

    @abc.abstractmethod
    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape, dtype and geometry of :meth:`read`'s result, decoding as little as possible.

        Raises:
            InvalidResourceError: If the header is corrupt or truncated.
            UnsupportedFormatError: If it is not this reader's format.
        """


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of ``path``; ``b""`` for a folder or an unreadable path."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


@contextlib.contextmanager
def decoding(path: Path, reader: str, what: str = "decode") -> Iterator[None]:
    """Turn any library exception raised inside into :class:`InvalidResourceError`.

    Our own :class:`~datamint.exceptions.ReaderError` passes through unchanged; a
    missing file stays a ``FileNotFoundError``.

    Raises:
        InvalidResourceError: Naming ``path``, the reader, and the original error.
    """
    try:
        yield
    except (ReaderError, FileNotFoundError, MemoryError):
        raise
    except Exception as exc:
        raise InvalidResourceError(
            f"{reader} reader could not {what} '{path}': {type(exc).__name__}: {exc}"
        ) from exc
