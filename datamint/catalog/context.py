"""``Context``: where prepared datasets live, and what is prepared locally.

Preparing a dataset id (:func:`datamint.catalog.prepare_dataset`) fills the shared caches
of the cache root (``files/``, ``arrays/``, ``manifests/``) and records the result per
project and variant::

    <cache root>/datasets/<project id>/<variant key>/COMPLETE        what was prepared (JSON)
    <cache root>/datasets/<project id>/<variant key>.lock            held while preparing
    <cache root>/datasets/<project id>/<variant key>.incomplete/     while preparing:
        state.json                                                   steps done so far

``<variant key>`` is :meth:`datamint.variants.Variants.cache_key` of the variant, unique per
canonical selector. ``COMPLETE`` is written atomically, last; a prepare that was killed
leaves only ``.incomplete/`` and is resumed by the next one (downloaded files and decoded
arrays are cache hits). :meth:`Context.datasets` lists the ``COMPLETE`` markers (and the
interrupted ones).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from datamint.storage.atomic import atomic_write_text
from datamint.storage.layout import safe_component

__all__ = [
    "COMPLETE_NAME",
    "DATASETS_DIR",
    "INCOMPLETE_SUFFIX",
    "MARKER_FORMAT",
    "Context",
    "PreparedDataset",
    "read_marker",
    "write_marker",
]

DATASETS_DIR = "datasets"
COMPLETE_NAME = "COMPLETE"
STATE_NAME = "state.json"
INCOMPLETE_SUFFIX = ".incomplete"
MARKER_FORMAT = "datamint-prepared-dataset"
MARKER_VERSION = 1


@dataclass(frozen=True)
class PreparedDataset:
    """One prepared (or interrupted) dataset variant, as its marker records it.

    Attributes:
        id: The canonical id, ``project[every key=value, sorted]``.
        project_id: The project id.
        project_name: The project name.
        variant: The full typed variant.
        complete: False for a prepare that was interrupted (only its state is there).
        decoded: Whether every resource was also decoded into the array cache.
        server_url: The server it was prepared from (no credentials), or ``None``.
        resources: Resources in the dataset.
        items: Items in the dataset (slices for sliced views).
        prepared_at: When ``COMPLETE`` was written, ISO-8601 UTC (or when the
            interrupted prepare started).
        path: The variant's folder (``.incomplete`` for an interrupted one).
        record: The marker's JSON, as stored.
    """

    id: str
    project_id: str
    project_name: str
    variant: dict[str, Any]
    complete: bool
    decoded: bool
    server_url: str | None
    resources: int | None
    items: int | None
    prepared_at: str | None
    path: Path
    record: dict[str, Any] = field(repr=False, compare=False)

    @property
    def selector(self) -> str:
        """The canonical selector (the id's bracketed part)."""
        from datamint.catalog.ids import DATASET_VARIANTS

        return DATASET_VARIANTS.format_selector(self.variant)


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The ``COMPLETE`` marker of a variant folder, or ``None`` when missing or damaged."""
    return _read_json(folder / COMPLETE_NAME)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MARKER_FORMAT else None


def write_marker(folder: Path, record: dict[str, Any], *, name: str = COMPLETE_NAME) -> None:
    """Write a marker (or the ``state.json`` of an interrupted prepare) atomically."""
    payload = {"format": MARKER_FORMAT, "format_version": MARKER_VERSION, **record}
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / name, json.dumps(payload, indent=1, sort_keys=True))


def _prepared_from(record: dict[str, Any], path: Path, complete: bool) -> PreparedDataset | None:
    from datamint.catalog.ids import DATASET_VARIANTS

    try:
        variant = DATASET_VARIANTS.resolve(record.get("variant") or {})
        project = record["project"]
        pid, name = str(project["id"]), str(project["name"])
    except (KeyError, TypeError, ValueError):
        return None
    return PreparedDataset(
        id=f"{name}[{DATASET_VARIANTS.format_selector(variant)}]",
        project_id=pid,
        project_name=name,
        variant=variant,
        complete=complete,
        decoded=bool(record.get("decoded")),
        server_url=record.get("server_url"),
        resources=record.get("resources"),
        items=record.get("items"),
        prepared_at=record.get("prepared_at") or record.get("started_at"),
        path=path,
        record=record,
    )


class Context:
    """Where prepared datasets live, and how to reach their server.

    Args:
        cachepath: Cache root; else ``DATAMINT_CACHE_DIR`` or the platform cache folder,
            read on each access (so a changed environment is followed).
        server_url: Server for :func:`prepare_dataset` / :func:`find_dataset`, and the
            server whose manifests :func:`get_dataset` uses; else ``DATAMINT_API_URL``
            or the config file (online), any server (offline).
        api_key: API key; else ``DATAMINT_API_KEY`` or the config file. Never written.

    Example:
        >>> ctx = Context.instance()  # doctest: +SKIP
        >>> [p.id for p in ctx.datasets()]  # doctest: +SKIP
        ['demo[frames=false,kind=volume,merge=null,plane=axial,semantic=true]']
    """

    _instance: ClassVar[Context | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self,
        cachepath: str | os.PathLike[str] | None = None,
        *,
        server_url: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self._cachepath = None if cachepath is None else Path(cachepath).expanduser().absolute()
        self.server_url = server_url
        self.api_key = api_key

    def __repr__(self) -> str:
        """Show the cache root and server (never the key)."""
        return f"Context(cachepath={str(self.cachepath)!r}, server_url={self.server_url!r})"

    @classmethod
    def instance(cls) -> Context:
        """The process-wide default context (cache root and server from the settings)."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    @property
    def cachepath(self) -> Path:
        """The cache root (downloaded files, decoded arrays, manifests, prepared datasets)."""
        if self._cachepath is not None:
            return self._cachepath
        from datamint.settings import cache_root

        return cache_root()

    @property
    def datapath(self) -> Path:
        """``<cache root>/datasets``: one folder per project, one per prepared variant."""
        return self.cachepath / DATASETS_DIR

    def variant_folder(self, project_id: str, cache_key: str) -> Path:
        """``datapath/<project id>/<variant key>`` (both checked as safe path components).

        Raises:
            ValidationError: If either is not a safe path component.
        """
        return (
            self.datapath
            / safe_component(project_id, "project id")
            / safe_component(cache_key, "variant key")
        )

    def datasets(self, *, include_incomplete: bool = False) -> list[PreparedDataset]:
        """What is prepared here, per project and variant, read from the ``COMPLETE`` markers.

        Args:
            include_incomplete: Also list prepares that were interrupted (``complete``
                False), from their ``state.json``.

        Returns:
            Sorted by project name, then canonical id. Damaged markers are skipped.
        """
        found: list[PreparedDataset] = []
        root = self.datapath
        if not root.is_dir():
            return found
        for project_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            for folder in sorted(p for p in project_dir.iterdir() if p.is_dir()):
                if folder.name.endswith(INCOMPLETE_SUFFIX):
                    if not include_incomplete:
                        continue
                    final = folder.with_name(folder.name[: -len(INCOMPLETE_SUFFIX)])
                    if read_marker(final) is not None:
                        continue  # a re-prepare of a complete variant was interrupted
                    record, complete = _read_json(folder / STATE_NAME), False
                else:
                    record, complete = read_marker(folder), True
                prepared = None if record is None else _prepared_from(record, folder, complete)
                if prepared is not None:
                    found.append(prepared)
        return sorted(found, key=lambda p: (p.project_name, p.id, p.complete))

    def dataset(self, dataset_id: str, *, variant: Any = None, **dataset_kwargs: Any) -> Any:
        """The dataset object of a prepared id, from the local cache only.

        Same as ``get_dataset(dataset_id, variant=variant, context=self, ...)``.

        Raises:
            OfflineCacheMissError: If the id is not prepared here; the message names
                what to run.
            ValueError: For a malformed id or selector.
        """
        from datamint.catalog.prepare import get_dataset

        return get_dataset(dataset_id, variant=variant, context=self, **dataset_kwargs)
