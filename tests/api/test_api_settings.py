"""Config sources and precedence (contract §2.1), cache root and timeouts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml

from datamint import settings
from datamint.exceptions import AuthenticationError, ValidationError


def _write_yaml(data: dict) -> Path:
    path = settings.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_config_path_follows_xdg_config_home(tmp_path: Path) -> None:
    assert settings.config_path() == tmp_path / "xdg-config" / "datamintapi" / "datamintapi.yaml"


def test_argument_beats_env_beats_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    _write_yaml({"api_key": "yaml-key", "default_api_url": "http://yaml.test/"})
    assert settings.resolve_api_key() == "yaml-key"
    assert settings.resolve_server_url() == "http://yaml.test"

    monkeypatch.setenv("DATAMINT_API_KEY", "env-key")
    monkeypatch.setenv("DATAMINT_API_URL", "http://env.test//")
    assert settings.resolve_api_key() == "env-key"
    assert settings.resolve_server_url() == "http://env.test"

    assert settings.resolve_api_key("arg-key") == "arg-key"
    assert settings.resolve_server_url("https://arg.test/base/") == "https://arg.test/base"


def test_empty_env_value_falls_through_to_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    _write_yaml({"api_key": "yaml-key"})
    monkeypatch.setenv("DATAMINT_API_KEY", "")
    assert settings.resolve_api_key() == "yaml-key"


def test_missing_key_has_the_exact_message() -> None:
    with pytest.raises(AuthenticationError) as info:
        settings.resolve_api_key()
    assert str(info.value) == (
        "API key not provided! Use the environment variable DATAMINT_API_KEY or pass it "
        "as an argument."
    )


def test_missing_url_names_the_three_sources() -> None:
    with pytest.raises(ValidationError, match="server_url=") as info:
        settings.resolve_server_url()
    assert "DATAMINT_API_URL" in str(info.value)
    assert "default_api_url" in str(info.value)


def test_url_must_be_http() -> None:
    with pytest.raises(ValidationError, match="http:// or https://"):
        settings.resolve_server_url("ftp://x.test")


def test_write_config_is_merged_atomic_and_private(tmp_path: Path) -> None:
    path = settings.write_config(api_key="k1")
    assert path == settings.config_path()
    settings.write_config(default_url="http://h.test/")
    assert yaml.safe_load(path.read_text()) == {"api_key": "k1", "default_api_url": "http://h.test"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["datamintapi.yaml"]  # no temp left
    assert settings.resolve_api_key() == "k1"
    assert settings.resolve_server_url() == "http://h.test"


def test_invalid_yaml_is_a_validation_error() -> None:
    path = settings.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("api_key: [unclosed", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid YAML"):
        settings.resolve_api_key()
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="mapping"):
        settings.read_config()


def test_cache_root_env_then_platformdirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATAMINT_CACHE_DIR", str(tmp_path / "cache"))
    assert settings.cache_root() == tmp_path / "cache"
    monkeypatch.delenv("DATAMINT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    assert settings.cache_root() == tmp_path / "xdg-cache" / "datamint"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/projects", 30.0),
        ("/projects/p1/worklists", 30.0),
        ("/projects/p1/resources", 900.0),
        ("/resources", 900.0),
        ("/resources/r1/file", 900.0),
        ("/annotations/search", 900.0),
        ("/annotations/r1/annotations/a1/file", 900.0),
        ("/annotationsets/w1", 30.0),
    ],
)
def test_endpoint_timeouts(path: str, expected: float) -> None:
    assert settings.endpoint_timeout_s(path) == expected


def test_long_timeout_never_below_default() -> None:
    assert settings.endpoint_timeout_s("/resources", 1200.0) == 1200.0
    assert settings.endpoint_timeout_s("/projects", 5.0) == 5.0
