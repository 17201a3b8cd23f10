"""Deprecated: the old ``DatamintBaseDataset(project_name, root, auto_update, ...)``.

Use :class:`datamint.dataset.base.DatamintBaseDataset` subclasses such as
:class:`datamint.dataset.volume_dataset.VolumeDataset`. Accessing
``DatamintBaseDataset`` here warns once with ``DeprecationWarning``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatamintBaseDataset"]  # noqa: F822 - provided by the module __getattr__


def __getattr__(name: str) -> Any:
    if name == "DatamintBaseDataset":
        from datamint.dataset._legacy import LegacyBaseDataset, warn_deprecated

        warn_deprecated(
            "datamint.dataset.base_dataset.DatamintBaseDataset",
            "datamint.dataset.volume_dataset.VolumeDataset(project=..., cache_dir=...)",
        )
        return LegacyBaseDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
