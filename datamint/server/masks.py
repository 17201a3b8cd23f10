"""Segmentation files received by the server: checked, and split one label per file.

One annotation is one binary mask for one identifier, so a multi-label file
(``segmentation_map`` ``{value: name}``) is split into one file per name, in the format it
came in (NIfTI keeps its affine and header; PNG stays PNG, 0/255). A file holding a single
label is stored byte for byte. Shapes are checked against the resource's metadata:
an image-scoped mask covers the whole image or volume, a frame-scoped one is one 2-D slice.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import nibabel as nib
import numpy as np

from datamint.server.errors import ApiError

__all__ = ["MaskPart", "split_segmentation"]


@dataclass
class MaskPart:
    """One binary mask for one identifier.

    Attributes:
        identifier: The label name.
        data: The file's bytes, or ``None`` to store the uploaded file unchanged.
        filename: Name to record as the annotation's ``file``.
    """

    identifier: str
    data: bytes | None
    filename: str


def _nifti_bytes(path: Path, filename: str) -> bytes | None:
    """The uncompressed bytes of a NIfTI file, or ``None`` when it is not one."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            return None
    if len(raw) >= 348 and raw[344:348] in (b"n+1\x00", b"ni1\x00"):
        return raw
    if len(raw) >= 540 and raw[4:8] == b"n+2\x00":
        return raw
    return None


def _load(path: Path, filename: str) -> tuple[np.ndarray, Any]:
    """Return ``(labels (D, H, W), nifti image or None)``."""
    raw = _nifti_bytes(path, filename)
    if raw is not None:
        kind = nib.Nifti2Image if raw[4:8] == b"n+2\x00" else nib.Nifti1Image
        try:
            image = kind.from_bytes(raw)
            data = np.asanyarray(image.dataobj)
        except Exception as exc:
            raise ApiError(
                422, f"segmentation file {filename!r} is not a readable NIfTI: {exc}"
            ) from None
        if data.ndim == 2:
            data = data[:, :, None]
        if data.ndim != 3:
            raise ApiError(
                422, f"NIfTI segmentation {filename!r} must be 2-D or 3-D, got {data.shape}"
            )
        return np.transpose(data, (2, 1, 0)), image
    raw_bytes = np.fromfile(path, dtype=np.uint8)
    decoded = cv2.imdecode(raw_bytes, cv2.IMREAD_UNCHANGED) if raw_bytes.size else None
    if decoded is None:
        raise ApiError(422, f"segmentation file {filename!r} is neither NIfTI nor a PNG/JPEG image")
    if decoded.ndim == 3:
        if not all(
            np.array_equal(decoded[..., 0], decoded[..., c]) for c in range(decoded.shape[2])
        ):
            raise ApiError(
                422,
                f"segmentation {filename!r} has unequal colour channels; send one grey "
                "channel with a segmentation_map {value: name}",
            )
        decoded = decoded[..., 0]
    return decoded[None], None


def _check_shape(labels: np.ndarray, resource: dict[str, Any], frame_index: int | None) -> None:
    metadata = resource.get("metadata") or {}
    depth, height, width = labels.shape
    want_h, want_w, want_d = (
        metadata.get("height"),
        metadata.get("width"),
        metadata.get("frame_count"),
    )
    if want_h is not None and want_w is not None and (int(want_h), int(want_w)) != (height, width):
        raise ApiError(
            422,
            f"segmentation is {height}x{width} (HxW) but resource {resource['id']} is "
            f"{want_h}x{want_w}",
        )
    if frame_index is not None:
        if depth != 1:
            raise ApiError(422, f"a frame-scoped segmentation must be 2-D, got {depth} slices")
        if want_d is not None and frame_index >= int(want_d):
            raise ApiError(
                422, f"frame_index {frame_index} is out of range: resource has {want_d} frames"
            )
    elif want_d is not None and depth != int(want_d):
        raise ApiError(
            422,
            f"segmentation has {depth} slices but resource {resource['id']} has {want_d}; "
            "send one slice per file with frame_index for frame-scoped masks",
        )


def _encode(mask: np.ndarray, image: Any, name: str) -> tuple[bytes, str]:
    if image is not None:
        out = nib.Nifti1Image(np.transpose(mask, (2, 1, 0)).astype(np.uint8), image.affine)
        out.header.set_qform(image.affine, int(image.header["qform_code"]) or 1)
        out.header.set_sform(image.affine, int(image.header["sform_code"]) or 1)
        return gzip.compress(out.to_bytes(), compresslevel=6, mtime=0), f"{name}.nii.gz"
    ok, png = cv2.imencode(".png", (mask[0] > 0).astype(np.uint8) * 255)
    assert ok, "PNG encoding of a uint8 mask cannot fail"
    return png.tobytes(), f"{name}.png"


def split_segmentation(
    path: Path,
    filename: str,
    mapping: dict[int, str] | None,
    resource: dict[str, Any],
    frame_index: int | None,
) -> list[MaskPart]:
    """Check a segmentation file and split it into one binary mask per identifier.

    Args:
        path: The received file.
        filename: Its name as uploaded.
        mapping: ``{pixel value: identifier}``; ``None`` for a file of one label whose
            identifier the caller knows (returned as ``""``).
        resource: The annotated Resource (its ``metadata`` gives the expected shape).
        frame_index: The frame of a frame-scoped mask, or ``None`` for image scope.

    Returns:
        One part per identifier present in the file, in mapping order; a single part with
        ``data=None`` when the file can be stored as it is.

    Raises:
        ApiError: 422 when the file cannot be decoded, has unequal colour channels, does
            not match the resource's shape, or holds several labels without a mapping.
    """
    labels, image = _load(path, filename)
    _check_shape(labels, resource, frame_index)
    present = {int(v) for v in np.unique(labels) if v != 0}
    if mapping is None:
        if len(present) > 1:
            raise ApiError(
                422,
                f"segmentation {filename!r} holds {len(present)} label values; send a "
                "segmentation_map {value: name}",
            )
        return [MaskPart("", None, filename)]
    names = list(dict.fromkeys(mapping.values()))
    if len(names) == 1 and present <= {v for v, n in mapping.items()}:
        return [MaskPart(names[0], None, filename)]
    parts = []
    for name in names:
        values = [v for v, n in mapping.items() if n == name and v in present]
        if not values:
            continue
        data, out_name = _encode(np.isin(labels, values), image, name)
        parts.append(MaskPart(name, data, out_name))
    return parts
