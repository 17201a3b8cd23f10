"""``datamint prefetch``: fill the cache with a project's files (and decoded images)
through the dataset API, exactly as a training script would."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import typer

from datamint.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ApiKeyOption,
    CacheDirOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    ServerUrlOption,
    connection,
    echo_json,
    fail,
    for_cli,
    library_errors,
    progress_enabled,
)

__all__ = ["Kind", "Plane", "prefetch", "register"]


class Kind(str, Enum):
    """Which of a project's resources ``prefetch`` fetches."""

    ALL = "all"
    VOLUMES = "volumes"
    IMAGES = "images"
    VIDEOS = "videos"


class Plane(str, Enum):
    """The plane a volume's decoded slices are laid out for."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


def _datasets(kind: Kind, plane: Plane, kwargs: dict[str, Any]) -> list[tuple[str, Any]]:
    """``(name, dataset)`` per kind asked for, each the view whose items a training script
    would read (volumes sliced along ``plane``, videos frame by frame)."""
    from datamint.dataset.image_dataset import ImageDataset
    from datamint.dataset.video_dataset import VideoDataset
    from datamint.dataset.volume_dataset import VolumeDataset

    chosen: list[tuple[str, Any]] = []
    if kind in (Kind.ALL, Kind.VOLUMES):
        chosen.append(("volumes", VolumeDataset(**kwargs).slice(plane.value)))
    if kind in (Kind.ALL, Kind.IMAGES):
        chosen.append(("images", ImageDataset(**kwargs)))
    if kind in (Kind.ALL, Kind.VIDEOS):
        chosen.append(("videos", VideoDataset(**kwargs).frame_by_frame()))
    return chosen


def prefetch(
    project: ProjectOption,
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    kind: Annotated[
        Kind,
        typer.Option(
            "--kind",
            metavar="KIND",
            help="Resources to fetch: all, volumes, images or videos.",
            show_default=True,
        ),
    ] = Kind.ALL,
    annotations: Annotated[
        bool,
        typer.Option("--annotations/--no-annotations", help="Also fetch segmentation files."),
    ] = True,
    decode: Annotated[
        bool,
        typer.Option(
            "--decode/--no-decode",
            help="Also decode every image into the decoded-array cache.",
        ),
    ] = False,
    plane: Annotated[
        Plane,
        typer.Option(
            "--plane",
            metavar="PLANE",
            help="With --decode: lay volumes out for axial, coronal or sagittal slices.",
        ),
    ] = Plane.AXIAL,
    workers: Annotated[
        int, typer.Option("--workers", metavar="N", min=1, help="Concurrent downloads.")
    ] = 8,
    decode_workers: Annotated[
        int,
        typer.Option("--decode-workers", metavar="N", min=1, help="Processes decoding at once."),
    ] = 2,
    cache_dir: CacheDirOption = None,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Download a project's files into the cache (and decode them) before training.

    Builds the datasets a training script would (VolumeDataset(...).slice(PLANE),
    ImageDataset, VideoDataset(...).frame_by_frame()) and calls their prefetch():
    every resource file and, with --annotations, every segmentation file is fetched
    once (cache hits are skipped), in parallel; with --decode every image is then
    decoded once into the decoded-array cache by a process pool, so the first epoch
    reads slices only. Unlike `datamint download` it does not write a complete
    offline manifest: it caches what these datasets read.

    Exit codes: 0 ok; 1 some file could not be fetched or decoded (run it again: what
    arrived stays); 2 usage or configuration error (no key or URL, unknown project,
    server unreachable).

    \f
    Args:
        project: Project name.
        server_url: Server base URL (option > ``DATAMINT_API_URL`` > config file).
        api_key: API key (option > ``DATAMINT_API_KEY`` > config file). Never printed.
        kind: Which datasets to build.
        annotations: Fetch segmentation files too.
        decode: Decode images into the array cache.
        plane: Plane whose slice layout volumes get.
        workers: Concurrent downloads (threads).
        decode_workers: Decoding processes.
        cache_dir: Cache root.
        quiet: No progress bars, no summary; errors only.
        as_json: Print ``{"project", "cache_root", "kinds": {name: {resources, cached,
            downloaded, decoded, decode_cached, failed}}}``.

    Raises:
        typer.Exit: With code 1 when a file failed to download or decode, 2 when the
            project could not be prepared.
    """
    from datamint.exceptions import DatamintException, DownloadError
    from datamint.settings import cache_root

    url, key = connection(server_url, api_key)
    root = cache_dir if cache_dir is not None else cache_root()
    kwargs = {"project": project, "server_url": url, "api_key": key, "cache_dir": root}
    bars = progress_enabled(quiet) and not as_json
    with library_errors(EXIT_USAGE):
        datasets = _datasets(kind, plane, kwargs)
        # Prepared here, so that an unknown project or a bad key is a usage error.
        counts = [len(dataset.resources) for _, dataset in datasets]
    summary: dict[str, dict[str, Any]] = {}
    failures: list[str] = []
    for (name, dataset), count in zip(datasets, counts, strict=True):
        row: dict[str, Any] = {"resources": count}
        try:
            report = dataset.prefetch(
                include_annotations=annotations,
                num_workers=workers,
                progress=bars,
                decode=decode,
                decode_workers=decode_workers,
            )
        except DownloadError as exc:
            report = getattr(exc, "report", None)
            failures.append(for_cli(str(exc)))
        except DatamintException as exc:
            report = None
            failures.append(f"{name}: {for_cli(str(exc))}")
        if report is not None:
            row.update(
                cached=report.cached,
                downloaded=report.downloaded,
                decoded=report.decoded,
                decode_cached=report.decode_cached,
                failed=[f"{what}: {error}" for what, error in report.failed],
            )
        summary[name] = row
    if as_json:
        echo_json({"project": project, "cache_root": root, "kinds": summary})
    elif not quiet:
        typer.echo(f"project {project!r}, cache root {root}")
        for name, row in summary.items():
            if "cached" not in row:
                typer.echo(f"  {name}: {row['resources']} resources: failed")
                continue
            decoded = (
                f"; decoded {row['decoded']}, {row['decode_cached']} already decoded"
                if decode
                else ""
            )
            typer.echo(
                f"  {name}: {row['resources']} resources; files {row['downloaded']} "
                f"downloaded, {row['cached']} already cached, {len(row['failed'])} "
                f"failed{decoded}"
            )
    if failures:
        fail("; ".join(failures) + "\nrun the same command again to retry", EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    """Add ``prefetch`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("prefetch")(prefetch)
