"""Run the reference server in-process, for tests and notebooks.

``running_server(store_dir)`` starts uvicorn in a background thread on an ephemeral
loopback port and yields a handle with the real ``url``; leaving the ``with`` block shuts
it down cleanly. ``build_demo_store(store_dir)`` fills a store with the bundled demo project
and returns its id and a fresh API key::

    with tempfile.TemporaryDirectory() as tmp:
        project_id, api_key = build_demo_store(tmp)
        with running_server(tmp) as server:
            httpx.get(f"{server.url}/projects", headers={"apikey": api_key})

``running_server(..., wrap_app=FaultInjector().wrap)`` puts an ASGI middleware around the
app (see :mod:`datamint.testing.faults`).

``demo_server()`` does all of it in one step for notebooks, docs and scripts: a temporary
store with the demo project, the server, and ``DATAMINT_API_URL`` / ``DATAMINT_API_KEY`` /
``DATAMINT_CACHE_DIR`` set, so ``VolumeDataset(project="demo")`` needs no argument::

    from datamint.testing import demo_server

    with demo_server() as server:
        ds = VolumeDataset(project="demo")

or, across notebook cells, ``server = demo_server()`` ... ``server.close()``.

Needs the ``server`` extra (FastAPI, uvicorn).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamint.demo import data_dir

__all__ = ["DemoServer", "ServerHandle", "build_demo_store", "demo_server", "running_server"]

DEFAULT_START_TIMEOUT_S = 30.0
DEFAULT_DEMO_EMAIL = "demo@example.org"


@dataclass(frozen=True)
class ServerHandle:
    """A running reference server.

    Attributes:
        url: Base URL without trailing slash, e.g. ``http://127.0.0.1:54321``.
        host: The address it is bound to.
        port: The TCP port it is bound to.
        store_dir: The store it serves.
    """

    url: str
    host: str
    port: int
    store_dir: Path


@contextlib.contextmanager
def running_server(
    store_dir: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S,
    wrap_app: Callable[[Any], Any] | None = None,
) -> Iterator[ServerHandle]:
    """Serve ``store_dir`` with uvicorn in a background thread.

    Args:
        store_dir: Store folder (see :class:`datamint.server.store.ProjectStore`).
        host: Address to bind; loopback by default.
        port: TCP port; 0 picks a free one (read back from the bound socket).
        start_timeout_s: Seconds to wait for the server to accept connections.
        wrap_app: Called with the ASGI app; the ASGI app it returns is served instead
            (e.g. :meth:`datamint.testing.faults.FaultInjector.wrap`). ``None`` serves
            the app as it is.

    Yields:
        A :class:`ServerHandle` with the server's ``url``.

    Raises:
        RuntimeError: If the server does not start within ``start_timeout_s`` (e.g. the
            port is taken); the thread is stopped first.
    """
    import uvicorn

    from datamint.server.app import create_app

    app: Any = create_app(Path(store_dir))
    if wrap_app is not None:
        app = wrap_app(app)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        ws="none",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    failures: list[BaseException] = []

    def serve() -> None:
        # uvicorn ends a failed startup (e.g. port in use) with SystemExit: keep it here
        # and report it to the caller instead of letting the thread die noisily.
        try:
            server.run()
        except BaseException as exc:  # handed to the caller below
            failures.append(exc)

    thread = threading.Thread(target=serve, name="datamint-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    try:
        while not server.started:
            if not thread.is_alive():
                cause = failures[0] if failures else None
                raise RuntimeError(
                    f"the server on {host}:{port} stopped while starting ({cause!r}); "
                    "uvicorn logged the reason (e.g. the port is in use)"
                ) from cause
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the server on {host}:{port} did not start within {start_timeout_s} s"
                )
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        real_host = host if host not in ("0.0.0.0", "::") else "127.0.0.1"
        url_host = f"[{real_host}]" if ":" in real_host else real_host
        yield ServerHandle(
            url=f"http://{url_host}:{bound[1]}",
            host=host,
            port=int(bound[1]),
            store_dir=Path(store_dir),
        )
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout_s)


def build_demo_store(
    store_dir: str | os.PathLike[str], email: str = DEFAULT_DEMO_EMAIL
) -> tuple[str, str]:
    """Import the bundled demo project into a store and create a user for it.

    Args:
        store_dir: Store folder (created when missing).
        email: The user to create and make a member of the demo project.

    Returns:
        ``(project_id, api_key)``: the demo project's id and the user's new key.

    Raises:
        ManifestError: If the bundled demo data are damaged (a sha256 mismatch).
    """
    from datamint.server.importer import import_project
    from datamint.server.store import ProjectStore

    store = ProjectStore(store_dir)
    project_id = import_project(store, data_dir(), members=[email])
    return project_id, store.create_user(email)


class DemoServer:
    """The reference server over the bundled demo project, running until :meth:`close`.

    Built by :func:`demo_server`; a context manager that closes on exit, like a file.

    Attributes:
        url: Base URL without trailing slash, e.g. ``http://127.0.0.1:54321``.
        api_key: Key of ``demo@example.org``, a member of the demo project.
        project_id: Id of the demo project (its name is ``"demo"``).
        store_dir: The temporary store folder.
        cache_dir: The datamint cache root in use (``DATAMINT_CACHE_DIR``).
    """

    def __init__(
        self,
        *,
        set_env: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        email: str = DEFAULT_DEMO_EMAIL,
    ) -> None:
        self._stack = contextlib.ExitStack()
        self._saved_env: dict[str, str | None] = {}
        try:
            tmp = Path(
                self._stack.enter_context(tempfile.TemporaryDirectory(prefix="datamint-demo-"))
            )
            self.store_dir = tmp / "store"
            self.project_id, self.api_key = build_demo_store(self.store_dir, email=email)
            handle = self._stack.enter_context(running_server(self.store_dir))
            self.url = handle.url
            self.cache_dir = Path(cache_dir) if cache_dir is not None else tmp / "cache"
            if set_env:
                self._set_env(
                    {
                        "DATAMINT_API_URL": self.url,
                        "DATAMINT_API_KEY": self.api_key,
                        "DATAMINT_CACHE_DIR": str(self.cache_dir),
                    }
                )
        except BaseException:
            self._stack.close()
            raise

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    @property
    def env(self) -> dict[str, str]:
        """The variables that point datamint at this server (and its cache)."""
        return {
            "DATAMINT_API_URL": self.url,
            "DATAMINT_API_KEY": self.api_key,
            "DATAMINT_CACHE_DIR": str(self.cache_dir),
        }

    def close(self) -> None:
        """Stop the server, delete the temporary store (and cache), restore the environment.

        Idempotent.
        """
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        self._stack.close()

    def __enter__(self) -> DemoServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"DemoServer(url={self.url!r}, project='demo', store_dir={str(self.store_dir)!r})"


def demo_server(
    *,
    set_env: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    email: str = DEFAULT_DEMO_EMAIL,
) -> DemoServer:
    """Start the reference server over the bundled demo project, in a temporary store.

    Imports the demo project (25 resources, 145 annotations by four annotators) into a
    fresh temporary store, starts the server on an ephemeral 127.0.0.1 port in a
    background thread and, with ``set_env``, sets ``DATAMINT_API_URL``,
    ``DATAMINT_API_KEY`` and ``DATAMINT_CACHE_DIR`` so that datasets and the
    ``datamint`` command line find it with no argument. Use it as a context manager
    (``with demo_server() as server:``), or call :meth:`DemoServer.close` when done;
    either stops the server, removes the store (and the cache, unless ``cache_dir`` was
    given) and restores the three variables.

    Args:
        set_env: Set the three environment variables while the server runs.
        cache_dir: Cache root to use; default a folder inside the temporary store,
            removed with it.
        email: The demo user (a member of the demo project) whose key is issued.

    Returns:
        A running :class:`DemoServer` (``url``, ``api_key``, ``project_id``, ``env``).

    Raises:
        RuntimeError: If the server does not start (see :func:`running_server`).
        ManifestError: If the bundled demo data are damaged.
    """
    return DemoServer(set_env=set_env, cache_dir=cache_dir, email=email)
