"""File endpoints: resource and segmentation file bytes, downloaded resumably and verified
(see :mod:`datamint.api.download`)."""

from __future__ import annotations

from pathlib import Path

import httpx

from datamint.api.connection import Connection, check_id
from datamint.api.download import DownloadResult, download_file
from datamint.api.errors import network_error, raise_for_status

__all__ = ["DownloadEndpoints"]


class DownloadEndpoints(Connection):
    """The file download methods of :class:`~datamint.api.client.Api`."""

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
