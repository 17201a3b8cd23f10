"""Where a manifest came from: the server URL as stored (never credentials) and the
version of datamint that wrote it."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["package_version", "sanitize_server_url"]


def sanitize_server_url(url: str | None) -> str | None:
    """Return a server URL fit to be stored: no credentials, query or fragment.

    Args:
        url: A base URL, or ``None``.

    Returns:
        ``scheme://host[:port]/path`` without a trailing ``/``, or ``None``.
    """
    if url is None or not str(url).strip():
        return None
    parts = urlsplit(str(url).strip())
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def package_version() -> str | None:
    """The installed datamint version, or ``None`` on a partial install."""
    try:
        from datamint import __version__
    except ImportError:  # pragma: no cover - partial installs
        return None
    return __version__
