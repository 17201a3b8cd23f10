"""The FastAPI application of the reference server (``datamint serve``).

``create_app(store_dir)`` wires the store, the routers of every endpoint group, JSON error
bodies ``{"message": ...}``, the request guard (key before body, bounded bodies,
strict JSON: :mod:`datamint.server.guard`) and a one-line-per-request log on the
``datamint.server`` logger: method, path as sent (percent-encoded, so it holds no space or
control character; never the query string or headers), status, duration and user email,
with control characters escaped in every message (:mod:`.log_safety`). API keys
never reach the log. A client that goes away before its answer is logged as
``client disconnected``, not as an error.

When the app is created it removes the staging files of dead processes and the blobs no
record references (older than the grace period; :mod:`datamint.server.maintenance`).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datamint.server import (
    log_safety,
    routes_annotation_edits,
    routes_annotation_writes,
    routes_annotations,
    routes_dataset_downloads,
    routes_datasets,
    routes_frames,
    routes_project_admin,
    routes_projects,
    routes_resource_writes,
    routes_resources,
    routes_splits,
    routes_worklist_edits,
    routes_worklists,
)
from datamint.server.dataset_zip import DownloadTokens
from datamint.server.errors import ApiError
from datamint.server.guard import DISCONNECTED_KEY, RequestGuard
from datamint.server.listing import ListingCache
from datamint.server.maintenance import collect_garbage
from datamint.server.store import ProjectStore

#: Routers in registration order: static paths (``/resources/channels``) before the
#: ``/resources/{resource_id}`` they would otherwise be taken for (``routes_frames`` holds
#: ``/resources/not-annotated``; ``routes_dataset_downloads`` holds ``/datasets/download/…``).
ROUTERS = (
    routes_projects,
    routes_project_admin,
    routes_frames,
    routes_resources,
    routes_resource_writes,
    routes_annotations,
    routes_annotation_writes,
    routes_annotation_edits,
    routes_worklists,
    routes_worklist_edits,
    routes_splits,
    routes_dataset_downloads,
    routes_datasets,
)

__all__ = ["create_app"]

logger = logging.getLogger("datamint.server")


def _wire_path(scope: Scope) -> str:
    """Return the request path as sent on the wire (percent-encoded ASCII), for the log."""
    raw = scope.get("raw_path")
    if isinstance(raw, bytes) and raw:
        return raw.decode("ascii", "backslashreplace")
    return str(scope.get("path"))


class RequestLogMiddleware:
    """ASGI middleware logging one INFO line per HTTP request.

    Args:
        app: The wrapped ASGI application.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request and log ``METHOD /path STATUS DURATION ms user``.

        The line is written just before the last body chunk is sent, so it is in the log
        by the time the client has the whole response. ``STATUS`` reads ``client
        disconnected`` when the client went away before its answer.
        """
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]
        logged = [False]

        def log_line() -> None:
            logged[0] = True
            outcome = "client disconnected" if scope.get(DISCONNECTED_KEY) else str(status[0])
            logger.info(
                "%s %s %s %.1f ms %s",
                scope.get("method"),
                _wire_path(scope),
                outcome,
                (time.perf_counter() - started) * 1000.0,
                (scope.get("state") or {}).get("user", "-"),
            )

        async def send_and_record(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                log_line()
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            if not logged[0]:
                log_line()


def _message_response(status_code: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"message": message, **extra}, status_code=status_code)


def _install_error_handlers(app: FastAPI) -> None:
    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        response = _message_response(exc.status_code, exc.message)
        response.headers.update(exc.headers)
        return response

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        response = _message_response(
            exc.status_code, f"{detail}: {request.method} {request.url.path}", detail=detail
        )
        response.headers.update(exc.headers or {})
        return response

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = jsonable_encoder(exc.errors())
        parts = [
            f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in errors
        ]
        return _message_response(422, "invalid request: " + "; ".join(parts), detail=errors)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return _message_response(500, f"internal server error ({type(exc).__name__})")

    async def on_disconnect(request: Request, exc: Exception) -> Response:
        request.scope[DISCONNECTED_KEY] = True  # the request log says so; nothing is sent
        return Response(status_code=499)

    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)


def create_app(store_dir: str | os.PathLike[str]) -> FastAPI:
    """Build the reference server's application over a store folder.

    Args:
        store_dir: Folder of a :class:`~datamint.server.store.ProjectStore` (created when
            missing; fill it with ``datamint import``).

    Returns:
        The FastAPI app, with the store at ``app.state.store``, its limits at
        ``app.state.settings`` (read now), the listing cache at
        ``app.state.listing_cache`` and dataset download tokens at
        ``app.state.download_tokens``; its OpenAPI schema is served at ``/openapi.json``
        (without a key, like ``/docs`` and ``/redoc``).

    Raises:
        ValidationError: If the store was written by a newer datamint.
        OSError: If the folder cannot be created.
    """
    log_safety.install(logger)
    app = FastAPI(
        title="datamint reference server",
        description="The Datamint REST API served from a local project store.",
    )
    store = ProjectStore(store_dir)
    report = collect_garbage(store)
    if report.blobs_removed or report.staging_files:
        logger.info("store %s on start: %s", store.store_dir, report)
    app.state.store = store
    app.state.settings = store.settings.get()
    app.state.listing_cache = ListingCache()
    app.state.download_tokens = DownloadTokens()
    _install_error_handlers(app)
    for module in ROUTERS:
        app.include_router(module.router)
    public = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(
        RequestGuard,
        store=store,
        settings=app.state.settings,
        public_paths=[path for path in public if path],
    )
    app.add_middleware(RequestLogMiddleware)
    return app
