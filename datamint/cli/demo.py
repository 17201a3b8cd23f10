"""``datamint demo``: the end-to-end demo on the bundled project (see datamint.demo.train)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from datamint.cli.common import EXIT_FAILURE, fail, for_cli

__all__ = ["demo", "register"]


def demo(
    out: Annotated[
        Path,
        typer.Option(
            "--out", metavar="DIR", file_okay=False, help="Folder for figure.png and the cache."
        ),
    ] = Path("demo-output"),
    epochs: Annotated[
        int, typer.Option("--epochs", metavar="N", min=1, help="Training epochs.")
    ] = 15,
    size: Annotated[
        int,
        typer.Option(
            "--size", metavar="PIXELS", min=8, help="Slices are resized to PIXELS x PIXELS."
        ),
    ] = 96,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", min=0, help="DataLoader worker processes.")
    ] = 2,
    seed: Annotated[
        int, typer.Option("--seed", metavar="N", help="Split and initialisation seed.")
    ] = 0,
) -> None:
    """Serve the bundled demo project on 127.0.0.1 and train a small U-Net on its axial slices.

    Imports the demo project into a temporary store, starts the reference server on an
    ephemeral loopback port, builds VolumeDataset(project="demo").slice("axial") with
    the annotators' masks merged by majority vote, and trains for a few epochs, printing
    loss, validation Dice and items/s. Writes OUT/figure.png (image, merged mask,
    prediction); the cache goes to OUT/cache.

    Exit codes: 0 ok; 1 the run failed (message on stderr); 2 usage error.

    \f
    Args:
        out: Output folder.
        epochs: Training epochs.
        size: Slice size in pixels after resizing.
        workers: DataLoader worker processes.
        seed: Split and initialisation seed.

    Raises:
        typer.Exit: With code 1 when a datamint error stops the run.
    """
    from datamint.demo.train import DemoConfig, run_demo
    from datamint.exceptions import DatamintException

    try:
        run_demo(
            DemoConfig(out_dir=out, epochs=epochs, size_px=size, num_workers=workers, seed=seed)
        )
    except DatamintException as exc:
        fail(for_cli(str(exc)), EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to ``app``.

    Args:
        app: The root typer application.
    """
    app.command("demo")(demo)
