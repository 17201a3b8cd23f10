"""``datamint search`` over the server's projects and, with --local, the synced manifests."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from datamint.cli.main import app
from datamint.dataset import VolumeDataset
from tests.counting import file_downloads

CT_WITH_SEGMENTATION = ["volumes/lung2_ct.nii.gz", "series/ct_lung2/", "videos/ct_lung2_slices.mp4"]


def _search(*args):
    result = CliRunner().invoke(app, ["search", *args])
    return result


@pytest.fixture
def online(counted):
    return ["--server-url", counted.url, "--api-key", counted.api_key]


def test_search_online_as_json(online, faults):
    result = _search("modality:CT has:segmentation", "--json", *online)
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert [h["filename"] for h in hits] == CT_WITH_SEGMENTATION
    assert {h["project"] for h in hits} == {"demo"}
    assert hits[0]["dataset_kinds"] == ["volume"]
    assert file_downloads(faults) == 0
    assert faults.count(r"^/annotations/search$", method="POST") == 1


def test_search_text_output_and_annotation_free_queries(online, faults):
    result = _search("kind:video tag:echo", "--project", "demo", *online)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[-1] for line in lines] == [
        "videos/echo_a4c.mp4",
        "videos/echo_plax_doppler.mp4",
    ]
    assert "2 resources match 'kind:video tag:echo' in 1 project" in result.stderr
    assert faults.count(r"^/annotations/search$", method="POST") == 0  # not needed


def test_search_annotator(online):
    result = _search("annotator:carol kind:video", "--json", *online)
    assert [h["filename"] for h in json.loads(result.stdout)] == ["videos/echo_plax_doppler.mp4"]


def test_malformed_query_exits_2_naming_the_term(online):
    result = _search("tag:ct colour:red", *online)
    assert result.exit_code == 2
    assert "colour:red" in result.stderr


def test_search_local_uses_the_manifests_only(counted, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    volumes = VolumeDataset(
        project="demo", server_url=counted.url, api_key=counted.api_key, cache_dir=cache
    )
    assert len(volumes) == 18  # preparation records the manifest

    import httpx

    def refuse(*args, **kwargs):
        raise AssertionError("a network call was made with --local")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    result = _search("modality:CT has:segmentation", "--local", "--json", "--cache-dir", str(cache))
    assert result.exit_code == 0, result.output
    # the videos' annotations were not synced by a VolumeDataset: left out, and said so
    assert [h["filename"] for h in json.loads(result.stdout)] == CT_WITH_SEGMENTATION[:2]
    assert "7 resources left out" in result.stderr
    plain = _search("modality:CT kind:video", "--local", "--json", "--cache-dir", str(cache))
    assert [h["filename"] for h in json.loads(plain.stdout)] == ["videos/ct_lung2_slices.mp4"]
    missing = _search("tag:ct", "--local", "--project", "nope", "--cache-dir", str(cache))
    assert missing.exit_code == 2
    assert "nope" in missing.stderr
