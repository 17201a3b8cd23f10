"""API keys: how they are made, stored (sha256 only) and read from a request.

The server accepts the key in the ``apikey`` header (what every client sends) or as
``Authorization: Bearer <key>``. When both are present ``apikey`` wins.
A key is never stored, logged or echoed; only its sha256 is kept.

This module does not import FastAPI; ``deps.py`` wraps :func:`authenticate` for the routes.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

from datamint.server.errors import ApiError

if TYPE_CHECKING:
    from datamint.server.store import ProjectStore

__all__ = ["authenticate", "extract_key", "generate_key", "hash_key"]

_HOW_TO = (
    "send the key in the 'apikey' header (or 'Authorization: Bearer <key>'): set "
    "DATAMINT_API_KEY or pass api_key=...; the store owner creates keys with "
    "'datamint server add-user --store DIR EMAIL'"
)


def generate_key() -> str:
    """Return a new random API key: 32 random bytes as URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """Return the sha256 hex digest under which ``key`` is stored.

    Args:
        key: Plaintext API key.

    Returns:
        64 lower-case hex digits.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def extract_key(headers: Mapping[str, str]) -> str | None:
    """Return the API key sent with a request, or ``None`` when there is none.

    Args:
        headers: Request headers with case-insensitive lookup (e.g. Starlette's ``Headers``),
            or a mapping with lower-case names.

    Returns:
        The ``apikey`` header when non-empty, else the token of ``Authorization: Bearer``,
        else ``None``.
    """
    key = (headers.get("apikey") or "").strip()
    if key:
        return key
    scheme, _, token = (headers.get("authorization") or "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(store: ProjectStore, headers: Mapping[str, str]) -> str:
    """Return the email of the user whose key the request carries.

    Args:
        store: The store holding the hashed keys.
        headers: Request headers (see :func:`extract_key`).

    Returns:
        The user's email.

    Raises:
        ApiError: 401 when no key was sent or the key is unknown; the message says how to
            send one and never contains the key.
    """
    key = extract_key(headers)
    if key is None:
        raise ApiError(401, f"missing API key: {_HOW_TO}")
    email = store.user_for_key(key)
    if email is None:
        raise ApiError(401, f"invalid API key (no user has this key): {_HOW_TO}")
    return email
