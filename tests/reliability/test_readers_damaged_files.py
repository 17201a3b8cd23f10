"""Damaged files are refused by name, at read time and at import time.

A demo MP4 with its first bytes zeroed still opens in FFmpeg and decodes into frames
shifted by one (119 of 120 for ``echo_a4c.mp4``); the container then reports a garbage
frame count. The video reader must refuse it, and ``datamint import`` must report every
file no reader can read, with a count, while importing the rest.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.exceptions import InvalidResourceError
from datamint.readers import FileHint, read_file, read_header
from datamint.server.store import ProjectStore

from .client_support import DEMO

pytestmark = pytest.mark.reliability

MP4 = FileHint("echo.mp4", "video/mp4", "VideoResource")


def _zero_header(source: Path, target: Path, count: int) -> Path:
    data = bytearray(source.read_bytes())
    data[:count] = bytes(count)
    target.write_bytes(bytes(data))
    return target


def test_intact_video_decodes_the_frames_its_container_reports() -> None:
    path = DEMO / "videos/echo_a4c.mp4"
    header = read_header(path, MP4)
    assert read_file(path, MP4).array.shape == header.shape == (3, 120, *header.shape[2:])


@pytest.mark.parametrize("zeroed", [32, 64])
def test_mp4_with_zeroed_header_bytes_is_refused_naming_the_file(
    tmp_path: Path, zeroed: int
) -> None:
    path = _zero_header(DEMO / "videos/echo_a4c.mp4", tmp_path / "data", zeroed)
    capture = cv2.VideoCapture(str(path))
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    capture.release()
    assert decoded in (119, 120)  # what FFmpeg makes of it, silently
    with pytest.raises(InvalidResourceError, match=rf"'{re.escape(str(path))}'.*frames"):
        read_file(path, MP4)
    with pytest.raises(InvalidResourceError, match=re.escape(str(path))):
        read_header(path, MP4)


def test_video_decoding_fewer_frames_than_its_container_says_is_refused(tmp_path: Path) -> None:
    """The last frame's bytes are cut off: the container still says 19."""
    source = DEMO / "videos/ct_lung2_slices.mp4"
    data = source.read_bytes()
    capture = cv2.VideoCapture(str(source))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 19
    capture.release()
    mdat = data.find(b"mdat")
    path = tmp_path / "clip.mp4"
    cut = bytearray(data)  # zero the second half of the media data: frames stop decoding
    middle = mdat + (len(data) - mdat) // 2
    cut[middle : len(data) - 2000] = bytes(len(data) - 2000 - middle)
    path.write_bytes(bytes(cut))
    with pytest.raises(InvalidResourceError, match=rf"'{re.escape(str(path))}': decoded \d+ fr"):
        read_file(path, MP4)


def _plain_folder(root: Path) -> Path:
    (root / "clips").mkdir(parents=True)
    shutil.copyfile(DEMO / "videos/ct_lung2_slices.mp4", root / "clips/good.mp4")
    _zero_header(DEMO / "videos/echo_a4c.mp4", root / "clips/damaged.mp4", 64)
    shutil.copyfile(DEMO / "volumes/breast1_mr.nii.gz", root / "scan.nii.gz")
    (root / "truncated.nii.gz").write_bytes((DEMO / "volumes/breast1_mr.nii.gz").read_bytes()[:40])
    shutil.copyfile(
        DEMO / "masks3d/breast1__lesion__alice.nii.gz", root / "scan__lesion__ann.nii.gz"
    )
    return root


def test_import_reports_each_unreadable_file_and_their_count(tmp_path: Path) -> None:
    folder = _plain_folder(tmp_path / "folder")
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["import", str(folder), "--store", str(store)])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.stderr.splitlines() if "cannot be read" in line]
    assert len(warned) == 2, result.stderr
    assert any(line.startswith("warning: clips/damaged.mp4: cannot be read") for line in warned)
    assert any(line.startswith("warning: truncated.nii.gz: cannot be read") for line in warned)
    assert "InvalidResourceError" in "".join(warned)
    assert "warning: 2 of 5 imported files could not be read" in result.stderr
    project_id = result.stdout.strip().splitlines()[-1]
    records = ProjectStore(store).resources.project_records(project_id)
    assert sorted(r["filename"] for r in records) == [
        "clips/damaged.mp4",
        "clips/good.mp4",
        "scan.nii.gz",
        "truncated.nii.gz",
    ]


def test_import_of_readable_files_reports_nothing(tmp_path: Path) -> None:
    folder = _plain_folder(tmp_path / "folder")
    (folder / "clips/damaged.mp4").unlink()
    (folder / "truncated.nii.gz").unlink()
    result = CliRunner().invoke(app, ["import", str(folder), "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "cannot be read" not in result.stderr and "could not be read" not in result.stderr


def test_manifest_import_reports_unreadable_files_too(tmp_path: Path) -> None:
    """A project.json import: a resource whose file was damaged after the manifest was
    written without checksums is imported and reported."""
    import json

    folder = tmp_path / "project"
    (folder / "clips").mkdir(parents=True)
    _zero_header(DEMO / "videos/echo_a4c.mp4", folder / "clips/echo.mp4", 64)
    manifest = {
        "format": "datamint-project-manifest",
        "format_version": 1,
        "project": {"name": "damaged", "created_by": "owner@example.org"},
        "resources": [{"filename": "clips/echo.mp4", "mimetype": "video/mp4"}],
    }
    (folder / "project.json").write_text(json.dumps(manifest))
    result = CliRunner().invoke(app, ["import", str(folder), "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "warning: clips/echo.mp4: InvalidResourceError" in result.stderr
    assert "warning: 1 of 1 imported files could not be read" in result.stderr
