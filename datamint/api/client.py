"""``Api``: one method per Datamint endpoint that datasets use, returning plain JSON.

The client holds policy (base URL, auth headers, timeouts, limits; see
:mod:`datamint.api.connection`), a :class:`~datamint.api.transport.RetryTransport` moves
the bytes, and every HTTP error is mapped to a datamint exception once, in
:mod:`datamint.api.errors`. The endpoint methods live in :mod:`datamint.api.endpoints`,
one mixin per endpoint group; ``Api`` combines them and resolves the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from datamint.api.endpoints import (
    AnnotationEndpoints,
    DownloadEndpoints,
    ProjectEndpoints,
    ResourceEndpoints,
    SplitEndpoints,
    WorklistEndpoints,
)
from datamint.api.endpoints.projects import MAX_NAMES_IN_ERROR as MAX_NAMES_IN_ERROR
from datamint.settings import DEFAULT_TIMEOUT_S, resolve_api_key, resolve_server_url

__all__ = ["Api"]


class Api(
    ProjectEndpoints,
    ResourceEndpoints,
    AnnotationEndpoints,
    WorklistEndpoints,
    SplitEndpoints,
    DownloadEndpoints,
):
    """Client of the Datamint REST API (the endpoints that datasets use).

    Methods return the server's JSON (dicts and lists), keeping unknown keys.

    Args:
        server_url: Base URL; else ``DATAMINT_API_URL``, else ``default_api_url`` in the
            config file (see :mod:`datamint.settings`). A trailing ``/`` is stripped.
        api_key: API key; else ``DATAMINT_API_KEY``, else ``api_key`` in the config file.
        timeout: Per-request timeout for ordinary routes, in seconds. Search, listing and
            download routes of the ``resources`` and ``annotations`` groups wait up to
            ``max(timeout, 900)`` seconds for data (connecting still times out after
            ``timeout``).
        max_retries: Retries of safe requests after a connection failure, timeout, 429 or
            5xx, with exponential backoff and jitter, honouring ``Retry-After``.
        check_connection: Run the connectivity probe ``GET /projects?offset=0&limit=1``
            now (once per process for each URL, key and ``verify_ssl``).
        verify_ssl: Verify TLS certificates: ``True``, ``False``, or the path of a CA
            bundle.
        transport: Transport under the retry layer; ``httpx.HTTPTransport`` when ``None``
            (tests pass ``httpx.MockTransport`` or a counting wrapper). Not pickled.

    Raises:
        AuthenticationError: If no API key is found in any source.
        ValidationError: If no server URL is found in any source, or it is not http(s).
        NetworkError: If the probe fails; the cause (e.g. an ``AuthenticationError`` for a
            wrong key) is chained as ``__cause__``.

    Example:
        >>> api = Api("http://127.0.0.1:8000", api_key="...")  # doctest: +SKIP
        >>> [p["name"] for p in api.get_projects()]  # doctest: +SKIP
    """

    def __init__(
        self,
        server_url: str | None = None,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        max_retries: int = 2,
        check_connection: bool = True,
        verify_ssl: bool | str = True,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._configure(
            server_url=resolve_server_url(server_url),
            api_key=resolve_api_key(api_key),
            timeout=timeout,
            max_retries=max_retries,
            verify_ssl=verify_ssl,
            transport=transport,
        )
        if check_connection:
            try:
                self.check_connection()
            except BaseException:
                self.close()
                raise


if TYPE_CHECKING:  # mypy checks that Api is a ProjectReader
    from datamint.api.reader import ProjectReader

    _IS_READER: type[ProjectReader] = Api
