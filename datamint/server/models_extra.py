"""Pydantic models of the administrative routes (contract/API.md §4.2, §4.5, §4.7).

Companion of :mod:`datamint.server.models` (kept apart so that both stay small): project
edits and statistics, annotation edits and frame ranges, dataset downloads. As there,
every model keeps unknown keys.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AnnotationPatch",
    "AnnotationStatus",
    "AnnotationsExport",
    "AnnotationsStatistic",
    "AnnotatorStatistic",
    "DownloadToken",
    "FilesMatrixStatistic",
    "FrameRanges",
    "FrameRangesPut",
    "ProjectPatch",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ProjectPatch(_Open):
    """Body of ``PATCH /projects/{id}``: the keys to change (absent keys stay)."""

    name: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = None
    archived: bool | None = None


class AnnotationStatus(_Open):
    """One row of ``GET /projects/{id}/annotation-statuses``: a resource and an annotator."""

    resource_id: str
    user_id: str
    email: str
    status: str = Field(description="pending, annotated or closed")
    annotation_count: int
    last_annotated_at: str | None = None


class AnnotatorStatistic(_Open):
    """One row of ``GET /projects/{id}/annotators-statistic``."""

    email: str
    user_id: str
    annotation_count: int
    annotated_resource_count: int
    by_type: dict[str, int]
    last_annotated_at: str | None = None


class AnnotationsStatistic(_Open):
    """``GET /projects/{id}/annotations-statistic``: counts of current annotations."""

    project_id: str
    total: int
    deleted: int
    by_type: dict[str, int]
    by_identifier: dict[str, int]
    by_status: dict[str, int]
    by_source: dict[str, int]


class FilesMatrixStatistic(_Open):
    """``GET /projects/{id}/files-matrix-statistic``: resources per kind and per annotator."""

    project_id: str
    resource_count: int
    annotated_resource_count: int
    not_annotated_resource_count: int
    by_mimetype: dict[str, int]
    by_modality: dict[str, int]
    by_annotator: dict[str, dict[str, int]]


class AnnotationsExport(_Open):
    """``GET /projects/{id}/download-annotations``: the project's current annotations."""

    format: str
    project: dict[str, Any]
    exported_at: str
    resources: list[dict[str, Any]]
    annotations: list[dict[str, Any]]


class AnnotationPatch(_Open):
    """Body of ``PATCH /annotations/{id}``."""

    identifier: str | None = Field(default=None, min_length=1)
    project_id: str | None = None


class FrameRangesPut(_Open):
    """Body of ``PUT /annotations/{rid}/frame-ranges``: ``{identifier: [[first, last], ...]}``."""

    ranges: dict[str, list[list[int]]]


class FrameRanges(_Open):
    """``GET``/``PUT /annotations/{rid}/frame-ranges``: the current ranges per identifier."""

    resource_id: str
    ranges: dict[str, list[list[int]]]
    updated_at: str | None = None
    updated_by: str | None = None


class DownloadToken(_Open):
    """``GET /datasets/{id}/download/{format}``: where to fetch the archive."""

    token: str
    url: str
    format: str
    expires_at: str
    size: int
    sha256: str
