"""Draw the figures of docs/agreement.md from the bundled demo project.

- docs/images/agreement-heatmap.png: ``datamint agreement --plot`` on the demo project;
- docs/images/merges-side-by-side.png: one axial slice of the MNI152 grey-matter masks
  (three nested annotators) merged by union, mode, STAPLE and mean.

The demo project is served by the reference server on 127.0.0.1 from a temporary store,
as the tests do. Needs the ``server`` and ``plot`` extras. Run from the repository root:

    .venv/bin/python scripts/make_agreement_figures.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images"
RESOURCE = "volumes/mni152_t1_2mm.nii.gz"
LABEL = "grey_matter"


def merges_figure(server_url: str, api_key: str, cache_dir: Path, path: Path) -> None:
    """Union / mode / STAPLE / mean of the three grey-matter annotators on one slice."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from scipy import ndimage

    from datamint.dataset import VolumeDataset
    from datamint.storage.atomic import atomic_open
    from datamint.targets.merge import MergeStrategy, merge_semantic, staple_semantic

    ds = VolumeDataset(
        project="demo",
        server_url=server_url,
        api_key=api_key,
        cache_dir=cache_dir,
        return_as_semantic_segmentation=True,
        include_segmentation_names=[LABEL],
    )
    index = [r.filename for r in ds.resources].index(RESOURCE)
    item = ds[index]
    per_author = item["masks"]  # author -> float32 (L + 1, D, H, W), one-hot
    n_classes = len(ds.segmentation_labels)
    code = ds.segmentation_labels.index(LABEL) + 1
    image = np.asarray(item["image"][0], dtype=np.float32)
    union = merge_semantic(per_author, MergeStrategy.UNION, n_classes)[code].numpy()
    mode = merge_semantic(per_author, MergeStrategy.MODE, n_classes)[code].numpy()
    mean = merge_semantic(per_author, MergeStrategy.MEAN, n_classes)[code].numpy()
    staple = staple_semantic(per_author, n_classes)  # over the whole volume
    posterior = staple.probabilities[code].numpy()
    z = int(np.argmax(union.sum(axis=(1, 2))))  # the slice with most grey matter

    lo, hi = np.percentile(image[z], [1, 99])
    grey = np.clip((image[z] - lo) / (hi - lo), 0, 1)[..., None].repeat(3, axis=2)
    cmap = colormaps["plasma"]

    def overlay(values: np.ndarray) -> np.ndarray:
        """Grey image with ``values`` drawn in the colour map; below 0.01 left clear
        (the STAPLE posterior is tiny but not 0 outside)."""
        rgb = grey.copy()
        on = values >= 0.01
        rgb[on] = 0.2 * grey[on] + 0.8 * cmap(values[on])[:, :3]
        return rgb

    authors = sorted(per_author)
    outlines = grey.copy()
    colours = {"red": (1, 0.2, 0.2), "green": (0.2, 1, 0.2), "blue": (0.3, 0.5, 1)}
    legend = []
    for (name, colour), author in zip(colours.items(), authors, strict=False):
        mask = per_author[author][code][z] > 0
        outlines[mask & ~ndimage.binary_erosion(mask)] = colour
        legend.append(f"{author.split('@')[0]} {name}")
    sens = ", ".join(
        f"{a.split('@')[0]} {staple.sensitivity[i, code]:.2f}/{staple.specificity[i, code]:.2f}"
        for i, a in enumerate(staple.authors)
    )
    panels = [
        ("outlines: " + ", ".join(legend), outlines),
        ("union", overlay(union[z])),
        ("mode (2 of 3)", overlay(mode[z])),
        ("STAPLE posterior\n" + sens, overlay(posterior[z])),
        ("mean (soft label)", overlay(mean[z])),
    ]
    fig = Figure(figsize=(16, 3.8), dpi=100, layout="constrained")
    axes = fig.subplots(1, 5)
    for ax, (title, rgb) in zip(axes, panels, strict=True):
        ax.imshow(rgb, origin="lower", interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.colorbar(
        ScalarMappable(Normalize(0, 1), cmap),
        ax=list(axes[1:]),
        label="merged value (fraction, probability)",
        shrink=0.8,
    )
    fig.suptitle(
        f"MNI152 grey matter, axial slice {z}: three nested annotators "
        "(alice's mask contains bob's, bob's contains carol's); "
        "under STAPLE, each annotator's sensitivity/specificity"
    )
    with atomic_open(path) as fh:
        fig.savefig(fh, format="png")


def main() -> int:
    from datamint.agreement import project_agreement
    from datamint.agreement.plot import plot_dice_heatmap
    from datamint.testing.server import build_demo_store, running_server

    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="datamint-figures-") as tmp:
        root = Path(tmp)
        _, api_key = build_demo_store(root / "store")
        with running_server(root / "store") as server:
            table = project_agreement(
                "demo", server_url=server.url, api_key=api_key, cache_dir=root / "cache"
            )
            print(table.summary())
            drawn = plot_dice_heatmap(table, OUT / "agreement-heatmap.png")
            print(f"heatmap of {', '.join(drawn)} -> {OUT / 'agreement-heatmap.png'}")
            merges_figure(server.url, api_key, root / "cache", OUT / "merges-side-by-side.png")
            print(f"merges -> {OUT / 'merges-side-by-side.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
