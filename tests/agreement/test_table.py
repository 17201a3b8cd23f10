"""``agreement_table`` on a hand-built dataset: who is compared, and the table API."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from datamint.agreement import AgreementTable, agreement_table


def _ann(author, identifier, kind="segmentation", value=None, frame_index=None):
    return SimpleNamespace(
        author=author,
        identifier=identifier,
        annotation_type=kind,
        is_segmentation=kind == "segmentation",
        frame_index=frame_index,
        text_value=value,
    )


def _mask(*boxes):
    mask = np.zeros((1, 6, 8), bool)
    for r0, r1, c0, c1 in boxes:
        mask[0, r0:r1, c0:c1] = True
    return mask


RESOURCES = [SimpleNamespace(id=f"r{i}", filename=f"f{i}.png") for i in range(3)]
ANNOTATIONS = [
    # r0: alice and bob outline the lesion; carol only marks an organ; dan does nothing
    [_ann("alice", "lesion"), _ann("bob", "lesion"), _ann("carol", "organ")],
    # r1: only alice segments; all three label, two give a category
    [
        _ann("alice", "lesion"),
        _ann("alice", "present", "label"),
        _ann("bob", "present", "label"),
        _ann("carol", "other", "label"),
        _ann("alice", "body_part", "category", "CHEST"),
        _ann("bob", "body_part", "category", "CHEST"),
    ],
    # r2: labels and categories only
    [
        _ann("alice", "present", "label"),
        _ann("bob", "other", "label"),
        _ann("carol", "present", "label"),
        _ann("alice", "body_part", "category", "HEAD"),
        _ann("bob", "body_part", "category", "NECK"),
        _ann("alice", "present", "label", frame_index=3),  # frame-scoped: not used
    ],
]
MASKS = {
    0: {
        "alice": {"lesion": _mask((1, 3, 1, 5))},  # 8 px
        "bob": {"lesion": _mask((1, 3, 3, 7))},  # 8 px, 4 shared
        "carol": {"organ": _mask((4, 6, 0, 2))},
    },
    1: {"alice": {"lesion": _mask((0, 2, 0, 2))}},
}
DATASET = SimpleNamespace(resources=RESOURCES, resource_annotations=ANNOTATIONS)


def _table(**kwargs):
    calls = []

    def masks_of(i):
        calls.append(i)
        return MASKS[i]

    return agreement_table(DATASET, masks_of, lambda i: (None, 1.0, 0.5), **kwargs), calls


def test_segmentation_pairs_follow_the_participation_rule():
    table, calls = _table()
    segs = table.where(kind="segmentation")
    pairs = {
        (r["filename"], r["label"], r["annotator_a"], r["annotator_b"]) for r in segs.to_dicts()
    }
    # carol took part on r0 (she segmented something): she missed the lesion (Dice 0) and
    # alice and bob missed her organ. On r1 only alice segmented: no pair, and bob and
    # carol, who labelled r1, are not counted as missing its lesion.
    assert pairs == {
        ("f0.png", "lesion", "alice", "bob"),
        ("f0.png", "lesion", "alice", "carol"),
        ("f0.png", "lesion", "bob", "carol"),
        ("f0.png", "organ", "alice", "carol"),
        ("f0.png", "organ", "bob", "carol"),
    }
    assert calls == [0]  # r1's masks are never loaded
    row = segs.where(label="lesion", annotator_a="alice", annotator_b="bob").to_dicts()[0]
    assert row["dice"] == pytest.approx(0.5) and row["iou"] == pytest.approx(1 / 3)
    assert row["hd95_mm"] == pytest.approx(1.0)  # 2 columns of 0.5 mm
    miss = segs.where(label="lesion", annotator_a="alice", annotator_b="carol").to_dicts()[0]
    assert miss["dice"] == 0.0 and math.isinf(miss["assd_mm"]) and miss["voxels_b"] == 0


def test_label_and_category_kappas():
    table, _ = _table()
    present = table.where(kind="image_label", label="present")
    cohen = {(r["annotator_a"], r["annotator_b"]): r for r in present.to_dicts()[:-1]}
    # alice/bob on r1, r2: (1, 1), (1, 0); alice/carol: (1, 0), (1, 1); bob/carol: (1, 0), (0, 1)
    assert set(cohen) == {("alice", "bob"), ("alice", "carol"), ("bob", "carol")}
    assert cohen[("alice", "bob")]["observed_agreement"] == 0.5
    assert cohen[("alice", "bob")]["kappa"] == 0.0  # p_e = 1 x 0.5 + 0 x 0.5
    assert cohen[("bob", "carol")]["kappa"] == pytest.approx(-1.0)
    fleiss = present.where(method="fleiss").to_dicts()[0]
    assert (fleiss["n_items"], fleiss["n_annotators"]) == (2, 3)
    body = table.where(kind="category", label="body_part").to_dicts()
    assert [r["method"] for r in body] == ["cohen", "fleiss"]
    assert body[0]["observed_agreement"] == 0.5 and body[0]["n_items"] == 2


def test_filters():
    table, calls = _table(annotators=["alice", "bob"], labels=["lesion", "body_part"])
    assert {r["label"] for r in table.to_dicts()} == {"lesion", "body_part"}
    segs = table.where(kind="segmentation").to_dicts()
    assert {(r["annotator_a"], r["annotator_b"]) for r in segs} == {("alice", "bob")}
    none, calls = _table(annotators=["alice"])
    assert len(none.where(kind="segmentation")) == 0 and calls == []


def test_summary_and_exports():
    table, _ = _table()
    summary = table.summary()
    lesion = next(s for s in summary.segmentations if s.label == "lesion")
    assert (lesion.n_pairs, lesion.n_resources, lesion.n_one_empty) == (3, 1, 2)
    assert lesion.dice_mean == pytest.approx(0.5 / 3) and lesion.dice_min == 0.0
    assert lesion.worst[0].filename == "f0.png"
    text = str(summary)
    assert "lesion: Dice 0.167" in text and "body_part: Fleiss" in text
    payload = json.dumps(
        {"summary": summary.to_dict(), "rows": table.to_dicts(json_safe=True)}, allow_nan=False
    )
    assert json.loads(payload)["rows"][1]["assd_mm"] is None  # inf is not JSON
    names, matrix = table.dice_matrix("lesion")
    assert names == ["alice", "bob", "carol"]
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(0.5) and matrix[2, 2] == 1.0


def test_table_basics():
    table = AgreementTable([{"kind": "segmentation", "label": "x", "dice": 0.8}])
    assert len(table) == 1 and table["dice"].dtype == np.float64
    assert math.isnan(table["kappa"][0]) and table["annotator_a"][0] is None
    with pytest.raises(KeyError, match="no column 'nope'"):
        table["nope"]
    with pytest.raises(ValueError, match=r"unknown agreement columns \['nope'\]"):
        AgreementTable([{"nope": 1}])
    assert repr(table) == "AgreementTable(1 rows: segmentation=1)"


def test_to_pandas_names_what_is_missing():
    table = AgreementTable([{"kind": "segmentation", "label": "x", "dice": 0.8}])
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install pandas"):
            table.to_pandas()
    else:
        assert table.to_pandas()["dice"].tolist() == [0.8]
