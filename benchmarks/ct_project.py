"""A generated CT project for benchmarks: anatomy-like int16 volumes as NIfTI, served locally.

Each volume is ``(D, 512, 512)`` int16 Hounsfield units: air (-1000) outside a body
ellipse (soft tissue ~40 HU), two lungs (~-850 HU) whose size varies along z, a spine
and a ring of ribs (~700 HU), smooth low-frequency noise plus mild white noise. It
compresses like real CT (lots of constant air, smooth tissue), unlike pure noise.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import nibabel as nib
import numpy as np

from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server

EMAIL = "bench@lab.org"


def ct_volume(depth: int, size: int = 512, seed: int = 0) -> np.ndarray:
    """One synthetic CT volume, ``(depth, size, size)`` int16 in HU."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    body = (xx / 0.42) ** 2 + (yy / 0.32) ** 2 < 1
    spine = (xx**2 + (yy - 0.18) ** 2) < 0.04**2
    ring = np.abs(np.sqrt((xx / 0.38) ** 2 + (yy / 0.28) ** 2) - 1) < 0.03
    ribs = ring & (np.sin(np.arctan2(yy, xx) * 14) > 0.3)
    coarse = rng.normal(0, 25, size=(depth // 8 + 2, 32, 32)).astype(np.float32)
    out = np.empty((depth, size, size), np.int16)
    for z in range(depth):
        t = z / max(depth - 1, 1)
        lung_r = 0.12 + 0.06 * np.sin(np.pi * t)
        lungs = (((xx - 0.17) / lung_r) ** 2 + (yy / (lung_r * 1.4)) ** 2 < 1) | (
            ((xx + 0.17) / lung_r) ** 2 + (yy / (lung_r * 1.4)) ** 2 < 1
        )
        smooth = cv2.resize(coarse[z // 8], (size, size), interpolation=cv2.INTER_CUBIC)
        hu = np.full((size, size), -1000.0, np.float32)
        hu[body] = 40.0 + smooth[body]
        hu[lungs & body] = -850.0 + smooth[lungs & body] * 0.5
        hu[(spine | ribs) & body] = 700.0 + smooth[(spine | ribs) & body] * 2
        hu[body] += rng.normal(0, 15, size=int(body.sum())).astype(np.float32)
        out[z] = np.clip(hu, -1024, 3000).astype(np.int16)
    return out


def write_ct_project(
    root: Path, n_volumes: int, depths: tuple[int, int] = (100, 140), size: int = 512
) -> list[np.ndarray]:
    """Write ``n_volumes`` CT volumes as ``ct/vol_XX.nii.gz`` plus ``project.json`` under ``root``.

    Each volume is ``(D, size, size)`` with ``D`` drawn from ``depths`` (inclusive).

    Returns:
        The volumes as ``(D, H, W)`` int16, in resource order.
    """
    rng = np.random.default_rng(1)
    resources, volumes = [], []
    (root / "ct").mkdir(parents=True, exist_ok=True)
    for i in range(n_volumes):
        depth = int(rng.integers(depths[0], depths[1] + 1))
        vol = ct_volume(depth, size=size, seed=i)
        rel = f"ct/vol_{i:02d}.nii.gz"
        nib.save(
            nib.Nifti1Image(
                np.ascontiguousarray(vol.transpose(2, 1, 0)), np.diag([0.7, 0.7, 1.5, 1.0])
            ),
            str(root / rel),
        )
        data = (root / rel).read_bytes()
        resources.append(
            {
                "id": str(uuid.uuid4()),
                "filename": rel,
                "mimetype": "application/x-nifti",
                "patient_id": f"P{i:03d}",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "metadata": {"frame_count": depth, "width": size, "height": size},
            }
        )
        volumes.append(vol)
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {
            "id": str(uuid.uuid4()),
            "name": "bench-ct",
            "created_by": EMAIL,
            "description": None,
        },
        "annotators": [{"email": EMAIL}],
        "worklists": [
            {
                "id": str(uuid.uuid4()),
                "name": "bench",
                "annotators": [{"email": EMAIL, "status": "active"}],
                "resource_ids": [r["id"] for r in resources],
                "annotations": [],
            }
        ],
        "resources": resources,
        "annotations": [],
        "splits": [],
    }
    (root / "project.json").write_text(json.dumps(manifest, indent=1))
    return volumes


@contextmanager
def serve_ct_project(
    tmp: Path, n_volumes: int, depths: tuple[int, int] = (100, 140), size: int = 512
) -> Iterator[tuple[str, str, list[np.ndarray]]]:
    """Generate, import and serve the CT project (``write_ct_project``'s ``depths`` and
    ``size``); yields ``(server_url, api_key, volumes)``."""
    volumes = write_ct_project(tmp / "project", n_volumes, depths, size)
    store = ProjectStore(tmp / "store")
    import_project(store, tmp / "project", members=[EMAIL])
    key = store.create_user(EMAIL)
    with running_server(tmp / "store") as server:
        yield server.url, key, volumes
