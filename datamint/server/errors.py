"""Errors of the reference server.

``ApiError`` is raised inside route handlers and becomes a JSON response
``{"message": "..."}``. ``ManifestError`` is raised while importing
a ``project.json`` and names the file and entry at fault.
"""

from __future__ import annotations

from datamint.exceptions import ValidationError

__all__ = ["ApiError", "ManifestError", "ManifestIntegrityError", "not_found"]


class ApiError(Exception):
    """An HTTP error answered as ``{"message": message}`` with ``status_code``.

    Args:
        status_code: HTTP status to answer with (e.g. 401, 403, 404, 416, 422).
        message: What went wrong, naming the entity. Never contains an API key.
        headers: Extra response headers (e.g. ``Content-Range`` on a 416).
    """

    def __init__(self, status_code: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or {}


def not_found(entity: str, entity_id: str, detail: str = "") -> ApiError:
    """Build the 404 for an entity that is unknown or that the user may not see.

    Both cases get the same answer, so ids cannot be probed for existence; the message
    always contains "not found".

    Args:
        entity: Kind of entity, e.g. ``"resource"``.
        entity_id: The id that was asked for (echoed as sent, truncated to 100 chars).
        detail: Optional extra explanation appended to the message.

    Returns:
        An :class:`ApiError` with status 404, to be raised by the caller.
    """
    message = f"{entity} {entity_id[:100]} not found"
    if detail:
        message += f" ({detail})"
    return ApiError(404, message)


class ManifestError(ValidationError):
    """A ``project.json`` cannot be imported; the message names the file and the entry."""


class ManifestIntegrityError(ManifestError):
    """A file listed in ``project.json`` does not match its recorded sha256 or size."""
