"""Print what the existing (proprietary) Datamint client makes of a project's items, as JSON.

Runs INSIDE the existing client's own virtual environment (``datamint`` 2.45.0 from PyPI,
built by ``existing-client-venv.sh``), never in ours: both packages are imported as
``datamint``. Run it from a folder outside any checkout, so that the current folder on
``sys.path`` cannot shadow the installed package. ``tests/compat/test_existing_client.py``
starts it as a subprocess with:

- ``DATAMINT_API_URL`` and ``DATAMINT_API_KEY``: the server and key (the existing client
  reads these two variables when no argument is given);
- ``HOME`` and ``XDG_CONFIG_HOME`` in a temporary folder: the client caches downloads under
  ``~/.datamint`` and reads ``datamintapi.yaml`` from the config folder;
- stdin: ``{"project": NAME, "classes": {"ImageDataset": [resource ids], ...}}``.

Output (stdout, one JSON document): ``{"version": ..., "classes": {class: [item, ...]}}``,
an item being ``{"id", "filename", "shape", "dtype", "masks": {author: voxel count},
"mask_shapes": {author: shape}, "frame_counts": {author: [count per frame]}, "error"}``; a
voxel count is the number of non-zero voxels summed over that author's instance masks
(``frame_counts``: per index of the depth axis, for ``(N, D, H, W)`` masks only). An item
that raises gets ``"error": "Type: message"``.

With ``{"assemble": {"files": [paths], "out": path}}`` on stdin it instead merges the files
into one multi-frame DICOM with the platform's upload tool and writes it to ``out``.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import warnings
from typing import Any

import numpy as np


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _item(ds: Any, index: int) -> dict[str, Any]:
    resource = ds.resources[index]
    out: dict[str, Any] = {"id": resource.id, "filename": resource.filename, "error": None}
    try:
        item = ds[index]
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc(limit=-4)
        return out
    image = _array(item["image"])
    out["shape"], out["dtype"] = list(image.shape), str(image.dtype)
    masks = item.get("masks") or {}
    if isinstance(masks, dict):
        arrays = {str(author): _array(value) for author, value in masks.items()}
    else:  # merged (not asked for here): one array
        arrays = {"*": _array(masks)}
    out["masks"] = {author: int(np.count_nonzero(a)) for author, a in arrays.items()}
    out["mask_shapes"] = {author: list(a.shape) for author, a in arrays.items()}
    out["frame_counts"] = {
        author: np.count_nonzero(a, axis=(0, 2, 3)).tolist()
        for author, a in arrays.items()
        if a.ndim == 4
    }
    return out


def _assemble(request: dict[str, Any]) -> None:
    """Merge DICOM files into one multi-frame file with the platform's upload tool
    (``medimgkit.dicom_utils.assemble_dicoms``, what ``upload_resources`` runs)."""
    from medimgkit.dicom_utils import assemble_dicoms

    merged = assemble_dicoms(request["files"], return_as_IO=True, progress_bar=False)
    if len(merged) != 1:
        raise SystemExit(f"the files form {len(merged)} groups, expected one series")
    with open(request["out"], "wb") as fh:
        fh.write(merged[0].getvalue())


def main() -> None:
    """Read the request from stdin and print the items as JSON (or merge a series)."""
    logging.basicConfig(level=logging.ERROR)
    warnings.simplefilter("ignore")
    request = json.load(sys.stdin)
    if "assemble" in request:
        _assemble(request["assemble"])
        return
    import datamint
    from datamint.dataset import ImageDataset, VideoDataset, VolumeDataset

    classes = {"ImageDataset": ImageDataset, "VolumeDataset": VolumeDataset}
    classes["VideoDataset"] = VideoDataset
    result: dict[str, Any] = {"version": getattr(datamint, "__version__", "?"), "classes": {}}
    for name, wanted in request["classes"].items():
        ds = classes[name](project=request["project"])
        position = {resource.id: i for i, resource in enumerate(ds.resources)}
        items = []
        for rid in wanted:
            if rid not in position:
                items.append({"id": rid, "error": "MissingResource: not in the dataset"})
                continue
            items.append(_item(ds, position[rid]))
        result["classes"][name] = items
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
