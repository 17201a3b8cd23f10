"""``datamint demo``: the end-to-end demo on the bundled project (see datamint.demo.train)."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["register"]


def demo(
    out: Path = typer.Option(  # noqa: B008 - typer declares options this way
        Path("demo-output"),
        "--out",
        help="Folder for figure.png and the cache.",
    ),
    epochs: int = typer.Option(15, help="Training epochs."),
    size: int = typer.Option(96, help="Slices are resized to SIZE x SIZE pixels."),
    workers: int = typer.Option(2, help="DataLoader worker processes."),
    seed: int = typer.Option(0, help="Split and initialisation seed."),
) -> None:
    """Serve the bundled demo project on 127.0.0.1 and train a small U-Net on its axial slices."""
    from datamint.demo.train import DemoConfig, run_demo

    run_demo(DemoConfig(out_dir=out, epochs=epochs, size_px=size, num_workers=workers, seed=seed))


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``."""
    app.command("demo")(demo)
