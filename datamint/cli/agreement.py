"""``datamint agreement``: how far a project's annotators agree, label by label."""

from pathlib import Path
from typing import Annotated

import typer

from datamint.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ApiKeyOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    ServerUrlOption,
    connection,
    fail,
    library_errors,
    note,
)

__all__ = ["agreement", "register"]


def agreement(
    project: ProjectOption,
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    as_json: JsonOption = False,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            metavar="PNG",
            help="Write a PNG heatmap of mean pairwise Dice per label (needs matplotlib).",
            dir_okay=False,
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Compare every two annotators of a project, label by label.

    Segmentations: Dice, IoU, ASSD and HD95 (mm) per resource and pair.
    Image labels and categories: Cohen's kappa per pair, Fleiss' kappa.
    Prints per label the mean Dice ± std, the number of pairs and the 3
    resources with the lowest mean Dice. Annotators who did not annotate a
    resource are not counted as disagreeing.

    Exit codes: 0 ok; 1 the heatmap could not be drawn; 2 usage or configuration error
    (no key or URL, unknown project, server unreachable).

    \f
    Args:
        project: Project name.
        server_url: Server base URL (argument > ``DATAMINT_API_URL`` > config file).
        api_key: API key (argument > ``DATAMINT_API_KEY`` > config file). Never printed.
        as_json: Print ``{"project", "summary", "rows"}`` as JSON (``nan``/``inf`` as null).
        plot: Where to write the heatmap PNG.
        quiet: No progress bar and no message about the heatmap.

    Raises:
        typer.Exit: With code 2 when the project could not be read, 1 when the plot
            could not be written.
    """
    import json

    from datamint.agreement import project_agreement

    url, key = connection(server_url, api_key)
    with library_errors(EXIT_USAGE):
        table = project_agreement(
            project, server_url=url, api_key=key, progress=not (as_json or quiet)
        )
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
            fail(f"cannot draw the heatmap: {exc}", EXIT_FAILURE)
        note(f"heatmap of {', '.join(drawn)} written to {plot}", quiet)


def register(app: typer.Typer) -> None:
    """Add ``agreement`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("agreement")(agreement)
