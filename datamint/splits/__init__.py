"""Train/val/test splits.

Local (seeded), by patient, stratified, k-fold, project snapshots, and split specs.
"""

from datamint.splits.kfold import kfold_indices
from datamint.splits.local import (
    allocate,
    local_split,
    patient_groups,
    patient_split,
    validate_ratios,
)
from datamint.splits.project import project_assignments, utc_now_iso
from datamint.splits.result import SplitResult
from datamint.splits.spec import parse_spec

__all__ = [
    "SplitResult",
    "allocate",
    "kfold_indices",
    "local_split",
    "parse_spec",
    "patient_groups",
    "patient_split",
    "project_assignments",
    "utc_now_iso",
    "validate_ratios",
]
