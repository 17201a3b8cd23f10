"""What every ``datamint`` command shares: options, exit codes, errors and output.

Exit codes, the same for every command:

- ``0`` (:data:`EXIT_OK`): done;
- ``1`` (:data:`EXIT_FAILURE`): the command ran but did not fully succeed (a file could
  not be fetched, a bad cache entry was found, the server refused a write);
- ``2`` (:data:`EXIT_USAGE`): usage or configuration error: a bad option, no API key or
  server URL, an unknown project or store, a server that cannot be reached.

Messages go to stderr, data to stdout; ``--json`` makes stdout one JSON document.
Library messages that name a Python argument (``api_key=``) are rewritten to name the
option (``--api-key``), see :func:`for_cli`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USAGE",
    "ApiKeyOption",
    "CacheDirOption",
    "JsonOption",
    "ProjectOption",
    "QuietOption",
    "ServerUrlOption",
    "StoreOption",
    "connection",
    "echo_json",
    "fail",
    "for_cli",
    "library_errors",
    "new_app",
    "note",
    "progress_enabled",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

EXIT_CODES_HELP = "Exit codes: 0 ok, 1 failure, 2 usage or configuration error."

ProjectOption = Annotated[
    str, typer.Option("--project", metavar="NAME", help="Project name (exact).")
]
ServerUrlOption = Annotated[
    str | None,
    typer.Option(
        "--server-url",
        metavar="URL",
        help="Server base URL; else DATAMINT_API_URL, else the config file (datamint config).",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        metavar="KEY",
        help="API key; else DATAMINT_API_KEY, else the config file (datamint config).",
    ),
]
CacheDirOption = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        metavar="DIR",
        help="Cache root; else DATAMINT_CACHE_DIR, else the user cache folder.",
        file_okay=False,
    ),
]
StoreOption = Annotated[
    Path,
    typer.Option(
        "--store", metavar="DIR", help="Store folder of the reference server.", file_okay=False
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bars and no messages except errors."),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the result as one JSON document on stdout.")
]

# Library wording (Python arguments) -> command-line wording, applied in this order.
_CLI_WORDING = (
    ("or pass it as an argument", "or pass --api-key KEY"),
    ("pass api_key=", "pass --api-key"),
    ("Pass server_url=", "Pass --server-url"),
    ("pass server_url=", "pass --server-url"),
    ("api_key=", "--api-key"),
    ("server_url=", "--server-url"),
    ("cache_dir=", "--cache-dir"),
    ("pass force=True", "pass --force"),
    ("replayable with as_of_timestamp", "replayable with --as-of"),
)


def new_app(help_text: str, **kwargs: Any) -> typer.Typer:
    """Return a typer application (or command group) with datamint's help style.

    Plain help (no type placeholders such as ``<bool>``; value options show their
    metavar), no shell-completion options, and the help shown when no command is given.

    Args:
        help_text: The group's help text.
        **kwargs: Further :class:`typer.Typer` arguments.

    Returns:
        The application.
    """
    kwargs.setdefault("no_args_is_help", True)
    return typer.Typer(help=help_text, rich_markup_mode=None, add_completion=False, **kwargs)


def for_cli(message: str) -> str:
    """Rewrite a library message so it names command-line options, not Python arguments.

    Args:
        message: A message of a datamint exception.

    Returns:
        The message with ``api_key=`` -> ``--api-key``, ``server_url=`` ->
        ``--server-url``, ``cache_dir=`` -> ``--cache-dir``.
    """
    for library, cli in _CLI_WORDING:
        message = message.replace(library, cli)
    return message


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: message`` on stderr and exit.

    Args:
        message: What went wrong and what to do.
        code: Exit code (:data:`EXIT_FAILURE` or :data:`EXIT_USAGE`).

    Raises:
        typer.Exit: Always, with ``code``.
    """
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def note(message: str, quiet: bool = False, *, err: bool = True) -> None:
    """Print an informational message unless ``quiet``.

    Args:
        message: The message.
        quiet: Print nothing.
        err: Print on stderr (the default) rather than stdout.
    """
    if not quiet:
        typer.echo(message, err=err)


def echo_json(payload: Any) -> None:
    """Print ``payload`` as indented JSON on stdout (NaN and infinities become null).

    Args:
        payload: JSON-serialisable data; paths are written as strings.
    """
    typer.echo(json.dumps(_finite(payload), indent=2, allow_nan=False, default=str))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@contextmanager
def library_errors(code: int = EXIT_USAGE) -> Iterator[None]:
    """Turn a :class:`~datamint.exceptions.DatamintException` into ``error: ...`` and an exit.

    Args:
        code: Exit code for those errors.

    Yields:
        Nothing; wraps the block.

    Raises:
        typer.Exit: With ``code`` when the block raised a DatamintException.
    """
    from datamint.exceptions import DatamintException

    try:
        yield
    except DatamintException as exc:
        fail(for_cli(str(exc)), code)


def connection(server_url: str | None, api_key: str | None) -> tuple[str, str]:
    """Resolve the server URL and API key as every command does.

    First match wins: the option, the environment variable, the config file
    ``~/.config/datamintapi/datamintapi.yaml`` (written by ``datamint config``).

    Args:
        server_url: The ``--server-url`` option.
        api_key: The ``--api-key`` option.

    Returns:
        ``(url, key)``.

    Raises:
        typer.Exit: With code 2 when either is missing (the message names the option, the
            variable and ``datamint config``), the URL is not http(s), or the config file
            cannot be parsed.
    """
    from datamint.settings import (
        ENV_API_KEY,
        ENV_API_URL,
        check_server_url,
        find_api_key,
        find_server_url,
    )

    with library_errors():
        url = find_server_url(server_url)
        key = find_api_key(api_key)
        if url is None:
            fail(
                f"no server URL: pass --server-url URL, set {ENV_API_URL}, or run "
                "`datamint config --url URL`",
                EXIT_USAGE,
            )
        if key is None:
            fail(
                f"no API key: pass --api-key KEY, set {ENV_API_KEY}, or run "
                "`datamint config --api-key KEY`",
                EXIT_USAGE,
            )
        return check_server_url(url), key


def progress_enabled(quiet: bool, progress: bool = True) -> bool:
    """Whether to draw progress bars (on stderr).

    Args:
        quiet: ``--quiet`` was given; it wins.
        progress: ``--progress/--no-progress``.

    Returns:
        True to draw bars.
    """
    return progress and not quiet
