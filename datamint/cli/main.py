"""The ``datamint`` command line: a small registry of sub-commands.

Each command lives in its own module and exposes ``register(app)``; heavy imports happen
inside the command functions, so ``datamint --help`` stays fast. To add a command, write
``datamint/cli/<name>.py`` with a ``register`` function and list the module below.
Options, exit codes and output conventions shared by every command are in
:mod:`datamint.cli.common`.
"""

from datamint.cli import (
    agreement,
    cache,
    config_cmd,
    demo,
    download,
    import_cmd,
    prefetch,
    search,
    serve,
    server_store,
    server_users,
    split,
)
from datamint.cli.common import new_app

__all__ = ["app"]

app = new_app(
    "Feed annotated medical images from an annotation project to PyTorch.\n\n"
    "Exit codes of every command: 0 ok, 1 failure, 2 usage or configuration error."
)

for _module in (
    config_cmd,
    demo,
    download,
    prefetch,
    cache,
    split,
    search,
    agreement,
    import_cmd,
    serve,
    server_users,
    server_store,
):
    _module.register(app)


if __name__ == "__main__":  # pragma: no cover - `python -m datamint.cli.main`
    app()
