"""Building a sliced view over 1 000 volumes reads sizes, never pixels.

A project of 1 000 small NIfTI volumes of different shapes is imported into a fresh store
and served. The server fills each resource's ``frame_count`` / ``width`` / ``height`` at
import; for a few resources they are then removed, so those sizes must come from the file
header. While the views are built, every pixel decoder is a tripwire.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

import datamint.dataset.loading as loading
from datamint.dataset import VolumeDataset
from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

N_VOLUMES = 1000
NO_METADATA = 5  # resources whose size fields are removed after import


def _tripwire(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("building a sliced view decoded pixel data")


def _write_project(root: Path) -> list[tuple[int, int, int]]:
    """Write the volumes and project.json; return each ``(D, H, W)`` (NIfTI ``(z, y, x)``)."""
    rng = np.random.default_rng(0)
    resources, shapes = [], []
    for i in range(N_VOLUMES):
        x, y, z = (int(v) for v in rng.integers((3, 2, 1), (9, 7, 12)))
        rel = f"ct/v{i:04d}.nii.gz"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = rng.integers(-1000, 1000, (x, y, z)).astype(np.int16)
        nib.save(nib.Nifti1Image(data, np.diag([0.7, 0.7, 2.0, 1.0])), str(path))
        blob = path.read_bytes()
        resources.append(
            {
                "id": str(uuid.uuid4()),
                "filename": rel,
                "mimetype": "application/x-nifti",
                "sha256": hashlib.sha256(blob).hexdigest(),
                "size": len(blob),
            }
        )
        shapes.append((z, y, x))
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {"id": str(uuid.uuid4()), "name": "many-volumes", "created_by": "owner@lab.org"},
        "annotators": [],
        "worklists": [],
        "resources": resources,
        "annotations": [],
        "splits": [],
    }
    (root / "project.json").write_text(json.dumps(manifest))
    return shapes


@pytest.fixture(scope="module")
def many_volumes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("many-volumes")
    shapes = _write_project(root)
    store_dir = tmp_path_factory.mktemp("many-volumes-store")
    store = ProjectStore(store_dir)
    import_project(store, root, members=["owner@lab.org"])
    ids = [r["id"] for r in json.loads((root / "project.json").read_text())["resources"]]

    def strip(record: dict[str, Any]) -> bool:
        record["metadata"] = {}
        return True

    store.resources.modify(ids[:NO_METADATA], strip)
    key = store.create_user("owner@lab.org")
    with running_server(store_dir) as server:
        yield {
            "server_url": server.url,
            "api_key": key,
            "shapes": shapes,
            "stripped": set(ids[:NO_METADATA]),
        }


@pytest.mark.parametrize(("axis", "dim"), [("axial", 0), ("coronal", 1), ("sagittal", 2)])
def test_slicing_a_thousand_volumes_decodes_no_pixels(
    many_volumes, tmp_path, monkeypatch, axis, dim
):
    for owner, name in [
        (loading, "read_file"),
        (nib.arrayproxy.ArrayProxy, "__array__"),
        (nib.arrayproxy.ArrayProxy, "__getitem__"),
    ]:
        monkeypatch.setattr(owner, name, _tripwire)
    shapes = many_volumes["shapes"]
    kwargs = {k: many_volumes[k] for k in ("server_url", "api_key")}
    view = VolumeDataset(project="many-volumes", cache_dir=tmp_path, **kwargs).slice(axis)

    assert len(view) == sum(shape[dim] for shape in shapes)
    by_name = {r.filename: shapes[int(r.filename[4:8])] for r in view.resources}
    last = len(view) - 1
    ri, k = view.locate(last)
    assert ri == len(view.resources) - 1 and k == by_name[view.resources[ri].filename][dim] - 1
    assert (
        isinstance(view.item_index.offsets, np.ndarray)
        and view.item_index.offsets.dtype == np.int64
    )
    # only the resources without size metadata were downloaded, for their headers
    downloaded = {p.parent.parent.name for p in tmp_path.glob("files/resources/*/*/data")}
    assert downloaded == many_volumes["stripped"]


def test_sliced_items_agree_with_the_sizes(many_volumes, tmp_path):
    """The sizes the view was built from are the decoded volumes' (with and without metadata)."""
    shapes = many_volumes["shapes"]
    kwargs = {k: many_volumes[k] for k in ("server_url", "api_key")}
    view = VolumeDataset(project="many-volumes", cache_dir=tmp_path, **kwargs).slice("sagittal")
    picked = [r for r in view.resources if int(r.filename[4:8]) < NO_METADATA + 2]
    assert len(picked) == NO_METADATA + 2
    for resource in picked:
        d, h, w = shapes[int(resource.filename[4:8])]
        ri = view.resources.index(resource)
        first = int(view.item_index.offsets[ri])
        assert view[first]["image"].shape == (1, d, h)
        assert view[first + w - 1]["image"].shape == (1, d, h)
        assert view.locate(first + w - 1) == (ri, w - 1)
        assert int(view.item_index.offsets[ri + 1]) == first + w
