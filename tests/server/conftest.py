"""Fixtures of the reference-server tests.

``scratch`` is a second server with its own store, which the tests may write to (splits,
users). It holds three projects:

- the demo project (member: ``member@example.org``);
- ``synthetic``: an archived project built here from real demo files under other names,
  with a 3-file DICOM series, a deleted annotation and imported split rows
  (member: ``member@example.org``);
- ``other``: a project the member is not in (member: ``outsider@example.org``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from datamint.demo import data_dir as demo_data_dir
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

MEMBER = "member@example.org"
OUTSIDER = "outsider@example.org"


def demo_manifest() -> dict[str, Any]:
    """The bundled demo project's manifest, parsed."""
    return json.loads((demo_data_dir() / "project.json").read_text(encoding="utf-8"))


def sha256_of(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass
class SyntheticProject:
    """A project folder written by :func:`write_synthetic_project` and its ids."""

    root: Path
    manifest: dict[str, Any]
    project_id: str
    image_id: str
    series_id: str
    mask_annotation_id: str
    label_annotation_id: str
    deleted_annotation_id: str
    worklist_id: str


def write_synthetic_project(
    root: Path, name: str, creator: str, *, archived: bool = False
) -> SyntheticProject:
    """Write a small project folder from real demo files renamed, and its project.json.

    Args:
        root: Folder to create.
        name: Project name.
        creator: Email of the project creator (becomes a member on import).
        archived: Value of the project's ``archived`` flag.

    Returns:
        The folder, its manifest and the ids in it.
    """
    demo = demo_manifest()
    source = demo_data_dir()
    png = next(r for r in demo["resources"] if r["mimetype"] == "image/png")
    series = next(r for r in demo["resources"] if len(r.get("files") or []) > 1)
    mask = next(
        a for a in demo["annotations"] if a["type"] == "segmentation" and a["file"].endswith(".png")
    )
    (root / "pictures").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "slices" / "part").mkdir(parents=True)
    shutil.copyfile(source / png["filename"], root / "pictures" / "photo.png")
    shutil.copyfile(source / mask["file"], root / "labels" / "photo_mask.png")
    files = []
    # three adjacent slices (a series with a gap is refused), in the manifest's order
    adjacent = sorted(series["files"], key=lambda f: f["image_position_patient"][2])[:3]
    for i, entry in enumerate(sorted(adjacent, key=series["files"].index)):
        rel = f"slices/part/slice_{2 - i}.dcm"  # listed in reverse name order on purpose
        shutil.copyfile(source / entry["path"], root / rel)
        files.append({"path": rel, "sha256": entry["sha256"], "size": entry["size"]})
    ids = {key: str(uuid.uuid4()) for key in ("project", "image", "series", "a1", "a2", "a3", "wl")}
    stamp = "2026-01-02T03:04:05Z"
    manifest: dict[str, Any] = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {
            "id": ids["project"],
            "name": name,
            "created_at": stamp,
            "created_by": creator,
            "archived": archived,
            "description": f"synthetic project {name}",
        },
        "annotators": [{"email": creator, "name": "Test Creator"}],
        "worklists": [
            {
                "id": ids["wl"],
                "name": f"{name}-worklist",
                "annotators": [{"email": creator, "status": "active"}],
                "resource_ids": [ids["image"], ids["series"]],
                "segmentation_group": {
                    "segmentation_value_type": "single_label",
                    "groups": {"thing": {"index": 1, "color": [1, 2, 3, 255]}},
                },
                "annotations": [
                    {
                        "type": "segmentation",
                        "scope": "image",
                        "identifier": "thing",
                        "required": False,
                    },
                    {"type": "label", "scope": "image", "identifier": "flag", "required": False},
                ],
            }
        ],
        "resources": [
            {
                "id": ids["image"],
                "filename": "pictures/photo.png",
                "mimetype": "image/png",
                "sha256": png["sha256"],
                "size": png["size"],
                "metadata": {"frame_count": 1},
                "tags": ["synthetic", "2d"],
                "custom_key": {"kept": True},
            },
            {
                "id": ids["series"],
                "filename": "slices/part/",
                "mimetype": "application/dicom",
                "modality": "CT",
                "files": files,
                "metadata": {"frame_count": 3},
                "tags": ["synthetic", "series"],
            },
        ],
        "annotations": [
            {
                "id": ids["a1"],
                "resource_id": ids["image"],
                "identifier": "thing",
                "type": "segmentation",
                "created_by": creator,
                "source": "manual",
                "file": "labels/photo_mask.png",
                "sha256": mask["sha256"],
            },
            {
                "id": ids["a2"],
                "resource_id": ids["image"],
                "identifier": "flag",
                "type": "label",
                "created_by": creator,
                "source": "manual",
            },
            {
                "id": ids["a3"],
                "resource_id": ids["image"],
                "identifier": "thing",
                "type": "segmentation",
                "created_by": creator,
                "source": "manual",
                "file": "labels/photo_mask.png",
                "deleted_at": "2026-01-03T00:00:00Z",
            },
        ],
        "splits": [
            {
                "resource_id": ids["image"],
                "split_name": "train",
                "created_at": "2026-01-02T00:00:00Z",
                "deleted_at": "2026-01-05T00:00:00.5Z",
                "deleted_by": creator,
            },
            {
                "resource_id": ids["image"],
                "split_name": "val",
                "created_at": "2026-01-05T00:00:00.5Z",
            },
        ],
    }
    (root / "project.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return SyntheticProject(
        root=root,
        manifest=manifest,
        project_id=ids["project"],
        image_id=ids["image"],
        series_id=ids["series"],
        mask_annotation_id=ids["a1"],
        label_annotation_id=ids["a2"],
        deleted_annotation_id=ids["a3"],
        worklist_id=ids["wl"],
    )


@dataclass
class Scratch:
    """The writable test server and what is in its store."""

    url: str
    store_dir: Path
    demo_project_id: str
    member_key: str
    outsider_key: str
    synthetic: SyntheticProject
    other: SyntheticProject

    def client(self, key: str | None = None, **headers: str) -> httpx.Client:
        """An httpx client on this server sending ``apikey: key`` (member's by default)."""
        sent = {"apikey": self.member_key if key is None else key, **headers}
        return httpx.Client(base_url=self.url, headers=sent, trust_env=False, timeout=30.0)


@pytest.fixture(scope="session")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scratch]:
    """A writable server over demo + synthetic + other projects (see the module docstring)."""
    base = tmp_path_factory.mktemp("scratch")
    store = ProjectStore(base / "store")
    demo_id = import_project(store, demo_data_dir(), members=[MEMBER])
    synthetic = write_synthetic_project(base / "synthetic", "synthetic", MEMBER, archived=True)
    other = write_synthetic_project(base / "other", "other", OUTSIDER)
    import_project(store, synthetic.root)
    import_project(store, other.root)
    member_key, outsider_key = store.create_user(MEMBER), store.create_user(OUTSIDER)
    with running_server(store.store_dir) as server:
        yield Scratch(
            url=server.url,
            store_dir=store.store_dir,
            demo_project_id=demo_id,
            member_key=member_key,
            outsider_key=outsider_key,
            synthetic=synthetic,
            other=other,
        )


@pytest.fixture
def member(scratch: Scratch) -> Iterator[httpx.Client]:
    """Client of the scratch server authenticated as the member."""
    with scratch.client() as client:
        yield client


@pytest.fixture
def demo_http(demo_server: Any) -> Iterator[httpx.Client]:
    """Client of the shared (read-only) demo server, authenticated with ``apikey``."""
    with httpx.Client(
        base_url=demo_server.url,
        headers={"apikey": demo_server.api_key},
        trust_env=False,
        timeout=30.0,
    ) as client:
        yield client


@pytest.fixture
def demo_resources(demo_http: httpx.Client, demo_server: Any) -> list[dict[str, Any]]:
    """The demo project's resources as served."""
    response = demo_http.get(f"/projects/{demo_server.project_id}/resources")
    assert response.status_code == 200
    return list(response.json())


MakeProject = Callable[..., SyntheticProject]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """Write a synthetic project folder under tmp_path (see write_synthetic_project)."""

    def make(name: str = "synthetic", creator: str = MEMBER, **kwargs: Any) -> SyntheticProject:
        return write_synthetic_project(tmp_path / name, name, creator, **kwargs)

    return make
