"""The ``datamint`` command line: a small registry of sub-commands.

Each command lives in its own module and exposes ``register(app)``; heavy imports happen
inside the command functions, so ``datamint --help`` stays fast. To add a command, write
``datamint/cli/<name>.py`` with a ``register`` function and list the module below.
"""

import typer

from datamint.cli import (
    agreement,
    cache,
    demo,
    download,
    import_cmd,
    search,
    serve,
    server_store,
    server_users,
)

__all__ = ["app"]

app = typer.Typer(
    name="datamint",
    help="Feed annotated medical images from an annotation project to PyTorch.",
    no_args_is_help=True,
)

_COMMANDS = (
    demo,
    serve,
    import_cmd,
    server_users,
    server_store,
    download,
    cache,
    search,
    agreement,
)
for _module in _COMMANDS:
    _module.register(app)


if __name__ == "__main__":  # pragma: no cover - `python -m datamint.cli.main`
    app()
