"""A DICOM series merged into one multi-frame file reads like the series it came from.

Two layouts: ours (the reference server's Legacy Converted Enhanced CT, frames ascending
along the normal, rescale in the functional groups and at the top level) and the
platform's (frames in (0020,0013) Instance Number order, which for the demo series is
descending; rescale only at the top level, as its merge keeps the first slice's elements).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.sequence import Sequence

from datamint.geometry import NAxis
from datamint.readers import read_file, read_header
from datamint.server.series_dicom import build_series_dicom

from .demo_files import DEMO

SERIES = DEMO / "series/ct_lung2"


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("merged") / "ct_lung2.dcm"
    with open(path, "wb") as fh:
        build_series_dicom([(p.name, p) for p in sorted(SERIES.glob("*.dcm"))], fh, what="x")
    return path


def _world(affine: np.ndarray, n: int) -> np.ndarray:
    """RAS position (mm) of voxel (n, 0, 0)."""
    return (affine @ [n, 0, 0, 1])[:3]


def test_merged_series_reads_like_its_files(merged: Path) -> None:
    series, single = read_file(SERIES), read_file(merged)
    assert single.reader == "dicom" and single.array.dtype == np.int16  # HU, as the series
    assert np.array_equal(single.array, series.array)
    assert single.geometry is not None and series.geometry is not None
    assert single.geometry.n_axis is NAxis.SPACE
    assert single.geometry.spacing_mm == pytest.approx(series.geometry.spacing_mm)
    np.testing.assert_allclose(single.geometry.affine, series.geometry.affine, atol=1e-6)
    assert read_header(merged).geometry == single.geometry
    groups = pydicom.dcmread(merged, stop_before_pixels=True).PerFrameFunctionalGroupsSequence
    for n, group in enumerate(groups):  # each frame where its file was (z: LPS = RAS)
        z = float(group.PlanePositionSequence[0].ImagePositionPatient[2])
        assert _world(single.geometry.affine, n)[2] == pytest.approx(z)


def test_platform_layout_reads_in_its_own_frame_order(merged: Path, tmp_path: Path) -> None:
    ds = pydicom.dcmread(merged)
    frames = ds.pixel_array[::-1].copy()  # the demo's Instance Numbers run superior -> inferior
    ds.PerFrameFunctionalGroupsSequence = Sequence(list(ds.PerFrameFunctionalGroupsSequence)[::-1])
    del ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence
    ds.PixelData = frames.tobytes()
    out = io.BytesIO()
    ds.save_as(out)
    path = tmp_path / "platform.dcm"
    path.write_bytes(out.getvalue())
    series, platform = read_file(SERIES), read_file(path)
    assert np.array_equal(platform.array, series.array[:, ::-1])  # top-level rescale: HU
    assert platform.geometry is not None and series.geometry is not None
    assert platform.geometry.n_axis is NAxis.SPACE
    for n in range(20):  # frame n of the file is slice 19 - n of the volume, same place
        np.testing.assert_allclose(
            _world(platform.geometry.affine, n), _world(series.geometry.affine, 19 - n), atol=1e-6
        )
