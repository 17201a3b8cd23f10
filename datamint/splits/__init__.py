"""Train/val/test splits: local (seeded), by patient, and project snapshots (contract §9)."""

from datamint.splits.local import local_split, patient_split, validate_ratios
from datamint.splits.project import project_assignments, utc_now_iso
from datamint.splits.result import SplitResult

__all__ = [
    "SplitResult",
    "local_split",
    "patient_split",
    "project_assignments",
    "utc_now_iso",
    "validate_ratios",
]
