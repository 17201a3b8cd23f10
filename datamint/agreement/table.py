"""``AgreementTable``: agreement rows in columns, without pandas, and their summary.

One row is one comparison:

- ``kind="segmentation"``: two annotators' masks of one label on one resource
  (``dice``, ``iou``, ``assd_mm``, ``hd95_mm``, ``voxels_a``, ``voxels_b``);
- ``kind="image_label"`` or ``"category"`` with ``method="cohen"``: two annotators over
  the resources both rated (``kappa``, ``observed_agreement``, ``n_items``);
- the same kinds with ``method="fleiss"``: every annotator of that label at once
  (``annotator_a`` / ``annotator_b`` are None; ``n_annotators`` is set).

Cells that do not apply to a row are ``nan`` (float columns) or ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = [
    "COLUMNS",
    "AgreementSummary",
    "AgreementTable",
    "KappaSummary",
    "SegmentationSummary",
    "WorstResource",
]

COLUMNS: tuple[str, ...] = (
    "kind",
    "resource_id",
    "filename",
    "label",
    "annotator_a",
    "annotator_b",
    "dice",
    "iou",
    "assd_mm",
    "hd95_mm",
    "voxels_a",
    "voxels_b",
    "method",
    "kappa",
    "observed_agreement",
    "n_items",
    "n_annotators",
)
"""Column names, in order."""

FLOAT_COLUMNS = frozenset({"dice", "iou", "assd_mm", "hd95_mm", "kappa", "observed_agreement"})
INT_COLUMNS = frozenset({"voxels_a", "voxels_b", "n_items", "n_annotators"})
KINDS = ("segmentation", "image_label", "category")
WORST_SHOWN = 3


def _cell(name: str, value: Any) -> Any:
    if name in FLOAT_COLUMNS:
        return math.nan if value is None else float(value)
    if name in INT_COLUMNS:
        return None if value is None else int(value)
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class AgreementTable:
    """Agreement rows held as columns (module docstring for what a row is).

    Args:
        rows: Mappings from column name (:data:`COLUMNS`) to value; missing columns are
            ``nan`` (float columns) or None.

    Raises:
        ValueError: If a row has a column not in :data:`COLUMNS`.

    Example:
        >>> t = AgreementTable([{"kind": "segmentation", "label": "lesion", "dice": 0.8}])
        >>> t["dice"], len(t)
        (array([0.8]), 1)
    """

    def __init__(self, rows: Iterable[Mapping[str, Any]] = ()) -> None:
        self._columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        for row in rows:
            unknown = set(row) - set(COLUMNS)
            if unknown:
                raise ValueError(f"unknown agreement columns {sorted(unknown)}; see COLUMNS")
            for name in COLUMNS:
                self._columns[name].append(_cell(name, row.get(name)))

    @property
    def columns(self) -> tuple[str, ...]:
        """The column names, in order."""
        return COLUMNS

    def __len__(self) -> int:
        return len(self._columns["kind"])

    def __getitem__(self, name: str) -> np.ndarray:
        """One column: float64 for the metric columns (nan where not applicable), object
        otherwise.

        Raises:
            KeyError: If ``name`` is not a column.
        """
        if name not in self._columns:
            raise KeyError(f"no column {name!r}; columns are {', '.join(COLUMNS)}")
        values = self._columns[name]
        if name in FLOAT_COLUMNS:
            return np.asarray(values, dtype=np.float64)
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """The rows as tuples in :attr:`columns` order."""
        return zip(*(self._columns[name] for name in COLUMNS), strict=True)

    def to_dicts(self, json_safe: bool = False) -> list[dict[str, Any]]:
        """The rows as dicts.

        Args:
            json_safe: Replace ``nan`` and ``inf`` by None (strict JSON has neither); a
                segmentation row with one empty mask then shows it in ``voxels_a`` /
                ``voxels_b`` = 0.
        """
        convert = _json_safe if json_safe else (lambda v: v)
        return [
            {name: convert(value) for name, value in zip(COLUMNS, row, strict=True)}
            for row in self.rows()
        ]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the rows.

        Raises:
            ImportError: If pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "AgreementTable.to_pandas() needs pandas: pip install pandas"
            ) from exc
        return pd.DataFrame({name: self[name] for name in COLUMNS})

    def where(self, **equals: Any) -> AgreementTable:
        """The rows whose columns equal the given values, e.g. ``where(kind="segmentation")``.

        Args:
            **equals: Column name -> value; a row is kept when every column equals its value.

        Raises:
            KeyError: If a name is not a column.
        """
        for name in equals:
            if name not in self._columns:
                raise KeyError(f"no column {name!r}; columns are {', '.join(COLUMNS)}")
        keep = [
            dict(zip(COLUMNS, row, strict=True))
            for row in self.rows()
            if all(row[COLUMNS.index(k)] == v for k, v in equals.items())
        ]
        return AgreementTable(keep)

    def labels(self, kind: str = "segmentation") -> list[str]:
        """The labels with rows of ``kind``, in order of first appearance.

        Args:
            kind: ``"segmentation"``, ``"image_label"`` or ``"category"``.
        """
        return list(
            dict.fromkeys(
                label
                for k, label in zip(self._columns["kind"], self._columns["label"], strict=True)
                if k == kind
            )
        )

    def dice_matrix(self, label: str) -> tuple[list[str], np.ndarray]:
        """Mean Dice between each two annotators on ``label`` (over resources).

        Args:
            label: A segmentation label.

        Returns:
            ``(annotators, matrix)``: sorted annotator names and a symmetric float64
            ``(n, n)`` matrix; the diagonal is 1, pairs never compared are ``nan``.
        """
        rows = self.where(kind="segmentation", label=label)
        a, b, d = rows["annotator_a"], rows["annotator_b"], rows["dice"]
        names = sorted(set(a) | set(b))
        index = {n: i for i, n in enumerate(names)}
        total = np.zeros((len(names), len(names)))
        count = np.zeros_like(total)
        for x, y, value in zip(a, b, d, strict=True):
            i, j = index[x], index[y]
            for r, c in ((i, j), (j, i)):
                total[r, c] += value
                count[r, c] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            matrix = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        np.fill_diagonal(matrix, 1.0)
        return names, matrix

    def summary(self) -> AgreementSummary:
        """Per label: Dice statistics and worst resources, or the kappas.

        Returns:
            An :class:`AgreementSummary`.
        """
        segs = tuple(_segmentation_summary(self, label) for label in self.labels("segmentation"))
        kappas = tuple(
            _kappa_summary(self, kind, label) for kind in KINDS[1:] for label in self.labels(kind)
        )
        return AgreementSummary(segs, kappas)

    def __repr__(self) -> str:
        kinds = {k: 0 for k in KINDS}
        for k in self._columns["kind"]:
            kinds[k] = kinds.get(k, 0) + 1
        parts = ", ".join(f"{k}={n}" for k, n in kinds.items() if n)
        return f"AgreementTable({len(self)} rows: {parts or 'empty'})"


@dataclass(frozen=True)
class WorstResource:
    """A resource with low agreement on a label.

    Attributes:
        resource_id: The resource.
        filename: Its file name.
        dice_mean: Mean Dice over the annotator pairs compared on it.
    """

    resource_id: str
    filename: str | None
    dice_mean: float


@dataclass(frozen=True)
class SegmentationSummary:
    """Agreement on one segmentation label.

    Attributes:
        label: The label.
        n_pairs: Rows (annotator pairs x resources).
        n_resources: Resources with at least one pair.
        annotators: Annotators in those pairs, sorted.
        dice_mean: Mean Dice over the rows.
        dice_std: Standard deviation of Dice over the rows (ddof=1; ``nan`` for a single
            row).
        dice_min: Lowest Dice over the rows.
        iou_mean: Mean IoU.
        assd_median_mm: Median ASSD in mm over the rows with a finite distance (``nan`` if
            none).
        hd95_median_mm: Median HD95 in mm over the rows with a finite distance (``nan`` if
            none).
        n_one_empty: Rows where exactly one annotator's mask is empty (infinite distance).
        worst: Up to 3 resources with the lowest mean Dice, lowest first.
    """

    label: str
    n_pairs: int
    n_resources: int
    annotators: tuple[str, ...]
    dice_mean: float
    dice_std: float
    dice_min: float
    iou_mean: float
    assd_median_mm: float
    hd95_median_mm: float
    n_one_empty: int
    worst: tuple[WorstResource, ...]


@dataclass(frozen=True)
class KappaSummary:
    """Agreement on one image label or category.

    Attributes:
        kind: ``"image_label"`` or ``"category"``.
        label: The label (for categories, the category identifier, e.g. ``body_part``).
        fleiss_kappa: Fleiss' kappa over every annotator (``nan`` if undefined).
        n_items: Resources rated by at least two annotators.
        n_annotators: Annotators who rated this label at least once.
        cohen_mean: Mean of the pairwise Cohen's kappas that are defined (``nan`` if none).
        n_pairs: Annotator pairs with at least one resource in common.
    """

    kind: str
    label: str
    fleiss_kappa: float
    n_items: int
    n_annotators: int
    cohen_mean: float
    n_pairs: int


def _finite_median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else math.nan


def _segmentation_summary(table: AgreementTable, label: str) -> SegmentationSummary:
    rows = table.where(kind="segmentation", label=label)
    dice = rows["dice"]
    by_resource: dict[str, list[float]] = {}
    names: dict[str, str | None] = {}
    for rid, filename, value in zip(rows["resource_id"], rows["filename"], dice, strict=True):
        by_resource.setdefault(rid, []).append(float(value))
        names[rid] = filename
    worst = sorted(
        (WorstResource(rid, names[rid], float(np.mean(v))) for rid, v in by_resource.items()),
        key=lambda w: (w.dice_mean, w.resource_id),
    )[:WORST_SHOWN]
    voxels_a = np.asarray(rows["voxels_a"], dtype=np.int64)
    voxels_b = np.asarray(rows["voxels_b"], dtype=np.int64)
    return SegmentationSummary(
        label=label,
        n_pairs=len(rows),
        n_resources=len(by_resource),
        annotators=tuple(sorted(set(rows["annotator_a"]) | set(rows["annotator_b"]))),
        dice_mean=float(dice.mean()),
        dice_std=float(dice.std(ddof=1)) if dice.size > 1 else math.nan,
        dice_min=float(dice.min()),
        iou_mean=float(rows["iou"].mean()),
        assd_median_mm=_finite_median(rows["assd_mm"]),
        hd95_median_mm=_finite_median(rows["hd95_mm"]),
        n_one_empty=int(np.sum((voxels_a == 0) != (voxels_b == 0))),
        worst=tuple(worst),
    )


def _kappa_summary(table: AgreementTable, kind: str, label: str) -> KappaSummary:
    fleiss = table.where(kind=kind, label=label, method="fleiss")
    cohen = table.where(kind=kind, label=label, method="cohen")
    kappas = cohen["kappa"]
    defined = kappas[np.isfinite(kappas)]
    return KappaSummary(
        kind=kind,
        label=label,
        fleiss_kappa=float(fleiss["kappa"][0]) if len(fleiss) else math.nan,
        n_items=int(fleiss["n_items"][0]) if len(fleiss) else 0,
        n_annotators=int(fleiss["n_annotators"][0]) if len(fleiss) else 0,
        cohen_mean=float(defined.mean()) if defined.size else math.nan,
        n_pairs=len(cohen),
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


@dataclass(frozen=True)
class AgreementSummary:
    """Per-label summaries of an :class:`AgreementTable`.

    Attributes:
        segmentations: One per segmentation label, in table order.
        kappas: One per image label, then one per category identifier.
    """

    segmentations: tuple[SegmentationSummary, ...]
    kappas: tuple[KappaSummary, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain dicts and lists; ``nan`` and ``inf`` become None (valid JSON)."""

        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return _json_safe(value)

        return {
            "segmentations": [clean(asdict(s)) for s in self.segmentations],
            "kappas": [clean(asdict(k)) for k in self.kappas],
        }

    def lines(self) -> list[str]:
        """The summary as text lines (what ``datamint agreement`` prints)."""
        out = []
        if self.segmentations:
            out.append("segmentations: Dice between two annotators on one resource")
        for s in self.segmentations:
            spread = f" ± {_fmt(s.dice_std)}" if not math.isnan(s.dice_std) else ""
            out.append(
                f"  {s.label}: Dice {_fmt(s.dice_mean)}{spread} (min {_fmt(s.dice_min)}), "
                f"{_n(s.n_pairs, 'pair')} on {_n(s.n_resources, 'resource')}, "
                f"annotators {', '.join(s.annotators)}"
            )
            out.append(
                f"    IoU {_fmt(s.iou_mean)}; median ASSD {_fmt(s.assd_median_mm, 2)} mm, "
                f"median HD95 {_fmt(s.hd95_median_mm, 2)} mm"
                + (f"; {_n(s.n_one_empty, 'pair')} with one empty mask" if s.n_one_empty else "")
            )
            worst = ", ".join(
                f"{w.filename or w.resource_id} ({_fmt(w.dice_mean)})" for w in s.worst
            )
            out.append(f"    worst: {worst}")
        for kind, title in (("image_label", "image labels"), ("category", "categories")):
            rows = [k for k in self.kappas if k.kind == kind]
            if rows:
                out.append(f"{title}: kappa")
            for k in rows:
                out.append(
                    f"  {k.label}: Fleiss {_fmt(k.fleiss_kappa)} over "
                    f"{_n(k.n_items, 'resource')} and {_n(k.n_annotators, 'annotator')}; "
                    f"mean Cohen {_fmt(k.cohen_mean)} over {_n(k.n_pairs, 'pair')}"
                )
        return out or ["no annotator pairs to compare"]

    def __str__(self) -> str:
        return "\n".join(self.lines())
