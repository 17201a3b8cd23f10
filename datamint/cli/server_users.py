"""``datamint server add-user | add-member | list-users``: the reference server's users."""

from pathlib import Path
from typing import Annotated, Any

import typer

from datamint.cli.common import EXIT_USAGE, JsonOption, StoreOption, echo_json, fail, new_app

__all__ = ["add_member", "add_user", "list_users", "register", "server_app"]

server_app = new_app("Manage a reference-server store: users, members, limits, clean-up.")

ProjectsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--project",
        metavar="NAME_OR_ID",
        help="Project (name or id) to make the user a member of (repeatable).",
    ),
]


def _open_store(store: Path, *, create: bool = False) -> Any:
    """The store at ``store``; exits with 2 when there is none (unless ``create``)."""
    from datamint.server.store import ProjectStore

    if not create and not (store / "store.sqlite3").is_file():
        fail(
            f"no store at {store}: create one with `datamint import --store {store} PROJECT_DIR`",
            EXIT_USAGE,
        )
    return ProjectStore(store)


def _project_ids(project_store: Any, projects: list[str]) -> list[str]:
    """Resolve project names or ids; exits with 2 for an unknown one."""
    ids = []
    for project in projects:
        if project_store.get_project(project) is not None:
            ids.append(project)
            continue
        found = project_store.project_id_by_name(project)
        if found is None:
            fail(f"--project {project!r}: no project with that name or id", EXIT_USAGE)
        ids.append(found)
    return ids


def add_user(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email.")],
    store: Annotated[
        Path,
        typer.Option(
            "--store", metavar="DIR", help="Store folder (created when missing).", file_okay=False
        ),
    ],
    project: ProjectsOption = None,
) -> None:
    """Create a user (or a new key for an existing one) and print the key once.

    The key is printed on stdout and never again: only its sha256 is stored. Earlier
    keys of the user stay valid.

    Exit codes: 0 ok; 1 the email is invalid; 2 usage error (unknown project).

    \f
    Args:
        email: The user's email.
        store: Store folder.
        project: Project names or ids the user becomes a member of.

    Raises:
        typer.Exit: With code 1 for an invalid email, 2 for an unknown project.
    """
    from datamint.exceptions import ValidationError

    project_store = _open_store(store, create=True)
    project_ids = _project_ids(project_store, project or [])
    try:
        key = project_store.create_user(email)
        for project_id in project_ids:
            project_store.add_member(project_id, email)
    except ValidationError as exc:
        fail(str(exc))
    typer.echo(f"API key for {email.strip().lower()} (shown once; store it now):", err=True)
    typer.echo(key)


def add_member(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The user's email.")],
    store: StoreOption,
    project: ProjectsOption = None,
) -> None:
    """Make a user a member of one or more projects (idempotent); prints no key.

    The user needs no key yet: `datamint server add-user` issues one.

    Exit codes: 0 ok; 1 the email is invalid; 2 usage error (no store, unknown
    project, no --project).

    \f
    Args:
        email: The user's email.
        store: Store folder (it must hold ``store.sqlite3``).
        project: Project names or ids.

    Raises:
        typer.Exit: With code 1 for an invalid email, 2 for a missing store, an unknown
            project or no ``--project``.
    """
    from datamint.exceptions import ValidationError

    if not project:
        fail("give at least one --project NAME_OR_ID", EXIT_USAGE)
    project_store = _open_store(store)
    project_ids = _project_ids(project_store, project)
    try:
        for project_id in project_ids:
            project_store.add_member(project_id, email)
    except ValidationError as exc:
        fail(str(exc))
    names = [str((project_store.get_project(pid) or {}).get("name", pid)) for pid in project_ids]
    typer.echo(f"{email.strip().lower()} is a member of {', '.join(names)}", err=True)


def list_users(store: StoreOption, as_json: JsonOption = False) -> None:
    """List the store's users: email, number of keys issued, projects they are members of.

    Keys themselves are never shown (only their sha256 is stored).

    Exit codes: 0 ok; 2 usage error (no store).

    \f
    Args:
        store: Store folder (it must hold ``store.sqlite3``).
        as_json: Print a list of ``{"email", "created_at", "keys", "projects"}``, where
            ``projects`` holds ``{"id", "name"}``.

    Raises:
        typer.Exit: With code 2 when there is no store.
    """
    project_store = _open_store(store)
    users = project_store.users.list_users()
    names: dict[str, str] = {}
    for user in users:
        for pid in user["project_ids"]:
            if pid not in names:
                names[pid] = str((project_store.get_project(pid) or {}).get("name", pid))
    rows = [
        {
            "email": u["email"],
            "created_at": u["created_at"],
            "keys": u["keys"],
            "projects": [{"id": pid, "name": names[pid]} for pid in u["project_ids"]],
        }
        for u in users
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no users")
    for row in rows:
        projects = ", ".join(p["name"] for p in row["projects"]) or "-"
        typer.echo(f"{row['email']}  keys: {row['keys']}  projects: {projects}")


def register(app: typer.Typer) -> None:
    """Add the ``server`` command group to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.add_typer(server_app, name="server")


server_app.command("add-user")(add_user)
server_app.command("add-member")(add_member)
server_app.command("list-users")(list_users)
