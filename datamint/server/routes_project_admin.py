"""Project routes that datasets do not use: edits, statistics, export.

- ``PATCH /projects/{id}`` changes ``name``, ``description`` and ``archived``;
  ``POST /projects/{id}/restore`` un-archives. Projects are never deleted here, so
  archiving is their soft delete: ``archived_at``/``archived_by`` record who did it.
- ``GET /projects/{id}/annotation-statuses`` and the three ``…-statistic`` routes are
  computed from the records on each call (definitions in :mod:`~datamint.server.project_stats`).
- ``GET /projects/{id}/download-annotations`` exports the current annotations as JSON.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from datamint.exceptions import EntityAlreadyExistsError
from datamint.server.deps import (
    ERROR_RESPONSES,
    StoreDep,
    UserDep,
    more_errors,
    parse_body_id,
    require_project,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.listing import json_response
from datamint.server.models import (
    AnnotationsExport,
    AnnotationsStatistic,
    AnnotationStatus,
    AnnotatorStatistic,
    FilesMatrixStatistic,
    Project,
    ProjectPatch,
)
from datamint.server.project_stats import (
    STATUSES,
    ProjectFacts,
    annotation_statuses,
    annotations_statistic,
    annotators_statistic,
    files_matrix_statistic,
)
from datamint.server.store import ProjectStore
from datamint.server.store.users import user_id_of
from datamint.server.timeutil import format_us, now_us

__all__ = ["router"]

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


def _update(store: ProjectStore, project_id: str, changes: dict[str, Any]) -> Response:
    try:
        record = store.projects.update(project_id, changes)
    except EntityAlreadyExistsError as exc:
        raise ApiError(409, str(exc)) from None
    if record is None:  # removed meanwhile
        raise not_found("project", project_id)
    return json_response(record)


def _archive_changes(archived: bool, user: str) -> dict[str, Any]:
    if archived:
        return {"archived": True, "archived_at": format_us(now_us()), "archived_by": user}
    return {"archived": False, "archived_at": None, "archived_by": None}


@router.patch(
    "/projects/{project_id}",
    response_model=Project,
    responses=more_errors(s409="another project has this name"),
)
def patch_project(store: StoreDep, user: UserDep, project_id: str, body: ProjectPatch) -> Response:
    """Change a project's name, description or archived flag (absent keys stay).

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.
        body: ``{name?, description?, archived?}``; ``description: null`` clears it.

    Returns:
        The updated Project.

    Raises:
        ApiError: 409 when the new name is taken.
    """
    project = require_project(store, user, project_id)
    sent = body.model_fields_set
    changes: dict[str, Any] = {}
    if "name" in sent and body.name is not None:
        changes["name"] = body.name
    if "description" in sent:
        changes["description"] = body.description
    archived = body.archived
    if "archived" in sent and archived is not None and bool(project.get("archived")) != archived:
        changes.update(_archive_changes(archived, user))
    if not changes:
        return json_response(project)
    return _update(store, project["id"], changes)


@router.post("/projects/{project_id}/restore", response_model=Project)
def restore_project(store: StoreDep, user: UserDep, project_id: str) -> Response:
    """Un-archive a project (idempotent).

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.

    Returns:
        The Project, with ``archived: false``.
    """
    project = require_project(store, user, project_id)
    if not project.get("archived"):
        return json_response(project)
    return _update(store, project["id"], _archive_changes(False, user))


def _user_email(facts: ProjectFacts, value: str) -> str:
    if "@" in value:
        return value.strip().lower()
    uid = parse_body_id(value, "user_id")
    for email in facts.annotators:
        if user_id_of(email) == uid:
            return email
    return uid  # matches nobody: an empty answer, like any other filter


@router.get("/projects/{project_id}/annotation-statuses", response_model=list[AnnotationStatus])
def project_annotation_statuses(
    store: StoreDep,
    user: UserDep,
    project_id: str,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    user_id: str | None = None,
    resource_id: str | None = None,
) -> list[dict[str, Any]]:
    """Return the annotation status of each (resource, annotator) pair of a project.

    A pair is ``pending`` (no current annotation by that annotator on that resource),
    ``annotated``, or ``closed`` (all of them published). Annotators are the project's
    members and the authors of its annotations.

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.
        status: Only pairs in this status.
        user_id: Only this annotator: a user id (as in ``/members``) or an email.
        resource_id: Only this resource.

    Returns:
        A bare array ``[{resource_id, user_id, email, status, annotation_count,
        last_annotated_at}]`` in project order, then by email.

    Raises:
        ApiError: 422 for a malformed ``user_id`` or ``resource_id``.
    """
    project = require_project(store, user, project_id)
    facts = ProjectFacts.load(store, project["id"])
    email = None if not user_id else _user_email(facts, user_id)
    rid = None if not resource_id else parse_body_id(resource_id, "resource_id")
    return annotation_statuses(facts, status, email, rid)


@router.get("/projects/{project_id}/annotators-statistic", response_model=list[AnnotatorStatistic])
def project_annotators_statistic(
    store: StoreDep, user: UserDep, project_id: str
) -> list[dict[str, Any]]:
    """Return, per annotator, how many current annotations they made and on how many files.

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.

    Returns:
        ``[{email, user_id, annotation_count, annotated_resource_count, by_type,
        last_annotated_at}]`` sorted by email.
    """
    project = require_project(store, user, project_id)
    return annotators_statistic(ProjectFacts.load(store, project["id"]))


@router.get("/projects/{project_id}/annotations-statistic", response_model=AnnotationsStatistic)
def project_annotations_statistic(
    store: StoreDep, user: UserDep, project_id: str
) -> dict[str, Any]:
    """Return counts of a project's current annotations.

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.

    Returns:
        ``{project_id, total, deleted, by_type, by_identifier, by_status, by_source}``.
    """
    project = require_project(store, user, project_id)
    return annotations_statistic(ProjectFacts.load(store, project["id"]))


@router.get("/projects/{project_id}/files-matrix-statistic", response_model=FilesMatrixStatistic)
def project_files_matrix_statistic(
    store: StoreDep, user: UserDep, project_id: str
) -> dict[str, Any]:
    """Return resource counts (annotated or not, by mimetype, modality) and per annotator.

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.

    Returns:
        ``{project_id, resource_count, annotated_resource_count,
        not_annotated_resource_count, by_mimetype, by_modality, by_annotator: {email:
        {pending, annotated, closed}}}``.
    """
    project = require_project(store, user, project_id)
    return files_matrix_statistic(ProjectFacts.load(store, project["id"]))


@router.get("/projects/{project_id}/download-annotations", response_model=AnnotationsExport)
def download_annotations(store: StoreDep, user: UserDep, project_id: str) -> Response:
    """Export a project's current annotations as one JSON document (an attachment).

    Args:
        store: The store.
        user: The authenticated user (a member).
        project_id: The project's UUID.

    Returns:
        ``{"format": "datamint-annotations", "project": {id, name}, "exported_at",
        "resources": [{id, filename, mimetype}], "annotations": [Annotation, ...]}`` with
        ``Content-Disposition: attachment; filename="<project>-annotations.json"``.
    """
    project = require_project(store, user, project_id)
    facts = ProjectFacts.load(store, project["id"])
    body = {
        "format": "datamint-annotations",
        "project": {"id": project["id"], "name": project["name"]},
        "exported_at": format_us(now_us()),
        "resources": [
            {"id": r["id"], "filename": r.get("filename"), "mimetype": r.get("mimetype")}
            for r in facts.resources
        ],
        "annotations": facts.annotations,
    }
    response = json_response(body)
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in project["name"]
    )
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}-annotations.json"'
    return response
