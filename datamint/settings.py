"""Where datamint finds its API key, server URL and cache root, and how long it waits.

Sources for the key and the URL, first match wins:

=============  ==================  ====================  ===================  ===========
Setting        1. argument         2. environment        3. YAML config key   4. built-in
=============  ==================  ====================  ===================  ===========
API key        ``api_key=``        ``DATAMINT_API_KEY``  ``api_key``          none: error
Server URL     ``server_url=``     ``DATAMINT_API_URL``  ``default_api_url``  none: error
=============  ==================  ====================  ===================  ===========

The YAML file is the one the existing Datamint client uses,
``PlatformDirs(appname='datamintapi').user_config_dir + '/datamintapi.yaml'``
(``~/.config/datamintapi/datamintapi.yaml`` on Linux, honouring ``XDG_CONFIG_HOME``), so a
user set up for one client is set up for the other.

There is deliberately **no built-in server URL**: a missing URL is an error that names the
three places to set one, rather than a silent connection to a hosted platform.

The cache root is ``DATAMINT_CACHE_DIR`` when set, else ``platformdirs.user_cache_dir("datamint")``
(see :func:`cache_root` and ``docs/cache.md``). ``DATAMINT_OFFLINE=1`` asks for offline mode
(see :func:`offline_requested`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import platformdirs
import yaml

from datamint.exceptions import AuthenticationError, ValidationError
from datamint.storage.atomic import atomic_write_text

__all__ = [
    "CONFIG_KEY_API_KEY",
    "CONFIG_KEY_API_URL",
    "DEFAULT_TIMEOUT_S",
    "ENV_API_KEY",
    "ENV_API_URL",
    "ENV_CACHE_DIR",
    "ENV_OFFLINE",
    "LONG_TIMEOUT_GROUPS",
    "LONG_TIMEOUT_S",
    "MISSING_API_KEY_MESSAGE",
    "cache_root",
    "check_server_url",
    "config_path",
    "endpoint_timeout_s",
    "find_api_key",
    "find_server_url",
    "offline_requested",
    "read_config",
    "resolve_api_key",
    "resolve_server_url",
    "write_config",
]

ENV_API_KEY = "DATAMINT_API_KEY"
ENV_API_URL = "DATAMINT_API_URL"
ENV_CACHE_DIR = "DATAMINT_CACHE_DIR"
ENV_OFFLINE = "DATAMINT_OFFLINE"

CONFIG_KEY_API_KEY = "api_key"
CONFIG_KEY_API_URL = "default_api_url"

CONFIG_APP_NAME = "datamintapi"
CONFIG_FILE_NAME = "datamintapi.yaml"
CACHE_APP_NAME = "datamint"

DEFAULT_TIMEOUT_S = 30.0
"""Default per-request timeout, in seconds."""

LONG_TIMEOUT_S = 900.0
"""Timeout for the slow endpoint groups (searches, listings and file downloads), in seconds."""

LONG_TIMEOUT_GROUPS = frozenset({"resources", "annotations"})
"""First path segments whose routes get :data:`LONG_TIMEOUT_S`."""

MISSING_API_KEY_MESSAGE = (
    "API key not provided! Use the environment variable DATAMINT_API_KEY or pass it as an argument."
)


def config_path() -> Path:
    """Return the path of the YAML config file shared with the existing client.

    Returns:
        ``PlatformDirs(appname='datamintapi').user_config_dir / 'datamintapi.yaml'``; the
        file may not exist.
    """
    return Path(platformdirs.PlatformDirs(appname=CONFIG_APP_NAME).user_config_dir) / (
        CONFIG_FILE_NAME
    )


def read_config(path: Path | None = None) -> dict[str, Any]:
    """Read the YAML config file.

    Args:
        path: File to read; :func:`config_path` when ``None``.

    Returns:
        The mapping stored in the file; ``{}`` when the file is missing or empty.

    Raises:
        ValidationError: If the file is not valid YAML or does not hold a mapping.
    """
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValidationError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValidationError(
            f"config file {path} must hold a YAML mapping with keys "
            f"{CONFIG_KEY_API_KEY!r} and {CONFIG_KEY_API_URL!r}, got {type(data).__name__}"
        )
    return data


def write_config(
    api_key: str | None = None, default_url: str | None = None, *, path: Path | None = None
) -> Path:
    """Store the API key and/or default server URL in the YAML config file, atomically.

    Keys not given keep their current value; other keys in the file are kept too. The
    file is created with mode 0600 (it holds a secret).

    Args:
        api_key: New value for ``api_key``; unchanged when ``None``.
        default_url: New value for ``default_api_url`` (a trailing ``/`` is stripped);
            unchanged when ``None``.
        path: File to write; :func:`config_path` when ``None``.

    Returns:
        The path written.

    Raises:
        ValidationError: If the existing file cannot be parsed.
        OSError: If the file cannot be written; the old file is then left unchanged.
    """
    path = config_path() if path is None else path
    data = read_config(path)
    if api_key is not None:
        data[CONFIG_KEY_API_KEY] = api_key
    if default_url is not None:
        data[CONFIG_KEY_API_URL] = default_url.rstrip("/")
    atomic_write_text(path, yaml.safe_dump(data, default_flow_style=False, sort_keys=True))
    return path


def _first_non_empty(*values: Any) -> str | None:
    for value in values:
        if value is not None and str(value).strip() != "":
            return str(value).strip()
    return None


def find_api_key(api_key: str | None = None) -> str | None:
    """Return the API key from the first source that has one, or ``None``.

    Sources in order: ``api_key``, ``DATAMINT_API_KEY``, the config file's ``api_key``
    (blank values count as missing).

    Args:
        api_key: Explicit key; wins over every other source.

    Returns:
        The key, stripped; ``None`` when no source has one.

    Raises:
        ValidationError: If the config file has to be read and cannot be parsed.
    """
    found = _first_non_empty(api_key, os.environ.get(ENV_API_KEY))
    if found is None:
        found = _first_non_empty(read_config().get(CONFIG_KEY_API_KEY))
    return found


def find_server_url(server_url: str | None = None) -> str | None:
    """Return the server URL from the first source that has one, or ``None``.

    Sources in order: ``server_url``, ``DATAMINT_API_URL``, the config file's
    ``default_api_url`` (blank values count as missing). The URL is not checked.

    Args:
        server_url: Explicit URL; wins over every other source.

    Returns:
        The URL without a trailing ``/``; ``None`` when no source has one.

    Raises:
        ValidationError: If the config file has to be read and cannot be parsed.
    """
    found = _first_non_empty(server_url, os.environ.get(ENV_API_URL))
    if found is None:
        found = _first_non_empty(read_config().get(CONFIG_KEY_API_URL))
    return None if found is None else found.rstrip("/")


def check_server_url(url: str) -> str:
    """Return ``url`` without a trailing ``/`` if it is an ``http://`` or ``https://`` URL.

    Args:
        url: The server base URL.

    Returns:
        The URL without a trailing ``/``.

    Raises:
        ValidationError: If the URL does not start with ``http://`` or ``https://``.
    """
    url = url.strip().rstrip("/")
    if not url.lower().startswith(("http://", "https://")):
        raise ValidationError(f"server URL must start with http:// or https://, got {url!r}")
    return url


def resolve_api_key(api_key: str | None = None) -> str:
    """Return the API key from the first source that has one (argument, env, YAML).

    Args:
        api_key: Explicit key; wins over every other source.

    Returns:
        The API key.

    Raises:
        AuthenticationError: If no source gives a key; the message is exactly
            :data:`MISSING_API_KEY_MESSAGE`.
        ValidationError: If the config file has to be read and cannot be parsed.
    """
    found = find_api_key(api_key)
    if found is None:
        raise AuthenticationError(MISSING_API_KEY_MESSAGE)
    return found


def resolve_server_url(server_url: str | None = None) -> str:
    """Return the server base URL from the first source that has one (argument, env, YAML).

    Args:
        server_url: Explicit URL; wins over every other source.

    Returns:
        The URL without a trailing ``/``.

    Raises:
        ValidationError: If no source gives a URL (the message names the three sources),
            if the URL is not ``http://`` or ``https://``, or if the config file cannot
            be parsed.
    """
    found = find_server_url(server_url)
    if found is None:
        raise ValidationError(
            "Datamint server URL not provided! Pass server_url=, set the environment "
            f"variable {ENV_API_URL}, or store {CONFIG_KEY_API_URL!r} in {config_path()} "
            "(e.g. with `datamint config --url URL`)."
        )
    return check_server_url(found)


def cache_root() -> Path:
    """Return the root folder of datamint's local cache.

    The root is, first match wins:

    1. ``$DATAMINT_CACHE_DIR`` when set and not blank (``~`` is expanded);
    2. ``platformdirs.user_cache_dir("datamint")``: ``~/.cache/datamint`` on Linux
       (``$XDG_CACHE_HOME/datamint`` when that is set), ``~/Library/Caches/datamint`` on
       macOS, ``%LOCALAPPDATA%\\datamint\\datamint\\Cache`` on Windows.

    A dataset's ``cache_dir=`` argument and the CLI's ``--cache-dir`` option override both.
    Everything datamint caches lives below the root, and nothing is ever written outside
    it (file names sent by the server are never used as paths)::

        <root>/files/resources/<resource_id>/<version_hash>/{data,meta.json}
        <root>/files/annotations/<annotation_id>/<version_hash>/{data,meta.json}
        <root>/arrays/<key[:2]>/<key>.{npy,json}     decoded arrays
        <root>/manifests/<project_id>.json           one manifest per synced project
        <root>/manifests/index.json                  project name -> id, for offline use

    See ``docs/cache.md`` for keys, locking and offline mode.

    Returns:
        The root path. The folder may not exist yet.
    """
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir(CACHE_APP_NAME))


_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def offline_requested() -> bool:
    """Tell whether ``DATAMINT_OFFLINE`` asks for offline mode.

    Offline, datasets prepare from the project manifest in the cache root and read files
    from the cache only; nothing is sent to any server (see
    :class:`datamint.api.offline.OfflineApi`).

    Returns:
        True for ``1``, ``true``, ``yes`` or ``on`` (any case); False when the variable
        is unset, empty, ``0``, ``false``, ``no`` or ``off``.

    Raises:
        ValidationError: If the variable holds anything else (a typo must not silently
            pick a mode).
    """
    value = os.environ.get(ENV_OFFLINE, "").strip().lower()
    if value in _TRUE_WORDS:
        return True
    if value in _FALSE_WORDS:
        return False
    raise ValidationError(
        f"{ENV_OFFLINE}={os.environ.get(ENV_OFFLINE)!r} is not understood: use 1 (offline) "
        "or 0 (online)"
    )


def endpoint_timeout_s(path: str, default_s: float = DEFAULT_TIMEOUT_S) -> float:
    """Return the read timeout for a route, in seconds.

    Routes of the ``resources`` and ``annotations`` groups (first path segment, or
    ``/projects/{id}/resources``, the project's full resource list) get
    ``max(default_s, LONG_TIMEOUT_S)``; every other route gets ``default_s``.

    Args:
        path: Route path relative to the base URL, e.g. ``/resources/abc/file``.
        default_s: Timeout for ordinary routes, in seconds.

    Returns:
        The timeout in seconds.
    """
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    long_group = bool(parts) and (
        parts[0] in LONG_TIMEOUT_GROUPS
        or (len(parts) == 3 and parts[0] == "projects" and parts[2] == "resources")
    )
    return max(default_s, LONG_TIMEOUT_S) if long_group else default_s
