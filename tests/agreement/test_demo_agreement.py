"""Agreement on the demo project, served by the reference server over HTTP.

The demo's lesion and grey-matter masks have two or three annotators per resource
(datamint/demo/data/README.md, "Merging"). Expected Dice values are computed here from
the annotators' NIfTI files read with nibabel, independently of datamint's readers.
"""

from __future__ import annotations

import itertools
import json
import struct
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest
from typer.testing import CliRunner

from datamint.agreement import dataset_agreement, project_agreement
from datamint.agreement.plot import heatmap_size_px
from datamint.cli.main import app
from datamint.dataset import VolumeDataset
from datamint.demo import data_dir

ALICE, BOB, CAROL = "alice@example.org", "bob@example.org", "carol@example.org"
THREE_RATERS = {  # resource file -> (label, mask file stem)
    "volumes/brain1_mr.nii.gz": ("lesion", "brain1__lesion"),
    "volumes/breast1_mr.nii.gz": ("lesion", "breast1__lesion"),
    "volumes/lung2_ct.nii.gz": ("lesion", "lung2__lesion"),
    "volumes/mni152_t1_2mm.nii.gz": ("grey_matter", "mni152__grey_matter"),
}


def _nifti_mask(stem: str, author: str) -> np.ndarray:
    name = f"{stem}__{author.split('@')[0]}.nii.gz"
    return np.asanyarray(nib.load(data_dir() / "masks3d" / name).dataobj) != 0


@pytest.fixture(scope="module")
def demo_table(demo_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return project_agreement(
        "demo",
        server_url=demo_server.url,
        api_key=demo_server.api_key,
        cache_dir=tmp_path_factory.mktemp("agreement-cache"),
    )


def test_three_annotator_resources_have_every_pair(demo_table):
    segs = demo_table.where(kind="segmentation")
    for filename, (label, stem) in THREE_RATERS.items():
        rows = {
            (r["annotator_a"], r["annotator_b"]): r
            for r in segs.where(filename=filename, label=label).to_dicts()
        }
        assert set(rows) == set(itertools.combinations((ALICE, BOB, CAROL), 2)), filename
        for (a, b), row in rows.items():
            mask_a, mask_b = _nifti_mask(stem, a), _nifti_mask(stem, b)
            expected = 2 * (mask_a & mask_b).sum() / (mask_a.sum() + mask_b.sum())
            assert row["dice"] == pytest.approx(expected), (filename, a, b)
            assert (row["voxels_a"], row["voxels_b"]) == (mask_a.sum(), mask_b.sum())
            assert 0.0 <= row["iou"] <= row["dice"] <= 1.0
            assert 0.0 < row["assd_mm"] < np.inf and 0.0 < row["hd95_mm"] < np.inf


def test_every_value_is_in_range(demo_table):
    segs = demo_table.where(kind="segmentation")
    assert len(segs) >= 12
    dice, iou = segs["dice"], segs["iou"]
    assert ((dice >= 0) & (dice <= 1)).all() and ((iou >= 0) & (iou <= 1)).all()
    kappas = demo_table["kappa"][np.isfinite(demo_table["kappa"])]
    assert kappas.size and ((kappas >= -1) & (kappas <= 1)).all()
    video = segs.where(filename="videos/ct_lung2_slices.mp4").to_dicts()
    assert len(video) == 1 and np.isnan(video[0]["hd95_mm"])  # frames have no spacing in mm
    summary = {s.label: s for s in demo_table.summary().segmentations}
    assert summary["grey_matter"].n_pairs == 3
    assert summary["lesion"].worst[0].dice_mean == min(w.dice_mean for w in summary["lesion"].worst)


def test_dataset_agreement_with_filters(demo_server, tmp_path):
    ds = VolumeDataset(
        project="demo", server_url=demo_server.url, api_key=demo_server.api_key, cache_dir=tmp_path
    )
    table = dataset_agreement(ds, labels=["grey_matter"], annotators=[ALICE, CAROL])
    rows = table.to_dicts()
    assert [(r["label"], r["annotator_a"], r["annotator_b"]) for r in rows] == [
        ("grey_matter", ALICE, CAROL)
    ]
    # alice thresholds the grey-matter map at p > 0.3, carol at p > 0.7: carol's is inside
    assert rows[0]["voxels_b"] < rows[0]["voxels_a"]
    assert rows[0]["dice"] == pytest.approx(
        2 * rows[0]["voxels_b"] / (rows[0]["voxels_a"] + rows[0]["voxels_b"])
    )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def test_cli_json_and_plot(demo_server, tmp_path):
    pytest.importorskip("matplotlib", reason="the heatmap needs matplotlib (plot extra)")
    png = tmp_path / "heatmap.png"
    args = ["agreement", "--project", "demo"]
    args += ["--server-url", demo_server.url, "--api-key", demo_server.api_key]
    result = CliRunner().invoke(app, [*args, "--json", "--plot", str(png)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    labels = [s["label"] for s in payload["summary"]["segmentations"]]
    assert {"lesion", "grey_matter"} <= set(labels)
    assert any(r["label"] == "lesion" and r["dice"] is not None for r in payload["rows"])
    assert demo_server.api_key not in result.output
    assert png.stat().st_size > 0
    assert _png_size(png) == heatmap_size_px(len(labels))
    text = CliRunner().invoke(app, args)
    assert text.exit_code == 0, text.output
    assert "lesion: Dice" in text.stdout and "worst: " in text.stdout


def test_cli_unknown_project_exits_2(demo_server):
    args = ["agreement", "--project", "nope", "--server-url", demo_server.url]
    result = CliRunner().invoke(app, [*args, "--api-key", demo_server.api_key])
    assert result.exit_code == 2 and "error:" in result.stderr
