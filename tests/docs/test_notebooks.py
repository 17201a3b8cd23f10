"""Every notebook in notebooks/ runs top to bottom in a real kernel and draws its figures.

Each notebook starts its own demo server (``datamint.testing.demo_server``), so nothing is
shared with the test session but the environment: ``DATAMINT_FIGURES_DIR`` points its
figures at a temporary folder, where each expected PNG must be a real image of the
expected size (the notebooks fix ``figsize`` and ``dpi``) that is not blank. The
notebooks are committed without outputs, and must show their figures inline.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
CELL_TIMEOUT_S = 300

# notebook -> {figure: (width, height) in pixels} (figsize in inches x dpi 100)
EXPECTED = {
    "01_quickstart.ipynb": {"01_batch.png": (1200, 400)},
    "02_annotators.ipynb": {"02_annotators.png": (1600, 400), "02_merges.png": (2000, 400)},
    "03_splits.ipynb": {"03_splits.png": (1000, 500), "03_replay.png": (1000, 400)},
    "04_volumes.ipynb": {"04_planes.png": (1500, 500), "04_aspect.png": (1000, 500)},
    "05_benchmarks.ipynb": {"05_peers.png": (1000, 500), "05_slice_cache.png": (1200, 500)},
}


def test_every_notebook_is_listed() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_is_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_draws_its_figures(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = tmp_path / "figures"
    monkeypatch.setenv("DATAMINT_FIGURES_DIR", str(figures))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError naming the cell on any error

    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    shown = [
        o
        for c in nb.cells
        for o in c.get("outputs", [])
        if o.output_type == "display_data" and "image/png" in o.get("data", {})
    ]
    assert len(shown) >= len(EXPECTED[name])  # each figure is displayed inline too

    assert sorted(p.name for p in figures.glob("*.png")) == sorted(EXPECTED[name])
    for figure, size in EXPECTED[name].items():
        path = figures / figure
        assert path.stat().st_size > 0
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == size, (figure, image.size)
            pixels = np.asarray(image.convert("L"), dtype=np.float32)
        assert pixels.std() > 5.0, f"{figure} looks blank"
