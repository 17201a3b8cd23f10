"""Import a project folder (``project.json``, format ``datamint-project-manifest`` v1).

The manifest is a contract, not a demo detail: any folder in that format imports, and
nothing here knows a file name. What an import does:

- ids are kept from the file (canonical lower-case UUIDs); an entry without an id gets a
  UUIDv5 derived from the project id and the entry's path, so re-imports find it again;
- every file path is relative to the folder and must stay inside it; each file is checked
  against its ``sha256`` (and ``size``) when the manifest records them;
- a resource whose ``files`` list has several entries (a DICOM series) is stored as ONE
  deterministic ZIP archive (ZIP_STORED, entries sorted by path, named by base name, fixed
  timestamps), so the same slices always give the same bytes and sha256;
- records keep every key of the manifest and gain the keys the wire requires
  (contract/API.md §4.3, §4.4); ``size``/``sha256`` describe the bytes actually served;
  timestamps are normalised to ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
- the project's creator, its annotators, its worklists' annotators and ``members`` become
  project members;
- everything is written in one transaction; importing twice leaves one copy.
"""

from __future__ import annotations

import copy
import json
import mimetypes
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from datamint.schema import ResourceKind, resource_kind
from datamint.server.blobs import hash_file
from datamint.server.errors import ManifestError, ManifestIntegrityError
from datamint.server.store import ProjectBundle, ProjectStore
from datamint.server.timeutil import format_us, now_us, to_iso, to_us

__all__ = ["MANIFEST_FORMAT", "MANIFEST_VERSION", "build_series_zip", "import_project"]

MANIFEST_FORMAT = "datamint-project-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "project.json"

#: Namespace of the UUIDv5 ids derived for manifest entries that carry none.
_ID_NAMESPACE = uuid.UUID("6f1c3c3e-4b8a-5d0e-9a57-2f2b6c1d9e40")
#: DOS epoch: the earliest ZIP timestamp; used for every entry so archives are reproducible.
_ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
_CHUNK_BYTES = 1 << 20
_TIME_KEYS = ("created_at", "deleted_at", "published_on", "updated_at")


def import_project(
    store: ProjectStore, project_dir: str | Path, *, members: Iterable[str] = ()
) -> str:
    """Load ``<project_dir>/project.json`` and its files into ``store``.

    Args:
        store: The target store.
        project_dir: Folder holding ``project.json``; manifest paths are relative to it.
        members: Extra emails to make project members (besides the creator and annotators).

    Returns:
        The project id (as in the manifest).

    Raises:
        ManifestError: If the manifest is missing, not JSON, of another format or version,
            or has an invalid entry (bad id, missing key, path escaping the folder, unknown
            resource reference, a second project with the same name); names file and entry.
        ManifestIntegrityError: If a file does not match its recorded sha256 or size.
        ValidationError: If a ``members`` value is not an email address.
    """
    project_dir = Path(project_dir)
    manifest_path = project_dir / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    ctx = _Context(store, project_dir, manifest_path)
    bundle = ctx.build(manifest)
    bundle.members.extend(members)
    other = store.project_id_by_name(bundle.project["name"])
    if other is not None and other != bundle.project["id"]:
        raise ManifestError(
            f"{manifest_path}: project name {bundle.project['name']!r} is already used by "
            f"project {other} in {store.store_dir}; rename one of them"
        )
    store.save_project(bundle)
    return str(bundle.project["id"])


def build_series_zip(files: list[tuple[str, Path]], out: BinaryIO) -> None:
    """Write the files of a series as a reproducible ZIP archive.

    Entries are stored (ZIP_STORED), sorted by their manifest path, named by base name,
    dated 1980-01-01 00:00:00 with mode 0644, so equal inputs give byte-identical archives.

    Args:
        files: ``(manifest path, file on disk)`` pairs; base names must be unique.
        out: Seekable binary file to write the archive into.

    Raises:
        ValueError: If two files share a base name (the archive would be ambiguous).
        OSError: If a file cannot be read.
    """
    ordered = sorted(files, key=lambda item: item[0])
    names = [PurePosixPath(rel).name for rel, _ in ordered]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"series files share base names {duplicates}; rename them")
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, (_, path) in zip(names, ordered, strict=True):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            size = path.stat().st_size
            with (
                open(path, "rb") as src,
                archive.open(info, "w", force_zip64=size >= 0x7FFFFFFF) as dst,
            ):
                for chunk in iter(lambda: src.read(_CHUNK_BYTES), b""):
                    dst.write(chunk)


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ManifestError(f"{path} not found: a project folder must hold {MANIFEST_NAME}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise ManifestError(f"{path}: expected a JSON object at the top level")
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestError(
            f"{path}: 'format' is {manifest.get('format')!r}, expected {MANIFEST_FORMAT!r}"
        )
    if manifest.get("format_version") != MANIFEST_VERSION:
        raise ManifestError(
            f"{path}: 'format_version' is {manifest.get('format_version')!r}; this datamint "
            f"reads version {MANIFEST_VERSION}"
        )
    if not isinstance(manifest.get("project"), dict):
        raise ManifestError(f"{path}: 'project' must be an object")
    for key in ("resources", "annotations", "worklists", "annotators", "splits"):
        if not isinstance(manifest.get(key, []), list):
            raise ManifestError(f"{path}: '{key}' must be a list")
    return manifest


def _infer_mimetype(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith((".nii", ".nii.gz")):
        return "application/x-nifti"
    if lower.endswith((".dcm", ".dicom")) or lower.endswith("/"):
        return "application/dicom"
    guessed, _ = mimetypes.guess_type(lower)
    return guessed or "application/octet-stream"


_STORAGE_OF_KIND = {
    ResourceKind.DICOM: "DicomResource",
    ResourceKind.NIFTI: "NiftiResource",
    ResourceKind.VOLUME: "VolumeResource",
    ResourceKind.VIDEO: "VideoResource",
    ResourceKind.IMAGE: "ImageResource",
    ResourceKind.GENERIC: "FileResource",
}


def _infer_storage(mimetype: str, filename: str) -> str:
    """Storage name of the kind the client will see (contract §5.1, via ``schema``)."""
    return _STORAGE_OF_KIND[resource_kind({"mimetype": mimetype, "filename": filename})]


def _blob_location(sha: str) -> str:
    return f"blobs/{sha[:2]}/{sha}"


class _Context:
    """State of one import: paths, ids seen so far, and error locations."""

    def __init__(self, store: ProjectStore, project_dir: Path, manifest_path: Path) -> None:
        self.store = store
        self.project_dir = project_dir
        self.root = project_dir.resolve()
        self.manifest_path = manifest_path
        self.project_id = ""

    # -- helpers -----------------------------------------------------------------------

    def fail(self, where: str, message: str) -> ManifestError:
        return ManifestError(f"{self.manifest_path}: {where}: {message}")

    def canonical_id(self, value: Any, where: str, *derive_from: str) -> str:
        if value is None or value == "":
            return str(uuid.uuid5(_ID_NAMESPACE, "/".join((self.project_id, *derive_from))))
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            raise self.fail(where, f"id {value!r} is not a UUID") from None

    def timestamp(self, value: Any, where: str) -> str | None:
        if value is None:
            return None
        try:
            return to_iso(str(value))
        except ValueError as exc:
            raise self.fail(where, str(exc)) from None

    def normalise_times(self, record: dict[str, Any], where: str) -> None:
        for key in _TIME_KEYS:
            if record.get(key) is not None:
                record[key] = self.timestamp(record[key], f"{where}.{key}")

    def source(self, rel: Any, where: str) -> Path:
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
        path = self.source(rel, where)
        self.verify(path, rel, expected, where)
        return self.store.blobs.put_file(path)

    # -- entries -----------------------------------------------------------------------

    def build(self, manifest: dict[str, Any]) -> ProjectBundle:
        project = self.project(manifest)
        worklists = [
            self.worklist(item, f"worklists[{i}]")
            for i, item in enumerate(manifest.get("worklists", []))
        ]
        if worklists and "worklist_id" not in project:
            project["worklist_id"] = worklists[0][0]["id"]
        people = {
            str(person.get("email")): person
            for person in manifest.get("annotators", [])
            if isinstance(person, dict) and person.get("email")
        }
        resources = [
            self.resource(item, f"resources[{i}]", project, people)
            for i, item in enumerate(manifest.get("resources", []))
        ]
        resource_ids = {record["id"] for record, _ in resources}
        if len(resource_ids) != len(resources):
            raise self.fail("resources", "two resources share one id")
        worklist_of = self.worklist_index(worklists)
        created_of = {record["id"]: str(record["created_at"]) for record, _ in resources}
        annotations = [
            self.annotation(item, f"annotations[{i}]", created_of, worklist_of)
            for i, item in enumerate(manifest.get("annotations", []))
        ]
        splits = self.splits(manifest.get("splits", []), resource_ids, project)
        members = [project.get("created_by")]
        members += [a.get("email") for a in project.get("annotators") or [] if isinstance(a, dict)]
        members += list(people)
        for record, _ in worklists:
            members += [a.get("email") for a in record["annotators"] if isinstance(a, dict)]
        return ProjectBundle(
            project=project,
            resources=resources,
            annotations=annotations,
            worklists=worklists,
            splits=splits,
            members=sorted({m for m in members if isinstance(m, str) and "@" in m}),
        )

    def project(self, manifest: dict[str, Any]) -> dict[str, Any]:
        record: dict[str, Any] = copy.deepcopy(manifest["project"])
        name = record.get("name")
        if not isinstance(name, str) or not name:
            raise self.fail("project.name", "a non-empty project name is required")
        self.project_id = ""
        self.project_id = self.canonical_id(record.get("id"), "project.id", "project", name)
        record["id"] = self.project_id
        self.normalise_times(record, "project")
        if record.get("created_at") is None:
            existing = self.store.get_project(self.project_id)
            record["created_at"] = (existing or {}).get("created_at") or format_us(now_us())
        record.setdefault("created_by", None)
        record.setdefault("description", None)
        record.setdefault("archived", False)
        record["dataset_id"] = record.get("dataset_id") or self.canonical_id(
            None, "project.dataset_id", "dataset"
        )
        record.pop("resource_count", None)  # computed live by the store
        return record

    def worklist(self, item: Any, where: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
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
        index: dict[str, str] = {}
        for record, _ in worklists:
            for rid in record["resource_ids"]:
                index.setdefault(rid, record["id"])
        if worklists:
            index[""] = worklists[0][0]["id"]
        return index

    def resource(
        self,
        item: Any,
        where: str,
        project: dict[str, Any],
        people: dict[str, dict[str, Any]],
    ) -> tuple[dict[str, Any], str]:
        if not isinstance(item, dict):
            raise self.fail(where, "a resource must be an object")
        record = copy.deepcopy(item)
        files = record.get("files")
        entries: list[dict[str, Any]] = []
        if files is not None:
            if not isinstance(files, list) or not files:
                raise self.fail(f"{where}.files", "must be a non-empty list")
            for i, entry in enumerate(files):
                entry = {"path": entry} if isinstance(entry, str) else entry
                if not isinstance(entry, dict) or "path" not in entry:
                    raise self.fail(f"{where}.files[{i}]", "expected a path or {path, sha256}")
                entries.append(entry)
        filename = record.get("filename")
        if not isinstance(filename, str) or not filename:
            if not entries:
                raise self.fail(f"{where}.filename", "a filename (the file's path) is required")
            filename = str(entries[0]["path"])
            record["filename"] = filename
        record["id"] = self.canonical_id(record.get("id"), f"{where}.id", "resource", filename)
        if len(entries) > 1:
            paths: list[tuple[str, Path]] = []
            for i, entry in enumerate(entries):
                rel = str(entry["path"])
                path = self.source(rel, f"{where}.files[{i}]")
                self.verify(path, rel, entry, f"{where}.files[{i}]")
                paths.append((rel, path))
            try:
                sha, size = self.store.blobs.put_built(lambda out: build_series_zip(paths, out))
            except ValueError as exc:
                raise self.fail(f"{where}.files", str(exc)) from None
        elif entries:
            sha, size = self.store_file(str(entries[0]["path"]), entries[0], f"{where}.files[0]")
            if record.get("sha256") is not None or record.get("size") is not None:
                self.verify(self.store.blob_path(sha), filename, record, where)
        else:
            rel = str(record["file"]) if isinstance(record.get("file"), str) else filename
            sha, size = self.store_file(rel, record, where)
        self.normalise_times(record, where)
        mimetype = record.get("mimetype") or _infer_mimetype(filename)
        created_by = record.get("created_by") or project.get("created_by")
        person = people.get(str(created_by), {})
        first, _, last = str(person.get("name") or str(created_by or "").split("@")[0]).partition(
            " "
        )
        status = record.get("status") or "published"
        defaults: dict[str, Any] = {
            "storage": _infer_storage(mimetype, filename),
            "location": _blob_location(sha),
            "upload_channel": "datamint-import",
            "customer_id": "local",
            "status": status,
            "published": status == "published",
            "deleted": False,
            "deleted_at": None,
            "deleted_by": None,
            "created_at": project["created_at"],
            "created_by": created_by,
            "metadata": {},
            "tags": [],
            "user_info": {"firstname": first, "lastname": last},
        }
        for key, value in defaults.items():
            if record.get(key) is None:
                record[key] = value
        record["mimetype"] = mimetype
        record["resource_uri"] = f"/resources/{record['id']}/file"
        record["size"] = size
        record["sha256"] = sha
        return record, sha

    def annotation(
        self,
        item: Any,
        where: str,
        created_of: dict[str, str],
        worklist_of: dict[str, str],
    ) -> tuple[dict[str, Any], str | None]:
        if not isinstance(item, dict):
            raise self.fail(where, "an annotation must be an object")
        record = copy.deepcopy(item)
        rid = self.canonical_id(record.get("resource_id"), f"{where}.resource_id")
        if rid not in created_of:
            raise self.fail(f"{where}.resource_id", f"resource {rid} not found in the manifest")
        record["resource_id"] = rid
        identifier = record.get("identifier", record.get("name"))
        if not isinstance(identifier, str) or not identifier:
            raise self.fail(f"{where}.identifier", "an identifier (label name) is required")
        record["identifier"] = identifier
        if not isinstance(record.get("type"), str):
            raise self.fail(f"{where}.type", "an annotation type is required")
        frame_index = record.get("frame_index", record.get("index"))
        record["id"] = self.canonical_id(
            record.get("id"),
            f"{where}.id",
            "annotation",
            rid,
            identifier,
            str(record.get("created_by")),
            str(frame_index),
            str(record.get("file")),
        )
        scope = record.get("scope") or ("image" if frame_index is None else "frame")
        record["scope"] = scope
        record["frame_index"] = None if scope == "image" else frame_index
        self.normalise_times(record, where)
        sha: str | None = None
        if isinstance(record.get("file"), str) and record["file"]:
            sha, size = self.store_file(record["file"], record, f"{where}.file")
            record["sha256"] = sha
            record["size"] = size
            record["associated_file"] = _blob_location(sha)
        else:
            record.setdefault("file", None)
            record["associated_file"] = None
        defaults: dict[str, Any] = {
            "value": None,
            "created_by": None,
            "created_by_model": None,
            "created_at": created_of[rid],
            "deleted_at": None,
            "source": None,
            "status": "published",
            "annotation_worklist_id": worklist_of.get(rid, worklist_of.get("")),
        }
        for key, value in defaults.items():
            if record.get(key) is None:
                record[key] = value
        return record, sha

    def splits(
        self, rows: list[Any], resource_ids: set[str], project: dict[str, Any]
    ) -> list[dict[str, Any]]:
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
