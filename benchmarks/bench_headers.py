"""Header-only reads vs full decodes of the demo series and volumes, in one run.

``read_header`` gives shape, dtype and geometry without decoding pixels (DICOM parsed
with ``stop_before_pixels``, straight from the ZIP stream; NIfTI's 348-byte header from
the gzip stream). ``read_file`` decodes everything. For each resource, both are timed
(median of ``REPEATS`` calls, interleaved, after one warm-up call each) and the table
prints the ratio.

Resources: the demo DICOM series (folder and ZIP, as the server sends it), the six demo
NIfTI volumes, and a clinical-size series made here from the demo one (every slice
upsampled 4x to 512 x 512 and stored as JPEG 2000 Lossless, zipped), since the demo
slices are small and uncompressed.

Run: ``.venv/bin/python benchmarks/bench_headers.py``

Last run (2-core shared machine, pydicom 3.0.2, nibabel 5.4.2):

| resource | shape (C, N, H, W) | header ms | full decode ms | x faster |
|---|---|---|---|---|
| series/ct_lung2/ (folder, 20 files) | (1, 20, 128, 128) | 11.45 | 29.89 | 2.6 |
| series/ct_lung2 as ZIP | (1, 20, 128, 128) | 12.30 | 27.36 | 2.2 |
| volumes/brain1_mr.nii.gz | (1, 25, 256, 256) | 0.27 | 16.80 | 62.2 |
| volumes/breast1_mr.nii.gz | (1, 21, 120, 45) | 0.25 | 1.04 | 4.3 |
| volumes/colin27_t1_2mm.nii.gz | (1, 91, 109, 91) | 0.25 | 4.09 | 16.2 |
| volumes/itk_kmeanstest_t1.nii.gz | (1, 62, 128, 128) | 0.39 | 6.47 | 16.6 |
| volumes/lung2_ct.nii.gz | (1, 19, 161, 182) | 0.25 | 6.19 | 24.7 |
| volumes/mni152_t1_2mm.nii.gz | (1, 95, 117, 99) | 0.26 | 3.89 | 15.2 |
| 512x512 J2K series ZIP (made here) | (1, 20, 512, 512) | 12.66 | 319.01 | 25.2 |

A header read costs what pydicom needs to parse the headers (about 0.3 ms per file plus
element conversion, about 0.6 ms in all) or nibabel the 348-byte NIfTI header (0.25 ms),
whatever the pixel size. So the ratio grows with the pixel data: the demo series slices
are 32 KB uncompressed, about the size of their headers, and reach only 2-3x; at a
clinical 512 x 512 JPEG 2000 it is 25x; small NIfTI volumes (breast1, 113 KB decoded)
decode in about 1 ms anyway. The header read reads about 1.6 KB of each 34 KB member.
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
