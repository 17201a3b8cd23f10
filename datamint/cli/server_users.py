"""``datamint server ...``: manage the reference server's users and keys."""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["add_user", "register", "server_app"]

server_app = typer.Typer(
    help="Manage a reference-server store: users, limits, clean-up.", no_args_is_help=True
)


@server_app.command("add-user")
def add_user(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    store: Annotated[
        Path, typer.Option("--store", help="Store folder (created when missing).", file_okay=False)
    ],
    project: Annotated[
        list[str] | None,
        typer.Option("--project", help="Project id to make the user a member of (repeatable)."),
    ] = None,
) -> None:
    """Create a user (or a new key for an existing one) and print the key once.

    The key is printed on stdout and never again: only its sha256 is stored.

    \f
    Args:
        email: The user's email.
        store: Store folder.
        project: Project ids the user becomes a member of.

    Raises:
        typer.Exit: With code 1 for an invalid email or an unknown project.
    """
    from datamint.exceptions import ItemNotFoundError, ValidationError
    from datamint.server.store import ProjectStore

    project_store = ProjectStore(store)
    try:
        for project_id in project or []:
            project_store.add_member(project_id, email)
        key = project_store.create_user(email)
    except (ItemNotFoundError, ValidationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"API key for {email.strip().lower()} (shown once; store it now):", err=True)
    typer.echo(key)


def register(app: typer.Typer) -> None:
    """Add the ``server`` command group to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.add_typer(server_app, name="server")
