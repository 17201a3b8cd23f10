"""Import a plain folder of images, volumes and videos, with masks found by their names.

Naming convention (also printed by ``datamint import --help``):

- **media**: every ``.dcm``/``.dicom``, ``.nii``/``.nii.gz``, ``.mp4``/``.avi``/``.mov``/
  ``.mkv``/``.webm``, ``.png``/``.jpg``/``.jpeg`` file whose name is not a mask name. Its
  *stem* is the name without the extension (``scan1.nii.gz`` -> ``scan1``). Single-frame
  DICOM files of one folder that share a SeriesInstanceUID form ONE series resource,
  stored as one multi-frame DICOM (CT, MR and PET only; :mod:`~datamint.server.series_dicom`),
  whose stem is the folder's name.
- **image masks**: ``<stem>__<label>__<annotator>.<ext>`` anywhere in the tree, e.g.
  ``scan1__tumour__alice.nii.gz``: a segmentation of the media file with that stem
  (the one in the same folder when several share the stem).
- **frame masks**: ``f<frame>__<label>__<annotator>.png`` inside a folder named after the
  media stem, e.g. ``echo/f012__valve__bob.png``: frame 12 of ``echo.mp4``.
- the annotator becomes ``<annotator>@<annotator_domain>`` unless it contains ``@``.

Ids are UUIDv5 of the project name and the relative path (masks: and their content's
sha256), so an import is idempotent, and an edited mask is a NEW annotation while the old
one is soft-deleted. A media file whose content changed keeps its id and
gets new ``sha256``/``size``/``created_at``. Files gone from the folder are soft-deleted.
Metadata comes from each file's header. Every media and mask file's header is read; a
file no reader can read is imported anyway and reported (``FolderReport.reads`` and a
line in ``warnings``). One worklist holds every label as a segmentation class (indices of
earlier imports are kept). Everything is written in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from datamint.server.blobs import hash_file
from datamint.server.errors import ManifestError
from datamint.server.folder_scan import FolderScan, Media, require_inside
from datamint.server.import_common import ReadCheck, derive_id, fill_metadata, keep_or_restamp
from datamint.server.maintenance import remove_unreferenced
from datamint.server.metadata import infer_mimetype, storage_for
from datamint.server.series_dicom import build_series_dicom
from datamint.server.store import ProjectBundle, ProjectStore
from datamint.server.store.annotations import blob_location
from datamint.server.timeutil import format_us, now_us
from datamint.server.worklist_specs import PALETTE

__all__ = ["FolderReport", "import_folder"]

_ORIGIN = "folder"


@dataclass
class FolderReport:
    """What a folder import did.

    Attributes:
        project_id: The project's id.
        resources: Resources imported.
        annotations: Segmentations imported.
        warnings: Masks that matched no media file, other skipped files, and files that
            could not be read.
        reads: The headers read, and the files that could not be read.
    """

    project_id: str
    resources: int = 0
    annotations: int = 0
    warnings: list[str] = field(default_factory=list)
    reads: ReadCheck = field(default_factory=ReadCheck)

    def unreadable(self, path: Path, rel: str, mimetype: str | None, storage: str | None) -> None:
        """Read one imported file's header; add a warning when it cannot be read."""
        problem = self.reads.check(path, rel, mimetype, storage)
        if problem is not None:
            self.warnings.append(f"{rel}: cannot be read ({problem}); imported anyway")


class _FolderImport:
    def __init__(
        self, store: ProjectStore, root: Path, name: str, creator: str | None, domain: str
    ):
        self.store, self.root, self.name, self.creator, self.domain = (
            store,
            root,
            name,
            creator,
            domain,
        )
        self.project_id = derive_id(_ORIGIN, name, "project")
        self.report = FolderReport(self.project_id)
        self.now = format_us(now_us())

    def email(self, annotator: str) -> str:
        """Return the email of an annotator named in a mask file name."""
        return annotator.lower() if "@" in annotator else f"{annotator.lower()}@{self.domain}"

    def resource(
        self, media: Media, stored: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], str]:
        """Store one media file (or series, merged) and build its Resource record."""
        rid = derive_id(_ORIGIN, self.name, media.rel)
        for _, path in media.files:  # again at read time: the folder may have changed
            require_inside(self.root, path)
        if len(media.files) > 1:
            what = str(self.root / media.rel)
            try:
                sha, size = self.store.blobs.put_built(
                    lambda out: build_series_dicom(media.files, out, what=what)
                )
            except ValueError as exc:  # InvalidResourceError, UnsupportedFormatError
                raise ManifestError(str(exc)) from None
        else:
            sha, size = self.store.blobs.put_file(media.files[0][1])
        mimetype = infer_mimetype(media.rel)
        record: dict[str, Any] = {
            "id": rid,
            "resource_uri": f"/resources/{rid}/file",
            "filename": media.rel,
            "mimetype": mimetype,
            "storage": storage_for(mimetype, media.rel),
            "location": blob_location(sha),
            "upload_channel": "datamint-import",
            "customer_id": "local",
            "status": "published",
            "published": True,
            "deleted": False,
            "deleted_at": None,
            "deleted_by": None,
            "created_by": self.creator,
            "tags": [],
            "metadata": {},
            "size": size,
            "sha256": sha,
            "import_origin": _ORIGIN,
            "user_info": {"firstname": str(self.creator or "").split("@")[0], "lastname": ""},
        }
        if len(media.files) > 1:
            record["files"] = [
                {"path": rel, "sha256": hash_file(path)[0]} for rel, path in media.files
            ]
        keep_or_restamp(record, stored.get(rid), sha)
        fill_metadata(record, self.store.blob_path(sha))
        self.report.unreadable(
            self.store.blob_path(sha), media.rel, record["mimetype"], record["storage"]
        )
        return record, sha

    def mask(
        self,
        rel: str,
        resource: dict[str, Any],
        label: str,
        annotator: str,
        frame: int | None,
        worklist_id: str,
        stored: dict[str, dict[str, Any]],
    ) -> tuple[dict[str, Any], str]:
        """Store one mask file and build its segmentation record (id from path and content)."""
        sha, size = self.store.blobs.put_file(require_inside(self.root, self.root / rel))
        self.report.unreadable(self.store.blob_path(sha), rel, None, None)
        aid = derive_id(_ORIGIN, self.name, rel, sha)
        previous = stored.get(aid)
        return {
            "id": aid,
            "resource_id": resource["id"],
            "identifier": label,
            "type": "segmentation",
            "scope": "image" if frame is None else "frame",
            "frame_index": frame,
            "value": None,
            "created_by": self.email(annotator),
            "created_by_model": None,
            "created_at": (previous or {}).get("created_at") or self.now,
            "deleted_at": None,
            "source": "imported",
            "status": "published",
            "annotation_worklist_id": worklist_id,
            "file": rel,
            "associated_file": blob_location(sha),
            "sha256": sha,
            "size": size,
            "import_origin": _ORIGIN,
        }, sha

    def build(self, scan: FolderScan, members: list[str]) -> ProjectBundle:
        """Build the bundle: resources, masks, worklist, project and what to retire."""
        store = self.store
        existing = store.projects.get(self.project_id)
        other = store.projects.id_by_name(self.name)
        if other is not None and other != self.project_id:
            raise ManifestError(
                f"{self.root}: project name {self.name!r} is already used by project {other} "
                f"(not a folder import) in {store.store_dir}; choose another --name"
            )
        stored_resources = {
            r["id"]: r
            for r in store.resources.project_records(self.project_id, include_deleted=True)
        }
        stored_annotations = {a["id"]: a for a in store.annotations.on_resources(stored_resources)}
        worklist_id = derive_id(_ORIGIN, self.name, "worklist")
        resources: dict[str, tuple[dict[str, Any], str]] = {}
        by_rel: dict[str, dict[str, Any]] = {}
        for media in scan.media:
            record, sha = self.resource(media, stored_resources)
            resources[record["id"]] = (record, sha)
            by_rel[media.rel] = record
        annotations: list[tuple[dict[str, Any], str | None]] = []
        items = [
            (rel, stem, label, who, None, PurePosixPath(rel).parent.as_posix())
            for rel, stem, label, who in scan.image_masks
        ]
        items += [
            (rel, stem, label, who, frame, PurePosixPath(rel).parent.parent.as_posix())
            for rel, stem, frame, label, who in scan.frame_masks
        ]
        for rel, stem, label, who, frame, near in items:
            media = scan.find(stem, near)
            if media is None:
                self.report.warnings.append(
                    f"{rel}: no single media file with stem {stem!r}; skipped"
                )
                continue
            annotations.append(
                self.mask(
                    rel, by_rel[media.rel], label, who, frame, worklist_id, stored_annotations
                )
            )
        worklist = self.worklist(worklist_id, annotations, members, list(resources))
        project = {
            "id": self.project_id,
            "name": self.name,
            "description": (existing or {}).get("description")
            or f"imported from folder {self.root.name}",
            "created_at": (existing or {}).get("created_at") or self.now,
            "created_by": self.creator,
            "dataset_id": derive_id(_ORIGIN, self.name, "dataset"),
            "archived": False,
            "worklist_id": worklist_id,
            "import_origin": _ORIGIN,
        }
        kept = {record["id"] for record, _ in annotations}
        self.report.resources, self.report.annotations = len(resources), len(annotations)
        return ProjectBundle(
            project=project,
            resources=list(resources.values()),
            annotations=annotations,
            worklists=[worklist],
            members=members,
            retire_resources=[
                rid
                for rid, r in stored_resources.items()
                if rid not in resources and r.get("import_origin") == _ORIGIN
            ],
            retire_annotations=[
                aid
                for aid, a in stored_annotations.items()
                if aid not in kept and a.get("import_origin") == _ORIGIN
            ],
        )

    def worklist(
        self,
        worklist_id: str,
        annotations: list[tuple[dict[str, Any], str | None]],
        members: list[str],
        resource_ids: list[str],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Build the worklist: every label a segmentation class, earlier indices kept."""
        found = self.store.worklists.get(worklist_id)
        groups: dict[str, Any] = dict(found[1] or {}) if found else {}
        specs: dict[tuple[str, str], dict[str, Any]] = {}
        for record, _ in annotations:
            label = record["identifier"]
            if label not in groups:
                index = max((g["index"] for g in groups.values()), default=0) + 1
                groups[label] = {"index": index, "color": list(PALETTE[(index - 1) % len(PALETTE)])}
            specs.setdefault(
                (record["scope"], label),
                {
                    "type": "segmentation",
                    "scope": record["scope"],
                    "identifier": label,
                    "required": False,
                },
            )
        record = {
            "id": worklist_id,
            "name": self.name,
            "project_id": self.project_id,
            "status": "open",
            "created_by": self.creator,
            "created_at": (found[0].get("created_at") if found else None) or self.now,
            "annotators": [{"email": m, "status": "active"} for m in members],
            "annotations": list(specs.values()),
            "resource_ids": resource_ids,
            "segmentation_group": {"segmentation_value_type": "single_label", "groups": groups},
        }
        return record, groups


def import_folder(
    store: ProjectStore,
    folder: str | Path,
    *,
    name: str | None = None,
    members: list[str] | tuple[str, ...] = (),
    annotator_domain: str = "example.org",
) -> FolderReport:
    """Import a plain folder of media files and masks (naming: module docstring).

    Args:
        store: The target store.
        folder: The folder to import.
        name: Project name; the folder's name by default.
        members: Emails made project members; the first is the project's creator.
        annotator_domain: Domain of the emails made from annotator names.

    Returns:
        What was imported, with warnings for masks that matched no media file.

    Raises:
        ManifestError: If the folder holds no media file, a symbolic link in it leads
            outside it, the project name is taken by a project that was not imported from
            a folder, or a series cannot be merged into one multi-frame DICOM (a series
            rule broken, or not CT, MR or PET). A failed import leaves no blob behind.
        ValidationError: If a member email is invalid.
    """
    root = Path(folder).resolve()
    scan = FolderScan(root)
    if not scan.media:
        raise ManifestError(f"{root}: no DICOM, NIfTI, video, PNG or JPEG file found")
    job = _FolderImport(
        store, root, name or root.name, members[0] if members else None, annotator_domain
    )
    annotators = {job.email(who) for *_, who in scan.image_masks} | {
        job.email(who) for *_, who in scan.frame_masks
    }
    everyone = list(dict.fromkeys([*[m.strip().lower() for m in members], *sorted(annotators)]))
    with store.blobs.recording() as created:
        try:
            store.save_project(job.build(scan, everyone))
        except BaseException:
            remove_unreferenced(store, created)  # nothing of a failed import stays
            raise
    return job.report
