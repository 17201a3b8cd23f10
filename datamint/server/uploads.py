"""Multipart uploads streamed into the store, never into the system temp folder.

Starlette's form parser spools large files to the system temp folder; the store promises
that nothing is written outside ``store_dir``. :func:`read_upload_form` therefore parses
``multipart/form-data`` itself (with ``python-multipart``'s streaming parser): each file
part goes straight into ``<store_dir>/tmp`` and is hashed while it arrives, so it can then
be moved to its content address without a second read (``BlobStore.put_staged``).

Limits (store settings, :mod:`datamint.server.store.settings`): each file part is at most
``max_upload_bytes``, and a user's files together at most what is left of
``user_quota_bytes``; both are checked against ``Content-Length`` before anything is read
and again while the bytes arrive, and answered 413 naming the limit. Routes receive forms
through :func:`upload_form`, which also charges what the store kept to the user's usage.
Concurrent uploads of one user each see the quota left when they started.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from datamint.server.blobs import BlobStore, StagedFile
from datamint.server.errors import ApiError
from datamint.server.guard import MULTIPART_SLACK_BYTES
from datamint.server.store import ProjectStore
from datamint.server.store.settings import StoreSettings

__all__ = [
    "UploadForm",
    "UploadLimits",
    "UploadedFile",
    "multipart_body",
    "read_upload_form",
    "upload_form",
]

#: Largest text field accepted (a JSON ``metadata`` or ``segmentation_map``), in bytes.
MAX_FIELD_BYTES = 1 << 20
#: Most parts one request may have (a DICOM series may come as one part per slice).
MAX_PARTS = 4096


@dataclass(frozen=True)
class UploadLimits:
    """How many file bytes one multipart request may bring.

    Attributes:
        max_file_bytes: Largest file part (setting ``max_upload_bytes``).
        quota_left_bytes: What is left of the user's quota (``user_quota_bytes`` minus
            what they uploaded), for all file parts together.
        user: The user, named in the quota message.
    """

    max_file_bytes: int
    quota_left_bytes: int
    user: str = ""

    def file_too_large(self, field_name: str) -> ApiError:
        """Return the 413 for a file part over ``max_file_bytes``."""
        return ApiError(
            413,
            f"file {field_name!r} is larger than {self.max_file_bytes} bytes, the store's "
            "upload limit (setting max_upload_bytes)",
        )

    def over_quota(self) -> ApiError:
        """Return the 413 for an upload over what is left of the user's quota."""
        return ApiError(
            413,
            f"upload quota exceeded: user {self.user} may upload {self.quota_left_bytes} more "
            "bytes (setting user_quota_bytes; deleting resources gives nothing back); ask the "
            "store owner to raise it",
        )


@dataclass
class UploadedFile:
    """A file part of a multipart body, received into the store's staging folder.

    Attributes:
        field: The form field name (e.g. ``"resource"`` or ``"file"``).
        filename: The file name the client sent (may be empty).
        content_type: The part's ``Content-Type``, or ``None``.
        staged: The received bytes, hashed (``staged.sha256``, ``staged.size``).
    """

    field: str
    filename: str
    content_type: str | None
    staged: StagedFile


@dataclass
class UploadForm:
    """A parsed multipart body: text fields and staged files.

    Attributes:
        fields: Text fields by name (the last value wins).
        files: File parts by field name (the first file of each name).
        parts: Every file part, in the order sent (several may share a name, e.g. the
            files of a DICOM series).
    """

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, UploadedFile] = field(default_factory=dict)
    parts: list[UploadedFile] = field(default_factory=list)

    def file(self, *names: str) -> UploadedFile:
        """Return the first file part sent under one of ``names``.

        Args:
            names: Accepted field names, in order of preference.

        Returns:
            The file part.

        Raises:
            ApiError: 422 naming the expected field when none was sent.
        """
        for name in names:
            if name in self.files:
                return self.files[name]
        raise ApiError(422, f"multipart field {names[0]!r} (a file) is required")

    def all_files(self, *names: str) -> list[UploadedFile]:
        """Every file part sent under one of ``names``, in the order sent.

        Args:
            names: Accepted field names.

        Returns:
            The file parts (empty when none was sent).
        """
        return [part for part in self.parts if part.field in names]

    def discard(self) -> None:
        """Delete every staging file that was not moved into the blob store."""
        for upload in self.parts:
            upload.staged.discard()

    def stored_bytes(self) -> int:
        """Return the bytes of the file parts that were moved into the blob store."""
        return sum(u.staged.size for u in self.files.values() if u.staged.stored)


class _Collector:
    """python-multipart callbacks building an :class:`UploadForm`."""

    def __init__(self, blobs: BlobStore, form: UploadForm, limits: UploadLimits | None) -> None:
        self.blobs = blobs
        self.form = form
        self.limits = limits
        self.file_bytes = 0
        self.parts = 0
        self.header_name = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.text = bytearray()
        self.target: StagedFile | None = None

    def on_part_begin(self) -> None:
        """Start a part (at most ``MAX_PARTS``)."""
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ApiError(413, f"too many multipart parts (at most {MAX_PARTS})")
        self.headers, self.text, self.target = {}, bytearray(), None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        """Accumulate a header name."""
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        """Accumulate a header value."""
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        """Store the finished header."""
        self.headers[self.header_name.strip().lower()] = self.header_value.strip()
        self.header_name, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        """Open a staging file for a file part; remember a text part's name."""
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        if b"name" not in options:
            raise ApiError(422, "a multipart part has no Content-Disposition name")
        self.name = options[b"name"].decode("utf-8", "replace")
        if b"filename" in options:
            self.target = self.blobs.stage()
            content_type = self.headers.get(b"content-type")
            upload = UploadedFile(
                field=self.name,
                filename=options[b"filename"].decode("utf-8", "replace"),
                content_type=None if content_type is None else content_type.decode("latin-1"),
                staged=self.target,
            )
            self.form.parts.append(upload)
            self.form.files.setdefault(self.name, upload)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        """Write file bytes to staging, or collect text (at most ``MAX_FIELD_BYTES``)."""
        if self.target is not None:
            limits = self.limits
            if limits is not None:
                self.file_bytes += end - start
                if self.target.size + end - start > limits.max_file_bytes:
                    raise limits.file_too_large(self.name)
                if self.file_bytes > limits.quota_left_bytes:
                    raise limits.over_quota()
            self.target.write(data[start:end])
            return
        self.text += data[start:end]
        if len(self.text) > MAX_FIELD_BYTES:
            raise ApiError(413, f"multipart field {self.name!r} exceeds {MAX_FIELD_BYTES} bytes")

    def on_part_end(self) -> None:
        """Close the staging file, or store the text field."""
        if self.target is not None:
            self.target.close()
        else:
            self.form.fields[self.name] = self.text.decode("utf-8", "replace")

    def callbacks(self) -> dict[str, Any]:
        """Return the callbacks mapping python-multipart expects."""
        return {name: getattr(self, name) for name in dir(self) if name.startswith("on_")}


async def read_upload_form(
    request: Request, blobs: BlobStore, limits: UploadLimits | None = None
) -> UploadForm:
    """Parse a ``multipart/form-data`` request, staging its files in the store.

    The caller owns the returned form and must call :meth:`UploadForm.discard` when done
    (moving a file with ``BlobStore.put_staged`` removes its staging file already).

    Args:
        request: The incoming request.
        blobs: The store's blobs (files are staged under its ``tmp`` folder).
        limits: File-size and quota limits, checked while the bytes arrive; ``None``
            checks none (the request guard still bounds the whole body).

    Returns:
        The text fields and the staged files.

    Raises:
        ApiError: 422 when the body is not multipart/form-data or is malformed; 413 when
            it has too many parts, an oversized text field, a file over the upload limit
            or more file bytes than the quota has left.
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise ApiError(422, "expected a multipart/form-data body (with a boundary)")
    form = UploadForm()
    collector = _Collector(blobs, form, limits)
    try:
        parser = MultipartParser(options[b"boundary"], collector.callbacks())  # type: ignore[arg-type]
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        form.discard()
        raise ApiError(422, f"malformed multipart body: {exc}") from None
    except BaseException:
        form.discard()
        raise
    finally:
        if collector.target is not None:
            with contextlib.suppress(OSError):
                collector.target.close()
    return form


@contextlib.asynccontextmanager
async def upload_form(
    request: Request, store: ProjectStore, user: str
) -> AsyncIterator[UploadForm]:
    """Receive a multipart upload within the store's limits; charge what was kept.

    Checks ``Content-Length`` against the user's quota before reading (413), reads the
    form with :class:`UploadLimits`, yields it, then deletes unused staging files and adds
    the bytes of the files moved into the store to the user's usage.

    Args:
        request: The multipart request.
        store: The store.
        user: The authenticated user.

    Yields:
        The parsed form (see :func:`read_upload_form`).

    Raises:
        ApiError: 413 over a limit; 422 for a malformed body.
    """
    settings: StoreSettings = getattr(request.app.state, "settings", None) or store.settings.get()
    used = await run_in_threadpool(store.usage.used_bytes, user)
    limits = UploadLimits(settings.max_upload_bytes, max(0, settings.user_quota_bytes - used), user)
    try:
        declared = int(request.headers.get("content-length", ""))
    except ValueError:
        declared = None
    if declared is not None and declared > limits.quota_left_bytes + MULTIPART_SLACK_BYTES:
        raise limits.over_quota()
    form = await read_upload_form(request, store.blobs, limits)
    try:
        yield form
    finally:
        form.discard()
        stored = form.stored_bytes()
        if stored:
            await run_in_threadpool(store.usage.charge, user, stored)


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """Describe a multipart request body for the OpenAPI schema (``openapi_extra``).

    Args:
        properties: JSON-schema properties of the form fields; files use
            ``{"type": "string", "format": "binary"}``.
        required: Names of the required fields.

    Returns:
        The ``openapi_extra`` mapping for the route decorator.
    """
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": properties, "required": required}
                }
            },
        }
    }
