"""FastAPI glue shared by the routers: the store, the current user, ids, access, paging.

Wire decisions made here:

- an id that is not a UUID in a **path** is answered 404 ``"<entity> <id> not found (not a
  valid UUID)"``: such an entity cannot exist, and every client maps 404 + "not found" to
  ``ItemNotFoundError``. Malformed ids inside a JSON **body** are a 422.
- an entity the user may not see is answered exactly like one that does not exist: 404
  ``"<entity> <id> not found"``, so ids cannot be probed for existence. A user sees the
  projects they are a member of and everything in them; a resource is also visible to the
  user who uploaded it, before it joins any project.
- paging values may be ints or numeric strings; ``limit`` is at most 5000 and, when
  absent, a listing returns everything from ``offset``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPBearer

from datamint.server.auth import authenticate
from datamint.server.errors import ApiError, not_found
from datamint.server.guard import USER_KEY
from datamint.server.listing import ListingCache
from datamint.server.models import ErrorBody
from datamint.server.store import ProjectStore
from datamint.server.store.db import canonical_uuid

__all__ = [
    "ERROR_RESPONSES",
    "MAX_PAGE",
    "CacheDep",
    "StoreDep",
    "UserDep",
    "more_errors",
    "page_of",
    "parse_body_id",
    "parse_body_ids",
    "parse_path_id",
    "require_annotation",
    "require_project",
    "require_resource",
    "require_worklist",
]

#: Largest page a list route serves; the existing client asks for exactly this.
MAX_PAGE = 5000


def more_errors(**codes: str) -> dict[int | str, dict[str, Any]]:
    """Document route-specific error answers (``{"message": ...}`` bodies).

    Args:
        codes: ``s<code>="what it means"``, e.g. ``s409="the name is taken"``.

    Returns:
        A ``responses`` mapping for a route decorator.
    """
    return {int(k[1:]): {"model": ErrorBody, "description": v} for k, v in codes.items()}


#: Error answers every router documents (bodies ``{"message": ...}``).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in (
        (401, "missing or unknown API key (checked before the body is read)"),
        (404, "unknown entity, or one the user may not see; the message contains 'not found'"),
        (413, "request body larger than the store's limit (or the user's upload quota)"),
        (422, "malformed request (including JSON with NaN, Infinity or lone surrogates)"),
    )
}

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


_API_KEY_HEADER = APIKeyHeader(name="apikey", auto_error=False, description="The user's API key.")
_BEARER = HTTPBearer(auto_error=False, description="The API key as a bearer token.")


def current_user(
    request: Request,
    _apikey: Annotated[str | None, Security(_API_KEY_HEADER)] = None,
    _bearer: Annotated[Any, Security(_BEARER)] = None,
) -> str:
    """Authenticate the request and return the user's email.

    The request guard (:mod:`datamint.server.guard`) has checked the key already, before
    the body was read; its answer is reused. The email is also put in
    ``request.state.user`` for the request log. The two security parameters only declare
    the schemes in the OpenAPI schema; the key is read by
    :func:`~datamint.server.auth.authenticate` (``apikey`` wins over the bearer token).

    Args:
        request: The incoming request.
        _apikey: The ``apikey`` header (documentation only).
        _bearer: The ``Authorization: Bearer`` credentials (documentation only).

    Returns:
        The authenticated user's email.

    Raises:
        ApiError: 401 when the key is missing or unknown.
    """
    email = request.scope.get(USER_KEY) or authenticate(get_store(request), request.headers)
    request.state.user = email
    return str(email)


def get_cache(request: Request) -> ListingCache:
    """Return the app's listing cache.

    Args:
        request: The incoming request.

    Returns:
        The :class:`ListingCache` that ``create_app`` put in ``app.state.listing_cache``.
    """
    cache: ListingCache = request.app.state.listing_cache
    return cache


StoreDep = Annotated[ProjectStore, Depends(get_store)]
UserDep = Annotated[str, Depends(current_user)]
CacheDep = Annotated[ListingCache, Depends(get_cache)]


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
    canonical = canonical_uuid(value)
    if canonical is None:
        raise not_found(entity, value, "not a valid UUID")
    return canonical


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
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ApiError(422, f"{field}: {str(value)[:100]!r} is not a valid UUID")
    return canonical


def parse_body_ids(values: Sequence[Any], field: str) -> list[str]:
    """Return the canonical forms of a list of UUIDs from a JSON body, duplicates dropped.

    Args:
        values: The JSON list.
        field: Name of the body key, for the message.

    Returns:
        Canonical UUID strings, in first-seen order.

    Raises:
        ApiError: 422 naming the key and the first bad value.
    """
    return list(dict.fromkeys(parse_body_id(value, field) for value in values))


def require_project(store: ProjectStore, email: str, project_id: str) -> dict[str, Any]:
    """Return a project the user may see.

    Args:
        store: The store.
        email: The authenticated user.
        project_id: Raw id from the path.

    Returns:
        The Project record.

    Raises:
        ApiError: 404 when unknown, malformed, or the user is not a member.
    """
    pid = parse_path_id(project_id, "project")
    project = store.projects.get(pid)
    if project is None or pid not in store.users.member_project_ids(email):
        raise not_found("project", pid)
    return project


def _may_see_resource(
    store: ProjectStore, email: str, projects: list[str], owner: str | None
) -> bool:
    return owner == email or bool(store.users.member_project_ids(email).intersection(projects))


def require_resource(
    store: ProjectStore, email: str, resource_id: str
) -> tuple[dict[str, Any], str]:
    """Return a resource the user may see, with its blob hash.

    A user sees the resources of their projects and the ones they uploaded.

    Args:
        store: The store.
        email: The authenticated user.
        resource_id: Raw id (from the path or a body).

    Returns:
        ``(record, blob_sha256)``.

    Raises:
        ApiError: 404 when unknown, malformed, or the user may not see it.
    """
    rid = parse_path_id(resource_id, "resource")
    found = store.resources.get(rid)
    if found is None or not _may_see_resource(store, email, found[2], found[3]):
        raise not_found("resource", rid)
    return found[0], found[1]


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
        ApiError: 404 when unknown, malformed, or the user may not see its resource.
    """
    aid = parse_path_id(annotation_id, "annotation")
    found = store.annotations.get(aid)
    resource = None if found is None else store.resources.get(found[0]["resource_id"])
    if (
        found is None
        or resource is None
        or not _may_see_resource(store, email, resource[2], resource[3])
    ):
        raise not_found("annotation", aid)
    return found


def require_worklist(
    store: ProjectStore, email: str, worklist_id: str
) -> tuple[dict[str, Any], dict[str, Any] | None, str]:
    """Return a worklist the user may see, with its segmentation groups and project id.

    Args:
        store: The store.
        email: The authenticated user.
        worklist_id: Raw id from the path.

    Returns:
        ``(record, groups or None, project_id)``.

    Raises:
        ApiError: 404 when unknown, malformed, or the user is not a project member.
    """
    wid = parse_path_id(worklist_id, "worklist")
    found = store.worklists.get(wid)
    if found is None or found[2] not in store.users.member_project_ids(email):
        raise not_found("worklist", wid)
    return found


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


def page_of(items: Sequence[T], offset: int, limit: int | None) -> list[T]:
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
