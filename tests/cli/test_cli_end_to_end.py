"""The main ``datamint`` commands end to end, against the real reference server on 127.0.0.1.

``config`` writes the file datasets read; ``import`` fills a store; ``download``,
``prefetch``, ``cache info`` and ``split show | save`` talk to a running server; the
``server`` group manages users. Outputs are checked in text and ``--json`` form, and
exit codes against the documented 0 / 1 / 2.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.demo import data_dir as demo_data_dir
from datamint.server.store import ProjectStore
from datamint.settings import config_path
from datamint.testing.server import build_demo_store, running_server

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def server_args(server: Any) -> list[str]:
    return ["--server-url", server.url, "--api-key", server.api_key]


# -- config -------------------------------------------------------------------------------


def test_config_writes_the_clients_file_and_datasets_use_it(demo_server: Any) -> None:
    result = invoke("config", "--api-key", demo_server.api_key, "--url", demo_server.url + "/")
    assert result.exit_code == 0, result.output
    path = config_path()
    assert path.name == "datamintapi.yaml" and path.parent.name == "datamintapi"
    stored = yaml.safe_load(path.read_text())
    assert stored == {"api_key": demo_server.api_key, "default_api_url": demo_server.url}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert demo_server.api_key not in result.output

    shown = invoke("config", "--show")
    assert shown.exit_code == 0
    assert demo_server.api_key not in shown.output
    assert f"api_key: {'*' * (len(demo_server.api_key) - 4)}{demo_server.api_key[-4:]}" in (
        shown.output
    )
    as_json = json.loads(invoke("config", "--show", "--json").stdout)
    assert as_json["url"] == demo_server.url and as_json["exists"] is True
    assert as_json["effective"]["api_key_from"] == "file"

    # No option, no environment variable: the stored values reach the server.
    listed = invoke("split", "show", "--project", "demo")
    assert listed.exit_code == 0, listed.output
    assert "25 resources" in listed.output


def test_config_keeps_values_not_given_and_rejects_a_bad_url(tmp_path: Path) -> None:
    assert invoke("config", "--api-key", "first-key-1234").exit_code == 0
    assert invoke("config", "--url", "http://127.0.0.1:9").exit_code == 0
    stored = yaml.safe_load(config_path().read_text())
    assert stored == {"api_key": "first-key-1234", "default_api_url": "http://127.0.0.1:9"}
    bad = invoke("config", "--url", "ftp://example.org")
    assert bad.exit_code == 2 and "http://" in bad.stderr
    assert yaml.safe_load(config_path().read_text())["default_api_url"] == "http://127.0.0.1:9"


def test_missing_key_names_the_option_and_the_config_command(demo_server: Any) -> None:
    result = invoke("download", "--project", "demo", "--server-url", demo_server.url)
    assert result.exit_code == 2
    assert "--api-key" in result.stderr and "datamint config --api-key" in result.stderr
    assert "api_key=" not in result.stderr
    no_url = invoke("split", "show", "--project", "demo", "--api-key", "k")
    assert no_url.exit_code == 2
    assert "--server-url" in no_url.stderr and "datamint config --url" in no_url.stderr


def test_a_rejected_key_is_a_configuration_error_naming_the_option(demo_server: Any) -> None:
    result = invoke(
        "split", "show", "--project", "demo", "--server-url", demo_server.url, "--api-key", "x" * 43
    )
    assert result.exit_code == 2
    assert "--api-key" in result.stderr and "api_key=" not in result.stderr


# -- import and the server group ------------------------------------------------------------


def test_import_json_then_add_member_and_list_users(tmp_path: Path) -> None:
    store = tmp_path / "store"
    imported = invoke("import", "--store", str(store), str(demo_data_dir()), "--json")
    assert imported.exit_code == 0, imported.output
    record = json.loads(imported.stdout)
    assert record["name"] == "demo" and record["resources"] == 25

    key = invoke("server", "add-user", "--store", str(store), "new@example.org").stdout.strip()
    assert ProjectStore(store).user_for_key(key) == "new@example.org"
    assert ProjectStore(store).member_project_ids("new@example.org") == set()

    joined = invoke(
        "server", "add-member", "--store", str(store), "New@Example.org", "--project", "demo"
    )
    assert joined.exit_code == 0, joined.output
    assert ProjectStore(store).member_project_ids("new@example.org") == {record["project_id"]}
    unknown = invoke("server", "add-member", "--store", str(store), "a@b.org", "--project", "nope")
    assert unknown.exit_code == 2 and "'nope'" in unknown.stderr
    no_store = invoke("server", "list-users", "--store", str(tmp_path / "none"))
    assert no_store.exit_code == 2 and "no store" in no_store.stderr

    users = json.loads(invoke("server", "list-users", "--store", str(store), "--json").stdout)
    new = next(u for u in users if u["email"] == "new@example.org")
    assert new["keys"] == 1 and new["projects"] == [{"id": record["project_id"], "name": "demo"}]
    text = invoke("server", "list-users", "--store", str(store)).stdout
    assert "new@example.org  keys: 1  projects: demo" in text
    assert key not in text


# -- download, prefetch, cache info -----------------------------------------------------------


def test_download_json_then_cache_info(demo_server: Any, tmp_path: Path) -> None:
    root = tmp_path / "cache"
    result = invoke(
        "download",
        "--project",
        "demo",
        "--cache-dir",
        str(root),
        "--json",
        *server_args(demo_server),
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["project"] == "demo" and report["failed"] == []
    assert report["downloaded"] == report["files"] > 0 and report["cached"] == 0
    assert Path(report["manifest"]).is_file()

    info = json.loads(invoke("cache", "info", "--cache-dir", str(root), "--json").stdout)
    (project,) = info["projects"]
    assert project["name"] == "demo" and project["files_cached"] == report["files"]
    total = info["files"]["resources"]["entries"] + info["files"]["annotations"]["entries"]
    assert total == report["files"]
    text = invoke("cache", "info", "--cache-dir", str(root)).stdout
    assert f"files cached {report['files']}/{report['files']}" in text
    verified = invoke("cache", "verify", "--cache-dir", str(root), "--json")
    assert verified.exit_code == 0, verified.output
    files = json.loads(verified.stdout)["files"]
    assert files["checked"] == files["ok"] == report["files"] and files["bad"] == []

    quiet = invoke(
        "download", "--project", "demo", "--cache-dir", str(root), "-q", *server_args(demo_server)
    )
    assert quiet.exit_code == 0 and quiet.output == ""


def test_prefetch_decodes_once_and_reports_hits_the_second_time(
    demo_server: Any, tmp_path: Path
) -> None:
    root = tmp_path / "cache"
    args = ["prefetch", "--project", "demo", "--kind", "volumes", "--cache-dir", str(root)]
    first = invoke(*args, "--decode", "--json", *server_args(demo_server))
    assert first.exit_code == 0, first.output
    volumes = json.loads(first.stdout)["kinds"]["volumes"]
    assert volumes["resources"] == 18 and volumes["failed"] == []
    assert volumes["downloaded"] > volumes["resources"]  # segmentation files too
    assert volumes["decoded"] == volumes["resources"] and volumes["decode_cached"] == 0
    assert list((root / "arrays" / "slices").rglob("*.b2nd"))

    second = invoke(*args, "--decode", "--json", *server_args(demo_server))
    again = json.loads(second.stdout)["kinds"]["volumes"]
    assert again["downloaded"] == 0 and again["cached"] == volumes["downloaded"]
    assert again["decoded"] == 0 and again["decode_cached"] == volumes["resources"]

    bad_kind = invoke(*args, "--kind", "meshes", *server_args(demo_server))
    assert bad_kind.exit_code == 2


def test_prefetch_of_an_unknown_project_is_a_usage_error(demo_server: Any) -> None:
    result = invoke("prefetch", "--project", "nope", "-q", *server_args(demo_server))
    assert result.exit_code == 2 and "'nope'" in result.stderr


# -- split show | save ------------------------------------------------------------------------


@pytest.fixture
def own_server(tmp_path: Path) -> Any:
    store = tmp_path / "split-store"
    _, key = build_demo_store(store)
    with running_server(store) as server:
        yield type("Own", (), {"url": server.url, "api_key": key})


def test_split_save_then_show_and_replay(own_server: Any) -> None:
    args = server_args(own_server)
    assert "no split assigned" in invoke("split", "show", "--project", "demo", *args).stdout
    saved = invoke(
        "split", "save", "--project", "demo", "--ratio", "train=0.8", "--ratio", "val=0.2",
        "--seed", "0", "--json", *args,
    )  # fmt: skip
    assert saved.exit_code == 0, saved.output
    first = json.loads(saved.stdout)
    assert first["counts"] == {"train": 20, "val": 5}

    shown = json.loads(invoke("split", "show", "--project", "demo", "--json", *args).stdout)
    assert shown["counts"] == {"train": 20, "val": 5} and shown["unassigned"] == 0
    assert len(shown["assignments"]) == 25

    refused = invoke(
        "split", "save", "--project", "demo", "--ratio", "a=0.5", "--ratio", "b=0.5", *args
    )
    assert refused.exit_code == 1 and "--force" in refused.stderr
    assert "force=True" not in refused.stderr

    forced = invoke(
        "split", "save", "--project", "demo", "--ratio", "a=0.5", "--ratio", "b=0.5",
        "--force", "-q", *args,
    )  # fmt: skip
    assert forced.exit_code == 0 and forced.output == ""
    now = json.loads(invoke("split", "show", "--project", "demo", "--json", *args).stdout)
    assert set(now["counts"]) == {"a", "b"}
    replay = invoke(
        "split", "show", "--project", "demo", "--as-of", first["saved_at"], "--json", *args
    )
    assert json.loads(replay.stdout)["counts"] == {"train": 20, "val": 5}


@pytest.mark.parametrize(
    ("ratios", "message"),
    [(["train"], "NAME=FRACTION"), (["train=x", "val=0.5"], "not a number"),
     (["a=0.5", "a=0.5"], "twice"), (["a=0.7", "b=0.7"], "sum")],
)  # fmt: skip
def test_split_save_rejects_bad_ratios_with_2(
    own_server: Any, ratios: list[str], message: str
) -> None:
    args = [arg for r in ratios for arg in ("--ratio", r)]
    result = invoke("split", "save", "--project", "demo", *args, *server_args(own_server))
    assert result.exit_code == 2
    assert message in result.stderr
