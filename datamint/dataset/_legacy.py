"""Thin shims for the old project-folder datasets, kept so old scripts keep running.

``DatamintDataset`` and the old ``DatamintBaseDataset(project_name, root, ...)`` are
:class:`~datamint.dataset.volume_dataset.VolumeDataset` subclasses that translate the
legacy arguments: ``project_name`` -> ``project`` and ``root`` -> ``cache_dir``. Reach
them through the deprecated modules, which warn once per process.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from datamint.dataset.volume_dataset import VolumeDataset

__all__ = ["LegacyBaseDataset", "LegacyDatamintDataset", "warn_deprecated"]

_WARNED: set[str] = set()


def warn_deprecated(old: str, new: str) -> None:
    """Issue one ``DeprecationWarning`` per process for ``old``, naming ``new``."""
    if old in _WARNED:
        return
    _WARNED.add(old)
    warnings.warn(f"{old} is deprecated; use {new} instead", DeprecationWarning, stacklevel=3)


class LegacyBaseDataset(VolumeDataset):
    """The old ``DatamintBaseDataset(project_name, root, auto_update, ...)``.

    Args:
        project_name: The project's name (now ``project=``).
        root: A folder for the local copy (now ``cache_dir=``).
        auto_update: As before: runs the connectivity probe.
        api_key, server_url: As before.
        **kwargs: Any argument of :class:`~datamint.dataset.base.DatamintBaseDataset`.
    """

    def __init__(
        self,
        project_name: str,
        root: str | Path | None = None,
        auto_update: bool = True,
        api_key: str | None = None,
        server_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            project=project_name,
            auto_update=auto_update,
            api_key=api_key,
            server_url=server_url,
            cache_dir=root,
            **kwargs,
        )
        self.project_name = project_name


class LegacyDatamintDataset(LegacyBaseDataset):
    """The old ``DatamintDataset`` (project folder dataset); same arguments as the base."""
