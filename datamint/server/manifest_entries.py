"""Building blocks of a ``project.json`` import: paths, ids, checks, worklists, splits.

:class:`ManifestEntries` holds the state of one import (the folder, the project id, the
records already stored) and turns the simpler manifest entries into records; the
project, resources and annotations are built by :mod:`datamint.server.importer`.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from datamint.server.blobs import hash_file
from datamint.server.errors import ManifestError, ManifestIntegrityError
from datamint.server.import_common import ID_NAMESPACE
from datamint.server.store import ProjectStore
from datamint.server.timeutil import to_iso, to_us

__all__ = ["TIME_KEYS", "ManifestEntries"]

#: Record keys holding timestamps, normalised to ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
TIME_KEYS = ("created_at", "deleted_at", "published_on", "updated_at")


class ManifestEntries:
    """State of one manifest import and the builders of its simpler entries.

    Args:
        store: The target store.
        project_dir: The folder holding ``project.json``.
        manifest_path: ``project_dir / "project.json"``.
    """

    def __init__(self, store: ProjectStore, project_dir: Path, manifest_path: Path) -> None:
        self.store = store
        self.project_dir = project_dir
        self.root = project_dir.resolve()
        self.manifest_path = manifest_path
        self.project_id = ""
        self.stored: dict[str, dict[str, Any]] = {}

    # -- helpers -----------------------------------------------------------------------

    def fail(self, where: str, message: str) -> ManifestError:
        """Build the ManifestError naming the manifest and the entry ``where``."""
        return ManifestError(f"{self.manifest_path}: {where}: {message}")

    def canonical_id(self, value: Any, where: str, *derive_from: str) -> str:
        """Return the canonical UUID ``value``, or one derived from ``derive_from`` when empty."""
        if value is None or value == "":
            return str(uuid.uuid5(ID_NAMESPACE, "/".join((self.project_id, *derive_from))))
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise self.fail(where, f"id {value!r} is not a UUID") from None

    def timestamp(self, value: Any, where: str) -> str | None:
        """Normalise an ISO-8601 value (``None`` stays ``None``); ManifestError when invalid."""
        if value is None:
            return None
        try:
            return to_iso(str(value))
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def normalise_times(self, record: dict[str, Any], where: str) -> None:
        """Normalise every timestamp key of ``record`` in place."""
        for key in TIME_KEYS:
            if record.get(key) is not None:
                record[key] = self.timestamp(record[key], f"{where}.{key}")

    def source(self, rel: Any, where: str) -> Path:
        """Return the file at manifest path ``rel``, checked to stay inside the folder."""
        if not isinstance(rel, str) or not rel:
            raise self.fail(where, f"file path {rel!r} must be a non-empty string")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts:
            raise self.fail(where, f"file path {rel!r} must be relative and stay inside the folder")
        path = (self.project_dir / pure).resolve()
        if not path.is_relative_to(self.root):
            raise self.fail(where, f"file path {rel!r} leaves the project folder")
        if not path.is_file():
            raise self.fail(where, f"file {rel!r} not found in {self.project_dir}")
        return path

    def verify(self, path: Path, rel: str, expected: dict[str, Any], where: str) -> None:
        """Check a file against the sha256 and size the manifest records, if any."""
        want_sha, want_size = expected.get("sha256"), expected.get("size")
        if want_sha is None and want_size is None:
            return
        sha, size = hash_file(path)
        if want_sha is not None and str(want_sha).lower() != sha:
            raise ManifestIntegrityError(
                f"{self.manifest_path}: {where}: file {rel!r} has sha256 {sha}, "
                f"the manifest says {want_sha}; the file was changed or corrupted"
            )
        if want_size is not None and int(want_size) != size:
            raise ManifestIntegrityError(
                f"{self.manifest_path}: {where}: file {rel!r} has {size} bytes, the manifest "
                f"says {want_size}"
            )

    def store_file(self, rel: str, expected: dict[str, Any], where: str) -> tuple[str, int]:
        """Verify and store one manifest file; return its ``(sha256, size)``."""
        path = self.source(rel, where)
        self.verify(path, rel, expected, where)
        return self.store.blobs.put_file(path)

    # -- entries -----------------------------------------------------------------------

    def worklist(self, item: Any, where: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Build one worklist record and its segmentation groups."""
        if not isinstance(item, dict):
            raise self.fail(where, "a worklist must be an object")
        record = copy.deepcopy(item)
        name = record.get("name")
        if not isinstance(name, str) or not name:
            raise self.fail(f"{where}.name", "a non-empty worklist name is required")
        record["id"] = self.canonical_id(record.get("id"), f"{where}.id", "worklist", name)
        record["project_id"] = self.project_id
        self.normalise_times(record, where)
        record.setdefault("annotators", [])
        record.setdefault("annotations", [])
        record["resource_ids"] = [
            self.canonical_id(rid, f"{where}.resource_ids[{i}]")
            for i, rid in enumerate(record.get("resource_ids") or [])
        ]
        group = record.get("segmentation_group")
        groups: dict[str, Any] | None = None
        if group is not None:
            if not isinstance(group, dict) or not isinstance(group.get("groups", {}), dict):
                raise self.fail(
                    f"{where}.segmentation_group",
                    "expected {segmentation_value_type, groups: {name: {index, color}}}",
                )
            groups = {}
            for label, spec in group.get("groups", {}).items():
                if not isinstance(spec, dict) or not isinstance(spec.get("index"), int):
                    raise self.fail(
                        f"{where}.segmentation_group.groups.{label}",
                        "expected {index: int (1-based), color: [r, g, b, a]}",
                    )
                groups[label] = {"index": spec["index"], "color": spec.get("color")}
        return record, groups

    @staticmethod
    def worklist_index(
        worklists: list[tuple[dict[str, Any], dict[str, Any] | None]],
    ) -> dict[str, str]:
        """Map each resource id (and ``""`` for any) to the worklist that lists it."""
        index: dict[str, str] = {}
        for record, _ in worklists:
            for rid in record["resource_ids"]:
                index.setdefault(rid, record["id"])
        if worklists:
            index[""] = worklists[0][0]["id"]
        return index

    def splits(
        self, rows: list[Any], resource_ids: set[str], project: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Build the split rows, checking one current row per resource."""
        result: list[dict[str, Any]] = []
        current: dict[str, int] = {}
        for i, row in enumerate(rows):
            where = f"splits[{i}]"
            if not isinstance(row, dict) or not isinstance(row.get("split_name"), str):
                raise self.fail(where, "expected {resource_id, split_name, created_at?, ...}")
            rid = self.canonical_id(row.get("resource_id"), f"{where}.resource_id")
            if rid not in resource_ids:
                raise self.fail(f"{where}.resource_id", f"resource {rid} not found in the manifest")
            created = self.timestamp(row.get("created_at"), f"{where}.created_at")
            created = created or project["created_at"]
            deleted = self.timestamp(row.get("deleted_at"), f"{where}.deleted_at")
            entry = {
                "id": self.canonical_id(
                    row.get("id"), f"{where}.id", "split", rid, row["split_name"], str(created)
                ),
                "resource_id": rid,
                "split_name": row["split_name"],
                "created_at_us": to_us(created),
                "created_by": row.get("created_by") or project.get("created_by"),
                "deleted_at_us": None if deleted is None else to_us(deleted),
                "deleted_by": row.get("deleted_by"),
            }
            if deleted is None:
                if rid in current:
                    raise self.fail(
                        where,
                        f"resource {rid} already has a current split row (splits[{current[rid]}]); "
                        "set deleted_at on the older one",
                    )
                current[rid] = i
            result.append(entry)
        return result
