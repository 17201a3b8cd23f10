"""Resource routes added for viewers: one frame as PNG, not annotated.

- ``GET /resources/{id}/frames/{i}`` decodes the stored file with
  :func:`datamint.readers.read_file` and answers frame ``i`` (0-based, on the reader's
  ``N`` axis) as PNG, whatever ``accept`` asks. uint8 stays 8-bit and uint16 stays 16-bit;
  other dtypes (CT in int16 Hounsfield units, NIfTI float64, ...) are scaled linearly from
  the frame's min..max to 0..255, and the original range is sent in ``X-Frame-Min`` and
  ``X-Frame-Max``. One channel gives a grey PNG; three or four, RGB(A). A frame outside
  ``0..N-1`` is a 404 "not found"; a file no reader can decode is a 422.
- ``GET /resources/not-annotated`` lists the visible, non-deleted resources without any
  current annotation, paged and wrapped like ``GET /resources``.

This router is registered before :mod:`~datamint.server.routes_resources`, so that
``/resources/not-annotated`` is not taken for ``/resources/{resource_id}``.
"""

from __future__ import annotations

import warnings
from array import array
from typing import Annotated

import cv2
import numpy as np
from fastapi import APIRouter, Query, Response

from datamint.exceptions import ReaderError
from datamint.readers import FileHint, read_file
from datamint.server.deps import (
    ERROR_RESPONSES,
    MAX_PAGE,
    CacheDep,
    StoreDep,
    UserDep,
    more_errors,
    page_of,
    require_resource,
)
from datamint.server.errors import ApiError
from datamint.server.listing import json_page
from datamint.server.models import ResourcePage
from datamint.server.store import ProjectStore, Visibility

__all__ = ["encode_frame", "router"]

router = APIRouter(tags=["resources"], responses=ERROR_RESPONSES)


def encode_frame(frame: np.ndarray) -> tuple[bytes, dict[str, str]]:
    """Encode one ``(C, H, W)`` frame as PNG.

    Args:
        frame: The frame, channels first. uint8 and uint16 are kept; bool becomes 0/255;
            any other dtype is scaled from its min..max to uint8 (a constant frame gives 0).

    Returns:
        ``(png bytes, extra headers)``; the headers carry ``X-Frame-Min``/``X-Frame-Max``
        when the values were scaled.
    """
    headers: dict[str, str] = {}
    channels = frame.shape[0]
    image = frame[:1] if channels not in (1, 3, 4) else frame
    image = np.moveaxis(image, 0, -1)
    if image.dtype == np.bool_:
        image = image.astype(np.uint8) * 255
    elif image.dtype not in (np.uint8, np.uint16):
        values = image.astype(np.float64)
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        headers = {"X-Frame-Min": repr(low), "X-Frame-Max": repr(high)}
        scale = 255.0 / (high - low) if high > low else 0.0
        image = np.nan_to_num((values - low) * scale).round().clip(0, 255).astype(np.uint8)
    if image.shape[-1] == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    elif image.shape[-1] == 4:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGBA2BGRA)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:  # pragma: no cover - uint8/uint16 with 1, 3 or 4 channels always encode
        raise ApiError(500, "PNG encoding failed")
    return data.tobytes(), headers


@router.get(
    "/resources/{resource_id}/frames/{frame_index}",
    response_class=Response,
    responses={
        200: {
            "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            "description": "the frame as PNG (8-bit, or 16-bit for uint16 data)",
        },
        **more_errors(s422="the stored file cannot be decoded"),
    },
)
def resource_frame(store: StoreDep, user: UserDep, resource_id: str, frame_index: str) -> Response:
    """Return one frame of a resource as a PNG image (rules: module docstring).

    Args:
        store: The store.
        user: The authenticated user.
        resource_id: The resource's UUID.
        frame_index: 0-based frame number (a volume's slice, a video's frame; 0 for 2-D).

    Returns:
        ``image/png`` bytes.

    Raises:
        ApiError: 404 when the frame does not exist; 422 when the file cannot be decoded.
    """
    record, sha = require_resource(store, user, resource_id)
    what = f"frame {frame_index[:20]} of resource {record['id']} not found"
    if not frame_index.isascii() or not frame_index.isdigit():
        raise ApiError(404, what + " (frames are numbered 0, 1, ...)")
    known = (record.get("metadata") or {}).get("frame_count")
    if known is not None and int(frame_index) >= int(known):  # no need to decode
        raise ApiError(404, f"{what} (it has {known} frames)")
    hint = FileHint(record.get("filename"), record.get("mimetype"), record.get("storage"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            array_ = read_file(store.blob_path(sha), hint).array
    except (ReaderError, ValueError, OSError) as exc:
        raise ApiError(
            422, f"resource {record['id']} cannot be decoded: {type(exc).__name__}: {exc}"
        ) from None
    index, count = int(frame_index), int(array_.shape[1])
    if index >= count:
        raise ApiError(404, f"{what} (it has {count} frames)")
    data, headers = encode_frame(array_[:, index])
    return Response(content=data, media_type="image/png", headers=headers)


def _not_annotated_seqs(store: ProjectStore, visibility: Visibility) -> array:
    visible, params = visibility.resource_ids_sql()
    sql = (
        f"SELECT r.seq FROM resources r WHERE r.id IN ({visible}) AND r.deleted = 0 "
        "AND NOT EXISTS (SELECT 1 FROM annotations a WHERE a.resource_id = r.id "
        "AND a.deleted = 0) ORDER BY r.seq"
    )
    with store.db.read() as conn:
        return array("q", (row[0] for row in conn.execute(sql, params)))


@router.get("/resources/not-annotated", response_model=ResourcePage)
def not_annotated(
    store: StoreDep,
    user: UserDep,
    cache: CacheDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int | None, Query(ge=0, le=MAX_PAGE)] = None,
) -> Response:
    """List the visible, non-deleted resources that have no current annotation.

    Args:
        store: The store.
        user: The authenticated user.
        cache: The listing cache (matches are computed once per store generation).
        offset: Index of the first resource.
        limit: Page size, up to 5000; everything when absent.

    Returns:
        ``{"data": [{"resources": [...]}], "totalCount": N}`` in upload order.
    """
    visibility = store.visibility(user)
    key = ("not-annotated", visibility)
    seqs = cache.get(key, store.db.generation(), lambda: _not_annotated_seqs(store, visibility))
    rows = store.resources.records_by_seq(page_of(seqs, offset, limit))
    return json_page("resources", rows, len(seqs))
