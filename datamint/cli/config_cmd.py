"""``datamint config``: store the API key and server URL where every client finds them.

The file is the existing Datamint client's, ``~/.config/datamintapi/datamintapi.yaml``
(:func:`datamint.settings.config_path`), with keys ``api_key`` and ``default_api_url``.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from datamint.cli.common import (
    EXIT_USAGE,
    JsonOption,
    QuietOption,
    echo_json,
    fail,
    library_errors,
    note,
)

__all__ = ["config", "mask_key", "register"]

SHOWN_KEY_CHARS = 4


def mask_key(key: str | None) -> str | None:
    """Return ``key`` with all but its last 4 characters replaced by ``*``.

    Args:
        key: An API key, or ``None``.

    Returns:
        E.g. ``'****...****3f9a'`` (as long as the key; keys of 8 characters or fewer are
        masked entirely), or ``None``.
    """
    if key is None:
        return None
    if len(key) <= 2 * SHOWN_KEY_CHARS:
        return "*" * len(key)
    return "*" * (len(key) - SHOWN_KEY_CHARS) + key[-SHOWN_KEY_CHARS:]


def _settings_view() -> dict[str, Any]:
    """What ``--show`` prints: the file's values (key masked) and what the environment overrides."""
    from datamint.settings import (
        CONFIG_KEY_API_KEY,
        CONFIG_KEY_API_URL,
        ENV_API_KEY,
        ENV_API_URL,
        config_path,
        read_config,
    )

    path = config_path()
    data = read_config(path)
    env_key = os.environ.get(ENV_API_KEY, "").strip() or None
    env_url = os.environ.get(ENV_API_URL, "").strip() or None
    file_key = str(data[CONFIG_KEY_API_KEY]) if data.get(CONFIG_KEY_API_KEY) else None
    file_url = str(data[CONFIG_KEY_API_URL]) if data.get(CONFIG_KEY_API_URL) else None
    return {
        "path": str(path),
        "exists": path.is_file(),
        "api_key": mask_key(file_key),
        "url": file_url,
        "effective": {
            "api_key": mask_key(env_key or file_key),
            "api_key_from": ENV_API_KEY if env_key else ("file" if file_key else None),
            "url": env_url or file_url,
            "url_from": ENV_API_URL if env_url else ("file" if file_url else None),
        },
    }


def config(
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", metavar="KEY", help="Store this API key."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            "--server-url",
            metavar="URL",
            help="Store this server base URL (http:// or https://).",
        ),
    ] = None,
    show: Annotated[
        bool, typer.Option("--show", help="Print the stored settings (the key masked).")
    ] = False,
    as_json: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Store the API key and server URL, or show them.

    Writes ~/.config/datamintapi/datamintapi.yaml (honouring XDG_CONFIG_HOME), the file
    the existing Datamint client uses too, atomically and readable by you only. Values
    not given are kept. DATAMINT_API_KEY and DATAMINT_API_URL, when set, take precedence
    over the file; --show says which one is in effect. The key is never printed in full.
    With no option, --show is implied.

    Exit codes: 0 ok; 2 usage or configuration error (a URL that is not http(s), an
    unreadable config file).

    \f
    Args:
        api_key: Key to store (``api_key``).
        url: URL to store (``default_api_url``), trailing ``/`` removed.
        show: Print the stored values.
        as_json: Print ``{"path", "exists", "api_key", "url", "effective": {...}}``.
        quiet: No confirmation message after writing.

    Raises:
        typer.Exit: With code 2 for a bad URL or an unreadable file.
    """
    from datamint.settings import check_server_url, write_config

    with library_errors(EXIT_USAGE):
        if api_key is not None and not api_key.strip():
            fail("--api-key is empty", EXIT_USAGE)
        if url is not None:
            url = check_server_url(url)
        if api_key is not None or url is not None:
            path = write_config(
                api_key=api_key.strip() if api_key is not None else None, default_url=url
            )
            stored = [name for name, v in (("API key", api_key), ("URL", url)) if v is not None]
            note(f"{' and '.join(stored)} written to {path}", quiet or as_json)
        if show or (api_key is None and url is None):
            view = _settings_view()
            if as_json:
                echo_json(view)
                return
            effective = view["effective"]
            typer.echo(f"config file: {view['path']}{'' if view['exists'] else ' (missing)'}")
            typer.echo(f"api_key: {view['api_key'] or '(not set)'}")
            typer.echo(f"url: {view['url'] or '(not set)'}")
            for what, env in (("api_key", "DATAMINT_API_KEY"), ("url", "DATAMINT_API_URL")):
                if effective[f"{what}_from"] == env:
                    typer.echo(f"in effect: {what} from {env}: {effective[what]}")


def register(app: typer.Typer) -> None:
    """Add ``config`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("config")(config)
