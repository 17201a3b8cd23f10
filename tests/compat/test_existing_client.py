"""Differential test: the existing (proprietary) client and ours, on one server, agree.

The existing client (``datamint`` 2.45.0 from PyPI) lives in its own virtual environment,
built by ``scripts/existing-client-venv.sh`` under ``~/.cache/datamint-existing-client-venv``
(or ``$DATAMINT_EXISTING_CLIENT_VENV``) on first use, about 2 minutes; the test is skipped
with the script's last words when that fails (no access to PyPI). Its ``ImageDataset``,
``VolumeDataset`` and ``VideoDataset`` over the demo project are read by
``existing_client_items.py`` in a subprocess pointed at the reference server; ours over the
same server. For every resource of each of our classes: the same image shape and, per
annotator, the same number of mask voxels (summed over instances, and per frame of a
volume or video, so a reversed slice order shows), or a deliberate difference listed in
:data:`DELIBERATE` and described in ``docs/compatibility.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from datamint.dataset.image_dataset import ImageDataset
from datamint.dataset.video_dataset import VideoDataset
from datamint.dataset.volume_dataset import VolumeDataset
from datamint.demo import data_dir
from datamint.readers import read_file

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "scripts" / "existing-client-venv.sh"
HELPER = Path(__file__).with_name("existing_client_items.py")
VENV = Path(
    os.environ.get("DATAMINT_EXISTING_CLIENT_VENV")
    or Path.home() / ".cache" / "datamint-existing-client-venv"
)
BUILD_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 600
CLASSES = {"ImageDataset": ImageDataset, "VolumeDataset": VolumeDataset}
CLASSES["VideoDataset"] = VideoDataset


def _palette(ours: tuple[int, ...]) -> tuple[int, ...]:
    return (1, *ours[1:])  # the existing client keeps the palette indices, one channel


def _axial_first(ours: tuple[int, ...]) -> tuple[int, ...]:
    return (ours[0], ours[2], ours[1], ours[3])  # (C, D, H, W) -> (C, H, D, W)


#: filename -> (why, the existing client's shape given ours); see docs/compatibility.md.
DELIBERATE: dict[str, tuple[str, Callable[[tuple[int, ...]], tuple[int, ...]]]] = {
    "images2d/us_obstetric_palette.dcm": ("palette colour: we apply the palette", _palette),
    "images2d/us_pelvis_palette16.dcm": ("palette colour: we apply the palette", _palette),
    "volumes/itk_kmeanstest_t1.nii.gz": ("NIfTI axis order (LSA file)", _axial_first),
}


def _our_shape(item: dict[str, Any]) -> tuple[int, ...]:
    """The image shape of one of our items (``(C, H, W)`` or ``(C, D, H, W)``)."""
    return tuple(int(v) for v in np.asarray(item["image"]).shape)


def _our_counts(item: dict[str, Any]) -> dict[str, int]:
    """Non-zero mask voxels per annotator, summed over instances (default instance mode:
    ``item["masks"]`` is ``{author: uint8 (N_inst, ...)}``)."""
    masks = item.get("masks") or {}
    return {str(author): int(np.count_nonzero(np.asarray(m))) for author, m in masks.items()}


def _our_frame_counts(item: dict[str, Any]) -> dict[str, list[int]]:
    """Per annotator, non-zero mask voxels per index of the depth axis of ``(N_inst, D, H, W)``
    masks (volumes and videos; 2-D items give ``{}``): catches a reversed slice order."""
    masks = item.get("masks") or {}
    arrays = {str(author): np.asarray(m) for author, m in masks.items()}
    return {
        a: np.count_nonzero(m, axis=(0, 2, 3)).tolist() for a, m in arrays.items() if m.ndim == 4
    }


@pytest.fixture(scope="session")
def existing_client() -> Path:
    """The existing client's Python, building its virtual environment when needed."""
    python = VENV / "bin" / "python"
    started = time.monotonic()
    try:
        built = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(VENV)],
            cwd="/",
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"building the existing client's venv took over {BUILD_TIMEOUT_S} s")
    if built.returncode != 0 or not python.exists():
        tail = "\n".join((built.stdout + built.stderr).strip().splitlines()[-5:])
        pytest.skip(f"the existing client's venv could not be built in {VENV} (PyPI?): {tail}")
    sys.stderr.write(f"existing client venv ready in {time.monotonic() - started:.1f} s\n")
    return python


@pytest.fixture(scope="module")
def ours(demo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """Our items per class: ``[(resource id, filename, shape, counts, frame counts), ...]``."""
    cache = tmp_path_factory.mktemp("ours-cache")
    found: dict[str, list[Any]] = {}
    for name, cls in CLASSES.items():
        ds = cls(
            project="demo", server_url=demo_server.url, api_key=demo_server.api_key, cache_dir=cache
        )
        found[name] = []
        for index, resource in enumerate(ds.resources):
            item = ds[index]
            counts = (_our_counts(item), _our_frame_counts(item))
            found[name].append((resource.id, resource.filename, _our_shape(item), *counts))
    return found


@pytest.fixture(scope="module")
def theirs(
    existing_client: Path,
    ours: dict[str, list[Any]],
    demo_server: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The existing client's items per class, by resource id."""
    home = tmp_path_factory.mktemp("existing-client-home")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),  # its cache: ~/.datamint
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DATAMINT_API_URL": demo_server.url,
        "DATAMINT_API_KEY": demo_server.api_key,
    }
    request = {
        "project": "demo",
        "classes": {name: [rid for rid, *_ in items] for name, items in ours.items()},
    }
    started = time.monotonic()
    run = subprocess.run(
        [str(existing_client), "-I", str(HELPER)],  # -I: no PYTHONPATH, no script folder
        input=json.dumps(request),
        cwd=home,  # outside any checkout
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    sys.stderr.write(f"existing client read the demo items in {time.monotonic() - started:.1f} s\n")
    result = json.loads(run.stdout)
    assert result["version"] == "2.45.0"
    return {name: {item["id"]: item for item in items} for name, items in result["classes"].items()}


@pytest.mark.parametrize("name", list(CLASSES))
def test_items_agree_with_the_existing_client(
    name: str, ours: dict[str, list[Any]], theirs: dict[str, dict[str, dict[str, Any]]]
) -> None:
    assert ours[name], f"our {name} over the demo project is empty"
    differences = []
    for rid, filename, shape, counts, frame_counts in ours[name]:
        other = theirs[name][rid]
        if other["error"]:
            differences.append(f"{filename}: the existing client fails: {other['error']}")
            continue
        their_shape = tuple(other["shape"])
        expected = shape
        if filename in DELIBERATE:
            why, mapping = DELIBERATE[filename]
            expected = mapping(shape)
            assert their_shape != shape, f"{filename}: no longer differs ({why}); update docs"
        if their_shape != expected:
            differences.append(f"{filename}: image shape ours {shape}, theirs {their_shape}")
        if other["masks"] != counts:
            differences.append(f"{filename}: mask voxels ours {counts}, theirs {other['masks']}")
        elif filename not in DELIBERATE and other["frame_counts"] != frame_counts:
            differences.append(f"{filename}: mask voxels per frame differ (slice order?)")
    assert not differences, "\n".join(differences)


def test_series_merged_by_the_platforms_tool_reads_like_its_files(
    existing_client: Path, tmp_path: Path
) -> None:
    """A series as the platform stores it (merged by its upload tool, frames in Instance
    Number order, JPEG-LS) reads with our DICOM reader: each frame equals the series
    reader's slice at the same position, and the affines put them at the same place."""
    series = data_dir() / "series" / "ct_lung2"
    out = tmp_path / "platform.dcm"
    request = {
        "assemble": {"files": [str(p) for p in sorted(series.glob("*.dcm"))], "out": str(out)}
    }
    run = subprocess.run(
        [str(existing_client), "-I", str(HELPER)],
        input=json.dumps(request),
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    ours, volume = read_file(out), read_file(series)
    assert ours.reader == "dicom" and ours.array.shape == volume.array.shape
    assert ours.geometry is not None and volume.geometry is not None
    by_position = {
        round(float((volume.geometry.affine @ [k, 0, 0, 1])[2]), 3): k for k in range(20)
    }
    for n in range(ours.array.shape[1]):
        k = by_position[round(float((ours.geometry.affine @ [n, 0, 0, 1])[2]), 3)]
        assert np.array_equal(ours.array[:, n], volume.array[:, k])
        assert np.allclose(
            ours.geometry.affine @ [n, 5, 7, 1], volume.geometry.affine @ [k, 5, 7, 1]
        )
