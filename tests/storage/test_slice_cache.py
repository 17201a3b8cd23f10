"""SliceCache: every axis of every format equals slicing the decoded volume; damage is
detected by checksum and rebuilt; one decode per volume; nothing outside the cache root."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

from datamint.exceptions import DatamintWarning
from datamint.storage.slice_cache import SliceCache, StoredVolume

FORMATS = ["b2nd", "npy.gz"]
KEY = {"op": "image", "content": "abc", "reader": "test", "reader_version": "1"}


def _volume(dtype=np.int16) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(-1000, 1000, size=(2, 5, 7, 9)).astype(dtype)


def _decoder(array: np.ndarray, calls: list[int]):
    def decode():
        calls.append(1)
        return array, {"note": "x"}

    return decode


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("hint", [None, 1, 2])
def test_every_axis_equals_slicing_the_decoded_volume(
    tmp_path: Path, fmt: str, hint: int | None
) -> None:
    array, calls = _volume(), []
    cache = SliceCache(tmp_path, fmt)
    volume, extra = cache.volume(KEY, _decoder(array, calls), axis_hint=hint)
    assert isinstance(volume, StoredVolume) and extra == {"note": "x"}
    assert volume.shape == array.shape and volume.dtype == array.dtype
    for axis in range(3):
        for k in range(array.shape[1 + axis]):
            got = np.take(volume, k, axis=1 + axis)
            assert got.dtype == np.int16
            assert np.array_equal(got, np.take(array, k, axis=1 + axis))
    assert np.array_equal(np.asarray(volume), array)
    assert calls == [1] and cache.decodes == 1 and cache.builds == 3
    # a second process-local cache finds everything stored
    again, calls2 = SliceCache(tmp_path, fmt), []
    vol2, _ = again.volume(KEY, _decoder(array, calls2))
    assert np.array_equal(np.take(vol2, 4, axis=3), array[:, :, :, 4]) and calls2 == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_damaged_layout_is_detected_by_checksum_and_rebuilt(tmp_path: Path, fmt: str) -> None:
    array, calls = _volume(), []
    SliceCache(tmp_path, fmt).volume(KEY, _decoder(array, calls))
    stored = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".b2nd", ".gz")]
    assert stored
    victim = max(stored, key=lambda p: p.stat().st_size)
    data = bytearray(victim.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 8] = bytes(b ^ 0xFF for b in data[mid : mid + 8])  # same size, new content
    victim.write_bytes(bytes(data))
    fresh = SliceCache(tmp_path, fmt)
    with pytest.warns(DatamintWarning, match=rf"cache entry .* is corrupted \({victim.name} "):
        volume, _ = fresh.volume(KEY, _decoder(array, calls))
    assert len(calls) == 2 and fresh.decodes == 1  # the damaged layout was rebuilt
    assert np.array_equal(np.asarray(volume), array)
    victim.write_bytes(victim.read_bytes()[:-3])  # truncated
    third = SliceCache(tmp_path, fmt)
    with pytest.warns(DatamintWarning, match="corrupted"):
        volume, _ = third.volume(KEY, _decoder(array, calls))
    assert np.array_equal(np.take(volume, 2, axis=1), array[:, 2])
    assert len(calls) == 3


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cache_format"):
        SliceCache(tmp_path, "zarr")


def _worker(root: str, counter: str, barrier) -> None:
    array = _volume()

    def decode():
        with open(counter, "a") as fh:
            fh.write(f"{os.getpid()}\n")
        return array, {}

    barrier.wait()
    cache = SliceCache(root, "b2nd")
    volume, _ = cache.volume(KEY, decode, axis_hint=2)
    assert np.array_equal(np.take(volume, 3, axis=3), array[..., 3])


def test_concurrent_processes_decode_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(3)
    counter = tmp_path / "decodes.txt"
    root = tmp_path / "cache"
    procs = [ctx.Process(target=_worker, args=(str(root), str(counter), barrier)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert len(counter.read_text().splitlines()) == 1
    # nothing outside the cache root but our counter
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "decodes.txt"]
    assert not [p for p in root.rglob("*.tmp")]


def _read_in_child(root: str, queue) -> None:
    cache = SliceCache(root, "b2nd")
    volume, _ = cache.volume(KEY, _decoder(_volume(), []))
    queue.put(np.asarray(np.take(volume, 2, axis=1)).sum())


def test_reading_after_the_parent_read_does_not_hang_in_a_forked_child(tmp_path: Path) -> None:
    array = _volume()
    cache = SliceCache(tmp_path, "b2nd")
    volume, _ = cache.volume(KEY, _decoder(array, []))
    np.asarray(volume)  # the parent uses blosc2 before forking
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(str(tmp_path), queue))
    child.start()
    child.join(30)
    assert child.exitcode == 0, "the forked reader hung or failed"
    assert queue.get(timeout=1) == array[:, 2].sum()


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float64])
def test_b2nd_codec_per_dtype_and_direct_chunk_reads(tmp_path: Path, dtype) -> None:
    """LZ4 with shuffle only for multi-byte dtypes; slices read chunk by chunk equal the array."""
    import blosc2

    from datamint.storage.slice_formats import B2ndFormat

    array = _volume(dtype) if dtype != np.uint8 else _volume(np.int16).astype(np.uint8)
    (path,) = B2ndFormat().write(tmp_path / "axial", array)
    stored = blosc2.open(str(path))
    assert stored.schunk.cparams.codec == blosc2.Codec.LZ4
    want = blosc2.Filter.SHUFFLE if np.dtype(dtype).itemsize > 1 else blosc2.Filter.NOFILTER
    assert stored.schunk.cparams.filters[0] == want
    reader = B2ndFormat().open(tmp_path / "axial", [path])
    assert reader._direct
    for k in range(array.shape[1]):
        got = reader.read(k)
        assert got.dtype == array.dtype and got.flags.writeable
        np.testing.assert_array_equal(got, array[:, k])


def test_b2nd_files_of_other_codecs_and_chunks_still_read(tmp_path: Path) -> None:
    """A layout written by an earlier version (zstd, or chunks spanning slices) reads the same."""
    import blosc2

    from datamint.storage.slice_formats import B2ndFormat

    array = _volume()
    zstd = {"codec": blosc2.Codec.ZSTD, "clevel": 1, "filters": [blosc2.Filter.SHUFFLE]}
    for name, chunks in (("zstd", (2, 1, 7, 9)), ("wide", (2, 2, 7, 9))):
        path = tmp_path / f"{name}.b2nd"
        blosc2.asarray(
            array, chunks=chunks, blocks=chunks, urlpath=str(path), mode="w", cparams=zstd
        )
        reader = B2ndFormat().open(tmp_path / name, [path])
        assert reader._direct == (name == "zstd")
        for k in range(array.shape[1]):
            np.testing.assert_array_equal(reader.read(k), array[:, k])
