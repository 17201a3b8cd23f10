"""``datamint agreement``: how far a project's annotators agree, label by label."""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["agreement", "register"]


def agreement(
    project: Annotated[str, typer.Option("--project", help="Project name (exact).")],
    server_url: Annotated[
        str | None,
        typer.Option(
            "--server-url", help="Server base URL; else DATAMINT_API_URL or the config file."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", help="API key; else DATAMINT_API_KEY or the config file."),
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the summary and every row as JSON instead of text."),
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Write a PNG heatmap of mean pairwise Dice per label (needs matplotlib).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Compare every two annotators of a project, label by label.

    Segmentations: Dice, IoU, ASSD and HD95 (mm) per resource and pair.
    Image labels and categories: Cohen's kappa per pair, Fleiss' kappa.
    Prints per label the mean Dice ± std, the number of pairs and the 3
    resources with the lowest mean Dice. Annotators who did not annotate a
    resource are not counted as disagreeing. Exits with 2 when the server
    cannot be used or the project is unknown, 1 when the heatmap fails.

    \f
    Args:
        project: Project name.
        server_url: Server base URL (argument > ``DATAMINT_API_URL`` > config file).
        api_key: API key (argument > ``DATAMINT_API_KEY`` > config file). Never printed.
        as_json: Print ``{"project", "summary", "rows"}`` as JSON (``nan``/``inf`` as null).
        plot: Where to write the heatmap PNG.

    Raises:
        typer.Exit: With code 2 when the project could not be read, 1 when the plot
            could not be written.
    """
    import json

    from datamint.agreement import project_agreement
    from datamint.exceptions import DatamintException

    try:
        table = project_agreement(
            project, server_url=server_url, api_key=api_key, progress=not as_json
        )
    except DatamintException as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    summary = table.summary()
    if as_json:
        payload = {"project": project, "summary": summary.to_dict(), "rows": table.to_dicts(True)}
        typer.echo(json.dumps(payload, indent=2, allow_nan=False))
    else:
        typer.echo(f"project {project!r}: {len(table)} comparisons")
        typer.echo(str(summary))
    if plot is not None:
        from datamint.agreement.plot import plot_dice_heatmap

        try:
            drawn = plot_dice_heatmap(table, plot)
        except (ImportError, ValueError) as exc:
            typer.echo(f"error: cannot draw the heatmap: {exc}", err=True)
            raise typer.Exit(code=1) from None
        typer.echo(f"heatmap of {', '.join(drawn)} written to {plot}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``agreement`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("agreement")(agreement)
