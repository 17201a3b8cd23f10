"""``datamint cache info | verify | clear`` over a real decoded cache in every format.

The cache is built the way training builds it: sliced volume datasets over the demo
server, iterated, once per ``cache_format`` (and a second axis for ``b2nd``). The numbers
``cache info`` prints are checked against the files on disk, found here by extension and
by which layout file sits beside each sidecar, not by reading the sidecars' file lists.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.dataset import VolumeDataset
from datamint.storage.locks import key_lock

BUILDS = [("b2nd", "axial"), ("b2nd", "coronal"), ("npy.gz", "axial"), ("npy", "axial")]


@pytest.fixture(scope="module")
def built_cache(demo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache root holding decoded volumes of two resources in every format, and masks."""
    root = tmp_path_factory.mktemp("decoded") / "cache"
    with pytest.MonkeyPatch.context() as env:  # isolated_env is per test: runs after this
        for name in [n for n in os.environ if n.startswith("DATAMINT_") or n.endswith("_PROXY")]:
            env.delenv(name)
        for fmt, axis in BUILDS:
            volumes = VolumeDataset(
                project="demo",
                server_url=demo_server.url,
                api_key=demo_server.api_key,
                cache_dir=root,
                cache_format=fmt,
                return_metainfo=False,
            )
            sliced = volumes.filter(filename_pattern="volumes/b*").slice(axis)
            with sliced.api:
                assert len(sliced.resources) == 2
                for i in range(len(sliced)):
                    assert sliced[i]["image"].ndim == 3
    return root


@pytest.fixture
def root(built_cache: Path, tmp_path: Path) -> Path:
    """A private copy of the built cache, for tests that damage or clear it."""
    return Path(shutil.copytree(built_cache, tmp_path / "cache"))


def cli(root: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["cache", *args, "--cache-dir", str(root)])


def on_disk(root: Path) -> dict[str, tuple[int, int, int]]:
    """``{format: (arrays or layouts, files, bytes)}`` from the files themselves."""
    arrays = root / "arrays"
    groups: dict[str, tuple[list[Path], list[Path]]] = {  # format: (sidecars, data files)
        "npy": (
            [p.with_suffix(".json") for p in arrays.glob("??/*.npy")],
            list(arrays.glob("??/*.npy")),
        ),
        "b2nd": ([], list(arrays.rglob("*.b2nd"))),
        "npy.gz": ([], list(arrays.rglob("*.npy.gz"))),
    }
    for sidecar in arrays.glob("slices/*/*/*.json"):
        axis = sidecar.with_suffix("")
        groups["b2nd" if axis.with_suffix(".b2nd").is_file() else "npy.gz"][0].append(sidecar)
    return {
        fmt: (
            len(sidecars),
            len(sidecars) + len(data),
            sum(p.stat().st_size for p in sidecars + data),
        )
        for fmt, (sidecars, data) in groups.items()
    }


def printed(output: str) -> dict[str, tuple[int, int, int]]:
    rows = re.findall(
        r"^  (\S+): (\d+) (?:arrays?|layouts?), (\d+) files?, (\d+) bytes?", output, re.M
    )
    return {fmt: (int(n), int(files), int(size)) for fmt, n, files, size in rows}


def test_info_counts_every_format_as_on_disk(built_cache: Path) -> None:
    result = cli(built_cache, "info")
    assert result.exit_code == 0, result.output
    expected = on_disk(built_cache)
    # two volumes: b2nd axial + coronal, npy.gz axial, and npy images plus masks
    assert expected["b2nd"][0] == 4 and expected["npy.gz"][0] == 2 and expected["npy"][0] > 2
    assert printed(result.output) == expected
    n, files, size = (sum(row[i] for row in expected.values()) for i in range(3))
    assert (
        f"arrays: {n} decoded arrays and slice layouts in {files} files, {size / 1e6:.1f} MB"
        in result.output
    )
    assert "left over" not in result.output
    every = [p for p in (built_cache / "arrays").rglob("*") if p.is_file() and p.suffix != ".lock"]
    assert files == len(every)  # nothing under arrays/ escapes the count


def test_verify_finds_damage_in_each_format_and_left_overs(root: Path) -> None:
    assert cli(root, "verify").exit_code == 0
    before = on_disk(root)
    b2nd = next((root / "arrays").rglob("coronal.b2nd"))
    with b2nd.open("r+b") as fh:  # same size, other bytes
        fh.seek(100)
        fh.write(bytes([fh.read(1)[0] ^ 0xFF]))
    slice_file = next((root / "arrays").rglob("3.npy.gz"))
    slice_file.unlink()
    npy = next((root / "arrays").glob("??/*.npy"))
    npy.write_bytes(npy.read_bytes()[:64])  # a truncated array
    (npy.parent / f".{npy.name}.x1y2.tmp").write_bytes(b"partial")  # an interrupted write
    assert "left over: 1 file, 7 bytes" in cli(root, "info").output

    kept = cli(root, "verify", "--keep")
    assert kept.exit_code == 1
    assert "coronal.b2nd does not match the sha256 in its sidecar" in kept.output
    assert "3.npy.gz is missing" in kept.output
    assert f"{npy.name} has 64 bytes, its sidecar says" in kept.output
    assert f"left-over files ['.{npy.name}.x1y2.tmp']" in kept.output
    n = sum(row[0] for row in before.values())
    assert (
        f"verified {n + 1} decoded entries (arrays, slice layouts, left-overs): {n - 3} ok, 4 bad\n"
        in kept.output
    )
    assert b2nd.exists()

    removed = cli(root, "verify")
    assert removed.exit_code == 1 and "4 bad, removed" in removed.output
    assert not b2nd.exists() and not b2nd.with_suffix(".json").exists()
    assert not slice_file.parent.exists()  # the whole npy.gz layout, folder included
    assert not npy.exists() and not npy.with_suffix(".json").exists()
    after = on_disk(root)
    assert [after[f][0] for f in ("b2nd", "npy.gz", "npy")] == [
        before["b2nd"][0] - 1,
        before["npy.gz"][0] - 1,
        before["npy"][0] - 1,
    ]
    assert printed(cli(root, "info").output) == after
    again = cli(root, "verify")
    assert again.exit_code == 0 and f"{n - 3} ok, 0 bad" in again.output


def test_verify_skips_a_volume_being_decoded(root: Path) -> None:
    sidecar = next((root / "arrays").rglob("coronal.json"))
    sidecar.write_text("{not json")  # looks left over, but its volume's lock is held
    with key_lock(sidecar.parent, timeout_s=1):
        result = cli(root, "verify")
    assert result.exit_code == 0, result.output
    assert f"skipped (being decoded): {sidecar.parent.relative_to(root)}" in result.output
    assert sidecar.exists()
    assert cli(root, "verify").exit_code == 1 and not sidecar.exists()


def test_clear_removes_every_format(root: Path) -> None:
    total = sum(row[2] for row in on_disk(root).values())
    result = cli(root, "clear", "--yes")
    assert result.exit_code == 0, result.output
    freed = float(re.search(r"([\d.]+) MB freed", result.output).group(1))
    assert freed >= round(total / 1e6, 1)
    assert not (root / "arrays").exists()
    info = cli(root, "info").output
    assert printed(info) == {"b2nd": (0, 0, 0), "npy": (0, 0, 0), "npy.gz": (0, 0, 0)}
