"""Resource endpoints: ``GET /resources`` with its filters (all pages), and one resource."""

from __future__ import annotations

import json
from typing import Any

from datamint.api.connection import Connection, check_id

__all__ = ["ResourceEndpoints"]


def _as_names(value: str | list[str] | tuple[str, ...]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


class ResourceEndpoints(Connection):
    """The resource methods of :class:`~datamint.api.client.Api`."""

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
            **filters: Query filters: ``status`` (always sent, ``""``
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
