"""Entities: the client's names over either wire spelling (contract §4.4), round trips."""

from datetime import datetime, timezone

import pytest

from datamint.entities import Annotation, Resource
from datamint.schema import ResourceKind


def test_annotation_wire_aliases_and_predicates():
    ann = Annotation(
        {
            "id": "a1",
            "resource_id": "r1",
            "name": "tumour",
            "type": "segmentation",
            "added_by": "x@lab.org",
            "index": 4,
            "created_at": "2026-11-21T12:00:00.5Z",
            "source": "model_pipeline",
        }
    )
    assert (ann.identifier, ann.name) == ("tumour", "tumour")
    assert (ann.annotation_type, ann.type) == ("segmentation", "segmentation")
    assert (ann.created_by, ann.added_by, ann.author) == ("x@lab.org", "x@lab.org", "x@lab.org")
    assert (ann.frame_index, ann.index, ann.scope) == (4, 4, "frame")
    assert ann.is_segmentation and ann.is_frame_scoped and not ann.is_image_scoped
    assert ann.is_model_made and not ann.is_deleted and not ann.is_label
    assert ann.get_created_datetime() == datetime(
        2026, 11, 21, 12, 0, 0, 500000, tzinfo=timezone.utc
    )
    wire = ann.to_dict()
    assert wire["identifier"] == "tumour" and wire["type"] == "segmentation" and "name" not in wire
    assert Annotation.from_dict(wire).to_dict() == wire


def test_image_scope_forces_no_frame_index_and_author_fallbacks():
    ann = Annotation(
        {
            "id": "a",
            "resource_id": "r",
            "identifier": "x",
            "type": "label",
            "scope": "image",
            "frame_index": 3,
            "created_by_model": "net-v1",
        }
    )
    assert ann.frame_index is None and ann.author == "net-v1"
    assert (
        Annotation({"id": "b", "resource_id": "r", "identifier": "x", "type": "label"}).author
        == "unknown"
    )


@pytest.mark.parametrize(
    ("record", "kind", "depth"),
    [
        (
            {"storage": "ImageResource", "filename": "x.dcm"},
            ResourceKind.DICOM,
            None,
        ),  # .dcm wins (§5.1)
        ({"mimetype": "image/x.nifti", "metadata": {"frame_count": "7"}}, ResourceKind.NIFTI, 7),
        (
            {
                "mimetype": "video/mp4",
                "metadata": {
                    "streams": [
                        {"codec_type": "audio"},
                        {"codec_type": "video", "nb_frames": 12, "width": 4, "height": 3},
                    ]
                },
            },
            ResourceKind.VIDEO,
            12,
        ),
        ({"mimetype": "image/png"}, ResourceKind.IMAGE, 1),
        ({"mimetype": "text/plain"}, ResourceKind.GENERIC, 1),
    ],
)
def test_resource_kind_and_depth(record, kind, depth):
    res = Resource({"id": "r", **record})
    assert res.kind is kind
    if depth is None:
        with pytest.raises(ValueError, match="no frame_count"):
            _ = res.depth
    else:
        assert res.depth == depth


def test_patient_id_falls_back_to_the_dicom_tag():
    assert Resource({"id": "r", "metadata": {"PatientID": "P7"}}).patient_id == "P7"
    assert (
        Resource({"id": "r", "patient_id": "P1", "metadata": {"PatientID": "P7"}}).patient_id
        == "P1"
    )
