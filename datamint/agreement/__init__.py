"""Annotator agreement: how far annotators agree, per resource, label and pair.

- :mod:`~datamint.agreement.segmentation_metrics`: Dice, IoU, ASSD and HD95 of two masks
  (distances in mm).
- :mod:`~datamint.agreement.kappa`: Cohen's and Fleiss' kappa for image labels and
  categories.
- :mod:`~datamint.agreement.compute`: :func:`agreement_table`, every annotator pair of a
  dataset compared label by label.
- :mod:`~datamint.agreement.table`: :class:`AgreementTable` (columns without pandas) and
  its per-label summary.
- :mod:`~datamint.agreement.dataset_adapter`: masks and spacing from datamint datasets,
  :func:`dataset_agreement` and :func:`project_agreement`.
- :mod:`~datamint.agreement.plot`: a heatmap of mean pairwise Dice (needs the ``plot``
  extra, matplotlib).

Consensus targets (``mean`` and ``staple`` merges) live in :mod:`datamint.targets.merge`.
"""

from datamint.agreement.compute import AnnotatedResources, MasksOf, SpacingOf, agreement_table
from datamint.agreement.dataset_adapter import (
    dataset_accessors,
    dataset_agreement,
    project_agreement,
)
from datamint.agreement.kappa import KappaResult, cohen_kappa, fleiss_kappa, rating_counts
from datamint.agreement.segmentation_metrics import (
    MaskAgreement,
    assd,
    compare_masks,
    dice,
    hd95,
    iou,
    surface_distances,
)
from datamint.agreement.table import (
    AgreementSummary,
    AgreementTable,
    KappaSummary,
    SegmentationSummary,
    WorstResource,
)

__all__ = [
    "AgreementSummary",
    "AgreementTable",
    "AnnotatedResources",
    "KappaResult",
    "KappaSummary",
    "MaskAgreement",
    "MasksOf",
    "SegmentationSummary",
    "SpacingOf",
    "WorstResource",
    "agreement_table",
    "assd",
    "cohen_kappa",
    "compare_masks",
    "dataset_accessors",
    "dataset_agreement",
    "dice",
    "fleiss_kappa",
    "hd95",
    "iou",
    "project_agreement",
    "rating_counts",
    "surface_distances",
]
