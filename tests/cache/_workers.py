"""Functions run in spawned processes by the cache tests (importable by name)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

WAIT_S = 60.0


def _wait_for_peers(gate: Path, n: int) -> None:
    """A file barrier: start only when ``n`` processes have arrived."""
    (gate / f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + WAIT_S
    while len(list(gate.iterdir())) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(list(gate.iterdir()))} of {n} processes started")
        time.sleep(0.01)


def sync_demo(url: str, api_key: str, root: str, gate: str, n: int) -> dict[str, Any]:
    """Sync the demo project into ``root`` once ``n`` processes are ready."""
    from datamint.api import Api
    from datamint.api.sync import sync_project

    with Api(url, api_key, check_connection=False) as api:
        _wait_for_peers(Path(gate), n)
        report = sync_project(api, "demo", cache_root=root, workers=4, progress=False)
    return {
        "files": report.files,
        "downloaded": report.downloaded,
        "cached": report.cached,
        "failed": [f"{what}: {err}" for what, err in report.failed],
    }
