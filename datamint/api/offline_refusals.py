"""What an offline client cannot do, refused with a message that says what to run online:
writing split assignments, and downloading a file the cache does not hold."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from datamint.api.offline_source import ManifestSource
from datamint.exceptions import DatamintException, OfflineCacheMissError
from datamint.storage.manifest.reading import DOWNLOAD_HINT

__all__ = ["OfflineRefusals"]


class OfflineRefusals(ManifestSource):
    """The write and download methods of :class:`~datamint.api.Api`, refused offline."""

    def assign_split(self, project_id: str, resource_ids: list[str], split_name: str) -> NoReturn:
        """Refuse: offline, nothing can be written to the server.

        Raises:
            DatamintException: Always.
        """
        raise DatamintException(
            f"offline: cannot assign {len(resource_ids)} resource(s) to split {split_name!r} "
            f"of project {project_id}; save splits while the server is reachable"
        )

    def download_resource_file(
        self,
        resource_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> NoReturn:
        """Refuse to download: the resource's file is not in the cache.

        Args:
            resource_id: Resource id.
            dest: Where the file would go (untouched).
            expected_size: Ignored.
            expected_sha256: Ignored.

        Raises:
            OfflineCacheMissError: Always, naming the resource and what to run.
        """
        described, project = self._describe_resource(resource_id)
        raise OfflineCacheMissError(
            f"offline: the file of resource {resource_id}{described} is not in the cache at "
            f"{self.cache_root}; " + DOWNLOAD_HINT.format(project=project)
        )

    def download_segmentation_file(
        self,
        resource_id: str,
        annotation_id: str,
        dest: Path,
        *,
        expected_size: int | None = None,
        expected_sha256: str | None = None,
    ) -> NoReturn:
        """Refuse to download: the segmentation file is not in the cache.

        Args:
            resource_id: Id of the annotated resource.
            annotation_id: Annotation id.
            dest: Where the file would go (untouched).
            expected_size: Ignored.
            expected_sha256: Ignored.

        Raises:
            OfflineCacheMissError: Always, naming the annotation and what to run.
        """
        described, project = self._describe_resource(resource_id)
        raise OfflineCacheMissError(
            f"offline: the segmentation file of annotation {annotation_id} (resource "
            f"{resource_id}{described}) is not in the cache at {self.cache_root}; "
            + DOWNLOAD_HINT.format(project=project)
        )
