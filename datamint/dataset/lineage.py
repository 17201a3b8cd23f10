"""What a dataset is made of, as a digest: for experiment tracking (MLflow) and for replay.

The lineage names the project, the split (name, source, ``as_of`` instant), the slice
axis of sliced views, the settings of 3-D patch views, and every resource with its
content hash, so two runs that trained on the same bytes get the same digest and any
change of content, membership, slicing or patching changes it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datamint.dataset.views import DatasetView

__all__ = ["build_mlflow_dataset", "dataset_digest", "dataset_lineage"]

DIGEST_CHARS = 10  # MLflow recommends digests of about 8-10 characters


def dataset_lineage(ds: DatasetView) -> dict[str, Any]:
    """A JSON-serialisable description of ``ds`` (prepares it).

    Returns:
        ``{"project": {"id", "name"} | None, "class", "slice_axis", "split": {"name",
        "source", "as_of_timestamp"}, "items", "resources": [{"id", "sha256", "size",
        "created_at"}, ...]}``, plus ``"patches"`` for a 3-D patch view: its kind
        (``"PatchSpec"`` random, ``"GridSpec"`` sliding window) and settings (size, per
        volume, foreground ratio, label, pad value, seed; or size, overlap, pad value).
    """
    project = ds.project
    lineage = {
        "project": None if project is None else {"id": project.id, "name": project.name},
        "class": type(ds).__name__,
        "slice_axis": ds.plane,
        "split": {
            "name": ds.split_name,
            "source": ds.split_source,
            "as_of_timestamp": ds.split_as_of_timestamp,
        },
        "items": len(ds),
        "resources": [
            {"id": r.id, "sha256": r.sha256, "size": r.size, "created_at": r.created_at}
            for r in ds.prepared.resources
        ],
    }
    spec = getattr(ds, "_patch_spec", None)
    if (
        spec is not None and dataclasses.is_dataclass(spec) and not isinstance(spec, type)
    ):  # what a patch view cuts
        lineage["patches"] = {"kind": type(spec).__name__, **dataclasses.asdict(spec)}
    return lineage


def dataset_digest(ds: DatasetView) -> str:
    """First 10 hex digits of the sha256 of the canonical JSON lineage (server URL excluded)."""
    text = json.dumps(dataset_lineage(ds), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:DIGEST_CHARS]


def build_mlflow_dataset(ds: DatasetView, name: str | None = None) -> Any:
    """An ``mlflow.data.meta_dataset.MetaDataset`` describing ``ds``, for ``mlflow.log_input``.

    Its source is the project's resource listing on the server, its digest
    :func:`dataset_digest`, and its schema the lineage JSON.

    Args:
        ds: The dataset.
        name: Dataset name in MLflow; default ``<project>[/<split>]``.

    Raises:
        ImportError: If mlflow is not installed; install the ``mlflow`` extra
            (``pip install "datamint-open[mlflow]"``).
    """
    try:
        from mlflow.data.http_dataset_source import HTTPDatasetSource
        from mlflow.data.meta_dataset import MetaDataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'build_mlflow_dataset needs mlflow: pip install "datamint-open[mlflow]"'
        ) from exc
    lineage = dataset_lineage(ds)
    project = lineage["project"]
    base = getattr(ds.api, "server_url", "")
    url = f"{base}/projects/{project['id']}/resources" if project else base
    default = (project or {}).get("name", "resources") + (
        f"/{ds.split_name}" if ds.split_name else ""
    )
    return MetaDataset(
        source=HTTPDatasetSource(url=url),
        name=name or default,
        digest=dataset_digest(ds),
        schema=None,
    )
