"""DICOM pixel data to ``(C, N, H, W)``: shared by the single-file and series readers.

What the array holds (PS3.3 C.7.6.3, Image Pixel Module):

* **Stored values.** The modality LUT, (0028,1053) Rescale Slope and (0028,1052)
  Rescale Intercept, is *not* applied; callers read those tags from the metainfo (or
  :class:`~datamint.readers.base.HeaderInfo`) and decide.
* **MONOCHROME1 is inverted** so that, as in MONOCHROME2, a higher value is brighter:
  with (0028,0004) Photometric Interpretation ``MONOCHROME1`` each value v becomes
  ``lo + hi - v``, where ``[lo, hi]`` is the range of (0028,0101) Bits Stored and
  (0028,0103) Pixel Representation. The dtype is kept, and v is recovered by
  applying the same formula again. A rescale in the metainfo applies to v, not to the
  inverted value.
* **PALETTE COLOR** becomes RGB through ``pydicom.pixels.apply_color_lut``; the dtype
  follows the LUT entry size (third value of (0028,1101) Red Palette Color Lookup Table
  Descriptor): uint8 for 8 bits, uint16 for 16.
* **YBR** colour is returned as RGB. pydicom 3 already converts (including the JPEG
  Baseline YBR_FULL_422 case, where the codec does it); we only convert what pydicom
  reports as still YBR after decoding, so nothing is converted twice.
* Channels come first; (0028,0008) Number of Frames gives N.

Decoding runs in pydicom's codec plugins (pylibjpeg: libjpeg, openjpeg, rle), which
use a single thread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import get_decoder
from pydicom.pixels.processing import apply_color_lut, convert_color_space
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers.base import decoding

__all__ = ["PIXEL_KEYWORDS", "decode_pixels", "pixel_layout", "rescale_of", "transfer_syntax"]

#: Elements that hold pixel data; removed from the metainfo.
PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def transfer_syntax(ds: Dataset) -> UID:
    """(0002,0010) Transfer Syntax UID, or the encoding pydicom detected when it is absent."""
    meta = getattr(ds, "file_meta", None)
    uid = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if uid:
        return UID(uid)
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def _int_tag(ds: Dataset, keyword: str, path: Path, default: int | None = None) -> int:
    value = ds.get(keyword, default)
    if value is None or value == "":
        if default is not None:
            return default
        raise InvalidResourceError(f"'{path}' lacks the DICOM element {keyword}")
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidResourceError(
            f"'{path}': {keyword} has a non-integer value {value!r}"
        ) from exc


def pixel_layout(ds: Dataset, path: Path) -> tuple[tuple[int, int, int, int], np.dtype]:
    """Shape ``(C, N, H, W)`` and dtype that :func:`decode_pixels` returns, from tags only.

    Uses (0028,0002) Samples per Pixel, (0028,0004) Photometric Interpretation,
    (0028,0008) Number of Frames, (0028,0010) Rows, (0028,0011) Columns, (0028,0100)
    Bits Allocated, (0028,0103) Pixel Representation (absent with 32/64 bits: float
    pixel data), and for palette colour the third value of (0028,1101) Red Palette
    Color Lookup Table Descriptor.

    Raises:
        InvalidResourceError: If a needed element is missing or has an invalid value.
    """
    rows = _int_tag(ds, "Rows", path)
    columns = _int_tag(ds, "Columns", path)
    frames = max(1, _int_tag(ds, "NumberOfFrames", path, default=1))
    samples = _int_tag(ds, "SamplesPerPixel", path, default=1)
    bits = _int_tag(ds, "BitsAllocated", path)
    signed = _int_tag(ds, "PixelRepresentation", path, default=0) == 1
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if samples not in (1, 3) or rows < 1 or columns < 1:
        raise InvalidResourceError(
            f"'{path}': unsupported image layout: {samples} samples per pixel, {rows} rows, "
            f"{columns} columns (expected 1 or 3 samples and a non-empty image)"
        )
    if photometric == "PALETTE COLOR":
        descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
        if descriptor is None or len(descriptor) != 3:
            raise InvalidResourceError(
                f"'{path}': PALETTE COLOR image without a valid (0028,1101) "
                "Red Palette Color Lookup Table Descriptor"
            )
        dtype = np.dtype(np.uint8 if int(descriptor[2]) == 8 else np.uint16)
        return (3, frames, rows, columns), dtype
    if bits == 1:
        dtype = np.dtype(np.uint8)
    elif bits in (32, 64) and "PixelRepresentation" not in ds:
        # Floating Point Image Pixel Module: (7FE0,0008)/(7FE0,0009), no Pixel Representation.
        dtype = np.dtype(f"f{bits // 8}")
    elif bits in (8, 16, 32, 64):
        dtype = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    else:
        raise InvalidResourceError(f"'{path}': (0028,0100) Bits Allocated {bits} is not supported")
    return (samples, frames, rows, columns), dtype


def rescale_of(ds: Dataset) -> tuple[float | None, float | None]:
    """(0028,1053) Rescale Slope and (0028,1052) Rescale Intercept, or ``None`` each.

    Enhanced multi-frame objects keep them in the shared Pixel Value Transformation
    Sequence (0028,9145); the top level wins when both exist.
    """
    source = ds
    if "RescaleSlope" not in ds and "SharedFunctionalGroupsSequence" in ds:
        shared = ds.SharedFunctionalGroupsSequence[0]
        if "PixelValueTransformationSequence" in shared:
            source = shared.PixelValueTransformationSequence[0]
    slope, intercept = source.get("RescaleSlope"), source.get("RescaleIntercept")
    return (
        None if slope in (None, "") else float(slope),
        None if intercept in (None, "") else float(intercept),
    )


def _invert_monochrome1(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    bits = int(ds.get("BitsStored") or ds.BitsAllocated)
    if arr.dtype.kind == "i":
        lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    else:
        lo, hi = 0, 2**bits - 1
    inverted: np.ndarray = np.asarray(lo + hi, dtype=arr.dtype) - np.clip(arr, lo, hi)
    return inverted.astype(arr.dtype, copy=False)


def decode_pixels(ds: Dataset, path: Path) -> np.ndarray:
    """Decode a dataset's pixel data to ``(C, N, H, W)`` (rules in the module docstring).

    Args:
        ds: A dataset read with its pixel data.
        path: The file, for messages.

    Returns:
        C-contiguous array ``(C, N, H, W)``; C is 1 (monochrome) or 3 (RGB).

    Raises:
        UnsupportedFormatError: If no installed plugin decodes the transfer syntax.
        InvalidResourceError: If pixel data is missing, truncated, or inconsistent with
            the Image Pixel Module elements.
    """
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise InvalidResourceError(f"'{path}' has no (7FE0,0010) Pixel Data element")
    shape, _ = pixel_layout(ds, path)
    uid = transfer_syntax(ds)
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as exc:
        raise UnsupportedFormatError(
            f"'{path}': transfer syntax {uid.name} ({uid}) has no pixel data decoder in "
            f"pydicom {pydicom.__version__}"
        ) from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise UnsupportedFormatError(
            f"'{path}': decoding {uid.name} ({uid}) needs a plugin that is not installed: {missing}"
        )
    with decoding(path, "dicom", "decode the pixel data of"):
        arr, meta = decoder.as_array(ds)  # as_rgb=True is pydicom's default: YBR -> RGB
        photometric = str(meta.get("photometric_interpretation", ds.PhotometricInterpretation))
        photometric = photometric.strip().upper()
        if photometric == "PALETTE COLOR":
            arr = apply_color_lut(arr, ds)
        elif photometric in ("YBR_FULL", "YBR_FULL_422") and arr.ndim >= 3 and arr.shape[-1] == 3:
            arr = convert_color_space(arr, photometric, "RGB")
        elif photometric == "MONOCHROME1":
            arr = _invert_monochrome1(arr, ds)
    channels, frames, rows, columns = shape
    if arr.size != channels * frames * rows * columns:
        raise InvalidResourceError(
            f"'{path}': decoded {arr.size} values {arr.shape}, expected (C, N, H, W) = {shape}"
        )
    arr = arr.reshape(frames, rows, columns, channels)
    return np.ascontiguousarray(arr.transpose(3, 0, 1, 2))
