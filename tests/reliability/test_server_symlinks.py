"""A plain-folder import refuses symbolic links that lead outside the folder.

The adversarial run imported a folder holding ``hostname.png -> /etc/hostname`` and then
read ``/etc/hostname`` back through ``GET /resources/{id}/file``. Manifest imports already
refused such paths (``ManifestEntries.source`` resolves each path and checks it stays in
the folder); folder imports now do the same, for links to files and to folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.demo import data_dir as demo_data_dir
from datamint.server.errors import ManifestError
from datamint.server.import_folder import import_folder
from datamint.server.store import ProjectStore

from .conftest import files_under

pytestmark = pytest.mark.reliability

PNG = "images2d/fundus_microaneurysms.png"


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    """A folder with one real PNG, and a secret file outside it."""
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copyfile(demo_data_dir() / PNG, folder / "eye.png")
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "hostname").write_text("secret-host\n")
    return folder, secret


def test_a_file_link_leading_outside_is_refused_naming_it(tmp_path: Path) -> None:
    folder, secret = _folder(tmp_path)
    (folder / "hostname.png").symlink_to(secret / "hostname")
    store = ProjectStore(tmp_path / "store")
    with pytest.raises(ManifestError, match=r"'hostname\.png' is a symbolic link to .*secret"):
        import_folder(store, folder)
    assert store.project_id_by_name("photos") is None
    assert files_under(store.store_dir / "blobs") == []


def test_a_folder_link_leading_outside_is_refused(tmp_path: Path) -> None:
    folder, secret = _folder(tmp_path)
    shutil.copyfile(demo_data_dir() / PNG, secret / "stolen.png")
    (folder / "more").symlink_to(secret, target_is_directory=True)
    store = ProjectStore(tmp_path / "store")
    with pytest.raises(ManifestError, match=r"'more' is a symbolic link .*outside"):
        import_folder(store, folder)
    assert files_under(store.store_dir / "blobs") == []


def test_the_cli_reports_the_link_and_imports_nothing(tmp_path: Path) -> None:
    folder, secret = _folder(tmp_path)
    (folder / "hostname.png").symlink_to(secret / "hostname")
    store_dir = tmp_path / "store"
    result = CliRunner().invoke(app, ["import", "--folder", "--store", str(store_dir), str(folder)])
    assert result.exit_code == 1
    assert "hostname.png" in result.stderr and "outside" in result.stderr
    assert files_under(store_dir / "blobs") == []


def test_links_that_stay_inside_are_imported(tmp_path: Path) -> None:
    folder, _ = _folder(tmp_path)
    (folder / "same.png").symlink_to(folder / "eye.png")
    (folder / "alias").symlink_to(folder, target_is_directory=True)  # not walked twice
    store = ProjectStore(tmp_path / "store")
    report = import_folder(store, folder)
    names = sorted(r["filename"] for r in store.resources.project_records(report.project_id))
    assert names == ["eye.png", "same.png"]
