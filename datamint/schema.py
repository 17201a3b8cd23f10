"""Wire rules shared by the client and the reference server.

One home for the rules that read a Resource or Annotation record, so that the
client and the server cannot drift apart: the resource *kind*, its depth,
width and height, the patient id, and the annotation field renames.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANNOTATION_TYPES",
    "ResourceKind",
    "annotation_field",
    "resource_depth",
    "resource_kind",
    "resource_patient_id",
    "resource_size_hw",
]


#: Annotation ``type`` values the REST API uses.
ANNOTATION_TYPES = (
    "segmentation",
    "label",
    "category",
    "square",
    "line",
    "point",
    "region",
    "text",
    "integer",
    "float",
    "area",
    "distance",
    "angle",
    "circle",
    "spline",
)


class ResourceKind(str, enum.Enum):
    """What a resource holds, decided from ``storage``, ``mimetype`` and ``filename``."""

    DICOM = "dicom"
    NIFTI = "nifti"
    VOLUME = "volume"
    VIDEO = "video"
    IMAGE = "image"
    GENERIC = "generic"

    @property
    def is_volume(self) -> bool:
        """True for the volume kinds (DICOM and NIfTI are kinds of volume)."""
        return self in (ResourceKind.DICOM, ResourceKind.NIFTI, ResourceKind.VOLUME)


# (kind, storage names, exact mimetypes, mimetype prefixes, filename suffixes), by priority.
_KIND_RULES: tuple[
    tuple[ResourceKind, tuple[str, ...], tuple[str, ...], str | None, tuple[str, ...]], ...
] = (
    (
        ResourceKind.DICOM,
        ("dicomresource", "dicomresourcehandler"),
        ("application/dicom", "application/x-dicom"),
        None,
        (".dcm", ".dicom"),
    ),
    (
        ResourceKind.NIFTI,
        ("niftiresource", "niftiresourcehandler"),
        ("application/x-nifti", "image/x.nifti", "application/nifti"),
        None,
        (".nii", ".nii.gz"),
    ),
    (ResourceKind.VOLUME, ("volumeresource", "volumeresourcehandler"), (), None, ()),
    (ResourceKind.VIDEO, ("videoresource", "videoresourcehandler"), (), "video/", ()),
    (ResourceKind.IMAGE, ("imageresource", "imageresourcehandler"), (), "image/", ()),
)


def resource_kind(record: Mapping[str, Any]) -> ResourceKind:
    """Classify a Resource record.

    Kinds are tried from the highest priority down (dicom, nifti 50; volume 30;
    video 20; image 10); a kind matches when any one of its storage names, mimetypes
    (exact, or prefix) or filename suffixes matches, ignoring case.

    Args:
        record: A Resource as sent by the server (keys ``storage``, ``mimetype``,
            ``filename``; any may be missing).

    Returns:
        The first matching kind, or ``ResourceKind.GENERIC``.
    """
    storage = str(record.get("storage") or "").lower()
    mimetype = str(record.get("mimetype") or "").lower()
    filename = str(record.get("filename") or "").lower()
    for kind, storages, mimes, prefix, suffixes in _KIND_RULES:
        if storage in storages or mimetype in mimes:
            return kind
        if prefix is not None and mimetype.startswith(prefix):
            return kind
        if suffixes and filename.endswith(suffixes):
            return kind
    return ResourceKind.GENERIC


def _as_int(value: Any, what: str, record: Mapping[str, Any]) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"resource {record.get('id')!r}: {what} {value!r} is not an integer"
        ) from None


def _video_stream(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for stream in metadata.get("streams") or ():
        if isinstance(stream, Mapping) and stream.get("codec_type") == "video":
            return stream
    return None


def resource_depth(record: Mapping[str, Any]) -> int:
    """Number of slices or frames of a resource, from its ``metadata``.

    Images have depth 1. Volumes (dicom, nifti, volume) read ``metadata.frame_count``.
    Videos read ``frame_count``, else ``streams[i].nb_frames`` of the first video stream.

    Args:
        record: A Resource record.

    Returns:
        The depth, >= 1.

    Raises:
        ValueError: If a volume or video has no usable frame count; names the resource.
    """
    kind = resource_kind(record)
    if kind in (ResourceKind.IMAGE, ResourceKind.GENERIC):
        return 1
    metadata = record.get("metadata") or {}
    if metadata.get("frame_count") is not None:
        return _as_int(metadata["frame_count"], "metadata.frame_count", record)
    if kind is ResourceKind.VIDEO:
        stream = _video_stream(metadata)
        if stream is not None and stream.get("nb_frames") is not None:
            return _as_int(stream["nb_frames"], "streams[].nb_frames", record)
    raise ValueError(
        f"resource {record.get('id')!r} ({record.get('filename')!r}): metadata has no "
        "frame_count, so its depth is unknown"
    )


def resource_size_hw(record: Mapping[str, Any]) -> tuple[int, int] | None:
    """Height and width in pixels from ``metadata`` (videos: the video stream's), or None."""
    metadata = record.get("metadata") or {}
    source: Mapping[str, Any] | None = metadata
    if metadata.get("height") is None and resource_kind(record) is ResourceKind.VIDEO:
        source = _video_stream(metadata)
    if not source or source.get("height") is None or source.get("width") is None:
        return None
    return (
        _as_int(source["height"], "metadata.height", record),
        _as_int(source["width"], "metadata.width", record),
    )


def resource_patient_id(record: Mapping[str, Any]) -> str | None:
    """Patient id: ``patient_id``, falling back to ``metadata.PatientID``."""
    pid = record.get("patient_id")
    if pid in (None, ""):
        pid = (record.get("metadata") or {}).get("PatientID")
    return None if pid in (None, "") else str(pid)


# Wire name -> alternative wire name.
_ANNOTATION_ALIASES = {
    "identifier": "name",
    "type": "annotation_type",
    "created_by": "added_by",
    "frame_index": "index",
}


def annotation_field(record: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """Read an Annotation field accepting either wire spelling."""
    if record.get(key) is not None:
        return record[key]
    alias = _ANNOTATION_ALIASES.get(key)
    if alias is not None and record.get(alias) is not None:
        return record[alias]
    return default
