"""Project routes.

Reads: ``GET /projects``, ``GET /projects/{id}``, ``GET /projects/{id}/resources`` (a bare
array, not paged) and ``GET /projects/{id}/members``. Writes: ``POST /projects`` (the
creator becomes a member; ``annotation_set`` and ``segmentationData`` become its first
worklist) and ``POST /projects/{id}/resources``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from datamint.exceptions import EntityAlreadyExistsError
from datamint.server.deps import (
    ERROR_RESPONSES,
    MAX_PAGE,
    StoreDep,
    UserDep,
    more_errors,
    page_of,
    parse_body_ids,
    require_project,
)
from datamint.server.errors import ApiError, not_found
from datamint.server.listing import json_array, json_response
from datamint.server.models import (
    Member,
    Project,
    ProjectAddResources,
    ProjectCreate,
    ProjectList,
    Resource,
)
from datamint.server.store import ProjectStore
from datamint.server.store.users import user_id_of
from datamint.server.timeutil import format_us, now_us
from datamint.server.worklist_specs import build_worklist

__all__ = ["router"]

router = APIRouter(tags=["projects"], responses=ERROR_RESPONSES)


@router.get("/projects", response_model=ProjectList)
def list_projects(
    store: StoreDep,
    user: UserDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
) -> Response:
    """List the projects the user is a member of, ordered by name.

    Args:
        store: The store.
        user: The authenticated user.
        offset: Index of the first project.
        limit: Page size, up to 5000; all projects when absent.
        include_archived: Also list archived projects.

    Returns:
        ``{"data": [Project, ...]}``.
    """
    projects = store.projects.list(store.users.member_project_ids(user))
    if not include_archived:
        projects = [p for p in projects if not p.get("archived")]
    return json_response({"data": page_of(projects, offset, limit)})


def _check_visible(store: ProjectStore, user: str, resource_ids: list[str]) -> None:
    visible = store.resources.visible_ids(store.visibility(user), resource_ids)
    missing = [rid for rid in resource_ids if rid not in visible]
    if missing:  # unknown or not visible: the same answer (no existence oracle)
        raise not_found("resource", missing[0])


@router.post(
    "/projects",
    status_code=201,
    response_model=Project,
    responses=more_errors(s409="the user already has a project of this name"),
)
def create_project(store: StoreDep, user: UserDep, body: ProjectCreate) -> Response:
    """Create a project; the caller becomes its creator and first member.

    Args:
        store: The store.
        user: The authenticated user.
        body: ``{name, description, resource_ids?, annotation_set?, segmentationData?, ...}``;
            other keys are kept on the record.

    Returns:
        The new Project (status 201).

    Raises:
        ApiError: 409 when the user already has a project of this name (names are unique
            per owner: another user's project of the same name is no clash and is never
            mentioned); 404 for a resource the user cannot see.
    """
    resource_ids = parse_body_ids(body.resource_ids, "resource_ids")
    _check_visible(store, user, resource_ids)
    pid = str(uuid.uuid4())
    extras = body.model_dump(
        exclude={"name", "description", "resource_ids", "annotation_set", "segmentationData"}
    )
    annotation_set = body.annotation_set or {}
    worklist, groups = build_worklist(
        name=body.name,
        project_id=pid,
        creator=user,
        resource_ids=resource_ids,
        specs=annotation_set.get("annotations") or [],
        segmentation=body.segmentationData,
        description=body.description,
    )
    record = {
        **extras,
        "id": pid,
        "name": body.name,
        "description": body.description,
        "created_at": format_us(now_us()),
        "created_by": user,
        "dataset_id": str(uuid.uuid4()),
        "archived": False,
        "worklist_id": worklist["id"],
    }
    try:
        store.projects.create(record, [user], resource_ids, (worklist, groups))
    except EntityAlreadyExistsError as exc:
        raise ApiError(409, str(exc)) from None
    return json_response(store.projects.get(pid) or record, 201)


@router.get("/projects/{project_id}", response_model=Project)
def get_project(store: StoreDep, user: UserDep, project_id: str) -> Response:
    """Return one project.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        The Project record.
    """
    return json_response(require_project(store, user, project_id))


@router.get("/projects/{project_id}/resources", response_model=list[Resource])
def project_resources(store: StoreDep, user: UserDep, project_id: str) -> Response:
    """Return every (non-deleted) resource of a project, as a bare array, not paged.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        Full Resource records, in project order.
    """
    project = require_project(store, user, project_id)
    return json_array(store.resources.project_records_json(project["id"]))


@router.post("/projects/{project_id}/resources", response_model=dict[str, int])
def add_project_resources(
    store: StoreDep, user: UserDep, project_id: str, body: ProjectAddResources
) -> dict[str, int]:
    """Add resources the user can see to a project (idempotent).

    Args:
        store: The store.
        user: The authenticated user (a member of the project).
        project_id: The project's UUID.
        body: ``{"resource_ids_to_add": [...], "all_files_selected": false}``.

    Returns:
        ``{"added": n}``: how many were not in the project yet.

    Raises:
        ApiError: 422 with ``all_files_selected: true`` (not supported); 404 for a
            resource the user cannot see.
    """
    project = require_project(store, user, project_id)
    if body.all_files_selected:
        raise ApiError(422, "all_files_selected=true is not supported; list resource_ids_to_add")
    resource_ids = parse_body_ids(body.resource_ids_to_add, "resource_ids_to_add")
    _check_visible(store, user, resource_ids)
    return {"added": store.projects.add_resources(project["id"], resource_ids)}


@router.get("/projects/{project_id}/members", response_model=list[Member])
def project_members(store: StoreDep, user: UserDep, project_id: str) -> list[dict[str, Any]]:
    """Return the members of a project.

    The creator has role ``PROJECT_OWNER``, everyone else ``PROJECT_ANNOTATOR``; the
    expertise level comes from the project's worklists when they name the member.

    Args:
        store: The store.
        user: The authenticated user.
        project_id: The project's UUID.

    Returns:
        ``[{project_id, user_id, email, roles, status, expertise_level, firstname,
        lastname}]`` sorted by email.
    """
    project = require_project(store, user, project_id)
    levels: dict[str, Any] = {}
    for worklist in store.worklists.for_project(project["id"]):
        for person in worklist.get("annotators") or []:
            if isinstance(person, dict) and person.get("email"):
                levels.setdefault(str(person["email"]).lower(), person.get("expertise_level"))
    creator = str(project.get("created_by") or "").lower()
    members = []
    for email in store.users.members(project["id"]):
        first, _, last = email.split("@")[0].replace(".", " ").partition(" ")
        members.append(
            {
                "project_id": project["id"],
                "user_id": user_id_of(email),
                "email": email,
                "roles": ["PROJECT_OWNER" if email == creator else "PROJECT_ANNOTATOR"],
                "status": "active",
                "expertise_level": levels.get(email),
                "firstname": first,
                "lastname": last,
            }
        )
    return members
