"""The item path stays short: a warm sliced item makes few calls into datamint and opens
its volume once.

Before the ItemIndex/ItemBuilder redesign a warm ``VolumeDataset(...).slice("axial")[i]``
made 218 calls into datamint (17 files; counted as here on commit eb7a412), 261 right
after it; the per-process plans (entities, target plans, file versions) bring it under
half of the first figure.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import datamint
from datamint.dataset import VolumeDataset
from datamint.dataset.loading import ItemLoader

PACKAGE = str(Path(datamint.__file__).parent)
MAX_WARM_CALLS = 63  # half of the 127 calls the issue measured before the redesign


def count_calls(fn: Any) -> Counter[tuple[str, str]]:
    """Calls of functions defined under ``datamint/`` (each entry, generators' resumptions
    included) while ``fn()`` runs, by ``(file, function)``."""
    counts: Counter[tuple[str, str]] = Counter()

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename.startswith(PACKAGE):
            name = frame.f_code.co_filename[len(PACKAGE) + 1 :]
            counts[(name, frame.f_code.co_name)] += 1

    sys.setprofile(profile)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return counts


@pytest.fixture
def axial(demo_kwargs: dict[str, Any]) -> tuple[Any, int]:
    """The axial view of the demo and the first item of brain1 (25 slices, 3 annotators'
    lesion masks, labels and categories)."""
    volumes = VolumeDataset(project="demo", **demo_kwargs)
    view = volumes.slice("axial")
    position = [r.filename for r in volumes.resources].index("volumes/brain1_mr.nii.gz")
    first = next(i for i in range(len(view)) if view.locate(i)[0] == position)
    return view, first


def test_a_warm_sliced_item_makes_few_calls_into_datamint(axial: tuple[Any, int]) -> None:
    view, first = axial
    view[first]  # cold: prepares, downloads, decodes, resolves the plane and the masks
    view[first + 1]
    counts = count_calls(lambda: view[first + 2])
    total = sum(counts.values())
    assert total <= MAX_WARM_CALLS, f"{total} calls: {counts.most_common(12)}"
    # 15 modules: the item path's 14, plus array_copy (one fresh copy of a flipped slice)
    assert len({file for file, _ in counts}) <= 15


def test_each_item_opens_its_volume_once(
    axial: tuple[Any, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    view, first = axial
    opened: list[str] = []
    original = ItemLoader.image

    def image(self: ItemLoader, resource: Any, axis_hint: int | None = None) -> Any:
        opened.append(resource.id)
        return original(self, resource, axis_hint)

    monkeypatch.setattr(ItemLoader, "image", image)
    for k in range(4):
        opened.clear()
        item = view[first + k]
        assert opened == [item["metainfo"]["resource_id"]]


def test_items_of_one_volume_share_its_plan_not_their_arrays(axial: tuple[Any, int]) -> None:
    view, first = axial
    a, b = view[first + 3], view[first + 3]
    for author in a["masks"]:
        assert a["masks"][author] is not b["masks"][author]
    labels = a["image_labels"]
    for user in labels:
        labels[user] += 1  # changing one item's labels changes no other item
        assert not (view[first + 3]["image_labels"][user] == labels[user]).all()
