"""Import a project folder (``project.json``, format ``datamint-project-manifest`` v1).

The manifest is a contract, not a demo detail: any folder in that format imports, and
nothing here knows a file name. What an import does:

- ids are kept from the file (canonical lower-case UUIDs); an entry without an id gets a
  UUIDv5 derived from the project id and the entry's path, so re-imports find it again;
- every file path is relative to the folder and must stay inside it; each file is checked
  against its ``sha256`` (and ``size``) when the manifest records them;
- a resource whose ``files`` list has several entries (a DICOM series) is stored as ONE
  multi-frame DICOM, as the platform stores a series: frames ordered along the slice
  normal, per-frame positions (:mod:`datamint.server.series_dicom`); the same slices
  always give the same bytes and sha256. ``files`` stays in the record, as provenance;
- records keep every key of the manifest and gain the keys the wire requires
  ``size``/``sha256`` describe the bytes actually served;
  timestamps are normalised to ``YYYY-MM-DDTHH:MM:SS.ffffffZ``;
- a resource whose ``metadata`` lacks ``frame_count``, ``width`` or ``height`` gets them
  from its file's header; re-imported content that changed gets a new ``created_at``
  unchanged content keeps the stored one;
- every resource and segmentation file's header is read; files no reader can read are
  imported anyway and listed in the ``reads`` a caller passes (``datamint import``
  prints them);
- the project's creator, its annotators, its worklists' annotators and ``members`` become
  project members;
- everything is written in one transaction; importing twice leaves one copy.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datamint.server.errors import ManifestError
from datamint.server.import_common import ReadCheck, fill_metadata, keep_or_restamp
from datamint.server.maintenance import remove_unreferenced
from datamint.server.manifest_entries import ManifestEntries
from datamint.server.metadata import infer_mimetype, storage_for
from datamint.server.series_dicom import build_series_dicom
from datamint.server.store import ProjectBundle, ProjectStore
from datamint.server.store.annotations import blob_location
from datamint.server.timeutil import format_us, now_us

__all__ = ["MANIFEST_FORMAT", "MANIFEST_VERSION", "import_project"]

MANIFEST_FORMAT = "datamint-project-manifest"
MANIFEST_VERSION = 1
MANIFEST_NAME = "project.json"


def import_project(
    store: ProjectStore,
    project_dir: str | Path,
    *,
    members: Iterable[str] = (),
    reads: ReadCheck | None = None,
) -> str:
    """Load ``<project_dir>/project.json`` and its files into ``store``.

    Args:
        store: The target store.
        project_dir: Folder holding ``project.json``; manifest paths are relative to it.
        members: Extra emails to make project members (besides the creator and annotators).
        reads: Collects the headers read and the files that could not be read (they
            are imported anyway).

    Returns:
        The project id (as in the manifest).

    Raises:
        ManifestError: If the manifest is missing, not JSON, of another format or version,
            or has an invalid entry (bad id, missing key, path escaping the folder, unknown
            resource reference, a second project with the same name, a series that breaks
            a series rule or is not CT, MR or PET); names file and entry.
        ManifestIntegrityError: If a file does not match its recorded sha256 or size.
        ValidationError: If a ``members`` value is not an email address.

    A failed import removes the blobs it wrote (unless something references them now).
    """
    project_dir = Path(project_dir)
    manifest_path = project_dir / MANIFEST_NAME
    manifest = _load_manifest(manifest_path)
    ctx = _Context(store, project_dir, manifest_path)
    ctx.reads = reads if reads is not None else ReadCheck()
    with store.blobs.recording() as created:
        try:
            bundle = ctx.build(manifest)
            bundle.members.extend(members)
            other = store.project_id_by_name(bundle.project["name"])
            if other is not None and other != bundle.project["id"]:
                raise ManifestError(
                    f"{manifest_path}: project name {bundle.project['name']!r} is already "
                    f"used by project {other} in {store.store_dir}; rename one of them"
                )
            store.save_project(bundle)
        except BaseException:
            remove_unreferenced(store, created)  # nothing of a failed import stays
            raise
    return str(bundle.project["id"])


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


class _Context(ManifestEntries):
    """One import: builds the bundle from the manifest's entries."""

    reads: ReadCheck

    def build(self, manifest: dict[str, Any]) -> ProjectBundle:
        """Build the whole bundle of a manifest."""
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
        """Build the Project record."""
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
        self.stored = {
            r["id"]: r
            for r in self.store.resources.project_records(self.project_id, include_deleted=True)
        }
        return record

    def resource(
        self,
        item: Any,
        where: str,
        project: dict[str, Any],
        people: dict[str, dict[str, Any]],
    ) -> tuple[dict[str, Any], str]:
        """Build one Resource record and store its file."""
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
                sha, size = self.store.blobs.put_built(
                    lambda out: build_series_dicom(paths, out, what=filename)
                )
            except ValueError as exc:  # InvalidResourceError, UnsupportedFormatError
                raise self.fail(f"{where}.files", str(exc)) from None
        elif entries:
            sha, size = self.store_file(str(entries[0]["path"]), entries[0], f"{where}.files[0]")
            if record.get("sha256") is not None or record.get("size") is not None:
                self.verify(self.store.blob_path(sha), filename, record, where)
        else:
            rel = str(record["file"]) if isinstance(record.get("file"), str) else filename
            sha, size = self.store_file(rel, record, where)
        self.normalise_times(record, where)
        stored = self.stored.get(record["id"])
        if stored is not None:
            keep_or_restamp(record, stored, sha)
        mimetype = record.get("mimetype") or infer_mimetype(filename)
        created_by = record.get("created_by") or project.get("created_by")
        person = people.get(str(created_by), {})
        first, _, last = str(person.get("name") or str(created_by or "").split("@")[0]).partition(
            " "
        )
        status = record.get("status") or "published"
        defaults: dict[str, Any] = {
            "storage": storage_for(mimetype, filename),
            "location": blob_location(sha),
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
        fill_metadata(record, self.store.blob_path(sha))
        self.reads.check(self.store.blob_path(sha), filename, mimetype, record.get("storage"))
        return record, sha

    def annotation(
        self,
        item: Any,
        where: str,
        created_of: dict[str, str],
        worklist_of: dict[str, str],
    ) -> tuple[dict[str, Any], str | None]:
        """Build one Annotation record and store its file, if any."""
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
            if record.get("type") == "segmentation":
                self.reads.check(self.store.blob_path(sha), record["file"])
            record["sha256"] = sha
            record["size"] = size
            record["associated_file"] = blob_location(sha)
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
