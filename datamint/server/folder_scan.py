"""Classifying the files of a plain folder: media, image masks, frame masks, series.

Rules (the naming convention of :mod:`datamint.server.import_folder`): a file whose stem
splits into ``<stem>__<label>__<annotator>`` is an image mask; ``f<frame>__<label>__<annotator>``
(PNG/JPEG) is a frame mask of the media named like its folder; single-frame DICOM files of
one folder sharing a SeriesInstanceUID are one series; every other media file is one
resource.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pydicom

__all__ = ["FolderScan", "Media", "split_name"]

_MEDIA = (
    ".nii.gz",
    ".nii",
    ".dcm",
    ".dicom",
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".png",
    ".jpg",
    ".jpeg",
)
_DICOM = (".dcm", ".dicom")
_FRAME_MASK = re.compile(r"^f(\d+)__([^_].*?)__([^_].*)$")


@dataclass
class Media:
    """One media file, or the files of one DICOM series, and its stem."""

    rel: str  # relative path; a series folder ends with "/"
    stem: str
    folder: str
    files: list[tuple[str, Path]]


def split_name(name: str) -> tuple[str, str]:
    """Split a file name into its stem and its media extension (``""`` when none).

    Args:
        name: A file name, e.g. ``scan1.nii.gz``.

    Returns:
        ``(stem, extension as spelled)``, e.g. ``("scan1", ".nii.gz")``.
    """
    lower = name.lower()
    for suffix in _MEDIA:
        if lower.endswith(suffix):
            return name[: -len(suffix)], name[-len(suffix) :]
    return name, ""


def _series_uid(path: Path) -> tuple[str | None, int]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(
                path, stop_before_pixels=True, specific_tags=["SeriesInstanceUID", "NumberOfFrames"]
            )
    except Exception:
        return None, 1
    return (str(ds.get("SeriesInstanceUID") or "") or None), int(ds.get("NumberOfFrames") or 1)


class FolderScan:
    """The files of a folder, classified by name (see :mod:`datamint.server.import_folder`).

    Args:
        root: The folder; hidden files and folders are skipped.

    Attributes:
        media: Media files and DICOM series, in path order.
        image_masks: ``(relative path, stem, label, annotator)`` of image masks.
        frame_masks: ``(relative path, stem, frame, label, annotator)`` of frame masks.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.media: list[Media] = []
        self.image_masks: list[tuple[str, str, str, str]] = []  # rel, stem, label, annotator
        self.frame_masks: list[tuple[str, str, int, str, str]] = []  # rel, stem, frame, ...
        dicoms: dict[str, list[tuple[str, Path]]] = defaultdict(list)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in PurePosixPath(rel).parts):
                continue
            stem, suffix = split_name(path.name)
            suffix = suffix.lower()
            if not suffix:
                continue
            folder = PurePosixPath(rel).parent.as_posix()
            frame = _FRAME_MASK.match(stem)
            parts = stem.split("__")
            if frame and suffix in (".png", ".jpg", ".jpeg"):
                self.frame_masks.append((rel, path.parent.name, int(frame[1]), frame[2], frame[3]))
            elif len(parts) == 3 and all(parts):
                self.image_masks.append((rel, parts[0], parts[1], parts[2]))
            elif suffix in _DICOM:
                dicoms[folder].append((rel, path))
            else:
                self.media.append(Media(rel, stem, folder, [(rel, path)]))
        for folder, files in dicoms.items():
            self._group_series(folder, files)

    def _group_series(self, folder: str, files: list[tuple[str, Path]]) -> None:
        by_uid: dict[str, list[tuple[str, Path]]] = defaultdict(list)
        singles: list[tuple[str, Path]] = []
        for rel, path in files:
            uid, frames = _series_uid(path)
            if uid is not None and frames == 1:
                by_uid[uid].append((rel, path))
            else:
                singles.append((rel, path))
        series = [group for _, group in sorted(by_uid.items()) if len(group) > 1]
        singles += [group[0] for group in by_uid.values() if len(group) == 1]
        name = self.root.name if folder == "." else PurePosixPath(folder).name
        parent = PurePosixPath(folder).parent.as_posix()
        base = "" if folder == "." else f"{folder}/"
        for k, group in enumerate(series, 1):
            stem = name if len(series) == 1 else f"{name}_{k}"
            rel = (base or "./") if len(series) == 1 else f"{base}{stem}/"
            self.media.append(Media(rel, stem, parent, group))
        for rel, path in sorted(singles):
            self.media.append(Media(rel, split_name(path.name)[0], folder, [(rel, path)]))

    def find(self, stem: str, near: str) -> Media | None:
        """Return the media file with ``stem``: the one in folder ``near``, else the only one.

        Args:
            stem: The stem a mask names.
            near: The folder the mask is in (for frame masks, that of their folder).

        Returns:
            The media file, or ``None`` when there is none or several far from ``near``.
        """
        hits = [m for m in self.media if m.stem == stem]
        close = [m for m in hits if m.folder == near]
        if len(close) == 1:
            return close[0]
        return hits[0] if len(hits) == 1 else None
