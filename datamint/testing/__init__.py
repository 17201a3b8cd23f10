"""Helpers for tests, notebooks and docs: the reference server in-process, fault
injection, phantoms. ``demo_server()`` is the one-step demo server (needs the ``server``
extra)."""

from __future__ import annotations

from typing import Any

__all__ = ["demo_server"]


def __getattr__(name: str) -> Any:
    if name == "demo_server":
        from datamint.testing.server import demo_server

        return demo_server
    raise AttributeError(f"module 'datamint.testing' has no attribute {name!r}")
