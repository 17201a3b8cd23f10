"""Annotation endpoints: ``POST /annotations/search`` (all pages) and one annotation."""

from __future__ import annotations

from typing import Any

from datamint.api.connection import Connection, check_id
from datamint.api.paging import PAGE_SIZE, iter_paged
from datamint.storage.record_table import RecordTable

__all__ = ["AnnotationEndpoints"]


class AnnotationEndpoints(Connection):
    """The annotation methods of :class:`~datamint.api.client.Api`."""

    def search_annotations(self, resource_ids: list[str] | None, **filters: Any) -> RecordTable:
        """Search annotations, all pages (``POST /annotations/search``).

        Args:
            resource_ids: Resources whose annotations are wanted, all sent in one body.
                An empty list returns ``[]`` without a request (an empty filter could
                match everything); ``None`` leaves the key out.
            **filters: Other body keys of the search (``resource_id``,
                ``annotation_type``, ``annotatorEmail``, ``from``/``from_``, ``to``/``to_``,
                ``dataset_id``, ``annotation_worklist_id``, ``status``, ``source``,
                ``deleted``, ``load_ai_segmentations``). Only non-``None`` keys are sent;
                ``offset`` and ``limit`` are added as strings.

        Returns:
            Annotation records, in server order, as a
            :class:`~datamint.storage.record_table.RecordTable` (each page is parsed,
            then kept as compact JSON texts).

        Raises:
            DatamintException: The mapped error of a failed request.
        """
        body: dict[str, Any] = {}
        if resource_ids is not None:
            if len(resource_ids) == 0:
                return RecordTable()
            body["resource_ids"] = list(resource_ids)
        for key, value in filters.items():
            if value is not None:
                body[key[:-1] if key in ("from_", "to_") else key] = value

        def fetch(offset: int, page_limit: int) -> Any:
            page_body = {**body, "offset": str(offset), "limit": str(page_limit)}
            return self._json(self._request("POST", "/annotations/search", json_body=page_body))

        return RecordTable.from_records(iter_paged(fetch, "annotations", page_size=PAGE_SIZE))

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
