"""A process that prepares a dataset id (started by ``test_prepare`` with ``spawn``)."""

from __future__ import annotations

import os
from typing import Any


def prepare(
    url: str, key: str, cache: str, dataset_id: str, barrier: Any, results: Any, log: str
) -> None:
    """Wait for the other processes at ``barrier``, ``prepare_dataset(dataset_id)``, and put
    ``"<project>:<items>"`` (or the error's text) on the ``results`` queue.

    Every ``prefetch`` call of this process appends its pid to the file ``log``.
    """
    from datamint.catalog import Context, prepare_dataset
    from datamint.dataset.base import DatamintBaseDataset as LoadingMixin

    original = LoadingMixin.prefetch

    def logged(self: Any, *args: Any, **kwargs: Any) -> Any:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return original(self, *args, **kwargs)

    LoadingMixin.prefetch = logged  # type: ignore[method-assign]
    barrier.wait()
    try:
        ds = prepare_dataset(dataset_id, Context(cache, server_url=url, api_key=key))
        results.put(f"{ds.project.name}:{len(ds)}")
    except Exception as exc:  # reported to the test
        results.put(f"error: {exc!r}")
