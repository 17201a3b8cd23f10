"""``datamint import``: load a project folder (``project.json``) into a server store."""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["import_project_command", "register"]


def import_project_command(
    project_dir: Annotated[
        Path, typer.Argument(help="Folder holding project.json.", exists=True, file_okay=False)
    ],
    store: Annotated[
        Path, typer.Option("--store", help="Store folder (created when missing).", file_okay=False)
    ],
    member: Annotated[
        list[str] | None,
        typer.Option("--member", help="Email to make a project member (repeatable)."),
    ] = None,
) -> None:
    """Import a project folder into a store; prints the project id. Idempotent.

    \f
    Args:
        project_dir: Folder holding ``project.json`` (format datamint-project-manifest v1).
        store: Store folder.
        member: Extra project members, besides the creator and the annotators.

    Raises:
        typer.Exit: With code 1 when the manifest or a file is invalid (message on stderr).
    """
    from datamint.server.errors import ManifestError
    from datamint.server.importer import import_project
    from datamint.server.store import ProjectStore

    project_store = ProjectStore(store)
    try:
        project_id = import_project(project_store, project_dir, members=member or [])
    except (ManifestError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    project = project_store.get_project(project_id) or {}
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
