"""Deprecated: ``DatamintDataset``, the old project-folder dataset.

Use :class:`datamint.dataset.volume_dataset.VolumeDataset` (or
:func:`datamint.dataset.build_dataset`). Accessing ``DatamintDataset`` warns once with
``DeprecationWarning``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatamintDataset"]  # noqa: F822 - provided by the module __getattr__


def __getattr__(name: str) -> Any:
    if name == "DatamintDataset":
        from datamint.dataset._legacy import LegacyDatamintDataset, warn_deprecated

        warn_deprecated(
            "datamint.dataset.dataset.DatamintDataset",
            "datamint.dataset.volume_dataset.VolumeDataset(project=...) or build_dataset(project)",
        )
        return LegacyDatamintDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
