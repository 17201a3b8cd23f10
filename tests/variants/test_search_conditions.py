"""Search conditions: parsing, each term on hand-made records, errors naming the term."""

from __future__ import annotations

import pytest

from datamint.entities import Annotation, Resource
from datamint.search import (
    AndCondition,
    AnnotatorCondition,
    Condition,
    HasCondition,
    ModalityCondition,
    NotCondition,
    TagCondition,
    TypeCondition,
    dataset_kinds,
)

CT_SERIES = {
    "id": "r1",
    "storage": "DicomResource",
    "filename": "series/ct/",
    "mimetype": "application/dicom",
    "modality": "CT",
    "tags": ["ct", "Chest"],
    "metadata": {"frame_count": 20},
}
DICOM_2D = {
    "id": "r2",
    "filename": "x.dcm",
    "mimetype": "application/dicom",
    "metadata": {"frame_count": 1, "Modality": "CR"},
}
PNG = {"id": "r3", "filename": "a.png", "mimetype": "image/png", "tags": ["photo"]}
VIDEO = {"id": "r4", "filename": "a.mp4", "mimetype": "video/mp4", "modality": "US"}
OTHER = {"id": "r5", "filename": "notes.txt", "mimetype": "text/plain"}
SEG_BY_ALICE = {
    "id": "a1",
    "resource_id": "r1",
    "identifier": "tumour",
    "type": "segmentation",
    "created_by": "alice@example.org",
}
LABEL_BY_BOB = {  # the alternative wire names of the annotation fields
    "id": "a2",
    "resource_id": "r1",
    "name": "normal",
    "annotation_type": "label",
    "added_by": "Bob@Example.org",
}


def test_dataset_kinds_follow_the_dataset_classes():
    assert dataset_kinds(CT_SERIES) == {"volume"}
    assert dataset_kinds(DICOM_2D) == {"image", "volume"}
    assert dataset_kinds(PNG) == {"image"}
    assert dataset_kinds(VIDEO) == {"video"}
    assert dataset_kinds(OTHER) == set()
    no_depth = {"id": "r6", "filename": "v.nii.gz"}
    assert dataset_kinds(no_depth) == {"volume"}


@pytest.mark.parametrize(
    ("query", "record", "annotations", "expected"),
    [
        ("tag:ct", CT_SERIES, [], True),
        ("tag:CHEST", CT_SERIES, [], True),
        ("tag:mr", CT_SERIES, [], False),
        ("tag:ct", OTHER, [], False),
        ("kind:volume", CT_SERIES, [], True),
        ("kind:image", CT_SERIES, [], False),
        ("kind:image", DICOM_2D, [], True),
        ("kind:volume", DICOM_2D, [], True),
        ("kind:dicom", DICOM_2D, [], True),
        ("kind:video", VIDEO, [], True),
        ("kind:generic", OTHER, [], True),
        ("modality:ct", CT_SERIES, [], True),
        ("modality:CR", DICOM_2D, [], True),
        ("modality:CT", PNG, [], False),
        ("annotator:alice", CT_SERIES, [SEG_BY_ALICE], True),
        ("annotator:alice@example.org", CT_SERIES, [SEG_BY_ALICE], True),
        ("annotator:bob", CT_SERIES, [LABEL_BY_BOB], True),
        ("annotator:carol", CT_SERIES, [SEG_BY_ALICE, LABEL_BY_BOB], False),
        ("annotator:ali", CT_SERIES, [SEG_BY_ALICE], False),
        ("has:segmentation", CT_SERIES, [SEG_BY_ALICE], True),
        ("has:label", CT_SERIES, [LABEL_BY_BOB], True),
        ("has:segmentation", CT_SERIES, [LABEL_BY_BOB], False),
        ("has:annotations", CT_SERIES, [LABEL_BY_BOB], True),
        ("has:annotations", CT_SERIES, [], False),
        ("has:segmentation", CT_SERIES, None, False),
        ("-has:annotations", CT_SERIES, [], True),
        (
            "tag:ct modality:CT annotator:alice has:segmentation kind:volume",
            CT_SERIES,
            [SEG_BY_ALICE],
            True,
        ),
        ("tag:ct modality:CT annotator:bob has:segmentation", CT_SERIES, [SEG_BY_ALICE], False),
        ('tag:"left knee"', {**PNG, "tags": ["left knee"]}, [], True),
        ("", OTHER, [], True),
    ],
)
def test_conditions_on_records(query, record, annotations, expected):
    assert Condition.parse(query).matches(record, annotations) is expected


def test_conditions_accept_entities():
    cond = Condition.parse("annotator:alice has:segmentation modality:CT")
    assert cond.matches(Resource(CT_SERIES), [Annotation(SEG_BY_ALICE)])


def test_parse_builds_the_documented_classes_and_round_trips():
    cond = Condition.parse("tag:ct kind:VOLUME modality:CT annotator:alice has:Segmentation -tag:x")
    assert isinstance(cond, AndCondition)
    assert [type(p) for p in cond.parts] == [
        TagCondition,
        TypeCondition,
        ModalityCondition,
        AnnotatorCondition,
        HasCondition,
        NotCondition,
    ]
    assert str(cond) == "tag:ct kind:volume modality:CT annotator:alice has:segmentation -tag:x"
    assert Condition.parse(str(cond)) == cond
    assert isinstance(Condition.parse("tag:ct"), TagCondition)


def test_only_annotation_terms_need_annotations():
    assert not Condition.parse("tag:ct kind:volume modality:CT").needs_annotations
    assert Condition.parse("tag:ct annotator:alice").needs_annotations
    assert Condition.parse("-has:label").needs_annotations


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("tag:ct modality", "modality"),
        ("tag:ct colour:red", "colour:red"),
        ("kind:tensor", "kind:tensor"),
        ("has:mask", "has:mask"),
        ("tag:", "tag:"),
        (":ct", ":ct"),
        ('tag:"open', "No closing quotation"),
    ],
)
def test_malformed_queries_name_the_bad_term(query, term):
    with pytest.raises(ValueError, match=term):
        Condition.parse(query)
