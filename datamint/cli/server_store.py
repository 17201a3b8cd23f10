"""``datamint server gc`` and ``datamint server settings``: upkeep of a server store."""

from typing import Annotated

import typer

from datamint.cli.common import EXIT_FAILURE, EXIT_USAGE, StoreOption, fail
from datamint.cli.server_users import server_app

__all__ = ["gc", "register", "settings"]


def gc(
    store: StoreOption,
    min_age_s: Annotated[
        float,
        typer.Option(
            "--min-age-s",
            metavar="SECONDS",
            help="Keep unreferenced blobs younger than this (seconds; default 2 h, longer "
            "than a download token lives).",
        ),
    ] = 7200.0,
) -> None:
    """Remove orphaned staging files and blobs no record references; print what went.

    Safe while a server runs on the store: staging of live processes is locked, and young
    blobs are kept.

    Exit codes: 0 ok; 2 usage error (no store).

    \f
    Args:
        store: Store folder (it must hold ``store.sqlite3``).
        min_age_s: Grace period of unreferenced blobs, in seconds.

    Raises:
        typer.Exit: With code 2 when there is no store.
    """
    from datamint.server.maintenance import collect_garbage
    from datamint.server.store import ProjectStore

    if not (store / "store.sqlite3").is_file():
        fail(f"no store at {store}", EXIT_USAGE)
    typer.echo(str(collect_garbage(ProjectStore(store), min_age_s)))


def settings(
    store: StoreOption,
    assign: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="NAME=BYTES",
            help="NAME=BYTES, e.g. max_upload_bytes=2147483648 (repeatable).",
        ),
    ] = None,
) -> None:
    """Show the store's limits (body size, upload size, user quota), or change them.

    A running server reads them when it starts: restart it after a change.

    Exit codes: 0 ok; 1 a bad --set assignment; 2 usage error (no store).

    \f
    Args:
        store: Store folder (it must hold ``store.sqlite3``).
        assign: ``NAME=BYTES`` assignments.

    Raises:
        typer.Exit: With code 2 when there is no store, 1 for a bad assignment.
    """
    from datamint.exceptions import ValidationError
    from datamint.server.store import ProjectStore

    if not (store / "store.sqlite3").is_file():
        fail(f"no store at {store}", EXIT_USAGE)
    repo = ProjectStore(store).settings
    for item in assign or []:
        name, _, value = item.partition("=")
        try:
            repo.set(name.strip(), int(value))
        except (ValueError, ValidationError) as exc:
            fail(f"--set {item!r}: {exc}", EXIT_FAILURE)
    for name, value in repo.as_dict().items():
        typer.echo(f"{name} = {value}")


def register(app: typer.Typer) -> None:
    """Add ``gc`` and ``settings`` to the ``datamint server`` group.

    Args:
        app: The root typer application (the group itself is added by ``server_users``).
    """
    server_app.command("gc")(gc)
    server_app.command("settings")(settings)
