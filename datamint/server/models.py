"""Pydantic models of the wire shapes, for the OpenAPI schema.

Response models document the shapes; list routes return pre-serialised JSON (the stored
records) directly, so these models never re-validate 100 000 resources. Every model keeps
unknown keys (``extra="allow"``): records carry whatever the import or upload gave them.
Request models validate bodies; values that clients send as strings (paging in
``POST /annotations/search``) are accepted as ints or numeric strings. The last section
holds the administrative routes: project edits and statistics,
annotation edits and frame ranges, dataset downloads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Annotation",
    "AnnotationCreate",
    "AnnotationPage",
    "AnnotationPatch",
    "AnnotationSearch",
    "AnnotationStatus",
    "AnnotationsExport",
    "AnnotationsStatistic",
    "AnnotatorStatistic",
    "ChannelPage",
    "DatasetInfo",
    "DeleteBatch",
    "DownloadToken",
    "ErrorBody",
    "FilesMatrixStatistic",
    "FrameRanges",
    "FrameRangesPut",
    "Member",
    "Project",
    "ProjectAddResources",
    "ProjectCreate",
    "ProjectList",
    "ProjectPatch",
    "Resource",
    "ResourceIds",
    "ResourcePage",
    "SegmentationGroup",
    "SegmentationGroupPut",
    "SplitAssignment",
    "SplitRow",
    "TagsBody",
    "Worklist",
    "WorklistCreate",
]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorBody(_Open):
    """Every error answer: ``{"message": "..."}`` (404 messages contain "not found")."""

    message: str


class Project(_Open):
    """A project; ``description`` is always present, possibly null."""

    id: str
    name: str
    created_at: str | None = None
    created_by: str | None = None
    dataset_id: str | None = None
    archived: bool = False
    resource_count: int = 0
    description: str | None


class ProjectList(_Open):
    """``GET /projects``: ``{"data": [Project, ...]}``."""

    data: list[Project]


class Resource(_Open):
    """A resource; its file is at ``resource_uri``."""

    id: str
    resource_uri: str
    storage: str
    location: str
    upload_channel: str | None = None
    filename: str
    mimetype: str
    status: str
    created_at: str
    created_by: str | None = None
    customer_id: str | None = None
    published: bool
    deleted: bool
    size: int | None = None
    sha256: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    deleted_at: str | None = None


class _Resources(_Open):
    resources: list[Resource]


class ResourcePage(_Open):
    """``GET /resources``: ``{"data": [{"resources": [...]}], "totalCount": N}``."""

    data: list[_Resources]
    totalCount: int


class Annotation(_Open):
    """An annotation; segmentations have a file (``associated_file``)."""

    id: str
    resource_id: str
    identifier: str
    type: str
    scope: str
    frame_index: int | None = None
    value: Any = None
    created_by: str | None = None
    created_at: str | None = None
    deleted_at: str | None = None
    associated_file: str | None = None
    file: str | None = None
    source: str | None = None


class _Annotations(_Open):
    annotations: list[Annotation]


class AnnotationPage(_Open):
    """``POST /annotations/search``: ``{"data": [{"annotations": [...]}], "totalCount": N}``."""

    data: list[_Annotations]
    totalCount: int


class AnnotationSearch(_Open):
    """Body of ``POST /annotations/search``; every key optional, paging as strings."""

    resource_id: str | None = None
    resource_ids: list[str] | None = None
    annotation_type: str | None = None
    annotatorEmail: str | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    dataset_id: str | None = None
    annotation_worklist_id: str | None = None
    status: str | None = None
    source: str | None = None
    deleted: Literal["exclude", "include", "only"] | None = None
    load_ai_segmentations: bool | None = None
    offset: int | str | None = None
    limit: int | str | None = None


class AnnotationCreate(_Open):
    """One record of ``POST /annotations/{rid}/annotations`` (a list of these)."""

    type: str
    identifier: str | None = None
    name: str | None = None
    scope: Literal["image", "frame"] | None = None
    frame_index: int | None = Field(default=None, ge=0)
    value: Any = None
    geometry: dict[str, Any] | None = None
    annotation_worklist_id: str | None = None
    imported_from: str | None = None
    import_author: str | None = None
    model_id: str | None = None
    source: str | None = None
    status: str | None = None


class SegmentationDefinition(_Open):
    """One class of a segmentation group."""

    identifier: str = Field(min_length=1)
    index: int = Field(ge=1)
    color: list[int] | None = None


class SegmentationData(_Open):
    """``segmentationData``: the classes of a worklist's segmentation group."""

    segmentationValueType: Literal["single_label", "multi_label"] = "single_label"
    definitions: list[SegmentationDefinition] = Field(default_factory=list)


class SegmentationGroupPut(_Open):
    """Body of ``PUT /annotationsets/{id}/segmentation-group``."""

    segmentationData: SegmentationData
    renames: list[Any] | None = None


class _GroupEntry(_Open):
    index: int
    color: list[int] | None = None


class SegmentationGroup(_Open):
    """``GET /annotationsets/{id}/segmentation-group``."""

    groups: dict[str, _GroupEntry]


class Worklist(_Open):
    """A full worklist (annotation set)."""

    id: str
    name: str
    annotators: list[dict[str, Any]]
    annotations: list[dict[str, Any]]


class WorklistCreate(_Open):
    """Body of ``POST /annotationsets``."""

    name: str = Field(min_length=1)
    resource_ids: list[str] = Field(default_factory=list)
    project_id: str | None = None
    description: str | None = None
    annotations: list[dict[str, Any]] | None = None
    annotators: list[Any] | None = None
    image_labels: list[Any] | None = None
    frame_labels: list[Any] | None = None
    segmentation_data: SegmentationData | None = None


class SplitAssignment(_Open):
    """Body of ``POST /projects/{id}/splits``."""

    resource_ids: list[str]
    split_name: str = Field(min_length=1)


class SplitRow(_Open):
    """One versioned split assignment."""

    id: str
    split_name: str
    project_id: str
    resource_id: str
    created_at: str
    created_by: str | None = None
    deleted_at: str | None = None
    deleted_by: str | None = None


class ProjectCreate(_Open):
    """Body of ``POST /projects`` (what the existing client sends, extra keys kept)."""

    name: str = Field(min_length=1, max_length=500)
    description: str | None = None
    resource_ids: list[str] = Field(default_factory=list)
    segmentationData: SegmentationData | None = None
    annotation_set: dict[str, Any] | None = None


class ProjectAddResources(_Open):
    """Body of ``POST /projects/{id}/resources``."""

    resource_ids_to_add: list[str]
    all_files_selected: bool = False


class Member(_Open):
    """One member of a project (``GET /projects/{id}/members``)."""

    project_id: str
    user_id: str
    email: str
    roles: list[str]
    status: str
    expertise_level: str | None = None
    firstname: str | None = None
    lastname: str | None = None


class ResourceIds(_Open):
    """``{"resource_ids": [...]}`` (bulk publish)."""

    resource_ids: list[str]


class TagsBody(_Open):
    """Body of ``PUT /resources/{id}/tags`` (and, with ``resource_ids``, the bulk form)."""

    tags: list[str]
    resource_ids: list[str] | None = None


class DeleteBatch(_Open):
    """Body of ``POST /annotations/delete-batch``."""

    ids: list[str]


class _Channels(_Open):
    channels: list[dict[str, Any]]


class ChannelPage(_Open):
    """``GET /resources/channels``: ``{"data": [{"channels": [...]}], "totalCount": N}``."""

    data: list[_Channels]
    totalCount: int


class DatasetInfo(_Open):
    """``GET /datasets`` items: one per project's dataset."""

    id: str
    name: str
    created_at: str | None = None
    created_by: str | None = None
    description: str | None = None
    customer_id: str | None = None
    updated_at: str | None = None
    total_resource: int
    resource_ids: list[str]


# ---------------------------------------------------------------- administrative routes


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
