"""``datamint import``: load a project folder into a server store.

Two layouts are accepted: a folder holding ``project.json`` (format
datamint-project-manifest v1), or a plain folder of DICOM/NIfTI/video/PNG/JPEG files with
masks named ``<image>__<label>__<annotator>.<ext>`` (see ``datamint.server.import_folder``).
A DICOM series (several single-frame CT, MR or PET files) is stored as ONE multi-frame
DICOM, frames ordered along the slice normal, as the platform stores a series
(``datamint.server.series_dicom``).
"""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["import_project_command", "register"]


def import_project_command(
    project_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder holding project.json, or a plain folder of media files.",
            exists=True,
            file_okay=False,
        ),
    ],
    store: Annotated[
        Path, typer.Option("--store", help="Store folder (created when missing).", file_okay=False)
    ],
    member: Annotated[
        list[str] | None,
        typer.Option("--member", help="Email to make a project member (repeatable)."),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="Project name of a plain folder (default: its name)."),
    ] = None,
    folder: Annotated[
        bool, typer.Option("--folder", help="Import as a plain folder even if it has project.json.")
    ] = False,
    annotator_domain: Annotated[
        str, typer.Option(help="Domain of the emails made from annotator names in mask names.")
    ] = "example.org",
) -> None:
    """Import a project folder into a store; prints the project id. Idempotent.

    Every file's header is read: each file no reader can read gets a warning line on
    stderr and is imported anyway, and their count ends the report.

    \f
    Args:
        project_dir: Folder holding ``project.json``, or a plain folder (naming
            convention: ``<image>__<label>__<annotator>.<ext>``; frame masks
            ``f<frame>__<label>__<annotator>.png`` in a folder named after the image).
        store: Store folder.
        member: Extra project members, besides the creator and the annotators (for a plain
            folder the first one is the project's creator).
        name: Project name for a plain folder.
        folder: Force the plain-folder layout.
        annotator_domain: Domain for annotator emails of a plain folder.

    Raises:
        typer.Exit: With code 1 when the manifest or a file is invalid (message on stderr).
    """
    from datamint.server.errors import ManifestError
    from datamint.server.import_common import ReadCheck
    from datamint.server.import_folder import import_folder
    from datamint.server.importer import MANIFEST_NAME, import_project
    from datamint.server.store import ProjectStore

    project_store = ProjectStore(store)
    reads = ReadCheck()
    try:
        if (project_dir / MANIFEST_NAME).is_file() and not folder:
            project_id = import_project(
                project_store, project_dir, members=member or [], reads=reads
            )
            for line in reads.unreadable:
                typer.echo(f"warning: {line}; imported anyway", err=True)
        else:
            report = import_folder(
                project_store,
                project_dir,
                name=name,
                members=member or [],
                annotator_domain=annotator_domain,
            )
            for warning in report.warnings:
                typer.echo(f"warning: {warning}", err=True)
            project_id = report.project_id
            reads = report.reads
    except (ManifestError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    project = project_store.get_project(project_id) or {}
    if reads.unreadable:
        typer.echo(f"warning: {reads.summary()}", err=True)
    typer.echo(
        f"imported project {project.get('name')!r} ({project.get('resource_count')} resources) "
        f"into {store}",
        err=True,
    )
    typer.echo(project_id)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("import")(import_project_command)
