"""What the server says about a file: mimetype, storage and ``metadata`` from its header.

``metadata`` holds ``frame_count``, ``width`` and ``height`` always (from
the reader's ``(C, N, H, W)``); videos add ``fps`` and ``streams[0]`` with ``nb_frames``;
NIfTI adds ``affine`` (the file's, on its ``(x, y, z)`` index), ``shape_xyz`` and
``spacing_mm`` (x, y, z); DICOM adds ``PatientID`` and the record gains ``modality``,
``patient_id`` and the instance/series/study UIDs. Everything comes from
:func:`datamint.readers.read_header`, which decodes as little as the format allows.
A file no reader understands gets empty metadata, never an error.
"""

from __future__ import annotations

import logging
import math
import mimetypes
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from datamint.readers import FileHint, read_header
from datamint.schema import ResourceKind, resource_kind

__all__ = ["Derived", "derive_metadata", "describe_upload", "infer_mimetype", "storage_for"]

logger = logging.getLogger("datamint.server")

_STORAGE_OF_KIND = {
    ResourceKind.DICOM: "DicomResource",
    ResourceKind.NIFTI: "NiftiResource",
    ResourceKind.VOLUME: "VolumeResource",
    ResourceKind.VIDEO: "VideoResource",
    ResourceKind.IMAGE: "ImageResource",
    ResourceKind.GENERIC: "FileResource",
}

_DICOM_KEYS = (
    ("Modality", "modality"),
    ("PatientID", "patient_id"),
    ("SOPInstanceUID", "instance_uid"),
    ("SeriesInstanceUID", "series_uid"),
    ("StudyInstanceUID", "study_uid"),
)


def infer_mimetype(filename: str) -> str:
    """Return the mimetype of a file from its name.

    Args:
        filename: A file name or path; a trailing ``/`` marks a DICOM series folder.

    Returns:
        e.g. ``application/x-nifti``, ``application/dicom``, ``image/png``, ``video/mp4``;
        ``application/octet-stream`` when unknown.
    """
    lower = filename.lower()
    if lower.endswith((".nii", ".nii.gz")):
        return "application/x-nifti"
    if lower.endswith((".dcm", ".dicom")) or lower.endswith("/"):
        return "application/dicom"
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


def storage_for(mimetype: str, filename: str) -> str:
    """Return the ``storage`` name of the kind the client will see.

    Args:
        mimetype: The resource's mimetype.
        filename: The resource's filename.

    Returns:
        e.g. ``DicomResource``, ``NiftiResource``, ``VideoResource``, ``ImageResource``.
    """
    return _STORAGE_OF_KIND[resource_kind({"mimetype": mimetype, "filename": filename})]


def describe_upload(filename: str, declared: str | None) -> tuple[str, str]:
    """Return ``(mimetype, storage)`` for an uploaded file.

    A declared mimetype is kept unless it is empty or ``application/octet-stream``.

    Args:
        filename: The uploaded file's name.
        declared: The mimetype the client sent, if any.

    Returns:
        ``(mimetype, storage)``.
    """
    mimetype = (declared or "").split(";")[0].strip().lower()
    if not mimetype or mimetype == "application/octet-stream":
        mimetype = infer_mimetype(filename)
    return mimetype, storage_for(mimetype, filename)


@dataclass
class Derived:
    """What a file's header tells.

    Attributes:
        metadata: Keys for the record's ``metadata``.
        record_keys: Top-level record keys (DICOM: ``modality``, ``patient_id``, UIDs).
        modality: The DICOM modality, when known.
    """

    metadata: dict[str, Any] = field(default_factory=dict)
    record_keys: dict[str, Any] = field(default_factory=dict)
    modality: str | None = None


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def derive_metadata(
    path: str | os.PathLike[str], filename: str, mimetype: str | None, storage: str | None
) -> Derived:
    """Read a file's header and return its metadata (module docstring lists the keys).

    Args:
        path: The file (a ZIP archive for a DICOM series).
        filename: The resource's filename (a hint when the bytes are not conclusive).
        mimetype: The resource's mimetype.
        storage: The resource's storage name.

    Returns:
        The derived keys; empty when no reader accepts the file.
    """
    try:
        with warnings.catch_warnings():  # odd tags in user files are not the server's problem
            warnings.simplefilter("ignore")
            info = read_header(
                path, FileHint(filename=filename, mimetype=mimetype, storage=storage)
            )
    except Exception as exc:  # any reader failure means "no metadata", never a failed upload
        logger.info("no metadata for %s: %s: %s", filename, type(exc).__name__, exc)
        return Derived()
    channels, frames, height, width = (int(v) for v in info.shape)
    derived = Derived(
        metadata={"frame_count": frames, "width": width, "height": height, "channels": channels}
    )
    kind = resource_kind({"mimetype": mimetype, "filename": filename, "storage": storage})
    geometry = info.geometry
    interval = _finite(getattr(geometry, "frame_interval_s", None))
    if kind == ResourceKind.VIDEO or (interval and kind != ResourceKind.NIFTI):
        if interval:
            derived.metadata["fps"] = round(1.0 / interval, 6)
        if kind == ResourceKind.VIDEO:
            derived.metadata["streams"] = [
                {"codec_type": "video", "nb_frames": frames, "width": width, "height": height}
            ]
    metainfo = info.metainfo
    if isinstance(metainfo, dict) and "affine" in metainfo:
        affine = np.asarray(metainfo["affine"], dtype=np.float64)
        derived.metadata["affine"] = affine.tolist()
        derived.metadata["shape_xyz"] = [int(v) for v in metainfo.get("shape", ())[:3]]
        derived.metadata["spacing_mm"] = [
            round(float(v), 6) for v in np.linalg.norm(affine[:3, :3], axis=0)
        ]
    elif hasattr(metainfo, "get"):
        for tag, key in _DICOM_KEYS:
            value = metainfo.get(tag)
            if value not in (None, ""):
                derived.record_keys[key] = str(value)
        if "patient_id" in derived.record_keys:
            derived.metadata["PatientID"] = derived.record_keys["patient_id"]
        derived.modality = derived.record_keys.pop("modality", None)
    return derived
