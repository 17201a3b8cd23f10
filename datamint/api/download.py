"""Resumable, verified file downloads.

Bytes stream into ``<dest>.incomplete`` next to the destination while being hashed. When
that partial file already exists the download resumes with ``Range: bytes=<n>-`` (a ``206``
appends; a ``200`` starts over). The result is checked against the expected size and
sha256 (or, when no hash is expected, against the server's ``ETag`` when it is a 64-hex
sha256) and only then moved onto ``dest`` with :func:`os.replace`. On a mismatch the
partial file is removed and an existing ``dest`` is left untouched.

A download that breaks mid-stream keeps its partial file and resumes, up to
``max_attempts`` times. A resumed download that fails verification is retried once from
byte 0 before :class:`~datamint.exceptions.IntegrityError` is raised (the partial may
have come from an older version of the file).

Callers serialise downloads to one ``dest`` (the file cache holds a per-entry lock).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from datamint.exceptions import IntegrityError, NetworkError
from datamint.storage.hashing import CHUNK_BYTES as CHUNK_BYTES
from datamint.storage.hashing import hash_file as _hash_file

__all__ = ["CHUNK_BYTES", "DownloadResult", "download_file", "etag_sha256", "partial_path"]

logger = logging.getLogger(__name__)

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_RANGE_RE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$", re.IGNORECASE)


@dataclass(frozen=True)
class DownloadResult:
    """A finished, verified download.

    Attributes:
        path: Where the file now is (the ``dest`` asked for).
        size: Its size in bytes.
        sha256: Lowercase hex sha256 of its bytes.
        etag: The server's ``ETag`` header (quotes removed), or ``None``.
    """

    path: Path
    size: int
    sha256: str
    etag: str | None


def partial_path(dest: Path) -> Path:
    """Return the partial-download path of ``dest``: ``<dest>.incomplete`` beside it.

    Args:
        dest: Final destination.

    Returns:
        ``dest.with_name(dest.name + ".incomplete")``.
    """
    return dest.with_name(dest.name + ".incomplete")


def _clean_etag(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"') or None


def etag_sha256(etag: str | None) -> str | None:
    """Return the sha256 an ``ETag`` stands for, when it is one.

    Args:
        etag: An ``ETag`` header value, quoted or not, weak or not.

    Returns:
        The lowercase hex digest when the tag is exactly 64 hex digits, else ``None``.
    """
    cleaned = _clean_etag(etag)
    if cleaned is None:
        return None
    cleaned = cleaned.lower()
    return cleaned if _SHA256_RE.match(cleaned) else None


class _Restart(Exception):
    """Internal: the partial file cannot be resumed; start again from byte 0."""


def _stream_once(
    client: httpx.Client,
    url: str,
    partial: Path,
    *,
    headers: dict[str, str],
    timeout: httpx.Timeout | float,
    expected_size: int | None,
    raise_for_status: Callable[[httpx.Response], None],
) -> tuple[hashlib._Hash, int, str | None, bool]:
    """One request: append to (or restart) ``partial``; return (hash, size, etag, resumed).

    Raises:
        _Restart: If the server cannot resume from the partial file's length.
        IntegrityError: If more bytes arrive than ``expected_size``.
    """
    offset = partial.stat().st_size if partial.exists() else 0
    if expected_size is not None and offset > expected_size:
        partial.unlink()
        offset = 0
    # Byte ranges count stored bytes: ask for them unencoded.
    send_headers = {"Accept-Encoding": "identity", **headers}
    if offset > 0:
        send_headers["Range"] = f"bytes={offset}-"
    with client.stream("GET", url, headers=send_headers, timeout=timeout) as response:
        if response.status_code == 416 and offset > 0:
            response.read()
            raise _Restart(f"server refused Range bytes={offset}- (416)")
        raise_for_status(response)
        resumed = False
        if response.status_code == 206 and offset > 0:
            match = _CONTENT_RANGE_RE.match(response.headers.get("Content-Range", "").strip())
            if match is None or int(match.group(1)) != offset:
                response.read()
                raise _Restart("server answered 206 with an unexpected Content-Range")
            hasher, size = _hash_file(partial)
            mode = "ab"
            resumed = True
        else:
            hasher, size, mode = hashlib.sha256(), 0, "wb"
        etag = _clean_etag(response.headers.get("ETag"))
        with partial.open(mode) as fh:
            # No chunk size: bytes reach the disk as they arrive, so a broken stream
            # leaves everything received in the partial file.
            for chunk in response.iter_bytes():
                fh.write(chunk)
                hasher.update(chunk)
                size += len(chunk)
                if expected_size is not None and size > expected_size:
                    raise IntegrityError(
                        f"download of {url} exceeds the expected size of {expected_size} bytes",
                        method="GET",
                        url=url,
                    )
    return hasher, size, etag, resumed


def download_file(
    client: httpx.Client,
    url: str,
    dest: Path,
    *,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout | float = 900.0,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    raise_for_status: Callable[[httpx.Response], None],
    max_attempts: int = 3,
) -> DownloadResult:
    """Download ``url`` to ``dest``, resuming a partial file and verifying the result.

    Args:
        client: The HTTP client (it holds auth headers and retry policy).
        url: Absolute URL, or a path relative to the client's base URL.
        dest: Final path; its folder is created when missing.
        headers: Extra request headers (e.g. ``accept``).
        timeout: Request timeout, in seconds or as an :class:`httpx.Timeout`.
        expected_size: Size the file must have, in bytes; unchecked when ``None``.
        expected_sha256: Hex sha256 the file must have; when ``None`` the server's
            ``ETag`` is used if it is a sha256.
        raise_for_status: Raises the mapped exception for an error response.
        max_attempts: Requests made in all when the stream breaks mid-way (>= 1).

    Returns:
        The :class:`DownloadResult`.

    Raises:
        IntegrityError: If the size or sha256 does not match; the partial file is
            removed and ``dest`` keeps its previous content.
        NetworkError: If the transfer keeps failing; the partial file is kept for a
            later resume.
        DatamintException: The mapped error of an error response.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(dest)
    want_sha = expected_sha256.strip().lower() if expected_sha256 else None
    attempts = 0
    fresh_retry_done = False
    while True:
        attempts += 1
        try:
            hasher, size, etag, resumed = _stream_once(
                client,
                url,
                partial,
                headers=headers or {},
                timeout=timeout,
                expected_size=expected_size,
                raise_for_status=raise_for_status,
            )
        except _Restart as why:
            logger.debug("restarting download of %s: %s", url, why)
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            if attempts >= max(1, max_attempts) + 1:
                raise NetworkError(f"download of {url} could not resume", url=url) from why
            continue
        except IntegrityError:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            raise
        except httpx.TransportError as exc:
            if attempts >= max(1, max_attempts):
                raise NetworkError(
                    f"download of {url} failed after {attempts} attempt(s); "
                    f"{partial.name} is kept for a later resume: {type(exc).__name__}: {exc}",
                    method="GET",
                    url=url,
                ) from exc
            logger.debug("download of %s broke (%s); resuming", url, exc)
            continue
        digest = hasher.hexdigest()
        check_sha = want_sha or etag_sha256(etag)
        problems = []
        if expected_size is not None and size != expected_size:
            problems.append(f"size {size} bytes, expected {expected_size}")
        if check_sha is not None and digest != check_sha:
            source = "expected" if want_sha else "the server's ETag"
            problems.append(f"sha256 {digest}, {source} {check_sha}")
        if problems:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            if resumed and not fresh_retry_done:
                fresh_retry_done = True
                logger.debug("resumed download of %s failed verification; starting over", url)
                continue
            raise IntegrityError(
                f"download of {url} failed verification: {'; '.join(problems)}. "
                f"The partial download was removed; {dest} was left as it was.",
                method="GET",
                url=url,
            )
        os.replace(partial, dest)
        return DownloadResult(path=dest, size=size, sha256=digest, etag=etag)
