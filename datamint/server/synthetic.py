"""Generated projects of any size, written straight into a store (tests, benchmarks).

:func:`generate_project` bulk-inserts N resources (small 2-D PNG images sharing one blob)
and K annotations per resource (one segmentation with a mask file, then labels) in one
transaction, with ``executemany``: 100 000 resources and 500 000 annotations take
seconds, where the HTTP write routes would take minutes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import cv2
import numpy as np

from datamint.server.store import ProjectStore
from datamint.server.store.annotations import INSERT_SQL as ANNOTATION_SQL
from datamint.server.store.annotations import AnnotationsRepo, blob_location
from datamint.server.store.projects import ProjectsRepo
from datamint.server.store.resources import INSERT_SQL as RESOURCE_SQL
from datamint.server.store.resources import ResourcesRepo
from datamint.server.store.users import UsersRepo
from datamint.server.store.worklists import WorklistsRepo
from datamint.server.timeutil import format_us

__all__ = ["SyntheticProject", "generate_project"]

_NAMESPACE = uuid.UUID("3b1d7c52-95f0-5a8e-8d0c-2c5f6a7e9b11")
_EPOCH_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


@dataclass
class SyntheticProject:
    """What :func:`generate_project` wrote.

    Attributes:
        project_id: The project's id.
        resource_ids: Its resources' ids, in listing order.
        worklist_id: Its worklist's id.
        image_sha256: The blob every resource serves.
    """

    project_id: str
    resource_ids: list[str]
    worklist_id: str
    image_sha256: str


def _png(value: int, size: int) -> bytes:
    ok, data = cv2.imencode(".png", np.full((size, size), value, dtype=np.uint8))
    assert ok, "PNG encoding of a uint8 image cannot fail"
    return data.tobytes()


def generate_project(
    store: ProjectStore,
    name: str,
    *,
    resources: int,
    annotations_per_resource: int = 0,
    members: tuple[str, ...] = (),
    image_size: int = 16,
) -> SyntheticProject:
    """Write a project of ``resources`` images and their annotations in one transaction.

    Ids are UUIDv5 of the name and the index, so the same call gives the same ids.
    Resource ``i`` is ``img/{i:07d}.png``, created one second after resource ``i - 1``.

    Args:
        store: The target store (the project name must be new).
        name: Project name.
        resources: Number of resources.
        annotations_per_resource: Annotations per resource: the first a segmentation
            ``lesion`` with a mask file, the others labels ``label{k}``.
        members: Emails made project members (the first is the creator).
        image_size: Width and height of the shared PNG, in pixels.

    Returns:
        The ids written.

    Raises:
        EntityAlreadyExistsError: If a project already has this name.
    """
    image_sha, image_size_bytes = store.blobs.put_bytes(_png(128, image_size))
    mask_sha, mask_bytes = store.blobs.put_bytes(_png(255, image_size))
    creator = members[0] if members else "generator@example.org"
    pid = str(uuid.uuid5(_NAMESPACE, f"{name}/project"))
    wid = str(uuid.uuid5(_NAMESPACE, f"{name}/worklist"))
    project = {
        "id": pid,
        "name": name,
        "description": f"generated: {resources} resources",
        "created_at": format_us(_EPOCH_US),
        "created_by": creator,
        "dataset_id": str(uuid.uuid5(_NAMESPACE, f"{name}/dataset")),
        "archived": False,
        "worklist_id": wid,
    }
    ids = [str(uuid.uuid5(_NAMESPACE, f"{name}/resource/{i}")) for i in range(resources)]
    resource_rows, annotation_rows = [], []
    for i, rid in enumerate(ids):
        stamp = format_us(_EPOCH_US + i * 1_000_000)
        record = {
            "id": rid,
            "resource_uri": f"/resources/{rid}/file",
            "storage": "ImageResource",
            "location": blob_location(image_sha),
            "upload_channel": "generated",
            "filename": f"img/{i:07d}.png",
            "mimetype": "image/png",
            "modality": "CT",
            "status": "published",
            "published": True,
            "deleted": False,
            "deleted_at": None,
            "deleted_by": None,
            "created_at": stamp,
            "created_by": creator,
            "customer_id": "local",
            "patient_id": f"P{i % 1000:04d}",
            "tags": ["generated"],
            "metadata": {"frame_count": 1, "width": image_size, "height": image_size},
            "size": image_size_bytes,
            "sha256": image_sha,
            "user_info": {"firstname": creator.split("@")[0], "lastname": ""},
        }
        resource_rows.append(ResourcesRepo.row_values(record, image_sha))
        for k in range(annotations_per_resource):
            segmentation = k == 0
            annotation = {
                "id": str(uuid.uuid5(_NAMESPACE, f"{name}/annotation/{i}/{k}")),
                "resource_id": rid,
                "identifier": "lesion" if segmentation else f"label{k}",
                "type": "segmentation" if segmentation else "label",
                "scope": "image",
                "frame_index": None,
                "value": None,
                "created_by": creator,
                "created_by_model": None,
                "created_at": stamp,
                "deleted_at": None,
                "associated_file": blob_location(mask_sha) if segmentation else None,
                "file": "mask.png" if segmentation else None,
                "source": "imported",
                "status": "published",
                "annotation_worklist_id": wid,
                **({"sha256": mask_sha, "size": mask_bytes} if segmentation else {}),
            }
            annotation_rows.append(
                AnnotationsRepo.row_values(annotation, mask_sha if segmentation else None)
            )
    labels = [f"label{k}" for k in range(1, annotations_per_resource)]
    worklist = {
        "id": wid,
        "name": name,
        "project_id": pid,
        "status": "open",
        "created_by": creator,
        "created_at": project["created_at"],
        "annotators": [{"email": m, "status": "active"} for m in members],
        "annotations": [
            {"type": "segmentation", "scope": "image", "identifier": "lesion", "required": False},
            *(
                {"type": "label", "scope": "image", "identifier": n, "required": False}
                for n in labels
            ),
        ],
        "resource_ids": [],
    }
    groups = {"lesion": {"index": 1, "color": [230, 25, 75, 255]}}
    with store.db.write() as conn:
        ProjectsRepo.upsert(conn, project)
        conn.executemany(RESOURCE_SQL, resource_rows)
        conn.executemany(
            "INSERT INTO resource_tags (resource_id, tag) VALUES (?, 'generated')",
            [(rid,) for rid in ids],
        )
        conn.executemany(
            "INSERT INTO project_resources (project_id, resource_id, position) VALUES (?, ?, ?)",
            [(pid, rid, i) for i, rid in enumerate(ids)],
        )
        conn.executemany(ANNOTATION_SQL, annotation_rows)
        WorklistsRepo.upsert(conn, pid, worklist, groups, 0)
        UsersRepo.insert_members(conn, pid, [m.strip().lower() for m in members])
    return SyntheticProject(pid, ids, wid, image_sha)
