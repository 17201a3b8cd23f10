"""The network-filesystem check of cache roots (lock files coordinate one machine only)."""

from __future__ import annotations

import warnings

import pytest

from datamint.exceptions import DatamintWarning
from datamint.storage import node_local
from datamint.storage.node_local import (
    filesystem_type,
    is_network_filesystem,
    warn_if_network_filesystem,
)

MOUNTS = """\
/dev/nvme0n1p2 / ext4 rw,relatime 0 0
tmpfs /tmp tmpfs rw,nosuid,nodev 0 0
fileserver:/export/home /home nfs4 rw,relatime,vers=4.2 0 0
10.0.0.5@tcp:/lustre /lustre lustre rw,flock 0 0
/dev/nvme1n1 /home/alice/local\\040scratch xfs rw 0 0
"""


@pytest.mark.parametrize(
    ("path", "fstype", "network"),
    [
        ("/", "ext4", False),
        ("/var/cache/datamint", "ext4", False),
        ("/tmp/cache", "tmpfs", False),
        ("/home/alice/.cache/datamint", "nfs4", True),
        ("/homework", "ext4", False),  # not under /home
        ("/lustre/project/cache", "lustre", True),
        ("/home/alice/local scratch/cache", "xfs", False),  # the longest mount point wins
    ],
)
def test_filesystem_type_from_the_mount_table(path, fstype, network):
    assert filesystem_type(path, MOUNTS) == fstype
    assert is_network_filesystem(path, MOUNTS) is network


def test_no_mount_table_means_no_answer(monkeypatch, tmp_path):
    monkeypatch.setattr(node_local, "MOUNTS_PATH", tmp_path / "missing")
    assert filesystem_type("/anything") is None
    assert not is_network_filesystem("/anything")


def test_a_cache_root_on_nfs_warns_once(monkeypatch, tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(f"server:/x {tmp_path / 'shared'} nfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n")
    monkeypatch.setattr(node_local, "MOUNTS_PATH", mounts)
    monkeypatch.setattr(node_local, "_warned", set())
    with pytest.warns(DatamintWarning, match="network filesystem .nfs.*DATAMINT_CACHE_DIR"):
        assert warn_if_network_filesystem(tmp_path / "shared" / "cache")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_network_filesystem(tmp_path / "shared" / "cache")  # once per root
        assert not warn_if_network_filesystem(tmp_path / "local")
