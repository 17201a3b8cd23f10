"""Reader selection by magic bytes and hints; errors that name the file."""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from datamint.exceptions import InvalidResourceError, UnsupportedFormatError
from datamint.readers import (
    FileHint,
    get_reader,
    hint_kind,
    read_file,
    read_header,
    reader_version,
    readers,
)

from .demo_files import DEMO, cached_read

ONE_PER_KIND = {
    "images2d/ct_abdomen_pancreas_j2k.dcm": "dicom",
    "volumes/brain1_mr.nii.gz": "nifti",
    "videos/echo_plax_doppler.mp4": "video",
    "images2d/fundus_retina.jpg": "image",
    "images2d/histology_he_tile.png": "image",
}


@pytest.mark.parametrize(("relative", "reader"), sorted(ONE_PER_KIND.items()))
def test_detection_by_magic_without_a_filename(tmp_path: Path, relative: str, reader: str) -> None:
    path = tmp_path / "data"
    shutil.copyfile(DEMO / relative, path)
    assert get_reader(path).name == reader
    # A wrong hint does not override the bytes.
    assert get_reader(path, FileHint("x.mp4", "video/mp4", "VideoResource")).name == reader
    np.testing.assert_array_equal(read_file(path).array, cached_read(relative).array)


def test_folder_is_a_series() -> None:
    assert get_reader(DEMO / "series/ct_lung2").name == "dicom_series"


def test_hint_decides_when_bytes_do_not(tmp_path: Path) -> None:
    bgr = cv2.imread(str(DEMO / "images2d/histology_he_tile.png"), cv2.IMREAD_UNCHANGED)
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".bmp", bgr)[1].tobytes())
    with pytest.raises(UnsupportedFormatError, match="no reader accepts"):
        get_reader(path)
    result = read_file(path, FileHint(mimetype="image/bmp"))
    assert result.reader == "image"
    np.testing.assert_array_equal(result.array, cached_read("images2d/histology_he_tile.png").array)


@pytest.mark.parametrize(
    ("hint", "kind"),
    [
        (FileHint("scan.DCM", "image/png", "ImageResource"), "dicom"),  # .dcm beats image
        (FileHint("t1.nii.gz", "image/x.nifti", None), "nifti"),
        (FileHint(None, "image/x.nifti", None), "nifti"),
        (FileHint("v", None, "VolumeResource"), "volume"),
        (FileHint("clip", "video/mp4", None), "video"),
        (FileHint("photo", "image/jpeg", None), "image"),
        (FileHint(None, None, None), None),
        (None, None),
    ],
)
def test_hint_kind_follows_the_contract_table(hint: FileHint | None, kind: str | None) -> None:
    assert hint_kind(hint) == kind


def test_old_resource_kind_name_warns() -> None:
    import datamint.readers

    with pytest.warns(DeprecationWarning, match="hint_kind"):
        assert datamint.readers.resource_kind is hint_kind


def test_unknown_bytes_list_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_bytes(b"%PDF-1.7 not an image" * 50)
    with pytest.raises(UnsupportedFormatError, match=re.escape(str(path))) as caught:
        read_file(path, FileHint(storage="VolumeResource"))
    for reader in readers():
        assert reader.name in str(caught.value)


def test_missing_file() -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_file(DEMO / "nowhere.dcm")


TRUNCATE = [
    "images2d/ct_spine_jpegll.dcm",  # encapsulated JPEG Lossless
    "images2d/mr_liver_overlay.dcm",  # native pixel data
    "volumes/lung2_ct.nii.gz",
    "images2d/fundus_retina.jpg",
    "images2d/histology_he_tile.png",
    "videos/echo_plax_doppler.mp4",
]


@pytest.mark.parametrize("relative", TRUNCATE)
def test_truncated_file_names_the_path(tmp_path: Path, relative: str) -> None:
    data = (DEMO / relative).read_bytes()
    path = tmp_path / "data"
    path.write_bytes(data[: int(len(data) * 0.8)])
    with pytest.raises(InvalidResourceError, match=re.escape(str(path))):
        read_file(path)


def test_truncated_zip_series_names_the_path(tmp_path: Path) -> None:
    archive = tmp_path / "series.zip"
    shutil.make_archive(str(archive.with_suffix("")), "zip", DEMO / "series/ct_lung2")
    path = tmp_path / "data"
    path.write_bytes(archive.read_bytes()[:50_000])
    with pytest.raises(InvalidResourceError, match=f"ZIP archive '{re.escape(str(path))}'"):
        read_file(path)
    with pytest.raises(InvalidResourceError, match=re.escape(str(path))):
        read_header(path)


def test_reader_versions() -> None:
    names = [r.name for r in readers()]
    assert names == ["dicom", "dicom_series", "nifti", "video", "image"]
    assert all(reader_version(name) for name in names)
    with pytest.raises(ValueError, match="unknown reader 'tiff'"):
        reader_version("tiff")


def test_truncated_encapsulated_dicom_when_warnings_are_not_errors(tmp_path: Path) -> None:
    """pydicom only warns at a cut inside encapsulated pixel data and returns no elements."""
    data = (DEMO / "images2d/cr_chest_pa_j2ki.dcm").read_bytes()
    path = tmp_path / "data"
    path.write_bytes(data[: len(data) // 2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(InvalidResourceError, match=f"{re.escape(str(path))}.*truncated"):
            read_file(path)
    assert any("End of file" in str(w.message) for w in caught)


def test_registered_reader_is_asked_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from datamint.readers import registry
    from datamint.readers.image import ImageReader

    class BmpReader(ImageReader):
        name = "bmp"
        detects = "'BM' at byte 0"

        def sniff(self, path: Path, head: bytes) -> bool:
            return head[:2] == b"BM"

    monkeypatch.setattr(registry, "_READERS", list(registry._READERS))
    bgr = cv2.imread(str(DEMO / "images2d/histology_he_tile.png"), cv2.IMREAD_UNCHANGED)
    path = tmp_path / "data"
    path.write_bytes(cv2.imencode(".bmp", bgr)[1].tobytes())
    registry.register_reader(BmpReader())
    assert readers()[0].name == "bmp"
    assert get_reader(path).name == "bmp"
    assert BmpReader().accepts(path)


def test_registered_reader_wins_over_the_builtin_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A user reader claiming PNG bytes, or the image kind of a hint, is asked first."""
    from datamint.readers import ReadResult, register_reader, registry
    from datamint.readers.image import ImageReader, is_png

    class TaggedPng(ImageReader):
        name = "tagged_png"
        version = "7"
        kinds = ()  # bytes only
        detects = "PNG signature (user reader)"

        def sniff(self, path: Path, head: bytes) -> bool:
            return is_png(head)

        def read(self, path: str | os.PathLike[str], hint: FileHint | None = None) -> ReadResult:
            return ReadResult(super().read(path, hint).array, None, {"by": "user"}, self.name)

    class AnyImage(ImageReader):
        name = "any_image"
        detects = "an image/* hint (user reader)"

        def sniff(self, path: Path, head: bytes) -> bool:
            return False

    monkeypatch.setattr(registry, "_READERS", list(registry._READERS))
    register_reader(AnyImage())
    register_reader(TaggedPng())
    assert [r.name for r in readers()][:3] == ["tagged_png", "any_image", "dicom"]
    png = DEMO / "images2d/histology_he_tile.png"
    assert get_reader(png).name == "tagged_png"
    assert read_file(png).metainfo == {"by": "user"}
    assert reader_version("tagged_png") == "7"
    bmp = tmp_path / "data"
    bgr = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
    bmp.write_bytes(cv2.imencode(".bmp", bgr)[1].tobytes())
    assert get_reader(bmp, FileHint(mimetype="image/bmp")).name == "any_image"
    junk = tmp_path / "junk"
    junk.write_bytes(b"%PDF-1.7" * 100)
    with pytest.raises(UnsupportedFormatError, match=r"tagged_png.*any_image.*dicom"):
        get_reader(junk)
