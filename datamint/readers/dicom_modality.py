"""The DICOM Modality LUT: stored values to modality units (Hounsfield units for CT).

PS3.3 C.11.1 Modality LUT Module, and C.7.6.16.2.9 Pixel Value Transformation for
enhanced objects. Per frame, the first of these that exists is applied:

1. (0028,3000) Modality LUT Sequence: ``out = LUTData[clip(v - first, 0, entries - 1)]``
   with ``(entries, first, bits)`` = (0028,3002) LUT Descriptor (entries 0 means 65536)
   and (0028,3006) LUT Data.
2. (0028,1053) Rescale Slope and (0028,1052) Rescale Intercept: ``out = slope * v +
   intercept`` (a missing slope is 1, a missing intercept 0). Enhanced objects carry
   them in (0028,9145) Pixel Value Transformation Sequence, per frame in (5200,9230)
   Per-Frame Functional Groups Sequence, else in (5200,9229) Shared Functional Groups
   Sequence, else at the top level. (0028,1054) Rescale Type (HU, US, ...) is not checked.
3. RT Dose (PS3.3 C.8.8.3): (3004,000E) Dose Grid Scaling, when neither of the above is
   present: ``out = DoseGridScaling * v``, the dose in (3004,0002) Dose Units (``GY``, or
   ``RELATIVE``). Frames share one scaling. ``rescale_slope`` of a header read reports it.
4. Nothing: the stored values are returned.

Only monochrome data (MONOCHROME1/2) are transformed: the Modality LUT does not apply
to RGB, YBR or PALETTE COLOR. The VOI LUT ((0028,1050) Window Center, (0028,1051)
Window Width, (0028,3010) VOI LUT Sequence) is left to the user.

Output dtype, decided from the header alone so that header reads predict it:

* identity (nothing to apply, or slope 1 and intercept 0 in every frame): the stored dtype;
* LUT: uint8 when its bits per entry (third descriptor value) is at most 8, else uint16;
* slope 1 and an integer intercept in every frame: int16 if ``[lo + intercept,
  hi + intercept]`` fits, else int32 (float64 beyond int32), where ``[lo, hi]`` is the
  range of (0028,0101) Bits Stored with (0028,0103) Pixel Representation. CT with 12 bits
  stored and intercept -1024 gives int16 Hounsfield units exactly; 16 bits stored cannot
  exclude values that overflow int16, so they give int32;
* any other slope or intercept: float32 (float pixel data keep their float dtype).

Stored values outside the Bits Stored range, possible only in malformed files (PS3.5
8.1.1), are clipped into it first, so the header's dtype always holds the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from datamint.exceptions import InvalidResourceError

__all__ = [
    "ModalityLUT",
    "dose_grid_scaling",
    "frame_rescales",
    "modality_lut",
    "rescale_sources",
    "stored_range",
]

_MONOCHROME = ("MONOCHROME1", "MONOCHROME2")


@dataclass(frozen=True, eq=False)
class ModalityLUT:
    """The Modality LUT of one instance (rules: module docstring).

    Args:
        stored_range: ``(lo, hi)`` that stored values can take; ``None`` for float data.
        rescales: ``(slope, intercept)`` per frame, or ``None`` when no rescale applies.
        lut: (0028,3006) LUT Data as ``(entries,)`` uint8/uint16, or ``None``.
        first_mapped: The stored value mapped to ``lut[0]`` (second descriptor value).
        dtype: The output dtype.
    """

    stored_range: tuple[int, int] | None
    rescales: tuple[tuple[float, float], ...] | None
    lut: np.ndarray | None
    first_mapped: int
    dtype: np.dtype

    @property
    def is_identity(self) -> bool:
        """Whether the output equals the stored values."""
        return self.lut is None and self.rescales is None

    def output_range(self) -> tuple[float, float] | None:
        """Smallest and largest value :meth:`apply` can return; ``None`` for float data."""
        if self.stored_range is None:
            return None
        if self.lut is not None:
            return float(self.lut.min()), float(self.lut.max())
        lo, hi = self.stored_range
        if self.rescales is None:
            return float(lo), float(hi)
        ends = [slope * v + intercept for slope, intercept in self.rescales for v in (lo, hi)]
        return min(ends), max(ends)

    def apply(self, stored: np.ndarray, *, float_dtype: Any = None) -> np.ndarray:
        """Map stored values of shape ``(N, H, W)`` to ``self.dtype`` output values.

        Args:
            stored: Stored values, one frame per index of axis 0.
            float_dtype: Where the output is a float rescale, return this dtype instead
                of ``self.dtype`` (``np.float64`` to keep computing before rounding).

        Returns:
            A new array (or ``stored`` itself for the identity) of the same shape.
        """
        if self.is_identity:
            return stored
        if self.stored_range is not None:
            lo, hi = self.stored_range
            if stored.size and (stored.min() < lo or stored.max() > hi):
                stored = np.clip(stored, lo, hi)
        if self.lut is not None:
            index = np.clip(stored.astype(np.int64) - self.first_mapped, 0, len(self.lut) - 1)
            return self.lut[index]
        dtype = self.dtype if float_dtype is None or self.dtype.kind != "f" else float_dtype
        out = np.empty(stored.shape, dtype=dtype)
        rescales = self.rescales or ()
        for k, (slope, intercept) in enumerate(rescales):
            if self.dtype.kind == "i":
                out[k] = stored[k].astype(np.int64) + int(intercept)
            else:
                out[k] = stored[k].astype(np.float64) * slope + intercept
        return out


def stored_range(ds: Dataset, stored_dtype: np.dtype) -> tuple[int, int] | None:
    """``(lo, hi)`` of stored values from (0028,0101) Bits Stored and (0028,0103)
    Pixel Representation (Bits Allocated when Bits Stored is absent); ``None`` for floats.
    """
    if stored_dtype.kind == "f":
        return None
    bits = int(ds.get("BitsStored") or 0) or stored_dtype.itemsize * 8
    bits = min(max(bits, 1), stored_dtype.itemsize * 8)
    if stored_dtype.kind == "i":
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _number(value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    return float(value)


def _first_item(owner: Dataset | None, keyword: str) -> Dataset | None:
    if owner is None or keyword not in owner:
        return None
    sequence = owner.get(keyword)
    return sequence[0] if sequence else None


def _has_rescale(item: Dataset | None) -> bool:
    return item is not None and ("RescaleSlope" in item or "RescaleIntercept" in item)


def rescale_sources(ds: Dataset, frames: int) -> list[Dataset | None]:
    """For each frame, the item holding its (0028,1053)/(0028,1052), or ``None``.

    Sources, first found: the frame's (0028,9145) Pixel Value Transformation Sequence
    in (5200,9230) Per-Frame Functional Groups Sequence, the one in (5200,9229) Shared
    Functional Groups Sequence, then the top level.
    """
    shared_pvt = _first_item(
        _first_item(ds, "SharedFunctionalGroupsSequence"), "PixelValueTransformationSequence"
    )
    per_frame: Sequence[Dataset] = ds.get("PerFrameFunctionalGroupsSequence") or ()
    sources: list[Dataset | None] = []
    for index in range(frames):
        frame = per_frame[index] if index < len(per_frame) else None
        candidates = (_first_item(frame, "PixelValueTransformationSequence"), shared_pvt, ds)
        sources.append(next((c for c in candidates if _has_rescale(c)), None))
    return sources


def frame_rescales(ds: Dataset, frames: int) -> list[tuple[float, float]] | None:
    """``(slope, intercept)`` of each frame (from :func:`rescale_sources`), or ``None``
    when no frame has one. A missing slope is 1, a missing intercept 0.

    Raises:
        ValueError: If a slope or intercept is not a number.
    """
    sources = rescale_sources(ds, frames)
    if not any(source is not None for source in sources):
        return None
    return [
        (1.0, 0.0)
        if source is None
        else (
            _number(source.get("RescaleSlope"), 1.0),
            _number(source.get("RescaleIntercept"), 0.0),
        )
        for source in sources
    ]


def dose_grid_scaling(ds: Dataset) -> float | None:
    """(3004,000E) Dose Grid Scaling (Gy or relative dose per stored unit), or ``None``
    when absent.

    Raises:
        ValueError: If it is present but not a finite positive number.
    """
    value = ds.get("DoseGridScaling")
    if value is None or value == "":
        return None
    scaling = float(value)
    if not (np.isfinite(scaling) and scaling > 0):
        raise ValueError(f"(3004,000E) Dose Grid Scaling {value!r} is not a positive number")
    return scaling


def _lut_data(ds: Dataset, item: Dataset, path: Path) -> tuple[np.ndarray, int, int]:
    descriptor = item.get("LUTDescriptor")
    if descriptor is None or len(descriptor) != 3 or "LUTData" not in item:
        raise InvalidResourceError(
            f"'{path}': (0028,3000) Modality LUT Sequence lacks a 3-value (0028,3002) LUT "
            "Descriptor or (0028,3006) LUT Data"
        )
    entries, first, bits = (int(v) for v in descriptor)
    entries = entries or 65536
    raw = item.LUTData
    if isinstance(raw, bytes):  # VR OW: 16-bit words in the file's byte order
        little = ds.original_encoding[1] is not False
        data = np.frombuffer(raw, dtype="<u2" if little else ">u2").astype(np.uint16)
    else:
        data = np.asarray([raw] if isinstance(raw, int) else list(raw), dtype=np.uint16)
    if len(data) < entries:
        raise InvalidResourceError(
            f"'{path}': (0028,3006) LUT Data holds {len(data)} entries, the (0028,3002) LUT "
            f"Descriptor says {entries}"
        )
    data = data[:entries]
    if bits <= 8 and int(data.max()) < 256:
        data = data.astype(np.uint8)
    return data, first, bits


def _integer_dtype(lo: float, hi: float) -> np.dtype:
    for candidate in (np.int16, np.int32):
        info = np.iinfo(candidate)
        if info.min <= lo and hi <= info.max:
            return np.dtype(candidate)
    return np.dtype(np.float64)


def modality_lut(ds: Dataset, stored_dtype: np.dtype, frames: int, path: Path) -> ModalityLUT:
    """The Modality LUT of ``ds`` and its output dtype (rules: module docstring).

    Args:
        ds: The dataset (pixel data not needed).
        stored_dtype: dtype of the stored values (from Bits Allocated and Pixel Representation).
        frames: (0028,0008) Number of Frames.
        path: The file, for messages.

    Returns:
        The transform; the identity for colour data or when no element gives one.

    Raises:
        InvalidResourceError: If the Modality LUT Sequence, a slope or an intercept is malformed.
    """
    limits = stored_range(ds, stored_dtype)
    identity = ModalityLUT(limits, None, None, 0, stored_dtype)
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric not in _MONOCHROME or int(ds.get("SamplesPerPixel") or 1) != 1:
        return identity
    lut_item = _first_item(ds, "ModalityLUTSequence")
    if lut_item is not None and limits is not None:
        data, first, _ = _lut_data(ds, lut_item, path)
        return ModalityLUT(limits, None, data, first, data.dtype)
    try:
        rescales = frame_rescales(ds, frames)
    except (TypeError, ValueError) as exc:
        raise InvalidResourceError(
            f"'{path}': (0028,1053) Rescale Slope or (0028,1052) Rescale Intercept is not a "
            f"number: {exc}"
        ) from exc
    if rescales is None:
        try:
            scaling = dose_grid_scaling(ds)
        except (TypeError, ValueError) as exc:
            raise InvalidResourceError(f"'{path}': {exc}") from exc
        if scaling is not None:
            rescales = [(scaling, 0.0)] * frames
    if rescales is None or all(r == (1.0, 0.0) for r in rescales):
        return identity
    if limits is None:
        return ModalityLUT(None, tuple(rescales), None, 0, stored_dtype)
    if all(slope == 1.0 and float(b).is_integer() for slope, b in rescales):
        lo = min(limits[0] + b for _, b in rescales)
        hi = max(limits[1] + b for _, b in rescales)
        dtype = _integer_dtype(lo, hi)
    else:
        dtype = np.dtype(np.float32)
    return ModalityLUT(limits, tuple(rescales), None, 0, dtype)
