"""Every demo resource decodes to its pinned reference and to its project.json metadata."""

from __future__ import annotations

import numpy as np
import pytest

from datamint.readers import read_header

from .demo_files import DEMO, cached_read, resources
from .reference import REFERENCE

RESOURCES = {r["filename"]: r for r in resources()}


def test_reference_covers_every_resource() -> None:
    assert set(REFERENCE) == set(RESOURCES)


@pytest.mark.parametrize("relative", sorted(REFERENCE))
def test_pinned_values(relative: str) -> None:
    expected = REFERENCE[relative]
    result = cached_read(relative)
    array = result.array
    assert result.reader == expected["reader"]
    assert array.shape == expected["shape"]
    assert array.dtype == np.dtype(expected["dtype"])
    assert array.flags.c_contiguous
    lossy = expected.get("lossy", False)
    total = array.sum(dtype=np.float64)
    if lossy:
        assert total == pytest.approx(expected["sum"], rel=1e-3)
    else:
        assert total == expected["sum"]
    for index, value in expected["voxels"].items():
        assert array[index] == pytest.approx(value, abs=3 if lossy else 0), index
    geometry = result.geometry
    if "geometry" in expected:
        assert geometry is expected["geometry"]
        return
    assert geometry is not None
    assert geometry.space == "RAS"
    assert geometry.n_axis.value == expected["n_axis"]
    assert geometry.calibration.value == expected["calibration"]
    if expected["frame_interval_s"] is None:
        assert geometry.frame_interval_s is None
    else:
        assert geometry.frame_interval_s == pytest.approx(expected["frame_interval_s"], rel=1e-6)
    if expected["spacing_mm"] is None:
        assert geometry.spacing_mm is None
    else:
        for got, want in zip(geometry.spacing_mm, expected["spacing_mm"], strict=True):
            assert got == (None if want is None else pytest.approx(want, abs=1e-5))
    if "affine" in expected:
        np.testing.assert_allclose(geometry.affine, expected["affine"], atol=1e-5)


@pytest.mark.parametrize("relative", sorted(RESOURCES))
def test_shape_matches_project_metadata(relative: str) -> None:
    metadata = RESOURCES[relative]["metadata"]
    channels, frames, height, width = cached_read(relative).array.shape
    assert (frames, height, width) == (
        int(metadata["frame_count"]),
        int(metadata["height"]),
        int(metadata["width"]),
    )
    if "channels" in metadata:
        assert channels == metadata["channels"]
    if "streams" in metadata:
        stream = next(s for s in metadata["streams"] if s["codec_type"] == "video")
        assert (frames, height, width) == (stream["nb_frames"], stream["height"], stream["width"])


@pytest.mark.parametrize("relative", sorted(RESOURCES))
def test_header_read_matches_full_read(relative: str) -> None:
    full = cached_read(relative)
    header = read_header(DEMO / relative)
    assert header.shape == full.array.shape
    assert header.dtype == full.array.dtype
    assert header.geometry == full.geometry
    if full.metainfo is None or isinstance(full.metainfo, dict):
        np.testing.assert_equal(header.metainfo, full.metainfo)  # NaN == NaN here
    else:
        # Tags only: reading ct_spine's (invalid) UIDs would make pydicom warn.
        assert set(header.metainfo.keys()) == set(full.metainfo.keys())
        assert header.metainfo.Rows == full.metainfo.Rows
