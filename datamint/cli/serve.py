"""``datamint serve``: run the reference server over a local store."""

from pathlib import Path
from typing import Annotated, Any

import typer

from datamint.cli.common import EXIT_USAGE, fail

__all__ = ["log_config", "register", "serve"]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve(
    store: Annotated[
        Path,
        typer.Option(
            "--store",
            metavar="DIR",
            help="Store folder, filled with `datamint import`.",
            file_okay=False,
        ),
    ],
    host: Annotated[
        str,
        typer.Option(
            "--host", metavar="ADDRESS", help="Address to bind. Loopback unless you ask otherwise."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="TCP port (0 picks a free one).")
    ] = 8000,
    log_level: Annotated[
        str,
        typer.Option("--log-level", metavar="LEVEL", help="debug, info, warning or error."),
    ] = "info",
) -> None:
    """Serve the Datamint REST API from a local store (one log line per request).

    Runs in the foreground until interrupted (Ctrl-C). Binding any address other than
    loopback exposes the store over plain HTTP: put a TLS proxy in front of it.

    Exit codes: 0 stopped; 2 usage error (no store at --store).

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
        fail(
            f"no store at {store}: create one with `datamint import --store {store} PROJECT_DIR`",
            EXIT_USAGE,
        )
    level = logging.getLevelName(getattr(logging, log_level.upper(), logging.INFO))
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
        log_config=log_config(level),
        access_log=False,
        ws="none",
    )


def log_config(level: str) -> dict[str, Any]:
    """Return the logging set-up of ``datamint serve``, for :func:`logging.config.dictConfig`.

    One stderr handler, ``TIME LEVEL LOGGER: message``, shared by the request log
    (``datamint.server``) and uvicorn's own messages; its filter escapes control
    characters, so no request can forge a log line.

    Args:
        level: Level name, e.g. ``"INFO"``.

    Returns:
        The configuration dict.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"escape": {"()": "datamint.server.log_safety.EscapingFilter"}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "plain",
                "filters": ["escape"],
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "datamint.server": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("serve")(serve)
