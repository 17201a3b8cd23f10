"""A manifest's JSON form on disk: the format marker and version, the object written, and
the validation of an object read back (every problem named, with the file)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from datamint.exceptions import CacheError, ValidationError
from datamint.storage.layout import safe_component
from datamint.storage.manifest.splits import check_split_times

if TYPE_CHECKING:
    from datamint.storage.manifest.model import CacheManifest

__all__ = ["MANIFEST_FORMAT", "MANIFEST_VERSION", "manifest_fields", "manifest_json"]

MANIFEST_FORMAT = "datamint-cache-manifest"
"""Value of the ``format`` key of every manifest."""

MANIFEST_VERSION = 1
"""Version of the manifest layout this code writes and reads."""


def manifest_json(manifest: CacheManifest) -> dict[str, Any]:
    """The JSON object of :meth:`CacheManifest.to_json`."""
    return {
        "format": MANIFEST_FORMAT,
        "format_version": MANIFEST_VERSION,
        "datamint_version": manifest.datamint_version,
        "project_id": manifest.project_id,
        "server_url": manifest.server_url,
        "synced_at": manifest.synced_at,
        "project": manifest.project,
        "resources": manifest.resources,
        "annotations": manifest.annotations,
        "annotations_for": manifest.annotations_for,
        "worklists": manifest.worklists,
        "annotation_sets": manifest.annotation_sets,
        "segmentation_groups": manifest.segmentation_groups,
        "split_rows": manifest.split_rows,
        "split_queries": manifest.split_queries,
        "files": manifest.files,
    }


def manifest_fields(data: Any, *, source: str) -> dict[str, Any]:
    """Validate a parsed manifest; return the keyword arguments of :class:`CacheManifest`.

    Raises:
        CacheError: See :meth:`CacheManifest.from_json`.
    """

    def bad(problem: str) -> CacheError:
        return CacheError(
            f"{source} is not a valid datamint project manifest: {problem}. Sync the "
            "project again (`datamint download --project NAME`) to rewrite it"
        )

    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        raise bad(f"the 'format' key is not {MANIFEST_FORMAT!r}")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise bad("'format_version' is not an integer")
    if version > MANIFEST_VERSION:
        raise bad(
            f"format_version {version} is newer than this datamint reads "
            f"({MANIFEST_VERSION}); upgrade datamint"
        )

    def obj(key: str, *, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            raise bad(f"{key!r} is not a JSON object")
        return value

    def records(key: str, *, optional: bool = False) -> Any:
        value = data.get(key)
        if value is None and optional:
            return None
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise bad(f"{key!r} is not a list of JSON objects")
        return value

    project = obj("project")
    try:
        pid = safe_component(project.get("id"), "project id")
    except ValidationError as exc:
        raise bad(str(exc)) from None
    if data.get("project_id") != pid:
        raise bad(f"'project_id' {data.get('project_id')!r} differs from project.id {pid!r}")
    resources = records("resources")
    annotations = records("annotations")
    for what, items in (("resource", resources), ("annotation", annotations)):
        for item in items:
            try:
                safe_component(item.get("id"), f"{what} id")
            except ValidationError as exc:
                raise bad(str(exc)) from None
    for item in annotations:
        if not isinstance(item.get("resource_id"), str):
            raise bad(f"annotation {item.get('id')} has no 'resource_id'")
    annotations_for = data.get("annotations_for")
    if not isinstance(annotations_for, list) or not all(
        isinstance(v, str) for v in annotations_for
    ):
        raise bad("'annotations_for' is not a list of resource ids")
    worklists = records("worklists", optional=True)
    sets = obj("annotation_sets")
    groups = obj("segmentation_groups")
    for key, mapping in (("annotation_sets", sets), ("segmentation_groups", groups)):
        if not all(isinstance(v, dict) for v in mapping.values()):
            raise bad(f"{key!r} holds a value that is not a JSON object")
    split_rows = records("split_rows", optional=True)
    split_queries = records("split_queries")
    try:
        check_split_times(split_rows, split_queries)
    except ValidationError as exc:
        raise bad(str(exc)) from None
    files = obj("files")
    if not all(isinstance(files.get(k, {}), dict) for k in ("resources", "annotations")):
        raise bad("'files' must map 'resources' and 'annotations' to JSON objects")
    try:
        for kind in ("resources", "annotations"):
            for eid in files.get(kind, {}):
                safe_component(eid, f"{kind[:-1]} id in 'files'")
    except ValidationError as exc:
        raise bad(str(exc)) from None
    synced_at = data.get("synced_at")
    if not isinstance(synced_at, str):
        raise bad("'synced_at' is not a string")
    server_url = data.get("server_url")
    if server_url is not None and not isinstance(server_url, str):
        raise bad("'server_url' is not a string")
    return {
        "project": project,
        "resources": resources,
        "annotations": annotations,
        "annotations_for": annotations_for,
        "worklists": worklists,
        "annotation_sets": sets,
        "segmentation_groups": groups,
        "split_rows": split_rows,
        "split_queries": split_queries,
        "server_url": server_url,
        "synced_at": synced_at,
        "files": {k: dict(files.get(k, {})) for k in ("resources", "annotations")},
        "datamint_version": data.get("datamint_version"),
    }
