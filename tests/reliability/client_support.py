"""Helpers of the client and cache reliability tests: real demo arrays, in-place damage
that keeps a file's size and mtime, and a corruption sweep over every byte position."""

from __future__ import annotations

import os
import shutil
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import numpy as np

from datamint.exceptions import DatamintWarning
from datamint.readers import read_file
from datamint.targets.masks import binarize_mask

DEMO = Path(__file__).resolve().parents[2] / "datamint" / "demo" / "data"


@cache
def _read(relative: str) -> np.ndarray:
    array = read_file(DEMO / relative).array
    array.flags.writeable = False
    return array


def demo_volume() -> np.ndarray:
    """breast1_mr.nii.gz as decoded: int16 ``(1, 21, 120, 45)``."""
    return _read("volumes/breast1_mr.nii.gz")


def demo_mask() -> np.ndarray:
    """breast1__lesion__alice.nii.gz binarised: uint8 ``(21, 120, 45)`` of 0/1."""
    return binarize_mask(_read("masks3d/breast1__lesion__alice.nii.gz"), what="test mask")


def flip_keeping_mtime(path: Path, offset: int, value: int | None = None) -> None:
    """Rewrite one byte in place (XOR 0xFF, or ``value``) and put the mtime back."""
    st = path.stat()
    with path.open("r+b") as fh:
        fh.seek(offset)
        old = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([old ^ 0xFF if value is None else value]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_mtime_ns == st.st_mtime_ns


def positions(size: int, count: int) -> list[int]:
    """``count`` byte offsets spread evenly over a file of ``size`` bytes, ends included."""
    return sorted({round(i * (size - 1) / (count - 1)) for i in range(count)})


def sweep(
    pristine: Path,
    work: Path,
    target: Callable[[Path], Path],
    offsets: list[int],
    read: Callable[[Path], np.ndarray],
    expected: np.ndarray,
) -> Counter[str]:
    """Corrupt one byte at each offset of a copy of a cache root, then read it back.

    Each round copies ``pristine`` to ``work`` (mtimes kept), flips one byte of
    ``target(work)`` with its mtime restored, and reads through a fresh cache.

    Returns:
        Counts of ``"recovered"`` (right values, a DatamintWarning named the damage),
        ``"unaffected"`` (right values, the byte did not matter), ``"wrong"`` (other
        values, served silently) and ``"error"`` (an exception reached the caller).
    """
    outcomes: Counter[str] = Counter()
    for offset in offsets:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(pristine, work)
        flip_keeping_mtime(target(work), offset)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                got = read(work)
            except Exception:  # counted, and the test fails on any
                outcomes["error"] += 1
                continue
        warned = any(issubclass(w.category, DatamintWarning) for w in caught)
        if not np.array_equal(got, expected):
            outcomes["wrong"] += 1
        else:
            outcomes["recovered" if warned else "unaffected"] += 1
    shutil.rmtree(work, ignore_errors=True)
    return outcomes


def only_file(root: Path, pattern: str) -> Path:
    """The one file under ``root`` matching ``pattern`` (rglob)."""
    (found,) = [p for p in root.rglob(pattern) if p.is_file()]
    return found


def files_under(root: Path, pattern: str) -> Iterator[Path]:
    """Files under ``root`` matching ``pattern`` (rglob), sorted."""
    return iter(sorted(p for p in root.rglob(pattern) if p.is_file()))
