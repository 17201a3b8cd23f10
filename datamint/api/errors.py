"""The one place where HTTP statuses and transport failures become datamint exceptions.

Mapping:

======================  ==========================================================
Status / failure        Exception
======================  ==========================================================
401                     :class:`~datamint.exceptions.AuthenticationError`
403                     :class:`~datamint.exceptions.PermissionDeniedError`
400, 422                :class:`~datamint.exceptions.ValidationError`
404                     :class:`~datamint.exceptions.ItemNotFoundError` when the body
                        says "not found" (any case) or the call names one entity,
                        else :class:`~datamint.exceptions.ValidationError`
409                     :class:`~datamint.exceptions.EntityAlreadyExistsError`
429, 5xx                :class:`~datamint.exceptions.ServerError` (``status_code`` set)
other 4xx               :class:`~datamint.exceptions.DatamintException`
transport failure       :class:`~datamint.exceptions.NetworkError`
======================  ==========================================================

Messages carry the method, the URL, the status and the response body (text, and the parsed
JSON when it is JSON). The API key travels in headers only, so it never appears in them.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from datamint.exceptions import (
    AuthenticationError,
    DatamintException,
    EntityAlreadyExistsError,
    ItemNotFoundError,
    NetworkError,
    PermissionDeniedError,
    ServerError,
    ValidationError,
)
from datamint.settings import ENV_API_KEY

__all__ = ["error_for_response", "network_error", "raise_for_status"]

MAX_BODY_CHARS = 2000
"""Longest response text quoted in an exception message."""


def _body_of(response: httpx.Response) -> tuple[str, Any]:
    """Return ``(text, parsed)`` of a response body; ``parsed`` is ``None`` when not JSON."""
    try:
        raw = response.content
    except httpx.ResponseNotRead:
        raw = response.read()
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = None
    return text, parsed


def _server_says(text: str, parsed: Any) -> str:
    shown = json.dumps(parsed, ensure_ascii=False, default=str) if parsed is not None else text
    if len(shown) > MAX_BODY_CHARS:
        shown = shown[:MAX_BODY_CHARS] + f"... [{len(shown) - MAX_BODY_CHARS} more chars]"
    return shown if shown.strip() else "<empty body>"


def error_for_response(response: httpx.Response, *, entity: str | None = None) -> DatamintException:
    """Build the exception for an error response (status >= 400).

    Args:
        response: The failed response. A streamed body is read here.
        entity: Set on calls about one entity, e.g. ``"resource 3f2a..."``: any 404
            then becomes :class:`ItemNotFoundError` naming it.

    Returns:
        The exception to raise; it carries ``method``, ``url``, ``status_code`` and
        ``body`` (parsed JSON when possible, else the text).
    """
    request = response.request
    method, url, status = request.method, str(request.url), response.status_code
    text, parsed = _body_of(response)
    where = f"{method} {url} -> {status}"
    says = _server_says(text, parsed)
    kwargs: dict[str, Any] = {
        "method": method,
        "url": url,
        "status_code": status,
        "body": parsed if parsed is not None else text,
    }
    if status == 401:
        return AuthenticationError(
            f"The server rejected the API key ({where}): the key is missing, wrong or "
            f"expired. Set the environment variable {ENV_API_KEY} or pass api_key= "
            f"(or run `datamint config --api-key KEY`). Server said: {says}",
            **kwargs,
        )
    if status == 403:
        return PermissionDeniedError(
            f"Permission denied ({where}): this API key may not access it. Server said: {says}",
            **kwargs,
        )
    if status in (400, 422):
        return ValidationError(f"The server rejected the request ({where}): {says}", **kwargs)
    if status == 404:
        if entity is not None:
            return ItemNotFoundError(f"{entity} not found ({where}): {says}", **kwargs)
        if "not found" in text.lower():
            return ItemNotFoundError(f"Not found ({where}): {says}", **kwargs)
        return ValidationError(f"The server answered 404 ({where}): {says}", **kwargs)
    if status == 409:
        return EntityAlreadyExistsError(f"Already exists ({where}): {says}", **kwargs)
    if status == 429:
        return ServerError(f"Rate limited, retries exhausted ({where}): {says}", **kwargs)
    if status >= 500:
        return ServerError(f"Server error ({where}): {says}", **kwargs)
    return DatamintException(f"Request failed ({where}): {says}", **kwargs)


def raise_for_status(response: httpx.Response, *, entity: str | None = None) -> None:
    """Raise the mapped exception when ``response`` is an error (status >= 400).

    Args:
        response: The response to check.
        entity: See :func:`error_for_response`.

    Raises:
        DatamintException: The subclass given by :func:`error_for_response`.
    """
    if response.status_code >= 400:
        raise error_for_response(response, entity=entity)


def network_error(exc: httpx.HTTPError, method: str, url: str) -> NetworkError:
    """Build the :class:`NetworkError` for a transport failure.

    Args:
        exc: The httpx transport exception (raise the result ``from exc``).
        method: HTTP method of the request.
        url: URL of the request.

    Returns:
        A :class:`NetworkError` naming the request and the failure.
    """
    detail = str(exc) or type(exc).__name__
    return NetworkError(
        f"Could not reach the Datamint server ({method} {url}): {type(exc).__name__}: {detail}",
        method=method,
        url=url,
    )
