"""The connection half of :class:`~datamint.api.client.Api`: policy and plumbing.

:class:`Connection` holds what every endpoint call shares: the base URL and key, headers,
per-route timeouts, the per-process ``httpx.Client`` (rebuilt after a fork, connection
limits 5 keep-alive / 20 in all) over a :class:`~datamint.api.transport.RetryTransport`,
the connectivity probe, pickling, and one ``_request`` where errors are mapped once.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import ssl
import threading
from typing import Any, TypeVar

import httpx

from datamint.api.errors import network_error, raise_for_status
from datamint.api.json_stream import iter_json_array
from datamint.api.paging import PAGE_SIZE, iter_paged, unwrap_items
from datamint.api.transport import RetryTransport
from datamint.exceptions import (
    ApiKeyRejectedError,
    AuthenticationError,
    DatamintException,
    NetworkError,
    ValidationError,
)
from datamint.settings import ENV_API_KEY, endpoint_timeout_s
from datamint.storage.record_table import RecordTable, RecordTableBuilder

__all__ = ["Connection", "check_id"]

logger = logging.getLogger("datamint.api")

MAX_KEEPALIVE_CONNECTIONS = 5
MAX_CONNECTIONS = 20

_SAFE_ID_RE = re.compile(r"^[A-Za-z0-9_.~-]+$")

_C = TypeVar("_C", bound="Connection")

_probed: set[tuple[int, str, str, str]] = set()
_probed_lock = threading.Lock()


def _key_fingerprint(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def check_id(value: Any, what: str) -> str:
    """Return ``value`` as an id that is safe to put in a URL path.

    Args:
        value: The candidate id.
        what: What it identifies (``"resource"``, ...), for the message.

    Returns:
        ``value`` unchanged.

    Raises:
        ValidationError: If it is not a non-empty string of ``[A-Za-z0-9_.~-]``.
    """
    if not isinstance(value, str) or not _SAFE_ID_RE.match(value) or value in (".", ".."):
        raise ValidationError(f"invalid {what} id {value!r}: expected a UUID string")
    return value


def _query_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class Connection:
    """Base URL, key, HTTP client and request plumbing shared by the endpoint methods.

    Built by :class:`~datamint.api.client.Api`, which resolves the settings first.
    """

    def _configure(
        self,
        *,
        server_url: str,
        api_key: str,
        timeout: float,
        max_retries: int,
        verify_ssl: bool | str,
        transport: httpx.BaseTransport | None,
    ) -> None:
        if timeout is None or float(timeout) <= 0:
            raise ValidationError(f"timeout must be a positive number of seconds, got {timeout}")
        if int(max_retries) < 0:
            raise ValidationError(f"max_retries must be >= 0, got {max_retries}")
        self.server_url = server_url
        self._api_key = api_key
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.verify_ssl = verify_ssl
        self._inner_transport = transport
        self._origin = httpx.URL(server_url).copy_with(path="/", query=None, fragment=None)
        self._client: httpx.Client | None = None
        self._client_pid: int | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ plumbing

    @property
    def api_key(self) -> str:
        """The API key in use (never shown by ``repr``, never logged)."""
        return self._api_key

    def __repr__(self) -> str:
        """Show the URL and settings, never the key."""
        return (
            f"Api(server_url={self.server_url!r}, timeout={self.timeout}, "
            f"max_retries={self.max_retries})"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickle as ``{server_url, api_key, timeout, max_retries, verify_ssl}``."""
        return {
            "server_url": self.server_url,
            "api_key": self._api_key,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "verify_ssl": self.verify_ssl,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild as with ``check_connection=False``: no request until the first call."""
        self._configure(
            server_url=state["server_url"],
            api_key=state["api_key"],
            timeout=state["timeout"],
            max_retries=state["max_retries"],
            verify_ssl=state["verify_ssl"],
            transport=None,
        )

    def __enter__(self: _C) -> _C:
        """Return the client itself."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Close the connections (see :meth:`close`)."""
        self.close()

    def close(self) -> None:
        """Close this process's HTTP connections; the next call opens new ones."""
        with self._lock:
            client, self._client = self._client, None
            owned = self._client_pid == os.getpid()
            self._client_pid = None
        if client is not None and owned:
            client.close()

    def __del__(self) -> None:
        """Close this process's connections when the client is garbage-collected."""
        with contextlib.suppress(Exception):
            self.close()

    def _headers(self) -> dict[str, str]:
        return {
            "apikey": self._api_key,
            "Authorization": f"Bearer {self._api_key}",
            "accept": "*/*",
        }

    def _build_client(self) -> httpx.Client:
        verify: bool | ssl.SSLContext
        if isinstance(self.verify_ssl, (str, os.PathLike)):
            verify = ssl.create_default_context(cafile=os.fspath(self.verify_ssl))
        else:
            verify = bool(self.verify_ssl)
        inner = self._inner_transport or httpx.HTTPTransport(
            verify=verify,
            limits=httpx.Limits(
                max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
                max_connections=MAX_CONNECTIONS,
            ),
        )
        return httpx.Client(
            base_url=self.server_url,
            headers=self._headers(),
            timeout=self.timeout,
            transport=RetryTransport(inner, max_retries=self.max_retries),
            follow_redirects=True,
            event_hooks={"request": [self._strip_auth_off_origin]},
        )

    def _strip_auth_off_origin(self, request: httpx.Request) -> None:
        """Drop the key headers from a request (a redirect) leaving the server's origin."""
        url = request.url
        if (url.scheme, url.host, url.port) != (
            self._origin.scheme,
            self._origin.host,
            self._origin.port,
        ):
            request.headers.pop("apikey", None)
            request.headers.pop("Authorization", None)

    @property
    def http(self) -> httpx.Client:
        """This process's :class:`httpx.Client`, rebuilt after a fork (pid change)."""
        pid = os.getpid()
        client = self._client
        if client is not None and self._client_pid == pid:
            return client
        with self._lock:
            if self._client is None or self._client_pid != pid:
                # After a fork the parent's client is dropped, not closed: its sockets
                # belong to the parent.
                self._client = self._build_client()
                self._client_pid = pid
            return self._client

    def _timeout(self, path: str) -> httpx.Timeout:
        read_s = endpoint_timeout_s(path, self.timeout)
        return httpx.Timeout(read_s, connect=min(self.timeout, read_s))

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        entity: str | None = None,
    ) -> httpx.Response:
        """Send one request; map transport failures and error statuses once.

        Raises:
            NetworkError: On a transport failure (after retries).
            DatamintException: The mapped error of an error status.
        """
        url = self.server_url + path
        logger.debug("%s %s", method, url)
        try:
            response = self.http.request(
                method,
                path.lstrip("/"),
                params={k: _query_value(v) for k, v in (params or {}).items() if v is not None},
                json=json_body,
                timeout=self._timeout(path),
            )
        except httpx.TransportError as exc:
            raise network_error(exc, method, url) from exc
        raise_for_status(response, entity=entity)
        return response

    def _get_records(self, path: str, collection_key: str, *, entity: str) -> RecordTable:
        """GET a list of JSON objects, read element by element as the body arrives.

        A bare JSON array (what ``GET /projects/{id}/resources`` sends) is never held
        whole, neither as text nor as dicts: each element's text goes into the returned
        table as it is decoded. Any other body shape is parsed whole and unwrapped
        (:func:`~datamint.api.paging.unwrap_items`).

        Raises:
            NetworkError: On a transport failure, also mid-body.
            DatamintException: The mapped error of an error status, or a body that is not
                JSON objects (names the request).
        """
        url = self.server_url + path
        logger.debug("GET %s (streamed)", url)
        builder = RecordTableBuilder()
        try:
            with self.http.stream("GET", path.lstrip("/"), timeout=self._timeout(path)) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    raise_for_status(resp, entity=entity)
                chunks = resp.iter_bytes()
                head = b""
                for chunk in chunks:
                    head = chunk.lstrip()
                    if head:
                        break
                if not head.startswith(b"["):
                    body = head + b"".join(chunks)  # not a bare array: parsed whole
                    try:
                        payload = json.loads(body) if body.strip() else None
                    except ValueError as exc:
                        raise DatamintException(
                            f"GET {url} answered {resp.status_code} with a body that is "
                            f"not JSON: {body[:200]!r}",
                            method="GET",
                            url=url,
                            status_code=resp.status_code,
                        ) from exc
                    builder.extend(self._objects(unwrap_items(payload, collection_key), url))
                    return builder.build()
                for value, text in iter_json_array(_chain_first(head, chunks), source=f"GET {url}"):
                    if not isinstance(value, dict):
                        raise DatamintException(
                            f"GET {url}: an element of the list is not a JSON object",
                            method="GET",
                            url=url,
                        )
                    builder.append_json(text)
        except httpx.TransportError as exc:
            raise network_error(exc, "GET", url) from exc
        except ValueError as exc:
            if isinstance(exc, DatamintException):
                raise
            raise DatamintException(str(exc), method="GET", url=url) from exc
        return builder.build()

    @staticmethod
    def _objects(items: list[Any], url: str) -> list[dict[str, Any]]:
        for item in items:
            if not isinstance(item, dict):
                raise DatamintException(
                    f"GET {url}: an element of the list is not a JSON object",
                    method="GET",
                    url=url,
                )
        return items

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if not response.content.strip():
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise DatamintException(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code} with a body that is not JSON: {response.text[:200]!r}",
                method=response.request.method,
                url=str(response.request.url),
                status_code=response.status_code,
                body=response.text,
            ) from exc

    def _get_json(
        self, path: str, *, params: dict[str, Any] | None = None, entity: str | None = None
    ) -> Any:
        return self._json(self._request("GET", path, params=params, entity=entity))

    def _get_object(self, path: str, *, entity: str) -> dict[str, Any]:
        """GET one entity; its body must be a JSON object.

        Raises:
            DatamintException: If the body is not a JSON object, or the mapped error.
        """
        payload = self._get_json(path, entity=entity)
        if not isinstance(payload, dict):
            raise DatamintException(
                f"GET {self.server_url}{path} should return the JSON object of {entity}, "
                f"got {type(payload).__name__}",
                method="GET",
                url=f"{self.server_url}{path}",
                body=payload,
            )
        return payload

    def _get_paged(
        self,
        path: str,
        collection_key: str,
        *,
        params: dict[str, Any] | None = None,
        limit: int | None = None,
    ) -> list[Any]:
        base = dict(params or {})

        def fetch(offset: int, page_limit: int) -> Any:
            return self._get_json(path, params={**base, "offset": offset, "limit": page_limit})

        return list(iter_paged(fetch, collection_key, limit=limit, page_size=PAGE_SIZE))

    # ------------------------------------------------------------------ probe

    def check_connection(self) -> None:
        """Run the connectivity probe ``GET /projects?offset=0&limit=1``, once per process.

        Success is memoised per process for each ``(server_url, api_key, verify_ssl)``.

        Raises:
            ApiKeyRejectedError: (an AuthenticationError and a NetworkError) on a 401;
                the message says the key was rejected and how to set another.
            NetworkError: If the probe fails for any other reason; the mapped cause is
                chained as ``__cause__``.
        """
        memo = (
            os.getpid(),
            self.server_url,
            _key_fingerprint(self._api_key),
            repr(self.verify_ssl),
        )
        if memo in _probed:
            return
        try:
            self._request("GET", "/projects", params={"offset": 0, "limit": 1})
        except AuthenticationError as exc:
            raise ApiKeyRejectedError(
                f"Connected to {self.server_url}, but it rejected the API key (401): the key "
                f"is wrong or expired. Set the environment variable {ENV_API_KEY} or pass "
                "api_key= to use another key.",
                method="GET",
                url=f"{self.server_url}/projects",
                status_code=401,
            ) from exc
        except DatamintException as exc:
            raise NetworkError(
                f"Connectivity check of {self.server_url} failed: {exc}",
                method="GET",
                url=f"{self.server_url}/projects",
                status_code=exc.status_code,
            ) from exc
        with _probed_lock:
            _probed.add(memo)


def _chain_first(first: bytes, rest: Any) -> Any:
    """``first``, then the chunks of ``rest``."""
    yield first
    yield from rest
