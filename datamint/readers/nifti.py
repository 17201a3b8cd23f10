"""NIfTI-1 / NIfTI-2 single files (``.nii``, gzipped or not) to ``(C, N, H, W)`` arrays.

Axes: a file stored ``(X, Y, Z)`` becomes ``(1, Z, Y, X)``, so n = z, h = y, w = x.
Extra dimensions become channels: ``(X, Y, Z, T)`` gives ``(T, Z, Y, X)``, and anything
beyond ``(X, Y, Z, T, U)`` is flattened into C in C order. A 2-D file gives N = 1.

Values: the stored values in the file's own dtype (int16 CT stays int16, in native byte
order) when the header's scaling is the identity (``scl_slope`` 0, NaN or 1 and
``scl_inter`` 0 or NaN, as nibabel reads them); otherwise nibabel's ``get_fdata()``
(float64, scaling applied). Either way the values equal ``get_fdata()``'s. Datasets cast
NIfTI items to float64 unless asked for the stored dtype
(``image_dtype='stored'``), so the decoded cache holds the compact stored dtype.

Geometry: the file affine (sform if ``sform_code > 0``, else qform if ``qform_code > 0``,
nibabel's choice) has its index columns reversed (:func:`~datamint.geometry.reverse_index_axes`)
to map our ``(n, h, w)``; NIfTI world space is RAS. A file with both codes 0 has no
orientation: ``Calibration.SPACING`` with ``pixdim`` as spacing. ``metainfo['header']``
holds the header fields as stored in the file (``vox_offset``, ``scl_slope``, ...), the
same from ``read`` and ``read_header``. ``metainfo['affine']``
stays the **file** affine on the file's ``(x, y, z)`` index.

Header extensions (ecodes such as AFNI, DICOM, CIFTI-2) are read with the header: they
lie between the 4-byte extension flag after the header (byte 348 or 540) and
``vox_offset``, so every byte up to ``vox_offset`` is read (and inflated) when the flag is
set, up to :data:`MAX_HEADER_BYTES`. ``metainfo['header']`` keeps the header fields; the
extensions are not copied into the metainfo.

The format is found from the bytes, not the name, so a cached file called ``data`` reads.
"""

from __future__ import annotations

import gzip
import io
import math
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.geometry import Calibration, Geometry, NAxis, reverse_index_axes
from datamint.readers.base import FileHint, HeaderInfo, Reader, ReadResult, decoding, read_head

__all__ = ["NiftiReader", "nifti_version"]

_GZIP = b"\x1f\x8b"
_HEADER_BYTES = {1: 348, 2: 540}  # sizeof_hdr of NIfTI-1 and NIfTI-2
MAX_HEADER_BYTES = 256 << 20
"""Most bytes read before the voxels (header extensions such as CIFTI-2 XML included)."""


def nifti_version(raw: bytes) -> int | None:
    """1 or 2 if uncompressed bytes start a single-file NIfTI header, else ``None``.

    NIfTI-1: ``sizeof_hdr`` = 348 (either byte order) and magic ``n+1\\0`` at byte 344.
    NIfTI-2: ``sizeof_hdr`` = 540 and magic ``n+2\\0`` at byte 4. Pairs (``ni1``) and
    ANALYZE 7.5 are not single files and are not recognised.
    """
    if len(raw) >= 348 and raw[:4] in (b"\x5c\x01\x00\x00", b"\x00\x00\x01\x5c"):
        return 1 if raw[344:348] == b"n+1\x00" else None
    if len(raw) >= 8 and raw[:4] in (b"\x1c\x02\x00\x00", b"\x00\x00\x02\x1c"):
        return 2 if raw[4:8] == b"n+2\x00" else None
    return None


def _uncompressed_head(head: bytes) -> bytes:
    if head[:2] != _GZIP:
        return head
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 544)
    except zlib.error:
        return b""


def _vox_offset(raw: bytes, version: int) -> int:
    """``vox_offset`` of a NIfTI-1 (float32 at byte 108) or NIfTI-2 (int64 at byte 168)
    header, in the byte order ``sizeof_hdr`` shows; 0 when it is not a finite number."""
    order = "<" if raw[:4] in (b"\x5c\x01\x00\x00", b"\x1c\x02\x00\x00") else ">"
    value = (
        struct.unpack_from(f"{order}f", raw, 108)[0]
        if version == 1
        else struct.unpack_from(f"{order}q", raw, 168)[0]
    )
    return int(value) if math.isfinite(value) and value > 0 else 0


def _header_bytes(path: Path) -> tuple[bytes, int]:
    """The (inflated) bytes up to the voxel data: the header, the 4-byte extension flag,
    and the extensions when the flag is set (they lie between the two and ``vox_offset``).

    Returns:
        The bytes and the NIfTI version.

    Raises:
        UnsupportedFormatError: If there is no NIfTI-1/2 magic.
        InvalidResourceError: If ``vox_offset`` lies beyond :data:`MAX_HEADER_BYTES`.
    """
    gzipped = read_head(path, 2) == _GZIP
    with gzip.open(path, "rb") if gzipped else open(path, "rb") as fh:
        raw = fh.read(_HEADER_BYTES[2] + 4)
        version = nifti_version(raw)
        if version is None:
            raise UnsupportedFormatError(
                f"'{path}' is not a single-file NIfTI-1/2 image (no 'n+1'/'n+2' header magic)"
            )
        size = _HEADER_BYTES[version]
        if len(raw) < size + 4 or raw[size] == 0:  # no extension follows
            return raw[: size + 4], version
        end = _vox_offset(raw, version)
        if end > MAX_HEADER_BYTES:
            raise InvalidResourceError(
                f"'{path}': vox_offset {end} puts {end - size - 4} bytes of header "
                f"extensions before the voxels, more than the {MAX_HEADER_BYTES} read"
            )
        if end > len(raw):
            raw += fh.read(end - len(raw))
    return raw, version


def _header(path: Path) -> Any:
    """The file's NIfTI-1/2 header alone, extensions included: the bytes before the
    voxels (read and inflated, :func:`_header_bytes`), then nibabel's header class.
    Costs about a tenth of opening the image."""
    with decoding(path, "nifti", "read the header of"):
        raw, version = _header_bytes(path)
        klass = nib.Nifti1Header if version == 1 else nib.Nifti2Header
        return klass.from_fileobj(io.BytesIO(raw))


@contextmanager
def _open_image(path: Path, header: Any) -> Iterator[nib.Nifti1Image | nib.Nifti2Image]:
    """The image with a lazy array proxy; the file stays open inside the block.

    ``header`` is the file's, from :func:`_header` (which checked the magic); it picks the
    NIfTI-1 or NIfTI-2 image class.
    """
    klass = nib.Nifti2Image if isinstance(header, nib.Nifti2Header) else nib.Nifti1Image
    gzipped = read_head(path, 2) == _GZIP
    with decoding(path, "nifti", "read the header of"):
        stream: Any = gzip.open(path, "rb") if gzipped else open(path, "rb")  # noqa: SIM115
    with stream:
        with decoding(path, "nifti", "read the header of"):
            image = klass.from_stream(stream)
        yield image


def _header_dict(header: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, raw in header.items():
        value = np.asarray(raw)
        if value.dtype.kind == "S":
            out[key] = value.tobytes().split(b"\x00")[0].decode("latin-1")
        else:
            out[key] = value.tolist()
    return out


def _metainfo(header: Any) -> dict[str, Any]:
    return {
        "affine": np.array(header.get_best_affine(), dtype=np.float64),
        "header": _header_dict(header),
        "shape": tuple(int(v) for v in header.get_data_shape()),
    }


def _geometry(header: Any, path: Path) -> Geometry:
    with decoding(path, "nifti", "build the geometry of"):
        return _file_geometry(header)


def _file_geometry(header: Any) -> Geometry:
    """The image's affine is nibabel's ``get_best_affine()`` (sform, else qform, else pixdim)."""
    sform, qform = int(header["sform_code"]), int(header["qform_code"])
    if sform > 0 or qform > 0:
        return Geometry(reverse_index_axes(header.get_best_affine()), "RAS", None, NAxis.SPACE)
    zooms = list(header.get_zooms()[:3]) + [1.0] * (3 - min(3, len(header.get_data_shape())))
    spacing = [z if z > 0 else 1.0 for z in zooms[:3]]
    return Geometry(
        np.diag([spacing[2], spacing[1], spacing[0], 1.0]),
        "RAS",
        None,
        NAxis.SPACE,
        Calibration.SPACING,
    )


def _identity_scaling(header: Any) -> bool:
    """nibabel's rule: a slope of 0 or NaN reads as (None, None), i.e. no scaling."""
    slope, inter = header.get_slope_inter()
    return (1.0 if slope is None else float(slope)) == 1.0 and (
        inter is None or float(inter) == 0.0
    )


def _value_dtype(header: Any) -> np.dtype:
    """What :meth:`NiftiReader.read` returns: the stored dtype if unscaled, else float64."""
    if _identity_scaling(header):
        return header.get_data_dtype().newbyteorder("=")
    return np.dtype(np.float64)


def _values(image: Any, header: Any) -> np.ndarray:
    """The voxels as :func:`_value_dtype` says, from the file's own ``header`` (a loaded
    image's header has its scaling fields reset by nibabel)."""
    if _identity_scaling(header):
        data = np.asarray(image.dataobj.get_unscaled())
        return data.astype(data.dtype.newbyteorder("="), copy=False)
    return image.get_fdata(dtype=np.float64)


def _our_shape(file_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    x, y, z = (*file_shape[:3], 1, 1, 1)[:3]
    channels = int(np.prod(file_shape[3:])) if len(file_shape) > 3 else 1
    return (channels, z, y, x)


class NiftiReader(Reader):
    """Reads NIfTI-1/2 single files, gzipped or not (rules: module docstring).

    Versions: ``"1"`` returned float64 always; ``"2"`` keeps the stored dtype when the
    header does not scale.
    """

    name = "nifti"
    version = "2"
    kinds = ("nifti",)
    detects = "a NIfTI-1/2 header (sizeof_hdr 348/540 and 'n+1'/'n+2'), gzipped or not"

    def sniff(self, path: Path, head: bytes) -> bool:
        """True when the (decompressed) first bytes are a NIfTI-1 or NIfTI-2 header."""
        return nifti_version(_uncompressed_head(head)) is not None

    def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
        """Decode the voxels to ``(C, Z, Y, X)`` (dtype: module docstring).

        Returns:
            ``ReadResult(array, geometry, {'affine', 'header', 'shape'}, "nifti")``; the
            metainfo affine is the file's (on ``(x, y, z)``), ``shape`` the file's shape.

        Raises:
            UnsupportedFormatError: If the file is not a single-file NIfTI.
            InvalidResourceError: If it is truncated or corrupt.
        """
        path = Path(path)
        header = _header(path)  # as stored: nibabel resets a loaded image's scaling fields
        with _open_image(path, header) as image:
            with decoding(path, "nifti", "read the voxels of"):
                data = _values(image, header)
            file_shape = tuple(int(v) for v in image.shape)
            channels, z, y, x = _our_shape(file_shape)
            data = data.reshape(x, y, z, channels)
            array = np.ascontiguousarray(data.transpose(3, 2, 1, 0))
        return ReadResult(array, _geometry(header, path), _metainfo(header), self.name)

    def read_header(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> HeaderInfo:
        """Shape ``(C, Z, Y, X)``, value dtype, geometry and metainfo from the header only.

        Raises:
            UnsupportedFormatError: If the file is not a single-file NIfTI.
            InvalidResourceError: If the header is corrupt.
        """
        path = Path(path)
        header = _header(path)
        with decoding(path, "nifti", "read the header of"):
            shape = _our_shape(tuple(int(v) for v in header.get_data_shape()))
            dtype = _value_dtype(header)
            metainfo = _metainfo(header)
        return HeaderInfo(shape, dtype, _geometry(header, path), metainfo=metainfo)
