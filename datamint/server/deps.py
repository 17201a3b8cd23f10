"""FastAPI glue shared by the routers: the store, the current user, ids, access, paging.

Wire decisions made here (contract/API.md §3):

- an id that is not a UUID in a **path** is answered 404 ``"<entity> <id> not found (not a
  valid UUID)"``: such an entity cannot exist, and every client maps 404 + "not found" to
  ``ItemNotFoundError``. Malformed ids inside a JSON **body** are a 422.
- an entity that exists in a project the user is not a member of is a 403.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request

from datamint.server.auth import authenticate
from datamint.server.errors import ApiError, forbidden, not_found
from datamint.server.store import ProjectStore

__all__ = [
    "MAX_PAGE",
    "StoreDep",
    "UserDep",
    "page",
    "parse_body_id",
    "parse_path_id",
    "require_annotation",
    "require_project",
    "require_resource",
    "require_worklist",
]

#: Largest page a list route serves; the existing client asks for exactly this (§3.2).
MAX_PAGE = 5000

T = TypeVar("T")


def get_store(request: Request) -> ProjectStore:
    """Return the app's store.

    Args:
        request: The incoming request.

    Returns:
        The :class:`ProjectStore` that ``create_app`` put in ``app.state.store``.
    """
    store: ProjectStore = request.app.state.store
    return store


def current_user(request: Request) -> str:
    """Authenticate the request and return the user's email.

    The email is also put in ``request.state.user`` for the request log.

    Args:
        request: The incoming request.

    Returns:
        The authenticated user's email.

    Raises:
        ApiError: 401 when the key is missing or unknown.
    """
    email = authenticate(get_store(request), request.headers)
    request.state.user = email
    return email


StoreDep = Annotated[ProjectStore, Depends(get_store)]
UserDep = Annotated[str, Depends(current_user)]


def parse_path_id(value: str, entity: str) -> str:
    """Return the canonical (lower-case) form of a UUID taken from the URL path.

    Args:
        value: The path segment.
        entity: Kind of entity, for the message (e.g. ``"resource"``).

    Returns:
        The canonical UUID string.

    Raises:
        ApiError: 404 ``"<entity> <value> not found (not a valid UUID)"``.
    """
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise not_found(entity, value, "not a valid UUID") from None


def parse_body_id(value: Any, field: str) -> str:
    """Return the canonical form of a UUID taken from a JSON body.

    Args:
        value: The JSON value.
        field: Name of the body key, for the message.

    Returns:
        The canonical UUID string.

    Raises:
        ApiError: 422 naming the key and the value.
    """
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise ApiError(422, f"{field}: {str(value)[:100]!r} is not a valid UUID") from None


def require_project(store: ProjectStore, email: str, project_id: str) -> dict[str, Any]:
    """Return a project the user may see.

    Args:
        store: The store.
        email: The authenticated user.
        project_id: Raw id from the path.

    Returns:
        The Project record.

    Raises:
        ApiError: 404 when unknown or malformed; 403 when the user is not a member.
    """
    pid = parse_path_id(project_id, "project")
    project = store.get_project(pid)
    if project is None:
        raise not_found("project", pid)
    if pid not in store.member_project_ids(email):
        raise forbidden(email, f"project {pid}")
    return project


def require_resource(
    store: ProjectStore, email: str, resource_id: str
) -> tuple[dict[str, Any], str]:
    """Return a resource the user may see, with its blob hash.

    Args:
        store: The store.
        email: The authenticated user.
        resource_id: Raw id from the path.

    Returns:
        ``(record, blob_sha256)``.

    Raises:
        ApiError: 404 when unknown or malformed; 403 when none of its projects has the user.
    """
    rid = parse_path_id(resource_id, "resource")
    found = store.get_resource(rid)
    if found is None:
        raise not_found("resource", rid)
    record, sha, projects = found
    if not store.member_project_ids(email).intersection(projects):
        raise forbidden(email, f"resource {rid}")
    return record, sha


def require_annotation(
    store: ProjectStore, email: str, annotation_id: str
) -> tuple[dict[str, Any], str | None]:
    """Return an annotation the user may see, with its blob hash (``None`` without file).

    Args:
        store: The store.
        email: The authenticated user.
        annotation_id: Raw id from the path.

    Returns:
        ``(record, blob_sha256 or None)``.

    Raises:
        ApiError: 404 when unknown or malformed; 403 when the user may not see its resource.
    """
    aid = parse_path_id(annotation_id, "annotation")
    found = store.get_annotation(aid)
    if found is None:
        raise not_found("annotation", aid)
    record, sha, projects = found
    if not store.member_project_ids(email).intersection(projects):
        raise forbidden(email, f"annotation {aid}")
    return record, sha


def require_worklist(
    store: ProjectStore, email: str, worklist_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Return a worklist the user may see, with its segmentation groups.

    Args:
        store: The store.
        email: The authenticated user.
        worklist_id: Raw id from the path.

    Returns:
        ``(record, groups or None)``.

    Raises:
        ApiError: 404 when unknown or malformed; 403 when the user is not a project member.
    """
    wid = parse_path_id(worklist_id, "worklist")
    found = store.get_worklist(wid)
    if found is None:
        raise not_found("worklist", wid)
    record, groups, project_id = found
    if project_id not in store.member_project_ids(email):
        raise forbidden(email, f"worklist {wid}")
    return record, groups


def parse_paging(offset: Any, limit: Any) -> tuple[int, int | None]:
    """Parse paging values given as ints or numeric strings (JSON bodies send strings).

    Args:
        offset: ``None`` (0) or a non-negative integer or numeric string.
        limit: ``None`` (no limit) or an integer or numeric string in ``0..5000``.

    Returns:
        ``(offset, limit or None)``.

    Raises:
        ApiError: 422 naming the bad value.
    """
    try:
        off = 0 if offset in (None, "") else int(str(offset))
        lim = None if limit in (None, "") else int(str(limit))
    except ValueError:
        raise ApiError(
            422, f"offset and limit must be integers, got offset={offset!r} limit={limit!r}"
        ) from None
    if off < 0:
        raise ApiError(422, f"offset must be >= 0, got {off}")
    if lim is not None and not 0 <= lim <= MAX_PAGE:
        raise ApiError(422, f"limit must be between 0 and {MAX_PAGE}, got {lim}")
    return off, lim


def page(items: Sequence[T], offset: int, limit: int | None) -> list[T]:
    """Return ``items[offset : offset + limit]`` (everything from ``offset`` without limit).

    Args:
        items: The full, ordered listing.
        offset: Index of the first item, >= 0.
        limit: Most items to return, or ``None``.

    Returns:
        The page, as a new list.
    """
    end = None if limit is None else offset + limit
    return list(items[offset:end])
