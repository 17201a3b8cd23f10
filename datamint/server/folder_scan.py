"""Classifying the files of a plain folder: media, image masks, frame masks, series.

Rules (the naming convention of :mod:`datamint.server.import_folder`): a file whose stem
splits into ``<stem>__<label>__<annotator>`` is an image mask; ``f<frame>__<label>__<annotator>``
(PNG/JPEG) is a frame mask of the media named like its folder; single-frame DICOM files of
one folder sharing a SeriesInstanceUID are one series; every other media file is one
resource.

Symbolic links are followed only when they stay inside the folder: a link (to a file or a
folder) that resolves outside it makes the import fail with a
:class:`~datamint.server.errors.ManifestError` naming the link and its target, as a
manifest path leaving the project folder does. Links to folders inside it are not walked
(their files are reached by their real path). Hidden files and folders are skipped.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pydicom

from datamint.server.errors import ManifestError

__all__ = ["FolderScan", "Media", "require_inside", "split_name"]

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


def require_inside(root: Path, path: Path) -> Path:
    """Return ``path`` when it resolves inside ``root``; refuse a link that leaves it.

    Args:
        root: The imported folder, already resolved.
        path: A file or folder found under ``root``.

    Returns:
        ``path`` unchanged.

    Raises:
        ManifestError: If ``path`` (through a symbolic link anywhere on it) resolves
            outside ``root``; the message names the path and where it leads.
    """
    target = path.resolve()
    if not target.is_relative_to(root):
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        raise ManifestError(
            f"{root}: {rel!r} is a symbolic link to {str(target)!r}, outside the imported "
            "folder; links may only point inside it (copy the file in instead)"
        )
    return path


def _walk_files(root: Path) -> list[Path]:
    """Return the visible files under ``root``, refusing links that leave it."""
    found: list[Path] = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in list(dirnames):
            path = base / name
            if name.startswith("."):
                dirnames.remove(name)
            elif path.is_symlink():
                require_inside(root, path)
                dirnames.remove(name)  # inside the folder: walked by its real path
        for name in filenames:
            path = base / name
            if name.startswith("."):
                continue
            if path.is_symlink():
                require_inside(root, path)
            if path.is_file():
                found.append(path)
    return sorted(found)


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
        root: The folder, resolved; hidden files and folders are skipped.

    Raises:
        ManifestError: If a symbolic link under ``root`` resolves outside it.

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
        for path in _walk_files(root):
            rel = path.relative_to(root).as_posix()
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
