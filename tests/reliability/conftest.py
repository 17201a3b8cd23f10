"""Fixtures of the server reliability tests: small stores, real servers, raw HTTP.

``RelServer`` is a store with two users who each own a project (``member`` owns "mine",
``outsider`` owns "theirs") and a third user, ``loner``, in no project, served over HTTP
on 127.0.0.1 with the store's limits set first. ``raw_exchange`` talks HTTP/1.1 over a
bare socket, to send what httpx will not (a Content-Length with no body, an unfinished
chunked body, a body cut off by a disconnect).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from datamint.server.importer import import_project
from datamint.server.store import ProjectStore
from datamint.testing.server import running_server
from tests.server.conftest import MEMBER, OUTSIDER, SyntheticProject, write_synthetic_project

LONER = "loner@example.org"

__all__ = [
    "LONER",
    "MEMBER",
    "OUTSIDER",
    "RelServer",
    "files_under",
    "noise_png",
    "raw_exchange",
    "serve_store",
]


@dataclass
class RelServer:
    """A running server over a store built by :func:`serve_store`."""

    url: str
    port: int
    store: ProjectStore
    keys: dict[str, str]
    mine: SyntheticProject
    theirs: SyntheticProject

    def client(self, who: str = MEMBER) -> httpx.Client:
        """httpx client sending the key of ``who``."""
        return httpx.Client(
            base_url=self.url, headers={"apikey": self.keys[who]}, trust_env=False, timeout=30
        )


def build_store(
    base: Path,
) -> tuple[ProjectStore, dict[str, str], SyntheticProject, SyntheticProject]:
    """Write a store with "mine" (member), "theirs" (outsider) and three users' keys."""
    store = ProjectStore(base / "store")
    mine = write_synthetic_project(base / "mine", "mine", MEMBER)
    theirs = write_synthetic_project(base / "theirs", "theirs", OUTSIDER)
    import_project(store, mine.root)
    import_project(store, theirs.root)
    keys = {who: store.create_user(who) for who in (MEMBER, OUTSIDER, LONER)}
    return store, keys, mine, theirs


@contextmanager
def serve_store(base: Path, **settings: int) -> Iterator[RelServer]:
    """Build a store under ``base``, set ``settings`` (bytes), and serve it."""
    store, keys, mine, theirs = build_store(base)
    for name, value in settings.items():
        store.settings.set(name, value)
    with running_server(store.store_dir) as server:
        yield RelServer(server.url, server.port, store, keys, mine, theirs)


@pytest.fixture(scope="module")
def rel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelServer]:
    """A server over a fresh store with the default limits (shared by a module)."""
    with serve_store(tmp_path_factory.mktemp("rel")) as server:
        yield server


def noise_png(side: int, seed: int = 0) -> bytes:
    """A ``side`` x ``side`` RGB PNG of random noise (about 3 * side**2 bytes)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".png", pixels)
    assert ok
    return encoded.tobytes()


def files_under(folder: Path) -> list[Path]:
    """Regular files under ``folder`` (lock files excluded), sorted."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))


def raw_exchange(
    port: int,
    head: str,
    send: Callable[[socket.socket], Any] | bytes = b"",
    timeout_s: float = 10.0,
) -> tuple[int, bytes]:
    """Send a request head (and some body) over a bare socket; return the answer.

    Args:
        port: The server's port on 127.0.0.1.
        head: Request line and headers, ``\\r\\n``-separated, without the blank line.
        send: Body bytes sent after the head, or a function given the socket to send them.
        timeout_s: Seconds to wait for the answer; ``socket.timeout`` past it.

    Returns:
        ``(status, raw response head and body read so far)``.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(head.encode("latin-1") + b"\r\n\r\n")
        if callable(send):
            send(sock)
        elif send:
            sock.sendall(send)
        data = b""
        deadline = time.monotonic() + timeout_s
        while b"\r\n\r\n" not in data:
            assert time.monotonic() < deadline, "no answer"
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head_bytes, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head_bytes.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        status = int(head_bytes.split(b" ")[1]) if head_bytes else 0
        return status, head_bytes + b"\r\n\r\n" + body
