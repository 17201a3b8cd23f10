"""``datamint download``: sync a project into the local cache for offline training."""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["download", "register"]

MAX_FAILURES_SHOWN = 20


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def download(
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
    include_annotations: Annotated[
        bool,
        typer.Option(
            "--include-annotations/--no-include-annotations",
            help="Also download every segmentation file.",
        ),
    ] = True,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Concurrent downloads.")] = 8,
    cache_dir: Annotated[
        Path | None,
        typer.Option(
            "--cache-dir",
            help="Cache root; else DATAMINT_CACHE_DIR or the user cache dir.",
            file_okay=False,
        ),
    ] = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
) -> None:
    """Download a project's manifest and files into the cache, for training offline.

    Afterwards datasets of the project prepare and load with no server
    (``DATAMINT_OFFLINE=1``). Exits with 1 when a file could not be fetched, 2 when the
    server cannot be used at all.

    \f
    Args:
        project: Project name.
        server_url: Server base URL (argument > ``DATAMINT_API_URL`` > config file).
        api_key: API key (argument > ``DATAMINT_API_KEY`` > config file). Never printed.
        include_annotations: Also fetch segmentation files.
        workers: Concurrent downloads.
        cache_dir: Cache root.
        progress: Show a tqdm bar on stderr.

    Raises:
        typer.Exit: With code 1 when some file failed, 2 when the project could not be
            listed (bad URL or key, unknown project, server down).
    """
    from datamint.api.client import Api
    from datamint.api.sync import sync_project
    from datamint.exceptions import DatamintException
    from datamint.settings import cache_root

    root = cache_dir if cache_dir is not None else cache_root()
    try:
        with Api(server_url=server_url, api_key=api_key) as api:
            report = sync_project(
                api,
                project,
                cache_root=root,
                include_annotations=include_annotations,
                workers=workers,
                progress=progress,
            )
    except DatamintException as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"project {report.project_name!r} ({report.project_id}) from {report.server_url}")
    typer.echo(
        f"files: {report.files} ({report.resources} resources, {report.segmentations} "
        f"segmentations): {report.cached} already cached, {report.downloaded} downloaded "
        f"({_mb(report.bytes_downloaded)} in {report.seconds:.1f} s, "
        f"{report.mb_per_s:.1f} MB/s), {len(report.failed)} failed"
    )
    typer.echo(f"manifest: {report.manifest_path}")
    typer.echo(f"cache root: {root}")
    for note in report.notes:
        typer.echo(f"note: {note}", err=True)
    if report.failed:
        for what, error in report.failed[:MAX_FAILURES_SHOWN]:
            typer.echo(f"failed: {what}: {type(error).__name__}: {error}", err=True)
        if len(report.failed) > MAX_FAILURES_SHOWN:
            typer.echo(f"... and {len(report.failed) - MAX_FAILURES_SHOWN} more", err=True)
        typer.echo("run the same command again to retry the failed files", err=True)
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``download`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("download")(download)
