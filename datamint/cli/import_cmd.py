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

from datamint.cli.common import EXIT_FAILURE, JsonOption, QuietOption, echo_json, fail, note

__all__ = ["import_project_command", "register"]


def import_project_command(
    project_dir: Annotated[
        Path,
        typer.Argument(
            metavar="PROJECT_DIR",
            help="Folder holding project.json, or a plain folder of media files.",
            exists=True,
            file_okay=False,
        ),
    ],
    store: Annotated[
        Path,
        typer.Option(
            "--store", metavar="DIR", help="Store folder (created when missing).", file_okay=False
        ),
    ],
    member: Annotated[
        list[str] | None,
        typer.Option(
            "--member", metavar="EMAIL", help="Email to make a project member (repeatable)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name", metavar="NAME", help="Project name of a plain folder (default: its name)."
        ),
    ] = None,
    folder: Annotated[
        bool, typer.Option("--folder", help="Import as a plain folder even if it has project.json.")
    ] = False,
    annotator_domain: Annotated[
        str,
        typer.Option(
            "--annotator-domain",
            metavar="DOMAIN",
            help="Domain of the emails made from annotator names in mask names.",
        ),
    ] = "example.org",
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Import a project folder into a store; prints the project id. Idempotent.

    A folder holding project.json (the datamint project manifest, as in the bundled
    demo) is imported as described there; any other folder is scanned for DICOM,
    NIfTI, video, PNG and JPEG files, masks being named IMAGE__LABEL__ANNOTATOR.EXT
    next to their image. Importing again updates the project in place. Every file's
    header is read: each file no reader can read gets a warning line and is imported
    anyway, and their count ends the report.

    Exit codes: 0 ok; 1 the manifest or a file is invalid (message on stderr);
    2 usage error.

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
        quiet: No messages on stderr (warnings included); the id is still printed.
        as_json: Print ``{"project_id", "name", "resources", "store", "warnings"}``.

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
    warnings: list[str] = []
    try:
        if (project_dir / MANIFEST_NAME).is_file() and not folder:
            project_id = import_project(
                project_store, project_dir, members=member or [], reads=reads
            )
            warnings = [f"{line}; imported anyway" for line in reads.unreadable]
        else:
            report = import_folder(
                project_store,
                project_dir,
                name=name,
                members=member or [],
                annotator_domain=annotator_domain,
            )
            reads = report.reads
            warnings = [str(w) for w in report.warnings]  # unreadable files included
            project_id = report.project_id
    except (ManifestError, ValueError) as exc:
        fail(str(exc), EXIT_FAILURE)
    project = project_store.get_project(project_id) or {}
    if reads.unreadable:
        warnings.append(reads.summary())
    if as_json:
        echo_json(
            {
                "project_id": project_id,
                "name": project.get("name"),
                "resources": project.get("resource_count"),
                "store": store,
                "warnings": warnings,
            }
        )
        return
    for warning in warnings:
        note(f"warning: {warning}", quiet)
    note(
        f"imported project {project.get('name')!r} ({project.get('resource_count')} resources) "
        f"into {store}",
        quiet,
    )
    typer.echo(project_id)


def register(app: typer.Typer) -> None:
    """Add ``import`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("import")(import_project_command)
