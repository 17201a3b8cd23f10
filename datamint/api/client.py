"""``Api``: one method per Datamint endpoint that datasets use, returning plain JSON.

The client holds policy (base URL, auth headers, timeouts, limits; see
:mod:`datamint.api.connection`), a :class:`~datamint.api.transport.RetryTransport` moves
the bytes, and every HTTP error is mapped to a datamint exception once, in
:mod:`datamint.api.errors`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from datamint.api.connection import Connection, check_id
from datamint.api.download import DownloadResult, download_file
from datamint.api.errors import network_error, raise_for_status
from datamint.api.paging import PAGE_SIZE, iter_paged, unwrap_items
from datamint.exceptions import DatamintException, ItemNotFoundError
from datamint.settings import DEFAULT_TIMEOUT_S, resolve_api_key, resolve_server_url

__all__ = ["Api"]

MAX_NAMES_IN_ERROR = 10
"""Most project names listed when a name matches none."""


def _as_names(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class Api(Connection):
    """Client of the Datamint REST API (the endpoints of contract §4 that datasets use).

    Methods return the server's JSON (dicts and lists), keeping unknown keys.

    Args:
        server_url: Base URL; else ``DATAMINT_API_URL``, else ``default_api_url`` in the
            config file (see :mod:`datamint.settings`). A trailing ``/`` is stripped.
        api_key: API key; else ``DATAMINT_API_KEY``, else ``api_key`` in the config file.
        timeout: Per-request timeout for ordinary routes, in seconds. Search, listing and
            download routes of the ``resources`` and ``annotations`` groups wait up to
            ``max(timeout, 900)`` seconds for data (connecting still times out after
            ``timeout``).
        max_retries: Retries of safe requests after a connection failure, timeout, 429 or
            5xx, with exponential backoff and jitter, honouring ``Retry-After``.
        check_connection: Run the connectivity probe ``GET /projects?offset=0&limit=1``
            now (once per process for each URL, key and ``verify_ssl``).
        verify_ssl: Verify TLS certificates: ``True``, ``False``, or the path of a CA
            bundle.
        transport: Transport under the retry layer; ``httpx.HTTPTransport`` when ``None``
            (tests pass ``httpx.MockTransport`` or a counting wrapper). Not pickled.

    Raises:
        AuthenticationError: If no API key is found in any source.
        ValidationError: If no server URL is found in any source, or it is not http(s).
        NetworkError: If the probe fails; the cause (e.g. an ``AuthenticationError`` for a
            wrong key) is chained as ``__cause__``.

    Example:
        >>> api = Api("http://127.0.0.1:8000", api_key="...")  # doctest: +SKIP
        >>> [p["name"] for p in api.get_projects()]  # doctest: +SKIP
    """

    def __init__(
        self,
        server_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = 2,
        check_connection: bool = True,
        verify_ssl: bool | str = True,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._configure(
            server_url=resolve_server_url(server_url),
            api_key=resolve_api_key(api_key),
            timeout=timeout,
            max_retries=max_retries,
            verify_ssl=verify_ssl,
            transport=transport,
        )
        if check_connection:
            try:
                self.check_connection()
            except BaseException:
                self.close()
                raise

    # ------------------------------------------------------------------ projects

    def get_projects(self, include_archived: bool = True) -> list[dict[str, Any]]:
        """List the projects, all pages (``GET /projects``).

        Args:
            include_archived: Also list archived projects (``includeArchived=true``).

        Returns:
            Project records.

        Raises:
            DatamintException: The mapped error of a failed request.
        """
        params = {"includeArchived": True} if include_archived else {}
        return self._get_paged("/projects", "projects", params=params)

    def get_project(self, project_id: str) -> dict[str, Any]:
        """Fetch one project (``GET /projects/{id}``).

        Args:
            project_id: Project UUID.

        Returns:
            The project record.

        Raises:
            ItemNotFoundError: If the server has no such project.
            ValidationError: If the id is not a safe path component.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        return self._get_object(f"/projects/{pid}", entity=f"project {pid}")

    def get_project_by_name(self, name: str) -> dict[str, Any]:
        """Find a project by exact name, archived ones included.

        Args:
            name: The project name, compared exactly (case and spaces count).

        Returns:
            The first project whose ``name`` equals ``name``.

        Raises:
            ItemNotFoundError: If none matches; the message lists up to 10 available names.
            DatamintException: The mapped error of a failed request.
        """
        projects = self.get_projects(include_archived=True)
        for project in projects:
            if project.get("name") == name:
                return project
        names = sorted({str(p.get("name")) for p in projects})
        shown = ", ".join(repr(n) for n in names[:MAX_NAMES_IN_ERROR])
        more = (
            f" and {len(names) - MAX_NAMES_IN_ERROR} more"
            if len(names) > MAX_NAMES_IN_ERROR
            else ""
        )
        raise ItemNotFoundError(
            f"project {name!r} not found on {self.server_url}. "
            + (f"Available projects: {shown}{more}." if names else "This key sees no project.")
        )

    def get_project_resources(self, project_id: str) -> list[dict[str, Any]]:
        """List every resource of a project (``GET /projects/{id}/resources``, not paged).

        Args:
            project_id: Project UUID.

        Returns:
            Resource records.

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        payload = self._get_json(f"/projects/{pid}/resources", entity=f"project {pid}")
        return unwrap_items(payload, "resources")

    # ------------------------------------------------------------------ resources

    def get_resources(
        self,
        *,
        project: str | list[str] | None = None,
        limit: int | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """List resources matching filters, all pages (``GET /resources``).

        Args:
            project: A project name (or names), sent as the JSON text
                ``{"items": [names], "filterType": "intersection"}``.
            limit: Most resources wanted; all when ``None``.
            **filters: Query filters of contract §4.3: ``status`` (always sent, ``""``
                when unset), ``from``/``to`` (or ``from_``/``to_``), ``modality``,
                ``mimetype``, ``filename``, ``channel_name``, ``order_field``,
                ``order_by_asc`` (bool), ``deleted``, ``tags`` (a list, sent as JSON text
                with ``"filterType": "union"``). ``None`` values are not sent.

        Returns:
            Resource records.

        Raises:
            DatamintException: The mapped error of a failed request.
        """
        params: dict[str, Any] = {}
        for key, value in filters.items():
            key = key[:-1] if key in ("from_", "to_") else key
            if value is None:
                continue
            if key == "tags" and not isinstance(value, str):
                value = json.dumps({"items": _as_names(value), "filterType": "union"})
            params[key] = value
        params["status"] = params.get("status") or ""
        if project is not None:
            params["project"] = json.dumps(
                {"items": _as_names(project), "filterType": "intersection"}
            )
        return self._get_paged("/resources", "resources", params=params, limit=limit)

    def get_resource(self, resource_id: str) -> dict[str, Any]:
        """Fetch one resource (``GET /resources/{id}``).

        Args:
            resource_id: Resource UUID.

        Returns:
            The resource record.

        Raises:
            ItemNotFoundError: If the server has no such resource.
            DatamintException: The mapped error of another failure.
        """
        rid = check_id(resource_id, "resource")
        return self._get_object(f"/resources/{rid}", entity=f"resource {rid}")

    # ------------------------------------------------------------------ annotations

    def search_annotations(
        self, resource_ids: list[str] | None, **filters: Any
    ) -> list[dict[str, Any]]:
        """Search annotations, all pages (``POST /annotations/search``).

        Args:
            resource_ids: Resources whose annotations are wanted, all sent in one body.
                An empty list returns ``[]`` without a request (an empty filter could
                match everything); ``None`` leaves the key out.
            **filters: Other body keys of contract §4.4 (``resource_id``,
                ``annotation_type``, ``annotatorEmail``, ``from``/``from_``, ``to``/``to_``,
                ``dataset_id``, ``annotation_worklist_id``, ``status``, ``source``,
                ``deleted``, ``load_ai_segmentations``). Only non-``None`` keys are sent;
                ``offset`` and ``limit`` are added as strings.

        Returns:
            Annotation records.

        Raises:
            DatamintException: The mapped error of a failed request.
        """
        body: dict[str, Any] = {}
        if resource_ids is not None:
            if len(resource_ids) == 0:
                return []
            body["resource_ids"] = list(resource_ids)
        for key, value in filters.items():
            if value is not None:
                body[key[:-1] if key in ("from_", "to_") else key] = value

        def fetch(offset: int, page_limit: int) -> Any:
            page_body = {**body, "offset": str(offset), "limit": str(page_limit)}
            return self._json(self._request("POST", "/annotations/search", json_body=page_body))

        return list(iter_paged(fetch, "annotations", page_size=PAGE_SIZE))

    def get_annotation(self, annotation_id: str) -> dict[str, Any]:
        """Fetch one annotation (``GET /annotations/{id}``).

        Args:
            annotation_id: Annotation UUID.

        Returns:
            The annotation record.

        Raises:
            ItemNotFoundError: If the server has no such annotation.
            DatamintException: The mapped error of another failure.
        """
        aid = check_id(annotation_id, "annotation")
        return self._get_object(f"/annotations/{aid}", entity=f"annotation {aid}")

    # ------------------------------------------------------------------ worklists

    def get_project_worklists(self, project_id: str) -> list[dict[str, Any]]:
        """List a project's worklists (``GET /projects/{id}/worklists``, a bare array).

        Args:
            project_id: Project UUID.

        Returns:
            Worklist records as sent (``worklist_id``, ``worklist_name``, ...).

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        payload = self._get_json(f"/projects/{pid}/worklists", entity=f"project {pid}")
        return unwrap_items(payload, "worklists")

    def get_annotation_set(self, worklist_id: str) -> dict[str, Any]:
        """Fetch one full worklist (``GET /annotationsets/{id}``).

        Args:
            worklist_id: Worklist (annotation set) UUID.

        Returns:
            The worklist record, with ``annotations`` (the specs).

        Raises:
            ItemNotFoundError: If the server has no such worklist.
            DatamintException: The mapped error of another failure.
        """
        wid = check_id(worklist_id, "worklist")
        return self._get_object(f"/annotationsets/{wid}", entity=f"worklist {wid}")

    def get_segmentation_group(self, worklist_id: str) -> dict[str, Any]:
        """Fetch a worklist's segmentation group (``GET /annotationsets/{id}/segmentation-group``).

        Args:
            worklist_id: Worklist UUID.

        Returns:
            ``{"groups": {name: {"index": int (1-based), "color": [r, g, b, a]}}}``; an
            empty body gives ``{"groups": {}}``.

        Raises:
            ItemNotFoundError: If the server has no such worklist.
            DatamintException: The mapped error of another failure.
        """
        wid = check_id(worklist_id, "worklist")
        payload = self._get_json(
            f"/annotationsets/{wid}/segmentation-group", entity=f"worklist {wid}"
        )
        if payload is None:
            return {"groups": {}}
        if not isinstance(payload, dict):
            raise DatamintException(
                f"the segmentation group of worklist {wid} is not a JSON object: {payload!r:.200}"
            )
        return payload

    # ------------------------------------------------------------------ splits

    def get_project_splits(
        self,
        project_id: str,
        *,
        split_name: str | None = None,
        as_of_timestamp: str | None = None,
    ) -> list[dict[str, Any]]:
        """List a project's split assignments (``GET /projects/{id}/splits``).

        Args:
            project_id: Project UUID.
            split_name: Only rows of this split; not sent when ``None``.
            as_of_timestamp: ISO-8601 UTC instant, passed through verbatim: the rows as
                they stood then. Not sent when ``None`` (current rows).

        Returns:
            Split rows ``{id, split_name, project_id, resource_id, created_at, ...}``.

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        params = {"split_name": split_name, "as_of_timestamp": as_of_timestamp}
        payload = self._get_json(f"/projects/{pid}/splits", params=params, entity=f"project {pid}")
        return unwrap_items(payload, "splits")

    def assign_split(self, project_id: str, resource_ids: list[str], split_name: str) -> None:
        """Assign resources to a split (``POST /projects/{id}/splits``); never retried.

        The request is sent even when ``resource_ids`` is empty (contract §4.6).

        Args:
            project_id: Project UUID.
            resource_ids: Resources to assign.
            split_name: Split name, e.g. ``"train"``.

        Raises:
            ItemNotFoundError: If the server has no such project.
            DatamintException: The mapped error of another failure.
        """
        pid = check_id(project_id, "project")
        self._request(
            "POST",
            f"/projects/{pid}/splits",
            json_body={"resource_ids": list(resource_ids), "split_name": split_name},
            entity=f"project {pid}",
        )

    def get_resource_split(self, project_id: str, resource_id: str) -> dict[str, Any] | None:
        """Fetch a resource's current split row (``GET /projects/{pid}/resources/{rid}/split``).

        Args:
            project_id: Project UUID.
            resource_id: Resource UUID.

        Returns:
            The split row, or ``None`` when the server answers 404 or an empty body.

        Raises:
            DatamintException: The mapped error of a failure other than 404.
        """
        pid = check_id(project_id, "project")
        rid = check_id(resource_id, "resource")
        try:
            payload = self._get_json(
                f"/projects/{pid}/resources/{rid}/split", entity=f"split of resource {rid}"
            )
        except ItemNotFoundError:
            return None
        return payload or None

    # ------------------------------------------------------------------ files

    def _download(
        self,
        path: str,
        dest: Path,
        *,
        accept: str,
        expected_size: int | None,
        expected_sha256: str | None,
        entity: str,
    ) -> DownloadResult:
        url = self.server_url + path

        def check(response: httpx.Response) -> None:
            raise_for_status(response, entity=entity)

        try:
            return download_file(
                self.http,
                path.lstrip("/"),
                Path(dest),
                headers={"accept": accept},
                timeout=self._timeout(path),
                expected_size=expected_size,
                expected_sha256=expected_sha256,
                raise_for_status=check,
                max_attempts=self.max_retries + 1,
            )
        except httpx.TransportError as exc:  # raised outside the streaming loop
            raise network_error(exc, "GET", url) from exc

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> DownloadResult:
        """Download a resource's file bytes (``GET /resources/{id}/file``) to ``dest``.

        Resumes ``<dest>.incomplete`` when present and verifies the result before moving
        it onto ``dest`` (see :mod:`datamint.api.download`).

        Args:
            resource_id: Resource UUID.
            dest: Destination file path.
            expected_size: Size in bytes the file must have (e.g. the record's ``size``).
            expected_sha256: Hex sha256 it must have; else the server's ETag when it is one.

        Returns:
            The :class:`~datamint.api.download.DownloadResult`.

        Raises:
            IntegrityError: If size or hash mismatch; ``dest`` keeps its old content.
            ItemNotFoundError: If the server has no such resource.
            NetworkError: If the transfer keeps failing.
            DatamintException: The mapped error of another failure.
        """
        rid = check_id(resource_id, "resource")
        return self._download(
            f"/resources/{rid}/file",
            dest,
            accept="application/octet-stream",
            expected_size=expected_size,
            expected_sha256=expected_sha256,
            entity=f"file of resource {rid}",
        )

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> DownloadResult:
        """Download a segmentation file (``GET /annotations/{rid}/annotations/{aid}/file``).

        Args:
            resource_id: UUID of the annotated resource (first in the path).
            annotation_id: Annotation UUID.
            dest: Destination file path.
            expected_size: Size in bytes the file must have.
            expected_sha256: Hex sha256 it must have; else the server's ETag when it is one.

        Returns:
            The :class:`~datamint.api.download.DownloadResult`.

        Raises:
            IntegrityError: If size or hash mismatch; ``dest`` keeps its old content.
            ItemNotFoundError: If the server has no such annotation file.
            NetworkError: If the transfer keeps failing.
            DatamintException: The mapped error of another failure.
        """
        rid = check_id(resource_id, "resource")
        aid = check_id(annotation_id, "annotation")
        return self._download(
            f"/annotations/{rid}/annotations/{aid}/file",
            dest,
            accept="*/*",
            expected_size=expected_size,
            expected_sha256=expected_sha256,
            entity=f"segmentation file of annotation {aid}",
        )
