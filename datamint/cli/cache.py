"""``datamint cache info | verify | clear``: inspect, check and empty the local cache."""

from pathlib import Path
from typing import Annotated, Any

import typer

from datamint.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    CacheDirOption,
    JsonOption,
    QuietOption,
    echo_json,
    fail,
    new_app,
    note,
)

__all__ = ["cache_app", "clear", "info", "register", "verify"]

cache_app = new_app(
    "Inspect, verify or clear the local cache (downloaded files, arrays, manifests)."
)

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", metavar="NAME_OR_ID", help="Only this synced project (name or id)."),
]


def _mb(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _root(cache_dir: Path | None) -> Path:
    from datamint.settings import cache_root

    return cache_dir if cache_dir is not None else cache_root()


def _project_manifest(root: Path, project: str) -> Any:
    """The manifest of ``project`` (name or id); exits with 2 when there is none."""
    from datamint.exceptions import DatamintException
    from datamint.storage.manifest import find_manifest

    try:
        return find_manifest(root, project)
    except DatamintException as exc:
        fail(str(exc), EXIT_USAGE)


def _manifest_ids(manifest: Any) -> dict[str, set[str]]:
    """Ids of every resource and annotation file a manifest lists."""
    ids: dict[str, set[str]] = {"resources": set(), "annotations": set()}
    for kind, record in manifest.file_records():
        ids[kind].add(str(record["id"]))
    for kind in ids:
        ids[kind] |= set(manifest.files.get(kind, {}))
    return ids


def _decoded_usage(root: Path) -> dict[str, Any]:
    """The decoded caches' arrays and slice layouts: files and bytes per format."""
    from datamint.storage.decoded_maintenance import decoded_usage

    usage = decoded_usage(root)
    return {
        "formats": {
            fmt: {"entries": u.entries, "files": u.files, "bytes": u.size_bytes}
            for fmt, u in usage.formats.items()
        },
        "leftover": {"files": usage.leftover.files, "bytes": usage.leftover.size_bytes},
    }


def _echo_decoded_usage(decoded: dict[str, Any]) -> None:
    """Print what :func:`_decoded_usage` found."""
    formats = decoded["formats"]
    typer.echo(
        f"arrays: {sum(u['entries'] for u in formats.values())} decoded arrays and slice "
        f"layouts in {_n(sum(u['files'] for u in formats.values()), 'file')}, "
        f"{_mb(sum(u['bytes'] for u in formats.values()))} (not tracked per project)"
    )
    for fmt, u in formats.items():
        typer.echo(
            f"  {fmt}: {_n(u['entries'], 'array' if fmt == 'npy' else 'layout')}, "
            f"{_n(u['files'], 'file')}, {_n(u['bytes'], 'byte')} ({_mb(u['bytes'])})"
        )
    leftover = decoded["leftover"]
    if leftover["files"]:
        typer.echo(
            f"  left over: {_n(leftover['files'], 'file')}, "
            f"{_n(leftover['bytes'], 'byte')} (`datamint cache verify` removes them)"
        )


def _echo_prepared(root: Path, project_id: str | None = None) -> None:
    """Print the prepared dataset ids (per project and variant) and interrupted prepares."""
    from datamint.catalog import Context

    prepared = [
        p
        for p in Context(root).datasets(include_incomplete=True)
        if project_id is None or p.project_id == project_id
    ]
    done = [p for p in prepared if p.complete]
    typer.echo(f"datasets prepared: {len(done)}")
    for p in prepared:
        what = (
            f"{p.resources} resources, {p.items} items"
            + (", decoded" if p.decoded else "")
            + f", prepared {p.prepared_at}"
            if p.complete
            else f"interrupted (started {p.prepared_at}; prepare_dataset again resumes it)"
        )
        typer.echo(f"  {p.id}: {what}")


def _file_totals(cache: Any) -> dict[str, Any]:
    """Downloaded files: entries and bytes per kind, and incomplete entries."""
    totals: dict[str, Any] = {
        "resources": {"entries": 0, "bytes": 0},
        "annotations": {"entries": 0, "bytes": 0},
        "incomplete": 0,
    }
    for entry in cache.iter_entries():
        if entry.meta is None or entry.data_bytes is None:
            totals["incomplete"] += 1
            continue
        totals[entry.kind]["entries"] += 1
        totals[entry.kind]["bytes"] += entry.data_bytes
    return totals


def _project_usage(cache: Any, manifest: Any) -> dict[str, Any]:
    """One synced project: what its manifest lists and how much of it is cached."""
    listed = cached = cached_bytes = 0
    for kind, record in manifest.file_records():
        listed += 1
        meta = (
            cache.resource_meta(record) if kind == "resources" else cache.segmentation_meta(record)
        )
        if meta is not None:
            cached += 1
            cached_bytes += int(meta.get("size") or 0)
    return {
        "name": manifest.project_name,
        "id": manifest.project_id,
        "server_url": manifest.server_url,
        "synced_at": manifest.synced_at,
        "resources": len(manifest.resources),
        "annotations": len(manifest.annotations),
        "files_listed": listed,
        "files_cached": cached,
        "bytes_cached": cached_bytes,
    }


def info(
    project: ProjectOption = None, cache_dir: CacheDirOption = None, as_json: JsonOption = False
) -> None:
    """Show what the cache holds: files, decoded arrays per format, each synced project,
    and the dataset ids prepared with prepare_dataset (one line per project and variant).

    Exit codes: 0 ok; 2 usage error (--project was never synced here).

    \f
    Args:
        project: Only this synced project (name or id).
        cache_dir: Cache root.
        as_json: Print ``{"cache_root", "files", "arrays", "projects", "unreadable"}``
            (``files`` and ``arrays`` only without ``--project``); sizes in bytes.

    Raises:
        typer.Exit: With code 2 when ``project`` has no manifest.
    """
    from datamint.storage.file_cache import FileCache
    from datamint.storage.manifest import list_manifests, read_manifest

    root = _root(cache_dir)
    cache = FileCache(root)
    payload: dict[str, Any] = {"cache_root": str(root)}
    unreadable: list[dict[str, str]] = []
    if project is None:
        payload["files"] = _file_totals(cache)
        payload["arrays"] = _decoded_usage(root)
        manifests = []
        for summary in list_manifests(root):
            try:
                manifests.append(read_manifest(root, summary.project_id))
            except Exception as exc:
                unreadable.append(
                    {"name": summary.name, "id": summary.project_id, "error": str(exc)}
                )
    else:
        manifests = [_project_manifest(root, project)]
    payload["projects"] = [_project_usage(cache, manifest) for manifest in manifests]
    payload["unreadable"] = unreadable
    if as_json:
        echo_json(payload)
        return
    typer.echo(f"cache root: {root}")
    if project is None:
        files = payload["files"]
        res, ann = files["resources"], files["annotations"]
        incomplete = files["incomplete"]
        typer.echo(
            f"files: {res['entries'] + ann['entries']} entries, "
            f"{_mb(res['bytes'] + ann['bytes'])} (resources {res['entries']} / "
            f"{_mb(res['bytes'])}, segmentations {ann['entries']} / {_mb(ann['bytes'])})"
            + (
                f"; {incomplete} incomplete (`datamint cache verify` removes them)"
                if incomplete
                else ""
            )
        )
        _echo_decoded_usage(payload["arrays"])
        typer.echo(f"projects synced: {len(manifests) + len(unreadable)}")
        for bad in unreadable:
            typer.echo(f"  {bad['name']!r} ({bad['id']}): unreadable: {bad['error']}")
    for p in payload["projects"]:
        typer.echo(
            f"  {p['name']!r} ({p['id']}) from {p['server_url']}, "
            f"synced {p['synced_at']}: {p['resources']} resources, "
            f"{p['annotations']} annotations; files cached {p['files_cached']}/"
            f"{p['files_listed']} ({_mb(p['bytes_cached'])})"
        )
    _echo_prepared(root, None if project is None else manifests[0].project_id)


def verify(
    project: ProjectOption = None,
    cache_dir: CacheDirOption = None,
    remove: Annotated[
        bool, typer.Option("--remove/--keep", help="Remove the bad entries (the default).")
    ] = True,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Re-hash every cached file and decoded array against its sidecar; remove the bad ones.

    Downloaded files are checked against the size and sha256 in meta.json; decoded slice
    layouts (b2nd, npy.gz) against the size and sha256 their sidecar records, .npy arrays
    against the size, checksum, shape and dtype of theirs, every sidecar against its own
    checksum; left-over files (an interrupted write, a partial download) are bad too. The
    decoded arrays derived from a corrupted download are removed with it. With --project
    only that project's files are checked (decoded arrays are not tracked per project).
    Bad entries are removed unless --keep; they are downloaded or decoded again when next
    needed.

    Exit codes: 0 everything intact; 1 a bad entry was found; 2 usage error (--project
    was never synced here).

    \f
    Args:
        project: Only the files this synced project lists (name or id).
        cache_dir: Cache root.
        remove: Delete bad entries; they are downloaded or decoded again when next needed.
        quiet: Print nothing; the exit code tells.
        as_json: Print ``{"cache_root", "files": {checked, ok, bad, skipped,
            removed_bytes}, "decoded": {...} or null}``; ``bad`` lists ``{path, why}``
            with paths relative to the cache root.

    Raises:
        typer.Exit: With code 1 when bad entries were found, 2 when ``project`` has no
            manifest.
    """
    from datamint.storage.decoded_maintenance import verify_decoded
    from datamint.storage.file_cache import FileCache

    root = _root(cache_dir)
    cache = FileCache(root)
    decoded = None
    if project is None:
        reports = [cache.verify(remove=remove)]
        decoded = verify_decoded(root, remove=remove)
    else:
        ids = _manifest_ids(_project_manifest(root, project))
        reports = [
            cache.verify(remove=remove, kind=kind, entity_ids=sorted(ids[kind]))
            for kind in ("resources", "annotations")
        ]
    checked = sum(r.checked for r in reports)
    ok = sum(r.ok for r in reports)
    bad = [item for r in reports for item in r.bad]
    busy = [item for r in reports for item in r.busy]
    removed = sum(r.removed_bytes for r in reports)
    derived = [item for r in reports for item in r.derived_removed]
    found_bad = bool(bad or (decoded and decoded.bad))
    if as_json:

        def rel(path: Path) -> str:
            return str(path.relative_to(root))

        echo_json(
            {
                "cache_root": str(root),
                "files": {
                    "checked": checked,
                    "ok": ok,
                    "bad": [{"path": rel(path), "why": str(why)} for path, why in bad],
                    "skipped": [rel(path) for path in busy],
                    "removed_bytes": removed if remove else 0,
                    "derived_removed": [rel(path) for path in derived],
                },
                "decoded": None
                if decoded is None
                else {
                    "checked": decoded.checked,
                    "ok": decoded.ok,
                    "bad": [{"path": rel(path), "why": str(why)} for path, why in decoded.bad],
                    "skipped": [rel(path) for path in decoded.busy],
                    "removed_bytes": decoded.removed_bytes if remove else 0,
                },
            }
        )
    elif not quiet:
        for path, why in bad + (decoded.bad if decoded else []):
            typer.echo(f"bad: {path.relative_to(root)}: {why}")
        for path in derived:
            typer.echo(f"removed (decoded from a corrupted download): {path.relative_to(root)}")
        for path in busy:
            typer.echo(f"skipped (being downloaded): {path.relative_to(root)}")
        for path in decoded.busy if decoded else []:
            typer.echo(f"skipped (being decoded): {path.relative_to(root)}")
        action = f", removed ({_mb(removed)})" if remove and bad else ""
        if derived:
            action += f", with {_n(len(derived), 'decoded array')} derived from them"
        typer.echo(f"verified {checked} entries in {root}: {ok} ok, {len(bad)} bad{action}")
        if decoded is not None:
            action = f", removed ({_mb(decoded.removed_bytes)})" if remove and decoded.bad else ""
            typer.echo(
                f"verified {decoded.checked} decoded entries (arrays, slice layouts, "
                f"left-overs): {decoded.ok} ok, {len(decoded.bad)} bad{action}"
            )
    if found_bad:
        raise typer.Exit(code=EXIT_FAILURE)


def clear(
    project: ProjectOption = None,
    cache_dir: CacheDirOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    quiet: QuietOption = False,
) -> None:
    """Remove cached data: everything, or one synced project's files and manifest.

    With --project, the files its manifest lists are removed (except those another
    synced project lists too) along with the manifest and the project's prepared-dataset
    records; decoded arrays are not tracked per project and stay. Without it, files,
    decoded arrays of every format (npy, b2nd, npy.gz), manifests, prepared-dataset
    records and cached stream chunk lists are all removed. Do not clear a cache a
    running job uses.

    Exit codes: 0 cleared; 1 not confirmed; 2 usage error (--project was never synced
    here).

    \f
    Args:
        project: Only this synced project (name or id).
        cache_dir: Cache root.
        yes: Skip the confirmation prompt.
        quiet: No message after clearing.

    Raises:
        typer.Exit: With code 2 when ``project`` has no manifest; 1 when not confirmed.
    """
    import shutil

    from datamint.catalog.context import DATASETS_DIR
    from datamint.dataset.streaming import STREAMS_DIR
    from datamint.storage.file_cache import FileCache
    from datamint.storage.layout import ARRAYS_DIR, FILES_DIR, MANIFESTS_DIR
    from datamint.storage.manifest import delete_manifest, list_manifests, read_manifest

    root = _root(cache_dir)
    if project is None:
        if not yes and not typer.confirm(
            f"Remove every cached file, array and manifest in {root}?"
        ):
            raise typer.Exit(code=EXIT_FAILURE)
        freed = 0
        for name in (FILES_DIR, ARRAYS_DIR, MANIFESTS_DIR, DATASETS_DIR, STREAMS_DIR):
            folder = root / name
            if folder.is_dir():
                freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
                shutil.rmtree(folder)
        note(f"cleared {root}: {_mb(freed)} freed", quiet, err=False)
        return
    manifest = _project_manifest(root, project)
    label = f"{manifest.project_name!r} ({manifest.project_id})"
    if not yes and not typer.confirm(f"Remove the cached files and manifest of project {label}?"):
        raise typer.Exit(code=EXIT_FAILURE)
    ids = _manifest_ids(manifest)
    shared = 0
    for summary in list_manifests(root):
        if summary.project_id == manifest.project_id:
            continue
        try:
            other = _manifest_ids(read_manifest(root, summary.project_id))
        except Exception:
            continue
        for kind in ids:
            shared += len(ids[kind] & other[kind])
            ids[kind] -= other[kind]
    cache = FileCache(root)
    entries = freed = 0
    for kind in ("resources", "annotations"):
        n, size = cache.remove_entities(kind, sorted(ids[kind]))
        entries += n
        freed += size
    delete_manifest(root, manifest.project_id)
    shutil.rmtree(root / DATASETS_DIR / manifest.project_id, ignore_errors=True)
    note(
        f"cleared project {label}: {entries} file entries ({_mb(freed)}) and its manifest "
        f"removed"
        + (f"; {shared} files kept, listed by other synced projects" if shared else "")
        + "; decoded arrays are not tracked per project (`datamint cache clear` removes all)",
        quiet,
        err=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``cache info | verify | clear`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.add_typer(cache_app, name="cache")


cache_app.command("info")(info)
cache_app.command("verify")(verify)
cache_app.command("clear")(clear)
