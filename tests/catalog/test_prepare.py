"""Dataset ids end to end: prepare online, get offline, find on metadata, resume, list."""

from __future__ import annotations

import json
import multiprocessing

import httpx
import numpy as np
import pytest
from typer.testing import CliRunner

import datamint
from datamint.catalog import Context, find_dataset, get_dataset, prepare_dataset
from datamint.catalog.context import COMPLETE_NAME, INCOMPLETE_SUFFIX, STATE_NAME
from datamint.cli.main import app
from datamint.dataset import SlicedVideoDataset, VideoDataset
from datamint.exceptions import DownloadError, OfflineCacheMissError
from tests.catalog.prepare_child import prepare
from tests.counting import FILE_ROUTES, file_downloads

VIDEO = "demo[kind=video]"
VIDEO_FRAMES_SEMANTIC = "demo[kind=video,frames=true,semantic=true,merge=union]"


@pytest.fixture
def no_network(monkeypatch):
    """Fail the test on any HTTP request."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network call was made offline")

    monkeypatch.setattr(httpx.Client, "send", refuse)


def _needed_files(ds) -> int:
    segs = {
        a.id
        for anns in ds.resource_annotations
        for a in anns
        if a.annotation_type == "segmentation"
    }
    return len(ds.resources) + len(segs)


def test_prepare_downloads_once_then_get_builds_offline(ctx, faults, monkeypatch):
    online = prepare_dataset(VIDEO_FRAMES_SEMANTIC, ctx, return_metainfo=False)
    assert isinstance(online, SlicedVideoDataset)
    needed = _needed_files(online)
    assert needed > len(online.resources) == 3
    assert file_downloads(faults) == needed
    expected = online[5]

    faults.reset()
    again = prepare_dataset(VIDEO_FRAMES_SEMANTIC, ctx)
    assert len(again) == len(online)
    assert file_downloads(faults) == 0  # COMPLETE and the same content: nothing to do

    def refuse(*args, **kwargs):
        raise AssertionError("a network call was made offline")

    monkeypatch.setattr(httpx.Client, "send", refuse)
    offline = get_dataset(VIDEO_FRAMES_SEMANTIC, context=ctx, return_metainfo=False)
    assert isinstance(offline, SlicedVideoDataset)
    assert offline.offline
    assert len(offline) == len(online)
    item = offline[5]
    assert offline.get_resource(5).id == online.get_resource(5).id
    assert np.array_equal(np.asarray(item["image"]), np.asarray(expected["image"]))
    assert np.array_equal(np.asarray(item["masks"]), np.asarray(expected["masks"]))


def test_two_variants_never_share_an_entry(ctx, faults):
    prepare_dataset(VIDEO, ctx)
    first = file_downloads(faults)
    prepare_dataset("demo", ctx, variant={"kind": "video", "frames": True})
    assert file_downloads(faults) == first  # the file cache is shared, the markers are not
    listed = ctx.datasets()
    assert [p.id for p in listed] == [
        "demo[frames=false,kind=video,merge=null,plane=null,semantic=false]",
        "demo[frames=true,kind=video,merge=null,plane=null,semantic=false]",
    ]
    assert listed[0].path != listed[1].path
    assert all((p.path / COMPLETE_NAME).is_file() and p.complete for p in listed)
    assert listed[1].items > listed[1].resources == 3
    assert {p.project_name for p in listed} == {"demo"}
    # each variant is found under its own spelling, the other is not prepared
    assert isinstance(ctx.dataset("demo[frames=false, kind=video]"), VideoDataset)
    with pytest.raises(OfflineCacheMissError, match=r"prepare_dataset\('demo\[.*kind=image"):
        ctx.dataset("demo[kind=image]")


def test_get_dataset_of_an_unprepared_id_names_what_to_run(ctx, no_network):
    with pytest.raises(OfflineCacheMissError) as raised:
        get_dataset("demo[kind=image]", context=ctx)
    message = str(raised.value)
    assert "datamint.prepare_dataset('demo[frames=false,kind=image,merge=null," in message
    assert "never synced" in message


def test_interrupted_prepare_resumes_and_downloads_only_what_is_missing(ctx, faults, counted):
    with datamint.Api(counted.url, counted.api_key, check_connection=False) as api:
        videos = [
            r for r in api.get_project_resources(counted.project_id) if r["mimetype"] == "video/mp4"
        ]
    broken = videos[0]["id"]
    faults.fail_with_status(rf"^/resources/{broken}/file$", status=404, times=None)
    with pytest.raises(DownloadError, match=broken):
        prepare_dataset(VIDEO, ctx)
    first = file_downloads(faults)

    [interrupted] = ctx.datasets(include_incomplete=True)
    assert not interrupted.complete
    assert interrupted.path.name.endswith(INCOMPLETE_SUFFIX)
    state = json.loads((interrupted.path / STATE_NAME).read_text())
    assert state["steps"] == []
    assert ctx.datasets() == []
    with pytest.raises(OfflineCacheMissError, match="is not prepared"):
        ctx.dataset(VIDEO)
    out = CliRunner().invoke(app, ["cache", "info", "--cache-dir", str(ctx.cachepath)]).output
    assert "interrupted" in out

    faults.reset()
    ds = prepare_dataset(VIDEO, ctx)
    assert faults.count(rf"^/resources/{broken}/file$") == 1
    assert file_downloads(faults) == 1  # everything else was a cache hit
    assert first == _needed_files(ds)  # the first run tried every file once
    [done] = ctx.datasets(include_incomplete=True)
    assert done.complete
    assert not interrupted.path.exists()


def test_concurrent_prepares_on_one_node_download_each_file_once(ctx, faults, counted, tmp_path):
    faults.add_latency(FILE_ROUTES, 0.5)  # downloads overlap the other processes' arrival
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(3), context.Queue()
    log = tmp_path / "prefetch.log"
    args = (counted.url, counted.api_key, str(ctx.cachepath), "demo[kind=video]", barrier, queue)
    args = (*args, str(log))
    procs = [context.Process(target=prepare, args=args) for _ in range(3)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=120) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert results == ["demo:3"] * 3
    [done] = ctx.datasets(include_incomplete=True)
    assert done.complete
    needed = _needed_files(ctx.dataset("demo[kind=video]"))
    assert file_downloads(faults) == needed
    # one process did the work under the lock; the others found it COMPLETE
    assert len(log.read_text().split()) == 1


def test_prepare_with_decode_records_it_and_is_then_a_no_op(ctx, faults):
    prepare_dataset("demo[kind=video,frames=true]", ctx, decode=False)
    [before] = ctx.datasets()
    assert not before.decoded
    prepare_dataset("demo[kind=video,frames=true]", ctx, decode=True)
    [after] = ctx.datasets()
    assert after.decoded
    assert after.record["steps"] == ["files", "decoded"]
    assert list((ctx.cachepath / "arrays").rglob("*.json"))
    stamp = (after.path / COMPLETE_NAME).stat().st_mtime_ns
    prepare_dataset("demo[kind=video,frames=true]", ctx, decode=True)
    assert (after.path / COMPLETE_NAME).stat().st_mtime_ns == stamp


def test_find_dataset_reads_metadata_only(ctx, faults):
    info = find_dataset("demo[kind=video,frames=true]", ctx)
    assert info.id == "demo[frames=true,kind=video,merge=null,plane=null,semantic=false]"
    assert info.project["name"] == "demo"
    assert info.resource_count == 25
    assert info.kinds == {"image": 13, "volume": 18, "video": 3, "other": 0}
    assert info.matching == 3
    assert info.prepared is None
    assert file_downloads(faults) == 0
    assert faults.count(r"^/projects/[^/]+/resources$") == 1

    prepare_dataset("demo[kind=video,frames=true]", ctx)
    assert find_dataset("demo", ctx, variant="kind=video,frames=true").prepared is not None


def test_only_item_options_go_with_an_id(ctx):
    with pytest.raises(ValueError, match="include_annotators"):
        prepare_dataset("demo", ctx, include_annotators=["alice@example.org"])
    with pytest.raises(ValueError, match="offline"):
        get_dataset("demo", context=ctx, offline=False)


def test_cache_info_lists_prepared_variants(ctx):
    prepare_dataset(VIDEO, ctx)
    result = CliRunner().invoke(app, ["cache", "info", "--cache-dir", str(ctx.cachepath)])
    assert result.exit_code == 0, result.output
    assert "datasets prepared: 1" in result.output
    assert "demo[frames=false,kind=video,merge=null,plane=null,semantic=false]: 3 resources" in (
        result.output
    )
    one = CliRunner().invoke(
        app, ["cache", "info", "--project", "demo", "--cache-dir", str(ctx.cachepath)]
    )
    assert "demo[frames=false,kind=video" in one.output


@pytest.mark.parametrize("project", [None, "demo"])
def test_cache_clear_forgets_prepared_datasets(ctx, project):
    prepare_dataset(VIDEO, ctx)
    assert len(ctx.datasets()) == 1
    args = ["cache", "clear", "--yes", "--cache-dir", str(ctx.cachepath)]
    result = CliRunner().invoke(app, args + (["--project", project] if project else []))
    assert result.exit_code == 0, result.output
    assert ctx.datasets() == []
    with pytest.raises(OfflineCacheMissError, match="prepare_dataset"):
        ctx.dataset(VIDEO)


def test_default_context_follows_the_environment(isolated_env):
    ctx = Context.instance()
    assert ctx is datamint.Context.instance()
    assert ctx.cachepath == isolated_env.cache_dir
    assert ctx.datapath == isolated_env.cache_dir / "datasets"
    assert ctx.datasets() == []


def test_top_level_exports_are_lazy():
    for name in ("prepare_dataset", "find_dataset", "get_dataset", "Context"):
        assert name in datamint.__all__
        assert getattr(datamint, name) is getattr(datamint.catalog, name)
    assert "variants" in datamint.__all__
    assert datamint.variants.AxesVariants is not None
