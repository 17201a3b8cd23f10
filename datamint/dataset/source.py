"""``DataSource``: where a dataset's records and files come from.

One object per dataset family (a dataset and everything derived from it share it):

- the client: :class:`~datamint.api.client.Api`, or an ``OfflineApi`` over the local
  manifest when the dataset is offline;
- online, the ``ManifestRecorder`` that remembers what preparation read, so the same
  dataset can later be built offline;
- the per-process :class:`~datamint.dataset.loading.ItemLoader` (downloads through the
  file cache, decodes into the array caches). It is rebuilt in each DataLoader worker:
  it is never pickled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from datamint.dataset.config import DatasetConfig
from datamint.dataset.loading import ItemLoader

if TYPE_CHECKING:
    from datamint.api.reader import ProjectReader
    from datamint.api.recorder import ManifestRecorder
    from datamint.storage.file_cache import FileCache

__all__ = ["DataSource"]

_LOG = logging.getLogger(__name__)
T = TypeVar("T")


class DataSource:
    """The client, the manifest recorder and the per-process loader of a dataset family.

    Args:
        config: The dataset's settings (server, key, cache root, offline, formats).
    """

    def __init__(self, config: DatasetConfig) -> None:
        self.config = config
        self._api: ProjectReader | None = None
        self._recorder: ManifestRecorder | None = None
        self._loader: ItemLoader | None = None
        self._files: FileCache | None = None

    @property
    def api(self) -> ProjectReader:
        """The client: ``Api``, or ``OfflineApi`` over the manifest when offline."""
        if self._api is None:
            config = self.config
            if config.offline:
                from datamint.api.offline import OfflineApi

                self._api = OfflineApi(config.cache_root, server_url=config.server_url)
            else:
                from datamint.api.client import Api

                self._api = Api(
                    server_url=config.server_url,
                    api_key=config.api_key,
                    check_connection=config.auto_update,
                )
        return self._api

    def recorded(self, fetch: Callable[[ProjectReader], T], project_id: str | None = None) -> T:
        """Run ``fetch(client)``; online, record what it read into the project's manifest.

        A manifest that cannot be written is logged, never fatal (training goes on).
        """
        if self.config.offline:
            return fetch(self.api)
        from datamint.api.recorder import ManifestRecorder
        from datamint.exceptions import CacheError

        if self._recorder is None:
            self._recorder = ManifestRecorder(self.api)
        result = fetch(self._recorder)
        root = self.config.cache_root
        try:
            self._recorder.write(root, project_id=project_id)
        except (OSError, CacheError, ValueError) as exc:
            _LOG.warning("could not write the offline manifest under %s: %s", root, exc)
        return result

    @property
    def files(self) -> FileCache:
        """The downloaded-file cache under the cache root (built on first use)."""
        if self._files is None:
            from datamint.storage.file_cache import FileCache

            self._files = FileCache(self.config.cache_root)
        return self._files

    @property
    def loader(self) -> ItemLoader:
        """This process's decoder and cache front (rebuilt after unpickling)."""
        if self._loader is None:
            from datamint.storage.array_cache import ArrayCache

            files, api = self.files, self.api
            self._loader = ItemLoader(
                lambda res: files.resource_file(api, res.record),
                lambda ann: files.segmentation_file(api, ann.record),
                ArrayCache(self.config.cache_root),
                self.config.cache_format,
                self.config.loader_dtype,
            )
        return self._loader

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_loader"] = None
        state["_files"] = None
        return state
