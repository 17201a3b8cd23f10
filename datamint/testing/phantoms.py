"""Phantom files whose voxel values say where each voxel is, in any storage order.

Every phantom images the same patient box: 5 voxels from right to left 2.0 mm apart,
6 from anterior to posterior 2.5 mm apart, 7 from inferior to superior 3.0 mm apart,
centred at RAS ``(10, -20, 30)`` mm, optionally rotated about that centre (an oblique
acquisition). Only the storage differs: a NIfTI's file axes, a DICOM series' plane and
slice order, a multi-frame DICOM's frame order. So a correct reader plus a correct plane
view must give the same 2-D items from every phantom.

Values: voxel value ``v`` (int16, from 1) is a voxel id; :attr:`Phantom.world_mm` row
``v`` holds that voxel's RAS position in mm, computed by the writer from the box alone
(never from a file or a reader), so ``phantom.world(values)`` turns any array read back
into the exact RAS position of each of its voxels. Value 0 never occurs.

Storage orders are axis codes, one letter per axis saying where the index increases
(R/L, A/P, S/I): NIfTI files take the codes of the file's ``(x, y, z)`` (``"RAS"``,
``"LPS"``, a coronal ``"LSA"``...), DICOM writers those of ``(slice or frame, row,
column)`` (an axial series is ``"SPL"``: slices toward S, rows toward P, columns toward
L, i.e. Image Orientation (Patient) ``1,0,0,0,1,0``).

Example:
    >>> phantom = write_nifti_phantom(tmp / "coronal.nii.gz", "LSA")  # doctest: +SKIP
    >>> result = read_file(phantom.path)                                # doctest: +SKIP
    >>> phantom.world(result.array[0, 0, 0, 0])                         # doctest: +SKIP
    array([ 14. , -26.25,  21. ])
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)
from pydicom.valuerep import format_number_as_ds

from datamint.geometry import ras_to_lps

__all__ = [
    "BOX_CENTRE_MM",
    "BOX_COUNTS",
    "BOX_SPACING_MM",
    "OBLIQUE_DEG",
    "PLANE_LENGTHS",
    "PLANE_SHAPES",
    "Phantom",
    "box_affine",
    "write_dicom_multiframe_phantom",
    "write_dicom_series_phantom",
    "write_nifti_phantom",
]

#: Voxels along R-L, A-P and S-I (RAS world axes 0, 1, 2).
BOX_COUNTS = (5, 6, 7)
#: Voxel spacing along R-L, A-P and S-I, in mm.
BOX_SPACING_MM = (2.0, 2.5, 3.0)
#: RAS position of the box centre, in mm.
BOX_CENTRE_MM = (10.0, -20.0, 30.0)
#: Rotations (degrees) about R, then A, then S, of the oblique phantoms.
OBLIQUE_DEG = (20.0, 0.0, 10.0)
#: Slices of each anatomical plane, whatever the storage order (the box's counts).
PLANE_LENGTHS = {"axial": 7, "coronal": 6, "sagittal": 5}
#: ``(rows, columns)`` of each anatomical plane's items.
PLANE_SHAPES = {"axial": (6, 5), "coronal": (7, 5), "sagittal": (7, 6)}

# Axis code -> (RAS world axis, sign).
_CODES = {"R": (0, 1), "L": (0, -1), "A": (1, 1), "P": (1, -1), "S": (2, 1), "I": (2, -1)}
_UID_ROOT = "1.2.826.0.1.3680043.8.498."  # pydicom's root for generated UIDs


@dataclass(frozen=True)
class Phantom:
    """A written phantom and the RAS position of every voxel value in it.

    Attributes:
        path: The file, or the folder of a DICOM series.
        storage: What was written, e.g. ``"nifti LSA"`` or ``"dicom series SPL"``.
        world_mm: float64 ``(count + 1, 3)``: row ``v`` is the RAS position (mm) of the
            voxel whose value is ``v``; row 0 is NaN.
    """

    path: Path
    storage: str
    world_mm: np.ndarray

    def world(self, values: np.ndarray) -> np.ndarray:
        """RAS positions in mm, float64 ``(*values.shape, 3)``, of voxels with ``values``.

        Raises:
            ValueError: If a value is not a voxel id of this phantom (not an integer in
                ``1..count``): the array read back is not this phantom's voxels.
        """
        values = np.asarray(values)
        ids = np.rint(values).astype(np.int64)
        if np.any(ids != values) or np.any(ids < 1) or np.any(ids >= len(self.world_mm)):
            raise ValueError(
                f"values {np.unique(values)[:8].tolist()}... of {self.storage} are not voxel "
                f"ids 1..{len(self.world_mm) - 1}"
            )
        world: np.ndarray = self.world_mm[ids]
        return world


def _rotation(degrees: tuple[float, float, float]) -> np.ndarray:
    """``Rz @ Ry @ Rx``: about R (x) first, then A (y), then S (z); degrees."""
    ax, ay, az = np.radians(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    matrix: np.ndarray = rz @ ry @ rx
    return matrix


def _parse(codes: str) -> list[tuple[int, int]]:
    pairs = [_CODES.get(c) for c in codes.upper()]
    if len(codes) != 3 or None in pairs or len({p[0] for p in pairs if p}) != 3:
        raise ValueError(f"axis codes must name R-L, A-P and S-I once each, got {codes!r}")
    return pairs  # type: ignore[return-value]


def box_affine(
    codes: str, rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0)
) -> np.ndarray:
    """The affine of the box stored with axes ``codes``, mapping index ``(i, j, k, 1)``
    (index axis ``i`` increasing toward ``codes[0]``...) to RAS mm.

    Args:
        codes: Three axis codes (e.g. ``"LSA"``), one per index axis.
        rotation_deg: Rotations about R, A, S (degrees) applied about the box centre.

    Returns:
        float64 ``(4, 4)``.

    Raises:
        ValueError: If ``codes`` does not name each anatomical direction once.
    """
    rotation = _rotation(rotation_deg)
    affine = np.eye(4)
    origin = np.zeros(3)
    for column, (world, sign) in enumerate(_parse(codes)):
        step = np.zeros(3)
        step[world] = sign * BOX_SPACING_MM[world]
        affine[:3, column] = rotation @ step
        origin -= (BOX_COUNTS[world] - 1) / 2 * step
    affine[:3, 3] = np.asarray(BOX_CENTRE_MM) + rotation @ origin
    return affine


def _shape(codes: str) -> tuple[int, int, int]:
    return tuple(BOX_COUNTS[world] for world, _ in _parse(codes))  # type: ignore[return-value]


def _ids_and_world(
    codes: str, rotation_deg: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """int16 ids of shape ``_shape(codes)`` (C order, from 1) and the world table."""
    shape = _shape(codes)
    count = int(np.prod(shape))
    ids = np.arange(1, count + 1, dtype=np.int16).reshape(shape)
    index = np.indices(shape).reshape(3, -1)
    homogeneous = np.vstack([index, np.ones(count)])
    world = np.full((count + 1, 3), np.nan)
    world[1:] = (box_affine(codes, rotation_deg) @ homogeneous)[:3].T
    return ids, world


def _label(rotation_deg: tuple[float, float, float]) -> str:
    return " oblique" if any(rotation_deg) else ""


def write_nifti_phantom(
    path: str | os.PathLike[str],
    codes: str = "RAS",
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
    forms: str = "both",
) -> Phantom:
    """Write the box as a NIfTI-1 file whose ``(x, y, z)`` axes point along ``codes``.

    Values are int16 ids (module docstring).

    Args:
        path: Target ``.nii`` or ``.nii.gz``.
        codes: File axis codes, e.g. ``"RAS"``, ``"LPS"``, ``"LSA"`` (coronal slices).
        rotation_deg: Rotation of the box (see :data:`OBLIQUE_DEG`).
        forms: Where the affine goes: ``"both"`` sform and qform (code 1, scanner), as
            most converters write; ``"sform"`` or ``"qform"`` alone (the other code 0;
            a left-handed ``codes`` such as ``"LAS"`` then needs the qform's ``qfac``).

    Returns:
        The :class:`Phantom`.

    Raises:
        ValueError: If ``codes`` does not name each anatomical direction once, or
            ``forms`` is not one of the three.
    """
    if forms not in ("both", "sform", "qform"):
        raise ValueError(f"forms must be 'both', 'sform' or 'qform', got {forms!r}")
    ids, world = _ids_and_world(codes, rotation_deg)
    affine = box_affine(codes, rotation_deg)
    image = nib.Nifti1Image(ids, affine)
    image.set_sform(affine, code=0 if forms == "qform" else 1)
    image.set_qform(affine, code=0 if forms == "sform" else 1)
    path = Path(path)
    nib.save(image, path)
    suffix = "" if forms == "both" else f" ({forms} only)"
    return Phantom(path, f"nifti {codes}{_label(rotation_deg)}{suffix}", world)


def _ds(value: float) -> str:
    return format_number_as_ds(float(value) + 0.0)  # + 0.0: no "-0.0"


def _plane(codes: str, rotation_deg: tuple[float, float, float]) -> tuple[np.ndarray, list[str]]:
    """The affine in LPS and the (0020,0037) Image Orientation (Patient) strings.

    Raises:
        ValueError: If ``codes`` does not name each anatomical direction once.
    """
    lps = ras_to_lps(box_affine(codes, rotation_deg))
    _, (row_world, _), (column_world, _) = _parse(codes)
    row_cosine = lps[:3, 2] / BOX_SPACING_MM[column_world]  # along a row: the columns' axis
    column_cosine = lps[:3, 1] / BOX_SPACING_MM[row_world]
    return lps, [_ds(v) for v in (*row_cosine, *column_cosine)]


def _image_dataset(codes: str, modality_uid: str, series_uid: str, instance: int) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = modality_uid
    ds.SOPInstanceUID = generate_uid(_UID_ROOT, [series_uid, str(instance)])
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.StudyInstanceUID = generate_uid(_UID_ROOT, ["phantom study"])
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = generate_uid(_UID_ROOT, ["phantom frame of reference"])
    ds.Modality = "MR"
    ds.PatientName = "Phantom^Box"
    ds.PatientID = "phantom"
    ds.PatientPosition = "HFS"
    ds.InstanceNumber = instance
    ds.SeriesDescription = f"box stored {codes}"
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    return ds


def write_dicom_series_phantom(
    folder: str | os.PathLike[str],
    codes: str = "SPL",
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Phantom:
    """Write the box as a DICOM series, one MR Image Storage file per slice.

    Each file carries (0020,0032) Image Position (Patient), (0020,0037) Image Orientation
    (Patient), (0028,0030) Pixel Spacing and (0018,0050) Slice Thickness, in LPS (PS3.3
    C.7.6.2). Files are named and numbered against the slice order (the last slice is
    ``0000.dcm`` and Instance Number 1), so a reader must sort by position.

    Args:
        folder: Created if missing; receives ``0000.dcm``...
        codes: ``(slice, row, column)`` codes: ``"SPL"`` axial (Image Orientation
            ``1,0,0,0,1,0``), ``"AIL"`` coronal (``1,0,0,0,0,-1``), ``"LIP"`` sagittal
            (``0,1,0,0,0,-1``), ``"IPR"`` axial with columns toward the right...
        rotation_deg: Rotation of the box (see :data:`OBLIQUE_DEG`).

    Returns:
        The :class:`Phantom` (``path`` is the folder).

    Raises:
        ValueError: If ``codes`` does not name each anatomical direction once.
    """
    ids, world = _ids_and_world(codes, rotation_deg)
    lps, orientation = _plane(codes, rotation_deg)
    series_uid = generate_uid(_UID_ROOT, ["series", codes, repr(rotation_deg)])
    (slice_world, _), (row_world, _), (column_world, _) = _parse(codes)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    count = ids.shape[0]
    for k in range(count):
        instance = count - k
        ds = _image_dataset(codes, MRImageStorage, series_uid, instance)
        ds.ImagePositionPatient = [_ds(v) for v in lps[:3] @ [k, 0, 0, 1]]
        ds.ImageOrientationPatient = orientation
        ds.PixelSpacing = [_ds(BOX_SPACING_MM[row_world]), _ds(BOX_SPACING_MM[column_world])]
        ds.SliceThickness = _ds(BOX_SPACING_MM[slice_world])
        ds.Rows, ds.Columns = ids.shape[1], ids.shape[2]
        ds.PixelData = ids[k].astype("<i2").tobytes()
        ds.save_as(folder / f"{instance - 1:04d}.dcm", enforce_file_format=True)
    return Phantom(folder, f"dicom series {codes}{_label(rotation_deg)}", world)


def write_dicom_multiframe_phantom(
    path: str | os.PathLike[str],
    codes: str = "IPL",
    rotation_deg: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> Phantom:
    """Write the box as one Enhanced MR Image Storage file, one frame per slice.

    Geometry in the functional groups (PS3.3 C.7.6.16): shared (5200,9229) Pixel Measures
    (Pixel Spacing, Slice Thickness) and Plane Orientation; per frame (5200,9230) Plane
    Position. Frames are written in ``codes[0]`` order (the default ``"IPL"`` steps from
    head to feet, as many scanners acquire).

    Args:
        path: Target file.
        codes: ``(frame, row, column)`` codes, as :func:`write_dicom_series_phantom`.
        rotation_deg: Rotation of the box (see :data:`OBLIQUE_DEG`).

    Returns:
        The :class:`Phantom`.

    Raises:
        ValueError: If ``codes`` does not name each anatomical direction once.
    """
    ids, world = _ids_and_world(codes, rotation_deg)
    lps, orientation = _plane(codes, rotation_deg)
    (slice_world, _), (row_world, _), (column_world, _) = _parse(codes)
    series_uid = generate_uid(_UID_ROOT, ["multiframe", codes, repr(rotation_deg)])
    ds = _image_dataset(codes, EnhancedMRImageStorage, series_uid, 1)
    ds.NumberOfFrames = ids.shape[0]
    ds.Rows, ds.Columns = ids.shape[1], ids.shape[2]
    measures, plane = Dataset(), Dataset()
    measures.PixelSpacing = [_ds(BOX_SPACING_MM[row_world]), _ds(BOX_SPACING_MM[column_world])]
    measures.SliceThickness = _ds(BOX_SPACING_MM[slice_world])
    plane.ImageOrientationPatient = orientation
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    shared.PlaneOrientationSequence = Sequence([plane])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for k in range(ids.shape[0]):
        position, frame = Dataset(), Dataset()
        position.ImagePositionPatient = [_ds(v) for v in lps[:3] @ [k, 0, 0, 1]]
        frame.PlanePositionSequence = Sequence([position])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.PixelData = ids.astype("<i2").tobytes()
    path = Path(path)
    ds.save_as(path, enforce_file_format=True)
    return Phantom(path, f"dicom multi-frame {codes}{_label(rotation_deg)}", world)
