"""Header-only reads vs full decodes of the demo series and volumes, in one run.

``read_header`` gives shape, dtype and geometry without decoding pixels (a DICOM series
scanned by :mod:`datamint.readers.dicom_header_scan` up to each member's pixel data,
straight from the ZIP stream, pydicom parsing only the first slice's header and only when
its metainfo is read; NIfTI's 348-byte header from the gzip stream). ``read_file``
decodes everything. For each resource, both are timed (median of ``REPEATS`` calls, all
header calls then all full calls, after one warm-up call each) and the table prints the
ratio.

Resources: the demo DICOM series (folder; a ZIP of stored entries, as
``stored_series_zip`` writes them; a deflated ZIP; the one multi-frame DICOM the server
stores and serves for it since series are merged, ``build_series_dicom``), the six demo
NIfTI volumes, and a clinical-size series made here from the demo one (every slice
upsampled 4x to 512 x 512 and stored as JPEG 2000 Lossless, zipped), since the demo
slices are small and uncompressed. The last row sums what a dataset over the demo project
reads: the series as the server's multi-frame DICOM plus the six volumes.

Run: ``.venv/bin/python benchmarks/bench_headers.py``

Last run (2-core machine, pydicom 3.0.2, nibabel 5.4.2, highdicom 0.28.2):

| resource | shape (C, N, H, W) | header ms | full decode ms | x faster |
|---|---|---|---|---|
| series/ct_lung2/ (folder, 20 files) | (1, 20, 128, 128) | 0.58 | 23.07 | 39.6 |
| series/ct_lung2 as a stored ZIP | (1, 20, 128, 128) | 0.53 | 24.78 | 46.9 |
| series/ct_lung2 as a deflated ZIP | (1, 20, 128, 128) | 1.47 | 27.92 | 19.0 |
| series/ct_lung2 as the server's multi-frame DICOM | (1, 20, 128, 128) | 2.61 | 6.27 | 2.4 |
| volumes/brain1_mr.nii.gz | (1, 25, 256, 256) | 0.14 | 26.60 | 195.8 |
| volumes/breast1_mr.nii.gz | (1, 21, 120, 45) | 0.13 | 1.17 | 9.1 |
| volumes/colin27_t1_2mm.nii.gz | (1, 91, 109, 91) | 0.13 | 3.35 | 25.7 |
| volumes/itk_kmeanstest_t1.nii.gz | (1, 62, 128, 128) | 0.12 | 4.89 | 39.3 |
| volumes/lung2_ct.nii.gz | (1, 19, 161, 182) | 0.12 | 9.77 | 79.2 |
| volumes/mni152_t1_2mm.nii.gz | (1, 95, 117, 99) | 0.13 | 2.94 | 23.5 |
| 512x512 J2K series ZIP (made here) | (1, 20, 512, 512) | 0.49 | 376.90 | 771.2 |
| **the demo's series and volumes, as a dataset reads them** | | 3.37 | 54.98 | **16.3** |

The multi-frame DICOM the server now sends decodes 4x faster than the 20 files (one
parse, one pixel buffer), but its header read is pydicom parsing the whole header,
Per-Frame Functional Groups included (about 0.1 ms a frame), not the element scanner.
The ratio swings between runs (the folder series gave 20.1-25.8x in four runs on a shared
machine; the stored ZIP 14.7x before entries were read at their offsets, 21.5-23.2x
after). A series header read costs about 20-50 us per file: read the first bytes (a
folder file with ``os.read``; a stored ZIP entry with ``os.pread`` at its data offset, no
zipfile object per entry), walk the header with
:mod:`~datamint.readers.dicom_header_scan` (15 us for the 47 elements of a demo CT file;
6 us once the files of the series have taught the scanner what they share), plus about
0.1 ms for listing, ordering and geometry. pydicom parsing each header cost 0.45 ms per
file plus element conversions (header 11.5 ms, 2.6x, before the scanner). The full
decode got faster too (it orders slices from the same scan). A deflated ZIP (not what
the server sends) pays zipfile + zlib, about 60 us an entry. A NIfTI header read inflates
the first 4 KiB and has nibabel parse the 348-byte header with its checks (0.13-0.26 ms);
its ratio grows with the volume, so breast1 (21 x 120 x 45 int16, 227 KB, fully decoded
in about 1.2 ms) stays near 5x.
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
from datamint.server.series_dicom import build_series_dicom
from datamint.testing.series_zip import stored_series_zip

DEMO = Path(__file__).resolve().parents[1] / "datamint" / "demo" / "data"
REPEATS = 15
# the rows a dataset over the demo project reads: the series as the server serves it + NIfTI
SERVED_SERIES = "series/ct_lung2 as the server's multi-frame DICOM"
DEMO_AS_CACHED = {SERVED_SERIES} | {
    f"volumes/{p.name}" for p in (DEMO / "volumes").glob("*.nii.gz")
}


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
    return _stored_zip(folder, folder.with_suffix(".zip"))


def _stored_zip(folder: Path, out: Path) -> Path:
    """The series as a ZIP of stored (not deflated) members, sorted by name."""
    files = [(p.name, p) for p in sorted(folder.glob("*.dcm"))]
    with open(out, "wb") as fh:
        stored_series_zip(files, fh)
    return out


def _served(folder: Path, out: Path) -> Path:
    """The series as the server stores and serves it: one multi-frame DICOM."""
    files = [(p.name, p) for p in sorted(folder.glob("*.dcm"))]
    with open(out, "wb") as fh:
        build_series_dicom(files, fh, what=str(folder))
    return out


def main() -> None:
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        series = DEMO / "series/ct_lung2"
        deflated = Path(shutil.make_archive(f"{tmp}/ct_lung2", "zip", series))
        rows = [
            ("series/ct_lung2/ (folder, 20 files)", series),
            ("series/ct_lung2 as a stored ZIP", _stored_zip(series, Path(tmp) / "s.zip")),
            ("series/ct_lung2 as a deflated ZIP", deflated),
            (SERVED_SERIES, _served(series, Path(tmp) / "s.dcm")),
            *((f"volumes/{p.name}", p) for p in sorted((DEMO / "volumes").glob("*.nii.gz"))),
            ("512x512 J2K series ZIP (made here)", _clinical_series(Path(tmp) / "clinical")),
        ]
        print(f"{REPEATS} calls each, median\n")
        print("| resource | shape (C, N, H, W) | header ms | full decode ms | x faster |")
        print("|---|---|---|---|---|")
        totals = [0.0, 0.0]
        for label, path in rows:
            header_s = _median_s(lambda path=path: read_header(path))
            full_s = _median_s(lambda path=path: read_file(path))
            shape = read_header(path).shape
            print(
                f"| {label} | {shape} | {header_s * 1e3:.2f} | {full_s * 1e3:.2f} "
                f"| {full_s / header_s:.1f} |"
            )
            if label in DEMO_AS_CACHED:
                totals[0] += header_s
                totals[1] += full_s
        print(
            f"| **the demo's series and volumes, as a dataset reads them** (server DICOM + "
            f"{len(DEMO_AS_CACHED) - 1} NIfTI) | | {totals[0] * 1e3:.2f} | {totals[1] * 1e3:.2f} "
            f"| **{totals[1] / totals[0]:.1f}** |"
        )


if __name__ == "__main__":
    main()
