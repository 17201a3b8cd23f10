"""Header-only reads vs full decodes of the demo series and volumes, in one run.

``read_header`` gives shape, dtype and geometry without decoding pixels (a DICOM series
scanned by :mod:`datamint.readers.dicom_header_scan` up to each member's pixel data,
straight from the ZIP stream, pydicom parsing only the first slice's header and only when
its metainfo is read; NIfTI's 348-byte header from the gzip stream). ``read_file``
decodes everything. For each resource, both are timed (median of ``REPEATS`` calls, all
header calls then all full calls, after one warm-up call each) and the table prints the
ratio.

Resources: the demo DICOM series (folder and ZIP, as the server sends it), the six demo
NIfTI volumes, and a clinical-size series made here from the demo one (every slice
upsampled 4x to 512 x 512 and stored as JPEG 2000 Lossless, zipped), since the demo
slices are small and uncompressed.

Run: ``.venv/bin/python benchmarks/bench_headers.py``

Last run (2-core machine shared with other jobs, pydicom 3.0.2, nibabel 5.4.2; a
typical one of three, the demo folder ratio was 20.6-22.0x):

| resource | shape (C, N, H, W) | header ms | full decode ms | x faster |
|---|---|---|---|---|
| series/ct_lung2/ (folder, 20 files) | (1, 20, 128, 128) | 0.52 | 11.39 | 21.7 |
| series/ct_lung2 as ZIP | (1, 20, 128, 128) | 1.35 | 16.15 | 11.9 |
| volumes/brain1_mr.nii.gz | (1, 25, 256, 256) | 0.28 | 16.12 | 57.6 |
| volumes/breast1_mr.nii.gz | (1, 21, 120, 45) | 0.25 | 1.14 | 4.6 |
| volumes/colin27_t1_2mm.nii.gz | (1, 91, 109, 91) | 0.26 | 3.68 | 14.2 |
| volumes/itk_kmeanstest_t1.nii.gz | (1, 62, 128, 128) | 0.26 | 5.41 | 20.4 |
| volumes/lung2_ct.nii.gz | (1, 19, 161, 182) | 0.28 | 5.69 | 20.3 |
| volumes/mni152_t1_2mm.nii.gz | (1, 95, 117, 99) | 0.25 | 3.03 | 12.1 |
| 512x512 J2K series ZIP (made here) | (1, 20, 512, 512) | 1.14 | 299.95 | 264.3 |

A series header read costs about 20 us per file: open and read the first 8 KiB (3 us),
walk the header (15 us for the 47 elements of a demo CT file; 6 us once the files of
the series have taught the scanner what they share), turn the values into slice fields
(2-3 us), plus about 0.1 ms for listing, ordering and geometry. pydicom parsing each
header, as before, cost 0.45 ms per file plus element conversions (header 11.5 ms, 2.6x,
on the previous run). The full decode got faster too (about 20 ms before on this
machine): it now orders the slices from the same scan, then has pydicom parse and decode
each file. From a ZIP each member is inflated up to its pixel data (about 1.7 KB), which
``zipfile`` and zlib make cost about 25 us a member, hence 12x; at a clinical 512 x 512
JPEG 2000 the header read ignores the pixel size and reaches 260x. A NIfTI header read
costs what nibabel needs for the 348-byte header (0.25 ms), whatever the volume size, so
small volumes (breast1, 113 KB decoded) gain little.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import JPEG2000Lossless

from datamint.readers import read_file, read_header

DEMO = Path(__file__).resolve().parents[1] / "datamint" / "demo" / "data"
REPEATS = 15


def _median_s(fn: Callable[[], object]) -> float:
    fn()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _clinical_series(folder: Path) -> Path:
    """The demo series at 512 x 512, JPEG 2000 Lossless, zipped."""
    folder.mkdir()
    for source in sorted((DEMO / "series/ct_lung2").glob("*.dcm")):
        ds = pydicom.dcmread(source)
        big = np.repeat(np.repeat(ds.pixel_array, 4, axis=0), 4, axis=1)
        ds.PixelSpacing = [float(v) / 4 for v in ds.PixelSpacing]
        ds.Rows, ds.Columns = big.shape
        ds.compress(JPEG2000Lossless, big, encoding_plugin="pylibjpeg")
        ds.save_as(folder / source.name)
    return Path(shutil.make_archive(str(folder), "zip", folder))


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        series_zip = Path(shutil.make_archive(f"{tmp}/ct_lung2", "zip", DEMO / "series/ct_lung2"))
        rows = [
            ("series/ct_lung2/ (folder, 20 files)", DEMO / "series/ct_lung2"),
            ("series/ct_lung2 as ZIP", series_zip),
            *((f"volumes/{p.name}", p) for p in sorted((DEMO / "volumes").glob("*.nii.gz"))),
            ("512x512 J2K series ZIP (made here)", _clinical_series(Path(tmp) / "clinical")),
        ]
        print(f"{REPEATS} calls each, median\n")
        print("| resource | shape (C, N, H, W) | header ms | full decode ms | x faster |")
        print("|---|---|---|---|---|")
        for label, path in rows:
            header_s = _median_s(lambda path=path: read_header(path))
            full_s = _median_s(lambda path=path: read_file(path))
            shape = read_header(path).shape
            print(
                f"| {label} | {shape} | {header_s * 1e3:.2f} | {full_s * 1e3:.2f} "
                f"| {full_s / header_s:.1f} |"
            )


if __name__ == "__main__":
    main()
