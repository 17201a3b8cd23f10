"""``datamint download``: sync a project into the local cache for offline training."""

from typing import Annotated

import typer

from datamint.cli.common import (
    EXIT_FAILURE,
    ApiKeyOption,
    CacheDirOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    ServerUrlOption,
    connection,
    echo_json,
    library_errors,
    note,
    progress_enabled,
)

__all__ = ["download", "register"]

MAX_FAILURES_SHOWN = 20


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def download(
    project: ProjectOption,
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    include_annotations: Annotated[
        bool,
        typer.Option(
            "--include-annotations/--no-include-annotations",
            help="Also download every segmentation file.",
        ),
    ] = True,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", min=1, help="Concurrent downloads.")
    ] = 8,
    cache_dir: CacheDirOption = None,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
    ] = True,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Download a project's manifest and files into the cache, for training offline.

    Afterwards datasets of the project prepare and load with no server
    (DATAMINT_OFFLINE=1). Files already cached are not fetched again. To also decode
    the images into the array cache, use `datamint prefetch --decode`.

    Exit codes: 0 ok; 1 some file could not be fetched (run the command again: what
    arrived stays); 2 usage or configuration error (no key or URL, unknown project,
    server unreachable).

    \f
    Args:
        project: Project name.
        server_url: Server base URL (option > ``DATAMINT_API_URL`` > config file).
        api_key: API key (option > ``DATAMINT_API_KEY`` > config file). Never printed.
        include_annotations: Also fetch segmentation files.
        workers: Concurrent downloads.
        cache_dir: Cache root.
        progress: Show a tqdm bar on stderr.
        quiet: No bar, no summary; errors only.
        as_json: Print the report as JSON: ``project``, ``project_id``, ``server_url``,
            ``files``, ``resources``, ``segmentations``, ``cached``, ``downloaded``,
            ``bytes_downloaded``, ``seconds``, ``failed`` (list of ``{what, error}``),
            ``manifest``, ``cache_root``.

    Raises:
        typer.Exit: With code 1 when some file failed, 2 when the project could not be
            listed (bad URL or key, unknown project, server down).
    """
    from datamint.api.client import Api
    from datamint.api.sync import sync_project
    from datamint.settings import cache_root

    url, key = connection(server_url, api_key)
    root = cache_dir if cache_dir is not None else cache_root()
    with library_errors(), Api(server_url=url, api_key=key) as api:
        report = sync_project(
            api,
            project,
            cache_root=root,
            include_annotations=include_annotations,
            workers=workers,
            progress=progress_enabled(quiet, progress) and not as_json,
        )
    if as_json:
        echo_json(
            {
                "project": report.project_name,
                "project_id": report.project_id,
                "server_url": report.server_url,
                "files": report.files,
                "resources": report.resources,
                "segmentations": report.segmentations,
                "cached": report.cached,
                "downloaded": report.downloaded,
                "bytes_downloaded": report.bytes_downloaded,
                "seconds": report.seconds,
                "failed": [
                    {"what": what, "error": f"{type(error).__name__}: {error}"}
                    for what, error in report.failed
                ],
                "manifest": report.manifest_path,
                "cache_root": root,
            }
        )
    elif not quiet:
        typer.echo(
            f"project {report.project_name!r} ({report.project_id}) from {report.server_url}"
        )
        typer.echo(
            f"files: {report.files} ({report.resources} resources, {report.segmentations} "
            f"segmentations): {report.cached} already cached, {report.downloaded} downloaded "
            f"({_mb(report.bytes_downloaded)} in {report.seconds:.1f} s, "
            f"{report.mb_per_s:.1f} MB/s), {len(report.failed)} failed"
        )
        typer.echo(f"manifest: {report.manifest_path}")
        typer.echo(f"cache root: {root}")
    for text in report.notes:
        note(f"note: {text}", quiet)
    if report.failed:
        if not as_json:
            for what, error in report.failed[:MAX_FAILURES_SHOWN]:
                typer.echo(f"failed: {what}: {type(error).__name__}: {error}", err=True)
            if len(report.failed) > MAX_FAILURES_SHOWN:
                typer.echo(f"... and {len(report.failed) - MAX_FAILURES_SHOWN} more", err=True)
        typer.echo("run the same command again to retry the failed files", err=True)
        raise typer.Exit(code=EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add ``download`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("download")(download)
