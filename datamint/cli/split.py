"""``datamint split show | save``: a project's split on the server, and saving a new one."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import typer

from datamint.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ApiKeyOption,
    JsonOption,
    ProjectOption,
    QuietOption,
    ServerUrlOption,
    connection,
    echo_json,
    fail,
    library_errors,
    new_app,
    note,
)

__all__ = ["parse_ratios", "register", "save", "show", "split_app"]

split_app = new_app("Show a project's split assignment, or save a new split to the server.")


def parse_ratios(ratios: list[str]) -> dict[str, float]:
    """Parse ``NAME=FRACTION`` options, in the order given.

    Args:
        ratios: E.g. ``["train=0.8", "val=0.2"]``.

    Returns:
        Split name -> fraction, in order.

    Raises:
        typer.Exit: With code 2 for an entry without ``=``, an empty or repeated name, or
            a fraction that is not a number.
    """
    parsed: dict[str, float] = {}
    for item in ratios:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            fail(f"--ratio {item!r}: expected NAME=FRACTION, e.g. --ratio train=0.8", EXIT_USAGE)
        if name in parsed:
            fail(f"--ratio names {name!r} twice", EXIT_USAGE)
        try:
            parsed[name] = float(value)
        except ValueError:
            fail(f"--ratio {item!r}: {value!r} is not a number", EXIT_USAGE)
    return parsed


def show(
    project: ProjectOption,
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            metavar="TIMESTAMP",
            help="Show the assignment as it stood at this ISO-8601 UTC instant, e.g. "
            "2026-11-21T14:53:43.660946Z (the split_as_of_timestamp of a run).",
        ),
    ] = None,
    resources: Annotated[
        bool,
        typer.Option("--resources", help="Also list every resource with its split."),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Show which split each of a project's resources is assigned to on the server.

    Prints the number of resources per split (and those in none); with --resources
    one line per resource: id, split, filename.

    Exit codes: 0 ok; 2 usage or configuration error (no key or URL, unknown project,
    server unreachable, bad timestamp).

    \f
    Args:
        project: Project name.
        server_url: Server base URL (option > ``DATAMINT_API_URL`` > config file).
        api_key: API key (option > ``DATAMINT_API_KEY`` > config file). Never printed.
        as_of: Replay instant, passed to the server verbatim.
        resources: List every resource.
        as_json: Print ``{"project", "project_id", "as_of_timestamp", "counts",
            "unassigned", "assignments": [{resource_id, filename, split}]}``; ``split``
            is null for resources in no split.

    Raises:
        typer.Exit: With code 2 when the project or its split cannot be read.
    """
    from datamint.api.client import Api

    url, key = connection(server_url, api_key)
    with library_errors(EXIT_USAGE), Api(server_url=url, api_key=key) as api:
        record = api.get_project_by_name(project)
        project_id = str(record["id"])
        rows = api.get_project_splits(project_id, as_of_timestamp=as_of)
        listed = api.get_project_resources(project_id)
    split_of = {str(r["resource_id"]): str(r["split_name"]) for r in rows if r.get("resource_id")}
    assignments = [
        {
            "resource_id": str(r["id"]),
            "filename": r.get("filename"),
            "split": split_of.get(str(r["id"])),
        }
        for r in listed
    ]
    counts = Counter(a["split"] for a in assignments if a["split"] is not None)
    unassigned = sum(1 for a in assignments if a["split"] is None)
    if as_json:
        echo_json(
            {
                "project": project,
                "project_id": project_id,
                "as_of_timestamp": as_of,
                "counts": dict(sorted(counts.items())),
                "unassigned": unassigned,
                "assignments": assignments,
            }
        )
        return
    when = f" as of {as_of}" if as_of else ""
    typer.echo(f"project {project!r} ({project_id}): {len(assignments)} resources{when}")
    if not counts:
        typer.echo("no split assigned")
    for name, count in sorted(counts.items()):
        typer.echo(f"  {name}: {count}")
    if counts and unassigned:
        typer.echo(f"  (in no split): {unassigned}")
    if resources:
        for a in assignments:
            typer.echo(f"{a['resource_id']}  {a['split'] or '-'}  {a['filename']}")


def save(
    project: ProjectOption,
    ratio: Annotated[
        list[str],
        typer.Option(
            "--ratio",
            metavar="NAME=FRACTION",
            help="A split and its share, e.g. --ratio train=0.8 --ratio val=0.2 "
            "(repeatable; at least two; they sum to 1; the last takes the rest).",
        ),
    ],
    server_url: ServerUrlOption = None,
    api_key: ApiKeyOption = None,
    seed: Annotated[
        int,
        typer.Option("--seed", metavar="N", help="Shuffle seed: the same seed, the same split."),
    ] = 0,
    by_patient: Annotated[
        bool,
        typer.Option(
            "--by-patient/--by-resource",
            help="Keep each patient's resources in one split (patient_id, else the DICOM "
            "PatientID).",
        ),
    ] = False,
    stratify_by: Annotated[
        str | None,
        typer.Option(
            "--stratify-by",
            metavar="LABEL",
            help="An image label or category whose classes every split shares in proportion.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Re-assign when the project already has a split (the old one stays "
            "replayable with --as-of).",
        ),
    ] = False,
    quiet: QuietOption = False,
    as_json: JsonOption = False,
) -> None:
    """Split a project's resources locally and save the split on the server.

    The split is the one ds.split(NAME=FRACTION, ..., seed=SEED) computes in Python
    over all the project's resources: a seeded shuffle (random.Random(seed)), sizes
    round(fraction * n) in the order given, the last split taking the rest. The server
    keeps every assignment as a versioned row, so this split can be replayed later with
    `datamint split show --as-of` or ds.split(as_of_timestamp=...).

    Exit codes: 0 ok; 1 the project already has a split and --force was not given;
    2 usage or configuration error (bad --ratio, no key or URL, unknown project).

    \f
    Args:
        project: Project name.
        ratio: ``NAME=FRACTION`` entries.
        server_url: Server base URL (option > ``DATAMINT_API_URL`` > config file).
        api_key: API key (option > ``DATAMINT_API_KEY`` > config file). Never printed.
        seed: Shuffle seed.
        by_patient: Split patients instead of resources.
        stratify_by: Label or category identifier to stratify on.
        force: Overwrite an existing assignment.
        quiet: No message after saving.
        as_json: Print ``{"project", "project_id", "saved_at", "counts"}``.

    Raises:
        typer.Exit: With code 1 when the server already has a split (no ``--force``),
            2 for bad options or an unreadable project.
    """
    from datamint.dataset.base import DatamintBaseDataset
    from datamint.splits.project import utc_now_iso

    ratios = parse_ratios(ratio)
    url, key = connection(server_url, api_key)
    with library_errors(EXIT_USAGE):
        dataset = DatamintBaseDataset(project=project, server_url=url, api_key=key)
        parts: Any = dataset.split(
            seed=seed, by_patient=by_patient, stratify_by=stratify_by, **ratios
        )
        project_id = dataset.project.id if dataset.project is not None else None
    with library_errors(EXIT_FAILURE):
        parts.save(force=force)
    saved_at = utc_now_iso()
    counts = {name: len(part.resources) for name, part in parts.items()}
    if as_json:
        echo_json(
            {"project": project, "project_id": project_id, "saved_at": saved_at, "counts": counts}
        )
        return
    listing = ", ".join(f"{name} {count}" for name, count in counts.items())
    note(f"saved the split of project {project!r}: {listing} resources", quiet)
    note(f"replay it with --as-of {saved_at}", quiet)


def register(app: typer.Typer) -> None:
    """Add ``split show | save`` to the ``datamint`` command line.

    Args:
        app: The root typer application.
    """
    app.add_typer(split_app, name="split")


split_app.command("show")(show)
split_app.command("save")(save)
