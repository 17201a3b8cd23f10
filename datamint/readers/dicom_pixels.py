"""DICOM pixel data to ``(C, N, H, W)``: shared by the single-file and series readers.

What the array holds (PS3.3 C.7.6.3 Image Pixel Module, C.11.1 Modality LUT Module):

* **Monochrome: modality values.** The Modality LUT ((0028,1053) Rescale Slope and
  (0028,1052) Rescale Intercept, or (0028,3000) Modality LUT Sequence) is applied, so
  CT comes out in Hounsfield units; the dtype rule (int16 for CT with 12 bits stored,
  float32 for a fractional slope, ...) is in :mod:`datamint.readers.dicom_modality`.
  The VOI LUT (window) is not applied.
* **MONOCHROME1 is inverted** so that, as in MONOCHROME2, a higher value is brighter:
  after the Modality LUT each value x becomes ``a + b - x``, where ``[a, b]`` is the
  output range of the stored range ((0028,0101) Bits Stored, (0028,0103) Pixel
  Representation) through the Modality LUT. The dtype is kept; applying the formula
  again recovers x. A float result (fractional rescale) is computed in float64 through
  both steps and rounded to float32 once, so it equals a float64 reference rounded.
* **PALETTE COLOR** becomes RGB through the (0028,1101-1103) Palette Color Lookup
  Tables (normal or segmented, as ``pydicom.pixels.apply_color_lut`` reads them). The
  output is uint8 whenever the palette holds 8-bit colours, decided from the tables (in
  the header) so header reads know it: every entry < 256 (third value of (0028,1101)
  Red Palette Color Lookup Table Descriptor 8, or 8-bit values in 16-bit words), every
  entry a multiple of 257 (8-bit values scaled to 16 bits, ``v * 257``), or every entry
  a multiple of 256 (8-bit values in the high byte); those map back exactly. Palettes
  that use 16 bits give uint16. An alpha palette (0028,1204) is ignored.
* **YBR** colour is returned as RGB. pydicom 3 already converts (including the JPEG
  Baseline YBR_FULL_422 case, where the codec does it); we only convert what pydicom
  reports as still YBR after decoding, so nothing is converted twice. RGB, YBR and
  palette data are not rescaled.
* Native byte order (big-endian transfer syntaxes are swapped); channels first;
  (0028,0008) Number of Frames gives N.

Decoding runs in pydicom's codec plugins (pylibjpeg: libjpeg, openjpeg, rle; pydicom's
own RLE and native decoders), which use a single thread.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels.decoders.base import Decoder, get_decoder
from pydicom.pixels.processing import apply_color_lut, convert_color_space
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers.base import decoding
from datamint.readers.dicom_modality import (
    ModalityLUT,
    dose_grid_scaling,
    modality_lut,
    rescale_sources,
)

__all__ = [
    "PIXEL_KEYWORDS",
    "PixelPlan",
    "decode_pixels",
    "pixel_layout",
    "pixel_plan",
    "rescale_of",
    "transfer_syntax",
]

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


@dataclass(frozen=True, eq=False)
class PixelPlan:
    """How one instance's pixel data become our array, from its tags alone.

    Args:
        shape: ``(C, N, H, W)`` of the output.
        dtype: Output dtype.
        photometric: (0028,0004) Photometric Interpretation, upper case.
        modality: The Modality LUT (identity for colour data).
        palette: For PALETTE COLOR, the ``(entries, 3)`` RGB table in ``dtype``.
        palette_first: The stored value mapped to ``palette[0]``.
    """

    shape: tuple[int, int, int, int]
    dtype: np.dtype
    photometric: str
    modality: ModalityLUT
    palette: np.ndarray | None = None
    palette_first: int = 0


# Expanded palettes by their defining elements: a segmented 65536-entry palette takes
# pydicom ~30 ms to expand, and every image of one ultrasound device shares it.
_PALETTES: OrderedDict[tuple[object, ...], tuple[np.ndarray, int]] = OrderedDict()
_PALETTES_MAX = 16
_PALETTES_LOCK = threading.Lock()
_PALETTE_KEYWORDS = tuple(
    f"{prefix}{colour}PaletteColorLookupTable{part}"
    for colour in ("Red", "Green", "Blue")
    for prefix, part in (("", "Descriptor"), ("", "Data"), ("Segmented", "Data"))
)


def _palette_key(ds: Dataset) -> tuple[object, ...]:
    values: list[object] = [ds.original_encoding[1]]
    for keyword in _PALETTE_KEYWORDS:
        value = ds.get(keyword)  # bytes (OW), or a list of ints (US, SS)
        values.append(value if value is None or isinstance(value, bytes | int) else tuple(value))
    return tuple(values)


def _palette_table(ds: Dataset, path: Path) -> tuple[np.ndarray, int]:
    """The RGB palette as ``(entries, 3)`` uint8 when it holds 8-bit colours, else uint16."""
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    if descriptor is None or len(descriptor) != 3:
        raise InvalidResourceError(
            f"'{path}': PALETTE COLOR image without a valid (0028,1101) "
            "Red Palette Color Lookup Table Descriptor"
        )
    key = _palette_key(ds)
    with _PALETTES_LOCK:
        if key in _PALETTES:
            _PALETTES.move_to_end(key)
            return _PALETTES[key]
    entries, first = int(descriptor[0]) or 65536, int(descriptor[1])
    with decoding(path, "dicom", "read the palette colour lookup tables of"):
        table = apply_color_lut(np.arange(first, first + entries, dtype=np.int64), ds)[:, :3]
    table = table.astype(np.uint16, copy=False)
    if int(table.max()) < 256:  # 8 bits per entry, in 8- or 16-bit words
        table = table.astype(np.uint8)
    elif not np.any(table % 257):
        table = (table // 257).astype(np.uint8)
    elif not np.any(table & 0xFF):
        table = (table >> 8).astype(np.uint8)
    table.flags.writeable = False
    with _PALETTES_LOCK:
        _PALETTES[key] = (table, first)
        while len(_PALETTES) > _PALETTES_MAX:
            _PALETTES.popitem(last=False)
    return table, first


def pixel_plan(ds: Dataset, path: Path) -> PixelPlan:
    """Shape, output dtype and transforms of :func:`decode_pixels`, from tags only.

    Uses (0028,0002) Samples per Pixel, (0028,0004) Photometric Interpretation,
    (0028,0008) Number of Frames, (0028,0010) Rows, (0028,0011) Columns, (0028,0100)
    Bits Allocated, (0028,0101) Bits Stored, (0028,0103) Pixel Representation (absent
    with 32/64 bits: float pixel data), the Modality LUT elements, and for palette
    colour the (0028,1101-1103) descriptors and (0028,1201-1203)/(0028,1221-1223) data.

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
    if bits == 1:
        stored = np.dtype(np.uint8)
    elif bits in (32, 64) and "PixelRepresentation" not in ds:
        # Floating Point Image Pixel Module: (7FE0,0008)/(7FE0,0009), no Pixel Representation.
        stored = np.dtype(f"f{bits // 8}")
    elif bits in (8, 16, 32, 64):
        stored = np.dtype(f"{'i' if signed else 'u'}{bits // 8}")
    else:
        raise InvalidResourceError(f"'{path}': (0028,0100) Bits Allocated {bits} is not supported")
    modality = modality_lut(ds, stored, frames, path)
    if photometric == "PALETTE COLOR":
        table, first = _palette_table(ds, path)
        shape = (3, frames, rows, columns)
        return PixelPlan(shape, table.dtype, photometric, modality, table, first)
    return PixelPlan((samples, frames, rows, columns), modality.dtype, photometric, modality)


def pixel_layout(ds: Dataset, path: Path) -> tuple[tuple[int, int, int, int], np.dtype]:
    """Shape ``(C, N, H, W)`` and dtype that :func:`decode_pixels` returns, from tags only.

    Raises:
        InvalidResourceError: If a needed element is missing or has an invalid value.
    """
    plan = pixel_plan(ds, path)
    return plan.shape, plan.dtype


def _float_or_none(value: object) -> float | None:
    try:
        return None if value in (None, "") else float(str(value))
    except (TypeError, ValueError):
        return None


def rescale_of(ds: Dataset) -> tuple[float | None, float | None]:
    """(0028,1053) Rescale Slope and (0028,1052) Rescale Intercept of the first frame,
    as :func:`decode_pixels` applies them (sources:
    :func:`~datamint.readers.dicom_modality.rescale_sources`; for an RT Dose without
    them, (3004,000E) Dose Grid Scaling and 0); ``None`` each when absent or not a number
    (a monochrome image with a malformed value fails to decode instead).
    """
    source = rescale_sources(ds, 1)[0]
    if source is None:
        try:
            scaling = dose_grid_scaling(ds)
        except (TypeError, ValueError):
            return None, None
        return (scaling, 0.0) if scaling is not None else (None, None)
    return _float_or_none(source.get("RescaleSlope")), _float_or_none(
        source.get("RescaleIntercept")
    )


def _invert_monochrome1(arr: np.ndarray, plan: PixelPlan) -> np.ndarray:
    limits = plan.modality.output_range()
    if limits is None:  # float pixel data: invert around the data's own range
        limits = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if arr.dtype.kind in "ui":
        lo, hi = (round(v) for v in limits)
        clipped = np.clip(arr.astype(np.int64), lo, hi)
        return (lo + hi - clipped).astype(arr.dtype)
    low, high = limits
    return (low + high - np.clip(arr, low, high)).astype(arr.dtype)


def _decoder(ds: Dataset, path: Path) -> Decoder:
    uid = transfer_syntax(ds)
    known = uid.name != str(uid)
    syntax = f"{uid.name} ({uid})" if known else f"{uid} (unknown to pydicom {pydicom.__version__})"
    try:
        decoder = get_decoder(uid)
    except NotImplementedError as exc:
        raise UnsupportedFormatError(
            f"'{path}': transfer syntax {syntax} has no pixel data decoder in pydicom "
            f"{pydicom.__version__} or its installed plugins"
        ) from exc
    if not decoder.is_available:
        missing = "; ".join(decoder.missing_dependencies) or "a decoding plugin"
        raise UnsupportedFormatError(
            f"'{path}': decoding transfer syntax {syntax} needs a plugin that is not "
            f"installed: {missing}"
        )
    return decoder


def decode_pixels(ds: Dataset, path: Path) -> np.ndarray:
    """Decode a dataset's pixel data to ``(C, N, H, W)`` (rules in the module docstring).

    Args:
        ds: A dataset read with its pixel data.
        path: The file, for messages.

    Returns:
        C-contiguous, native byte order ``(C, N, H, W)`` in :func:`pixel_plan`'s dtype;
        C is 1 (monochrome) or 3 (RGB).

    Raises:
        UnsupportedFormatError: If no installed plugin decodes the transfer syntax.
        InvalidResourceError: If pixel data is missing, truncated, or inconsistent with
            the Image Pixel Module elements.
    """
    if not any(keyword in ds for keyword in PIXEL_KEYWORDS):
        raise InvalidResourceError(f"'{path}' has no (7FE0,0010) Pixel Data element")
    plan = pixel_plan(ds, path)
    decoder = _decoder(ds, path)
    channels, frames, rows, columns = plan.shape
    with decoding(path, "dicom", "decode the pixel data of"):
        arr, meta = decoder.as_array(ds)  # as_rgb=True is pydicom's default: YBR -> RGB
        photometric = str(meta.get("photometric_interpretation", plan.photometric))
        photometric = photometric.strip().upper()
        if photometric in ("YBR_FULL", "YBR_FULL_422") and arr.ndim >= 3 and arr.shape[-1] == 3:
            arr = convert_color_space(arr, photometric, "RGB")
    stored_channels = 1 if plan.palette is not None else channels
    if arr.size != stored_channels * frames * rows * columns:
        raise InvalidResourceError(
            f"'{path}': decoded {arr.size} values {arr.shape}, expected (C, N, H, W) = "
            f"{(stored_channels, frames, rows, columns)}"
        )
    arr = arr.reshape(frames, rows, columns, stored_channels)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if plan.palette is not None:
        index = np.clip(arr[..., 0].astype(np.int64) - plan.palette_first, 0, len(plan.palette) - 1)
        arr = plan.palette[index]
    elif channels == 1:
        if photometric == "MONOCHROME1":  # invert before rounding a float rescale
            values = plan.modality.apply(arr[..., 0], float_dtype=np.float64)
            if values.dtype.kind == "f" and values.dtype != np.float64:
                values = values.astype(np.float64)
            values = _invert_monochrome1(values, plan).astype(plan.dtype, copy=False)
        else:
            values = plan.modality.apply(arr[..., 0])
        arr = values[..., None]
    if arr.dtype != plan.dtype and not np.can_cast(arr.dtype, plan.dtype, "safe"):
        raise InvalidResourceError(
            f"'{path}': the pixel data decode to {arr.dtype}, the header says {plan.dtype}"
        )
    return np.ascontiguousarray(arr.transpose(3, 0, 1, 2), dtype=plan.dtype)
