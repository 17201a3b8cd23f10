"""Decoded cache entries are checked on read and by ``verify``; a damaged one is never served.

Real arrays (the demo breast MR volume and its lesion mask, decoded by our readers) are
stored in each decoded format, then damaged in place with their size and mtime kept (the
hardest case: nothing but the bytes changed). Reads must return the original values,
with a DatamintWarning naming the entry, and ``verify`` must report it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from datamint.exceptions import DatamintWarning
from datamint.storage.array_cache import ArrayCache
from datamint.storage.decoded_maintenance import verify_decoded
from datamint.storage.slice_cache import SliceCache

from .client_support import (
    demo_mask,
    demo_volume,
    files_under,
    flip_keeping_mtime,
    only_file,
    positions,
    sweep,
)

pytestmark = pytest.mark.reliability

KEY = {"op": "image", "content": "0" * 64, "reader": "nifti", "reader_version": "2"}


def _builder(array: np.ndarray, calls: list[int]):
    def build():
        calls.append(1)
        return np.array(array), {"note": "kept"}

    return build


def _data_offset(npy: Path, array: np.ndarray) -> int:
    return npy.stat().st_size - array.nbytes  # the .npy header comes first


@pytest.mark.parametrize("what", ["mask", "image"])
def test_npy_entry_with_a_flipped_byte_is_rebuilt_not_served(tmp_path: Path, what: str) -> None:
    """A mask byte 0 -> 255 (or an image voxel) with size and mtime kept."""
    array = demo_mask() if what == "mask" else demo_volume()
    calls: list[int] = []
    ArrayCache(tmp_path).get_or_build(KEY, _builder(array, calls))
    npy = only_file(tmp_path, "*.npy")
    if what == "mask":  # a background voxel becomes 255
        index = int(np.flatnonzero(array.reshape(-1) == 0)[0])
        flip_keeping_mtime(npy, _data_offset(npy, array) + index, 255)
    else:  # the middle voxel's low byte flips
        flip_keeping_mtime(npy, _data_offset(npy, array) + array.nbytes // 2)

    report = verify_decoded(tmp_path, remove=False)
    assert [why for _, why in report.bad] == [
        f"{npy.name} does not match the checksum in its sidecar"
    ]
    fresh = ArrayCache(tmp_path)
    with pytest.warns(DatamintWarning, match=rf"cache entry .*{npy.name} is corrupted"):
        got, extra = fresh.get_or_build(KEY, _builder(array, calls))
    np.testing.assert_array_equal(got, array)
    assert extra == {"note": "kept"} and len(calls) == 2 and fresh.quarantined == 1
    assert verify_decoded(tmp_path, remove=False).bad == []


def test_npy_sidecar_edited_is_detected(tmp_path: Path) -> None:
    array, calls = demo_mask(), []
    ArrayCache(tmp_path).get_or_build(KEY, _builder(array, calls))
    sidecar = only_file(tmp_path, "*.json")
    meta = json.loads(sidecar.read_text())
    meta["extra"] = {"note": "edited"}
    sidecar.write_text(json.dumps(meta))
    with pytest.warns(DatamintWarning, match="does not match its own checksum"):
        _, extra = ArrayCache(tmp_path).get_or_build(KEY, _builder(array, calls))
    assert extra == {"note": "kept"} and len(calls) == 2


@pytest.mark.parametrize("fmt", ["b2nd", "npy.gz"])
def test_layout_damaged_with_mtime_unchanged_is_rebuilt_naming_the_file(
    tmp_path: Path, fmt: str
) -> None:
    """A byte inside slice 7's chunk: the read of slice 7 finds it, no codec error leaks."""
    volume, calls = demo_volume(), []
    SliceCache(tmp_path, fmt).volume(KEY, _builder(volume, calls))
    if fmt == "b2nd":
        import blosc2

        victim = only_file(tmp_path, "axial.b2nd")
        chunk = blosc2.open(str(victim)).schunk.get_chunk(7)
        offset = victim.read_bytes().find(chunk) + len(chunk) // 2
    else:
        victim = only_file(tmp_path, "7.npy.gz")
        offset = victim.stat().st_size // 2
    flip_keeping_mtime(victim, offset)

    fresh = SliceCache(tmp_path, fmt)
    stored, _ = fresh.volume(KEY, _builder(volume, calls))  # opening checks no chunk
    np.testing.assert_array_equal(np.take(stored, 6, axis=1), volume[:, 6])
    with pytest.warns(
        DatamintWarning, match=rf"cache entry .*axial.* is corrupted .*{victim.name}"
    ):
        got = np.take(stored, 7, axis=1)
    np.testing.assert_array_equal(got, volume[:, 7])
    assert fresh.quarantined == 1 and len(calls) == 2
    for k in range(volume.shape[1]):  # the rebuilt layout serves every slice
        np.testing.assert_array_equal(np.take(stored, k, axis=1), volume[:, k])
    assert verify_decoded(tmp_path, remove=False).bad == []


@pytest.mark.parametrize("fmt", ["b2nd", "npy.gz"])
def test_verify_reports_a_layout_damaged_with_mtime_unchanged(tmp_path: Path, fmt: str) -> None:
    volume = demo_volume()
    SliceCache(tmp_path, fmt).volume(KEY, _builder(volume, []))
    victim = next(files_under(tmp_path, "*.b2nd" if fmt == "b2nd" else "*.npy.gz"))
    flip_keeping_mtime(victim, victim.stat().st_size - 5)
    report = verify_decoded(tmp_path, remove=True)
    assert [why for _, why in report.bad] == [
        f"{victim.name} does not match the sha256 in its sidecar"
    ]
    assert not victim.exists()


@pytest.mark.parametrize("fmt", ["npy", "b2nd", "npy.gz"])
def test_no_damaged_byte_is_ever_served(tmp_path: Path, fmt: str) -> None:
    """One flipped byte at 40-100 offsets spread over the entry's data file (headers,
    chunk tables and trailers included), size and mtime kept: every read returns the
    original values, warning when the byte mattered; none returns other values or raises."""
    volume = demo_volume()
    pristine = tmp_path / "pristine"
    if fmt == "npy":
        ArrayCache(pristine).get_or_build(KEY, _builder(volume, []))

        def read(root: Path) -> np.ndarray:
            return np.array(ArrayCache(root).get_or_build(KEY, _builder(volume, []))[0])

        target = next(files_under(pristine, "*.npy")).relative_to(pristine)
    else:
        SliceCache(pristine, fmt).volume(KEY, _builder(volume, []))

        def read(root: Path) -> np.ndarray:
            return np.asarray(SliceCache(root, fmt).volume(KEY, _builder(volume, []))[0])

        pattern = "*.b2nd" if fmt == "b2nd" else "10.npy.gz"
        target = next(files_under(pristine, pattern)).relative_to(pristine)
    size = (pristine / target).stat().st_size
    count, head = (80, 256) if fmt != "npy.gz" else (30, 64)  # npy.gz rebuilds 21 files
    offsets = sorted(set(positions(size, count)) | set(range(0, min(size, head), 9)))
    outcomes = sweep(pristine, tmp_path / "work", lambda root: root / target, offsets, read, volume)
    assert outcomes["wrong"] == outcomes["error"] == 0, outcomes
    assert outcomes["recovered"] >= 0.9 * len(offsets), outcomes
    assert sum(outcomes.values()) == len(offsets)


def test_an_entry_written_without_checksums_is_rebuilt_quietly(tmp_path: Path) -> None:
    """Sidecars of an older datamint (no checksums) are not trusted and not warned about."""
    array, calls = demo_mask(), []
    ArrayCache(tmp_path).get_or_build(KEY, _builder(array, calls))
    sidecar = only_file(tmp_path, "*.json")
    meta = json.loads(sidecar.read_text())
    for key in ("xxh3", "file_bytes", "sidecar_xxh3"):
        meta.pop(key)
    sidecar.write_text(json.dumps(meta))
    assert "no checksum" in verify_decoded(tmp_path, remove=False).bad[0][1]
    got, _ = ArrayCache(tmp_path).get_or_build(KEY, _builder(array, calls))
    np.testing.assert_array_equal(got, array)
    assert len(calls) == 2
    assert os.path.exists(sidecar) and "xxh3" in json.loads(sidecar.read_text())
