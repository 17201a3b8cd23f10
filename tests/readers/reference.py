"""Pinned decoding of every demo resource: shape, dtype, sum, a few voxels, geometry.

Measured once with pydicom 3.0.2 (pylibjpeg 2.1: libjpeg 2.5, openjpeg 2.6), nibabel
5.4.2 and OpenCV 5.0.0, and checked by eye against the files' tags and the demo README
(``test_dicom.py`` checks every DICOM against pydicom's own Modality LUT and palette):

* CT values are Hounsfield units (Modality LUT applied, dicom reader version 2):
  pancreas int16 -27 at the centre (soft tissue; slope 1, intercept 0: stored dtype);
  spine int16 202 (stored 1226, intercept -1024, Bits Stored 12: bone); lung2 series
  int16 HU, identical to ``volumes/lung2_ct.nii.gz`` on the overlap.
* cr_chest is MONOCHROME1 with Bits Stored 15 and no rescale: stored 803..26512
  became 32767 - v = 6255..31964 (bright = dense).
* Palette images give uint8 RGB: both palettes hold 8-bit colours in 16-bit entries
  (obstetric: v * 256, pelvis: v * 257), mapped back exactly.
* Affines map (n, h, w) to RAS mm: e.g. pancreas IOP [1,0,0, 0,-1,0] gives n -> I,
  h -> A, w -> L; NIfTI affines are the file affines with columns 0 and 2 swapped; the
  series affine is ``metadata.mask_affine`` permuted the same way.
* Videos: frame interval 1/fps of the container (30, 18, 4 fps); the echo cine DICOM
  from (0018,1063) Frame Time 33.333 ms.

``lossy`` entries come from lossy codecs (JPEG, JPEG 2000 9/7, MPEG-4) whose decoders
may differ in the last bit between versions: their sums are compared with rtol 1e-3 and
voxels with atol 3. All others are exact.
"""

from __future__ import annotations

from typing import Any

Voxel = tuple[int, int, int, int]

# fmt: off
REFERENCE: dict[str, dict[str, Any]] = {
    "images2d/ct_abdomen_pancreas_j2k.dcm": dict(
        reader="dicom", shape=(1, 1, 512, 512), dtype="int16", sum=-175887460.0,
        voxels={(0, 0, 256, 256): -27, (0, 0, 170, 341): 39, (0, 0, 341, 128): -986},
        spacing_mm=(None, 0.859375, 0.859375), n_axis="single", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.859375, 0.0], [0.0, 0.859375, 0.0, 0.0],
                [-1.0, 0.0, 0.0, -121.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "images2d/ct_spine_jpegll.dcm": dict(
        reader="dicom", shape=(1, 1, 512, 512), dtype="int16", sum=-20086954.0,
        voxels={(0, 0, 256, 256): 202, (0, 0, 170, 341): 37, (0, 0, 341, 128): 66},
        spacing_mm=(None, 0.287109375, 0.287109375), n_axis="single", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.287109375, 65.3564453125], [0.0, -0.287109375, 0.0, 154.3564453125],
                [1.0, 0.0, 0.0, 1687.5], [0.0, 0.0, 0.0, 1.0]],
    ),
    "images2d/mr_liver_overlay.dcm": dict(
        reader="dicom", shape=(1, 1, 484, 484), dtype="uint16", sum=28033480.0,
        voxels={(0, 0, 242, 242): 108, (0, 0, 161, 322): 272, (0, 0, 322, 121): 540},
        spacing_mm=(None, 0.72314049586777, 0.72314049586777), n_axis="single",
        calibration="patient", frame_interval_s=None,
        affine=[[0.0, 0.0, -0.72314049586777, 159.82565509386],
                [0.0, -0.72314049586777, 0.0, 175.32202350207],
                [1.0, 0.0, 0.0, 28.426151275635], [0.0, 0.0, 0.0, 1.0]],
    ),
    # (0028,0030) Pixel Spacing is [0, 0] in this file: no geometry rather than a fake one.
    "images2d/cr_chest_pa_j2ki.dcm": dict(
        reader="dicom", shape=(1, 1, 1955, 1841), dtype="uint16", sum=91330538825.0,
        voxels={(0, 0, 977, 920): 29425, (0, 0, 651, 1227): 16029, (0, 0, 1303, 460): 25545},
        geometry=None, lossy=True,
    ),
    "images2d/cr_tibia_j2kr.dcm": dict(
        reader="dicom", shape=(1, 1, 1760, 1760), dtype="uint16", sum=2138227811.0,
        voxels={(0, 0, 880, 880): 717, (0, 0, 586, 1173): 11, (0, 0, 1173, 440): 763},
        geometry=None,
    ),
    "images2d/us_obstetric_palette.dcm": dict(
        reader="dicom", shape=(3, 1, 350, 800), dtype="uint8", sum=17214150.0,
        voxels={(0, 0, 175, 400): 1, (2, 0, 116, 533): 77, (0, 0, 233, 200): 0},
        geometry=None,
    ),
    "images2d/us_pelvis_palette16.dcm": dict(
        reader="dicom", shape=(3, 1, 480, 640), dtype="uint8", sum=27402976.0,
        voxels={(0, 0, 240, 320): 1, (2, 0, 160, 426): 1, (0, 0, 320, 160): 32},
        geometry=None,
    ),
    "images2d/us_echo_jpegll.dcm": dict(
        reader="dicom", shape=(1, 1, 768, 1024), dtype="uint8", sum=13572107.0,
        voxels={(0, 0, 384, 512): 15, (0, 0, 256, 682): 117, (0, 0, 512, 256): 20},
        geometry=None,
    ),
    "images2d/us_tee_doppler_rgb.dcm": dict(
        reader="dicom", shape=(3, 1, 120, 256), dtype="uint8", sum=3931744.0,
        voxels={(0, 0, 60, 128): 184, (2, 0, 40, 170): 120, (0, 0, 80, 64): 16},
        geometry=None,
    ),
    "images2d/fundus_retina.jpg": dict(
        reader="image", shape=(3, 1, 1411, 1411), dtype="uint8", sum=535744832.0,
        voxels={(0, 0, 705, 705): 187, (2, 0, 470, 940): 48, (0, 0, 940, 352): 238},
        geometry=None, lossy=True,
    ),
    "images2d/fundus_microaneurysms.png": dict(
        reader="image", shape=(1, 1, 102, 102), dtype="uint8", sum=1033532.0,
        voxels={(0, 0, 51, 51): 74, (0, 0, 34, 68): 103, (0, 0, 68, 25): 107},
        geometry=None,
    ),
    "images2d/histology_ihc_colon.png": dict(
        reader="image", shape=(3, 1, 512, 512), dtype="uint8", sum=126084883.0,
        voxels={(0, 0, 256, 256): 227, (2, 0, 170, 341): 33, (0, 0, 341, 128): 158},
        geometry=None,
    ),
    "images2d/histology_he_tile.png": dict(
        reader="image", shape=(3, 1, 240, 240), dtype="uint8", sum=22355860.0,
        voxels={(0, 0, 120, 120): 250, (2, 0, 80, 160): 212, (0, 0, 160, 60): 145},
        geometry=None,
    ),
    "volumes/brain1_mr.nii.gz": dict(
        reader="nifti", shape=(1, 25, 256, 256), dtype="int16", sum=631859459.0,
        voxels={(0, 12, 128, 128): 526.0, (0, 24, 85, 170): 123.0, (0, 0, 170, 64): 408.0},
        spacing_mm=(6.5, 0.78125, 0.78125), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.78125, 99.609375], [0.0, 0.78125, 0.0, -99.609375],
                [6.5, 0.0, 0.0, -78.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "volumes/breast1_mr.nii.gz": dict(
        reader="nifti", shape=(1, 21, 120, 45), dtype="int16", sum=7187342.0,
        voxels={(0, 10, 60, 22): 61.0, (0, 20, 40, 30): 60.0, (0, 0, 80, 11): 58.0},
        spacing_mm=(2.1, 0.664062, 0.664062), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.664062, 116.543037], [0.0, -0.664062, 0.0, 48.144653],
                [2.1, 0.0, 0.0, 9.45], [0.0, 0.0, 0.0, 1.0]],
    ),
    "volumes/lung2_ct.nii.gz": dict(
        reader="nifti", shape=(1, 19, 161, 182), dtype="int16", sum=-107037070.0,
        voxels={(0, 9, 80, 91): 38.0, (0, 18, 53, 121): -746.0, (0, 0, 107, 45): -54.0},
        spacing_mm=(5.0, 0.626953125, 0.626953125), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.626953, 1.222663], [0.0, -0.626953, 0.0, 145.818359],
                [5.0, 0.0, 0.0, -305.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "series/ct_lung2/": dict(
        reader="dicom_series", shape=(1, 20, 128, 128), dtype="int16", sum=-76142191.0,
        voxels={(0, 10, 64, 64): 38, (0, 19, 42, 85): -909, (0, 0, 85, 32): -92},
        spacing_mm=(5.0, 0.6269531, 0.6269531), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -0.6269531, -15.7051], [0.0, -0.6269531, 0.0, 135.7871],
                [5.0, 0.0, 0.0, -310.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "volumes/colin27_t1_2mm.nii.gz": dict(
        reader="nifti", shape=(1, 91, 109, 91), dtype="uint8", sum=39807526.0,
        voxels={(0, 45, 54, 45): 33.0, (0, 90, 36, 60): 0.0, (0, 0, 72, 22): 52.0},
        spacing_mm=(2.0, 2.0, 2.0), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, 2.0, -90.0], [0.0, 2.0, 0.0, -125.0],
                [2.0, 0.0, 0.0, -71.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "volumes/mni152_t1_2mm.nii.gz": dict(
        reader="nifti", shape=(1, 95, 117, 99), dtype="uint8", sum=41683021.0,
        voxels={(0, 47, 58, 49): 198.0, (0, 94, 39, 66): 0.0, (0, 0, 78, 24): 0.0},
        spacing_mm=(2.0, 2.0, 2.0), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, 2.0, -98.0], [0.0, 2.0, 0.0, -134.0],
                [2.0, 0.0, 0.0, -72.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    # LSA file orientation: our (n, h, w) point to A, S, L.
    "volumes/itk_kmeanstest_t1.nii.gz": dict(
        reader="nifti", shape=(1, 62, 128, 128), dtype="int16", sum=19533798.0,
        voxels={(0, 31, 64, 64): 97.0, (0, 61, 42, 85): 0.0, (0, 0, 85, 32): 0.0},
        spacing_mm=(3.0, 2.0, 2.0), n_axis="space", calibration="patient",
        frame_interval_s=None,
        affine=[[0.0, 0.0, -2.0, 0.0], [3.0, 0.0, 0.0, -254.0],
                [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]],
    ),
    "videos/echo_a4c.mp4": dict(
        reader="video", shape=(3, 120, 480, 640), dtype="uint8", sum=1087251647.0,
        voxels={(0, 60, 240, 320): 3, (2, 119, 160, 426): 58, (0, 0, 320, 160): 1},
        spacing_mm=None, n_axis="time", calibration="pixel", frame_interval_s=1 / 30,
        lossy=True,
    ),
    "videos/echo_plax_doppler.mp4": dict(
        reader="video", shape=(3, 30, 300, 400), dtype="uint8", sum=300305405.0,
        voxels={(0, 15, 150, 200): 139, (2, 29, 100, 266): 1, (0, 0, 200, 100): 145},
        spacing_mm=None, n_axis="time", calibration="pixel", frame_interval_s=1 / 18,
        lossy=True,
    ),
    "videos/echo_a4c_30f_jpeg.dcm": dict(
        reader="dicom", shape=(3, 30, 240, 320), dtype="uint8", sum=72599477.0,
        voxels={(0, 15, 120, 160): 1, (2, 29, 80, 213): 73, (0, 0, 160, 80): 5},
        spacing_mm=None, n_axis="time", calibration="pixel", frame_interval_s=0.033333,
        lossy=True,
    ),
    # This small Enhanced MR has no functional groups and no Pixel Spacing.
    "videos/mr_enhanced_10f.dcm": dict(
        reader="dicom", shape=(1, 10, 64, 64), dtype="uint16", sum=4493276.0,
        voxels={(0, 5, 32, 32): 66, (0, 9, 21, 42): 32, (0, 0, 42, 16): 237},
        geometry=None,
    ),
    "videos/ct_lung2_slices.mp4": dict(
        reader="video", shape=(3, 19, 160, 160), dtype="uint8", sum=275555362.0,
        voxels={(0, 9, 80, 80): 233, (2, 18, 53, 106): 115, (0, 0, 106, 40): 211},
        spacing_mm=None, n_axis="time", calibration="pixel", frame_interval_s=0.25,
        lossy=True,
    ),
}
# fmt: on
