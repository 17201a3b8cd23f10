"""``datamint search QUERY``: find resources by tag, kind, modality, annotator, annotations."""

from typing import Annotated

import typer

from datamint.cli.common import (
    ApiKeyOption,
    CacheDirOption,
    JsonOption,
    ServerUrlOption,
)

__all__ = ["register", "search"]


def search(
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help="Terms that must all hold, e.g. 'tag:ct modality:CT annotator:alice "
            "has:segmentation kind:volume'; -key:value negates a term.",
        ),
    ],
    project: Annotated[
        str | None,
        typer.Option("--project", metavar="NAME", help="Only this project (exact name)."),
    ] = None,
    local: Annotated[
        bool,
        typer.Option("--local", help="Search the local cache's manifests; send nothing."),
    ] = False,
    as_json: JsonOption = False,
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    cache_dir: CacheDirOption = None,
) -> None:
    """Find resources: over the server's projects, or with --local over the synced ones.

    Prints one tab-separated line per matching resource (project, resource id, kind,
    modality, filename) and a count, or with --json a list of objects.

    Exit codes: 0 ok (also when nothing matches), 1 failure, 2 usage or configuration error
    (a malformed query; the server or cache cannot answer).

    \f
    Args:
        query: The search terms (see :mod:`datamint.search`).
        project: Only this project.
        local: Use the local manifests (:class:`~datamint.api.offline.OfflineApi`).
        as_json: Print JSON.
        server_url: Server base URL (online).
        api_key: API key (online). Never printed.
        cache_dir: Cache root (with ``--local``; with ``--server-url``, only that
            server's manifests).

    Raises:
        typer.Exit: With code 2 for a bad query or a failed lookup.
    """
    import json

    from datamint.exceptions import DatamintException
    from datamint.search import Condition, search_resources

    try:
        condition = Condition.parse(query)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    try:
        if local:
            from datamint.api.offline import OfflineApi
            from datamint.settings import cache_root

            api = OfflineApi(
                cache_dir if cache_dir is not None else cache_root(), server_url=server_url
            )
        else:
            from datamint.api.client import Api

            api = Api(server_url=server_url, api_key=api_key)
        with api:
            found = search_resources(api, condition, project)
    except DatamintException as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    hits = found.hits
    if found.unsynced:
        typer.echo(
            f"note: {len(found.unsynced)} resources left out: their annotations were never "
            "synced (prefetch(include_annotations=True) or `datamint download` online)",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps([hit.summary() for hit in hits], indent=1))
        return
    for hit in hits:
        line = hit.summary()
        typer.echo(
            f"{line['project']}\t{line['resource_id']}\t{line['kind']}\t"
            f"{line['modality'] or '-'}\t{line['filename']}"
        )
    n_projects = len({hit.project_id for hit in hits})
    typer.echo(
        f"{len(hits)} resource{'' if len(hits) == 1 else 's'} match {str(condition)!r}"
        f" in {n_projects} project{'' if n_projects == 1 else 's'}",
        err=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``search`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.command("search")(search)
