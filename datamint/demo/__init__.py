"""The bundled demo project and the demo training job.

``data_dir()`` is the demo project (real DICOM, NIfTI, video and PNG/JPEG with
per-annotator annotations, described by ``project.json``; provenance and licences in
its README.md and NOTICE.md). ``datamint demo`` runs :func:`datamint.demo.train.run_demo`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["data_dir"]


def data_dir() -> Path:
    """Folder of the bundled demo project (holds ``project.json``)."""
    return Path(__file__).resolve().parent / "data"
