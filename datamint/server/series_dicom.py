"""A DICOM series stored as ONE multi-frame DICOM, as the Datamint platform stores it.

The platform's upload tool merges the single-frame files of a series into one multi-frame
instance before upload, so its clients only ever download single DICOM files. This server
does the same on import and upload:

- **Which files, in which order**: the rules of the series reader
  (:func:`datamint.readers.dicom_series_order.order_series`): one Series Instance UID, one
  grid and orientation, frames sorted by (0020,0032) Image Position (Patient) projected on
  the slice normal, ascending, evenly spaced. Frame k of the stored file is therefore slice
  k of the volume the series reader builds from the same files, and annotations made on
  that volume line up. (The platform's tool orders by (0020,0013) Instance Number, which
  often runs the other way.)
- **What is written**: a Legacy Converted Enhanced CT, MR or PET Image (PS3.3 A.70-A.72)
  built by ``highdicom.legacy``: per frame, (0020,9113) Plane Position Sequence >
  (0020,0032) Image Position (Patient) and, when slices differ, (0028,9145) Pixel Value
  Transformation Sequence; shared, (0020,9116) Plane Orientation Sequence, (0028,9110)
  Pixel Measures Sequence (Pixel Spacing, Slice Thickness, Spacing Between Slices).
  Stored values are copied unchanged (no rescaling), in Explicit VR Little Endian. A
  rescale shared by every frame is repeated at the top level ((0028,1052) Rescale
  Intercept, (0028,1053) Rescale Slope, (0028,1054) Rescale Type), as in the platform's
  merged files (which keep the first slice's top-level elements): readers that look only
  there, such as the existing client's, then also get modality values (HU for CT).
- **Other SOP classes** (ultrasound, secondary capture, ...) have no legacy-converted form
  in highdicom: :func:`build_series_dicom` raises an error naming the SOP class and
  modality, and the series must be uploaded as one multi-frame file.
- **Reproducible bytes**: the new SOP Instance and Series Instance UIDs are ``2.25`` UIDs
  derived from the sources' SOP Instance UIDs, (0008,0012)/(0008,0013) Instance Creation
  Date/Time and (0018,A002) Contribution DateTime are left out (they would hold the time
  of the conversion), and (0008,0023)/(0008,0033) Content Date/Time are the earliest
  date of the sources (Content, else Acquisition, Series or Study Date, with its time),
  ``19700101``/``000000`` when none has one; so the same files always give the same bytes
  and sha256 (for one highdicom version, which the file names in (0018,1020) Software
  Versions), and a re-import of unchanged files keeps the resource's ``created_at``.
"""

from __future__ import annotations

import io
import logging
import uuid
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import ExplicitVRLittleEndian

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers.dicom import is_dicom
from datamint.readers.dicom_series_order import order_series, series_slice

__all__ = [
    "MAX_SERIES_BYTES",
    "SERIES_SOP_CLASSES",
    "build_series_dicom",
    "series_suffix",
    "zip_dicom_members",
]

logger = logging.getLogger("datamint.server")

#: Single-frame SOP classes that are assembled, with the Legacy Converted Enhanced class
#: each becomes (PS3.4 B.5).
SERIES_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2": ("CT", "LegacyConvertedEnhancedCTImage"),
    "1.2.840.10008.5.1.4.1.1.4": ("MR", "LegacyConvertedEnhancedMRImage"),
    "1.2.840.10008.5.1.4.1.1.128": ("PET", "LegacyConvertedEnhancedPETImage"),
}
#: Most uncompressed bytes a ZIP upload may unpack to (all DICOM members together).
MAX_SERIES_BYTES = 4 << 30
_UID_NAMESPACE = uuid.UUID("1b0e3a52-4f7e-5c1d-8e7a-6c3b2d9f0a11")
_DICOMDIR_CLASS = "1.2.840.10008.1.3.10"

#: A source file: a path on disk, or the bytes of a ZIP member.
Source = Path | bytes


def _uid(*parts: str) -> str:
    """A reproducible ``2.25`` UID (PS3.5 B.2: the integer form of a UUID)."""
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, '/'.join(parts)).int}"


def _read(name: str, source: Source) -> Dataset:
    stream = source if isinstance(source, Path) else io.BytesIO(source)
    try:
        with warnings.catch_warnings():  # odd tags in user files are not the server's problem
            warnings.simplefilter("ignore")
            return pydicom.dcmread(stream)
    except (InvalidDicomError, OSError, ValueError, EOFError) as exc:
        raise InvalidResourceError(
            f"series file '{name}' is not a readable DICOM file: {exc}"
        ) from exc


def _converter(ds: Dataset, what: str) -> type:
    sop_class = str(ds.get("SOPClassUID", ""))
    found = SERIES_SOP_CLASSES.get(sop_class)
    if found is None:
        name = getattr(pydicom.uid.UID(sop_class), "name", sop_class) if sop_class else "none"
        raise UnsupportedFormatError(
            f"{what}: a series of SOP class {name} ({sop_class or 'missing'}, modality "
            f"{ds.get('Modality', '?')}) cannot be stored: only CT, MR and PET Image Storage "
            "series are merged into one multi-frame (Legacy Converted Enhanced) DICOM; "
            "upload such a series as one multi-frame DICOM file"
        )
    modality, class_name = found
    if str(ds.get("Modality", "")) != modality:
        raise UnsupportedFormatError(
            f"{what}: SOP class {sop_class} needs (0008,0060) Modality {modality!r}, "
            f"found {ds.get('Modality')!r}"
        )
    import highdicom.legacy

    return getattr(highdicom.legacy, class_name)


def build_series_dicom(files: Sequence[tuple[str, Source]], out: BinaryIO, *, what: str) -> None:
    """Merge the single-frame DICOM files of one series into one multi-frame DICOM file.

    Rules (order, classes, reproducibility): module docstring.

    Args:
        files: ``(name, file)`` pairs: the name (a manifest path, an upload's file name or
            a ZIP member) is used in messages; the file is a path or the file's bytes.
        out: Binary file to write the Part 10 file into.
        what: The resource, for messages (e.g. ``"series/ct_lung2/"``).

    Raises:
        InvalidResourceError: If a file is not DICOM, or the files break a series rule
            (several series, mixed grids or orientations, a duplicate position, a missing
            slice, uneven spacing, a multi-frame member); the message names the instance.
        UnsupportedFormatError: If the series is not CT, MR or PET Image Storage.
    """
    if not files:
        raise InvalidResourceError(f"{what}: a series needs at least one DICOM file")
    where = Path(what)
    datasets = {name: _read(name, source) for name, source in files}
    slices = [series_slice(ds, name, where) for name, ds in datasets.items()]
    ordered, _ = order_series(slices, where)
    sources = [datasets[item.member] for item in ordered]
    converter = _converter(sources[0], what)
    key = [str(ds.get("SOPInstanceUID", name)) for name, ds in datasets.items()]
    key.sort()
    series_uid = str(sources[0].get("SeriesInstanceUID", ""))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            image = converter(
                sources,
                series_instance_uid=_uid("series", series_uid, *key),
                series_number=int(sources[0].get("SeriesNumber") or 1),
                sop_instance_uid=_uid("instance", series_uid, *key),
                instance_number=1,
                transfer_syntax_uid=ExplicitVRLittleEndian,
                include_dimension_index=False,
            )
        except (ValueError, AttributeError, TypeError, KeyError) as exc:
            raise InvalidResourceError(
                f"{what}: the series could not be merged into one multi-frame DICOM: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    for warning in caught:
        logger.info("%s: merging the series: %s", what, warning.message)
    for keyword in ("InstanceCreationDate", "InstanceCreationTime"):
        if keyword in image:
            delattr(image, keyword)
    for item in image.get("ContributingEquipmentSequence") or ():
        if "ContributionDateTime" in item:  # the conversion's wall clock (type 3)
            del item.ContributionDateTime
    image.ContentDate, image.ContentTime = _content_date_time(sources)
    _copy_shared_rescale(image)
    image.save_as(out, enforce_file_format=True)


def _copy_shared_rescale(image: Dataset) -> None:
    """Repeat a rescale shared by every frame at the top level (module docstring)."""
    shared = (image.get("SharedFunctionalGroupsSequence") or [Dataset()])[0]
    transformation = shared.get("PixelValueTransformationSequence")
    if not transformation:
        return
    for keyword in ("RescaleIntercept", "RescaleSlope", "RescaleType"):
        if keyword in transformation[0]:
            setattr(image, keyword, transformation[0][keyword].value)


def _content_date_time(sources: Sequence[Dataset]) -> tuple[str, str]:
    """The earliest (date, time) of the sources: per source the first of Content,
    Acquisition, Series and Study Date that is set, with its time (``000000`` if empty);
    ``("19700101", "000000")`` when no source has a date."""
    found = []
    for ds in sources:
        for prefix in ("Content", "Acquisition", "Series", "Study"):
            date = str(ds.get(f"{prefix}Date") or "").strip()
            if len(date) == 8 and date.isdigit():
                time = str(ds.get(f"{prefix}Time") or "").strip() or "000000"
                found.append((date, time))
                break
    return min(found, default=("19700101", "000000"))


def zip_dicom_members(archive: Path, *, what: str) -> list[tuple[str, bytes]]:
    """The DICOM files of a ZIP archive, as ``(member name, bytes)`` in archive order.

    Members without ``DICM`` at byte 128 (a README) and a DICOMDIR are left out, as the
    series reader leaves them out.

    Args:
        archive: The ZIP file.
        what: The upload, for messages.

    Returns:
        The DICOM members; empty when the archive holds none.

    Raises:
        InvalidResourceError: If the archive is corrupt, or its members would unpack to
            more than :data:`MAX_SERIES_BYTES`.
    """
    found: list[tuple[str, bytes]] = []
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [info for info in zf.infolist() if not info.is_dir()]
            total = sum(info.file_size for info in infos)
            if total > MAX_SERIES_BYTES:
                raise InvalidResourceError(
                    f"{what}: the ZIP archive unpacks to {total} bytes, more than the "
                    f"{MAX_SERIES_BYTES} a series upload may hold"
                )
            for info in infos:
                with zf.open(info) as member:
                    head = member.read(132)
                    if not is_dicom(head):
                        continue
                    data = head + member.read(MAX_SERIES_BYTES)
                if _is_dicomdir(data):
                    continue
                found.append((PurePosixPath(info.filename).as_posix(), data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise InvalidResourceError(f"{what}: corrupt ZIP archive: {exc}") from exc
    return found


def _is_dicomdir(data: bytes) -> bool:
    """Whether (0002,0002) Media Storage SOP Class UID says DICOMDIR (PS3.10 8.6)."""
    try:
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, specific_tags=[])
    except (InvalidDicomError, ValueError, EOFError, OSError):
        return False  # the merge reads it again and names what is wrong
    return str(getattr(header.file_meta, "MediaStorageSOPClassUID", "")) == _DICOMDIR_CLASS


def series_suffix(record: dict[str, Any], blob: Path) -> str | None:
    """The file-name suffix a series resource is served with, ``None`` for other resources.

    A series (several source ``files``) is stored as one DICOM (``".dcm"``); a store
    written before series were merged may still hold a ZIP archive (``".zip"``, told by
    its first bytes ``PK``), which is served as such until the project is imported again.

    Args:
        record: The Resource record.
        blob: Its stored file.

    Returns:
        ``".dcm"``, ``".zip"`` or ``None``.
    """
    if len(record.get("files") or []) < 2:
        return None
    with open(blob, "rb") as fh:
        return ".zip" if fh.read(2) == b"PK" else ".dcm"
