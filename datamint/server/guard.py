"""The request guard: the API key first, then a bounded body, then strict JSON.

:class:`RequestGuard` is an ASGI middleware in front of every route. In this order:

1. **Key before body.** Every path but the API documentation needs a key; it is checked
   from the headers before a single body byte is read, so an unauthenticated client
   cannot make the server read, buffer or parse anything (answer 401).
2. **Bounded body.** A ``multipart/form-data`` body may be ``max_upload_bytes`` plus
   :data:`MULTIPART_SLACK_BYTES` (fields, headers); any other body ``max_json_body_bytes``
   (store settings, :mod:`datamint.server.store.settings`). A ``Content-Length`` over the
   limit is answered 413 at once; bodies without one (chunked) are counted as they arrive
   and refused with 413 as soon as they pass the limit. A refused body is never buffered:
   the server discards the rest of it.
3. **Strict JSON.** A JSON body (``application/json`` or ``application/*+json``) is
   parsed with :func:`~datamint.server.strict_json.loads_strict` before the route sees
   it: ``NaN``, ``Infinity``, ``1e999999``, lone surrogates and invalid UTF-8 are a 422.

A client that disconnects while its body is read is logged as a disconnect, not an error.
FastAPI's own ``max_body_size`` is not used: it needs FastAPI >= 0.16x, answers plain
text, and runs after the body has been parsed for the key check.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datamint.server.auth import authenticate
from datamint.server.errors import ApiError
from datamint.server.store import ProjectStore
from datamint.server.store.settings import StoreSettings
from datamint.server.strict_json import StrictJsonError, loads_strict

__all__ = [
    "DISCONNECTED_KEY",
    "MULTIPART_SLACK_BYTES",
    "USER_KEY",
    "BodyTooLarge",
    "RequestGuard",
    "body_limit",
]

#: Room for the text fields and part headers of a multipart upload, beyond its file.
MULTIPART_SLACK_BYTES = 1 << 20
#: Scope key holding the authenticated user's email (read by ``deps.current_user``).
USER_KEY = "datamint.user"
#: Scope key set to ``True`` when the client went away before the response.
DISCONNECTED_KEY = "datamint.disconnected"


class BodyTooLarge(HTTPException):
    """413: the request body passed its limit while it was being read.

    An ``HTTPException`` so that FastAPI passes it through its body parsing untouched.

    Args:
        limit_bytes: The limit that was passed.
        setting: The store setting that sets it.
    """

    def __init__(self, limit_bytes: int, setting: str) -> None:
        super().__init__(413, _too_large(limit_bytes, setting))


def _too_large(limit_bytes: int, setting: str) -> str:
    return (
        f"request body larger than {limit_bytes} bytes, the store's limit for this kind "
        f"of body (setting {setting}; the store owner changes it with "
        f"'datamint server settings --store DIR --set {setting}=BYTES')"
    )


def _is_multipart(headers: Headers) -> bool:
    return headers.get("content-type", "").lower().lstrip().startswith("multipart/form-data")


def _is_json(headers: Headers) -> bool:
    kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


def body_limit(headers: Headers, settings: StoreSettings) -> tuple[int, str]:
    """Return the body limit of a request and the setting that sets it.

    Args:
        headers: The request headers (``Content-Type`` decides).
        settings: The store's settings.

    Returns:
        ``(limit in bytes, setting name)``.
    """
    if _is_multipart(headers):
        return settings.max_upload_bytes + MULTIPART_SLACK_BYTES, "max_upload_bytes"
    return settings.max_json_body_bytes, "max_json_body_bytes"


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    await JSONResponse({"message": message}, status_code=status)(scope, receive, send)


class RequestGuard:
    """ASGI middleware: key, body limit and strict JSON before any route (module docstring).

    Args:
        app: The wrapped ASGI application.
        store: The store (users and keys).
        settings: The store's limits, read when the server starts.
        public_paths: Paths served without a key (the API documentation).
    """

    def __init__(
        self,
        app: ASGIApp,
        store: ProjectStore,
        settings: StoreSettings,
        public_paths: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.store = store
        self.settings = settings
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the key, bound and check the body, then run the app."""
        if scope["type"] != "http" or scope.get("path") in self.public_paths:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            email = await run_in_threadpool(authenticate, self.store, headers)
        except ApiError as exc:
            await _answer(scope, receive, send, exc.status_code, exc.message)
            return
        scope[USER_KEY] = email
        scope.setdefault("state", {})["user"] = email
        limit, setting = body_limit(headers, self.settings)
        try:
            declared = int(headers.get("content-length", ""))
        except ValueError:
            declared = None
        if declared is not None and declared > limit:
            await _answer(scope, receive, send, 413, _too_large(limit, setting))
            return
        if _is_multipart(headers):
            await self.app(scope, _counting(receive, limit, setting), send)
            return
        body, disconnected = await _read_bounded(receive, limit)
        if disconnected:
            scope[DISCONNECTED_KEY] = True
            return
        if body is None:
            await _answer(scope, receive, send, 413, _too_large(limit, setting))
            return
        if body and _is_json(headers):
            try:
                loads_strict(body)
            except StrictJsonError as exc:
                await _answer(scope, receive, send, 422, f"invalid JSON body: {exc}")
                return
        await self.app(scope, _replay(body, receive), send)


async def _read_bounded(receive: Receive, limit: int) -> tuple[bytes | None, bool]:
    """Read a whole body of at most ``limit`` bytes.

    Returns:
        ``(body, False)``; ``(None, False)`` when it passed the limit (the rest is left
        unread); ``(None, True)`` when the client disconnected.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None, True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None, False
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks), False


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields ``body`` once, then defers to the server's."""
    sent = [False]

    async def replay() -> Message:
        if not sent[0]:
            sent[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counting(receive: Receive, limit: int, setting: str) -> Receive:
    """A ``receive`` that raises :class:`BodyTooLarge` once ``limit`` bytes are passed."""
    seen = [0]

    async def counted() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                raise BodyTooLarge(limit, setting)
        return message

    return counted
