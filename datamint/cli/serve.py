"""``datamint serve``: run the reference server over a local store."""

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["register", "serve"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    store: Annotated[
        Path,
        typer.Option(
            "--store", help="Store folder, filled with `datamint import`.", file_okay=False
        ),
    ],
    host: Annotated[
        str, typer.Option(help="Address to bind. Loopback unless you ask otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the Datamint REST API from a local store (one log line per request).

    \f
    Args:
        store: Store folder; it must hold ``store.sqlite3`` (run ``datamint import`` first).
        host: Address to bind; ``127.0.0.1`` by default. Any other address exposes the
            store over plain HTTP to the network, which is warned about.
        port: TCP port.
        log_level: Log level of the server and request log.

    Raises:
        typer.Exit: With code 2 when the store does not exist.
    """
    import logging

    import uvicorn

    from datamint.server.app import create_app

    if not (store / "store.sqlite3").is_file():
        typer.echo(
            f"error: no store at {store}: create one with "
            f"`datamint import --store {store} PROJECT_DIR`",
            err=True,
        )
        raise typer.Exit(code=2)
    level = getattr(logging, log_level.upper(), logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    server_logger = logging.getLogger("datamint.server")
    server_logger.addHandler(handler)
    server_logger.setLevel(level)
    server_logger.propagate = False
    if host not in _LOOPBACK:
        typer.echo(
            f"warning: binding {host}: the store is reachable from the network over plain HTTP",
            err=True,
        )
    uvicorn.run(
        create_app(store),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,
        ws="none",
    )


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("serve")(serve)
