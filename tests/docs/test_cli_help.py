"""``--help`` of every ``datamint`` command: it works, documents the exit codes, shows no
type placeholders (``<bool>``, ``<int>`` ...) on options, and shared options read the same
everywhere. The commands are found by walking the click tree, so a new command is checked
without being listed here."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from datamint.cli.main import app

REPO = Path(__file__).resolve().parents[2]
# typer's type labels: <bool>, <int>, <float>, <str>, <path>, <dir>, <file>, <int range>,
# <list[str]>, <choice|choice> ...
PLACEHOLDER = re.compile(
    r"<(?:bool|int|float|str|path|dir|file|uuid|datetime|[a-z]+ range|list\[[^\]]*\])>"
)
SHARED_OPTIONS = ("--server-url", "--api-key", "--cache-dir", "--json", "--quiet")
REQUIRED_COMMANDS = {
    "config", "demo", "serve", "import", "download", "prefetch", "agreement",
    "cache info", "cache verify", "cache clear", "split show", "split save",
    "server add-user", "server add-member", "server list-users", "server gc",
    "server settings",
}  # fmt: skip


def _is_group(command: Any) -> bool:
    # typer ships its own copy of click: recognise groups and options by what they hold.
    return isinstance(getattr(command, "commands", None), dict)


def _walk(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    if _is_group(command):
        for name, sub in sorted(command.commands.items()):
            found += _walk(sub, (*path, name))
    return found


COMMANDS = _walk(typer.main.get_command(app))
LEAVES = [(path, cmd) for path, cmd in COMMANDS if not _is_group(cmd)]


def _help(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


def test_every_documented_command_exists() -> None:
    assert {" ".join(path) for path, _ in LEAVES} >= REQUIRED_COMMANDS


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "-")
def test_help_has_no_type_placeholders(path: tuple[str, ...]) -> None:
    text = _help(path)
    assert "<bool>" not in text
    options = [line for line in text.splitlines() if line.lstrip().startswith("-")]
    assert options, text
    for line in options:
        assert not PLACEHOLDER.search(line), line
    assert "--install-completion" not in text


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=lambda p: " ".join(p))
def test_help_documents_the_exit_codes(path: tuple[str, ...]) -> None:
    text = " ".join(_help(path).split())
    assert "Exit codes: 0 " in text
    if "--server-url" in text:
        assert "2 usage or configuration error" in text


def test_root_help_states_the_exit_codes() -> None:
    text = " ".join(_help(()).split())
    assert "Exit codes of every command: 0 ok, 1 failure, 2 usage or configuration error." in text


def test_shared_options_read_the_same_in_every_command() -> None:
    helps: dict[str, set[str]] = defaultdict(set)
    for path, command in LEAVES:
        if path == ("config",):  # its --api-key / --url store values instead of using them
            continue
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt in SHARED_OPTIONS:
                    helps[opt].add(param.help or "")
    assert set(helps) == set(SHARED_OPTIONS)
    for opt, texts in helps.items():
        assert len(texts) == 1, (opt, texts)


def test_value_options_show_a_metavar_and_every_option_has_help() -> None:
    for path, command in LEAVES:
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, (path, param.opts)
                if not param.is_flag:
                    assert param.metavar and param.metavar.isupper(), (path, param.opts)


# `datamint cmd [sub] [--option ...]` quoted in a message, docstring or docs page.
QUOTED = re.compile(r"`datamint((?: [a-z][a-z-]*)+)((?: [^`]*)?)`")


def _quoted_commands(text: str) -> list[tuple[tuple[str, ...], list[str]]]:
    found = []
    for words, rest in QUOTED.findall(text):
        path = tuple(words.split())
        while path and path not in COMMAND_PATHS:  # trailing words are arguments
            path = path[:-1]
        found.append(((*path, *words.split()[len(path) :]), re.findall(r"--[a-z][a-z-]*", rest)))
    return found


COMMAND_PATHS = {path for path, _ in COMMANDS}
OPTIONS = {
    path: {opt for param in cmd.params for opt in (*param.opts, *param.secondary_opts)}
    for path, cmd in LEAVES
}


@pytest.mark.parametrize(
    "source",
    [
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "datamint").rglob("*.py")),
        "README.md",
        *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")),
    ],
)
def test_every_quoted_command_and_option_exists(source: str) -> None:
    text = (REPO / source).read_text(encoding="utf-8")
    for words, options in _quoted_commands(text):
        path = words
        while path and path not in COMMAND_PATHS:
            path = path[:-1]
        assert path, f"{source}: `datamint {' '.join(words)}` is not a command"
        if path in OPTIONS:
            unknown = [o for o in options if o not in OPTIONS[path] | {"--help"}]
            assert not unknown, f"{source}: `datamint {' '.join(path)}` has no {unknown}"


def test_the_cli_page_documents_every_command() -> None:
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for path, _ in LEAVES:
        assert f"datamint {' '.join(path)}" in page, path
