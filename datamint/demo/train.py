"""The demo job: serve the bundled project, build the sliced dataset, train a small U-Net.

It runs what a user's training script would, against a real reference server on
127.0.0.1 (ephemeral port) over a store imported from the bundled ``project.json``:
``VolumeDataset(...).slice("axial")``, ``split(train=0.8, val=0.2, seed=0)``,
``prefetch()``, a 2-worker ``DataLoader``, a few epochs; it prints per-epoch loss,
validation Dice and items/s, and writes ``figure.png`` (image | merged mask | prediction).
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from datamint.demo.figure import save_figure
from datamint.demo.unet import TinyUNet
from datamint.exceptions import DatamintWarning

__all__ = ["DemoConfig", "DemoResult", "run_demo"]

_LOG = logging.getLogger(__name__)
DEMO_USER = "demo@example.org"


@dataclass(frozen=True)
class DemoConfig:
    """Settings of the demo run.

    Attributes:
        out_dir: Where ``figure.png`` (and the cache, unless ``cache_dir``) go.
        epochs: Training epochs.
        size_px: Slices are resized to ``size_px x size_px``.
        batch_size: Items per batch.
        num_workers: DataLoader worker processes.
        seed: Split and initialisation seed.
        cache_dir: The datamint cache root; default ``out_dir / "cache"``.
        classes: Segmentation classes to learn; volumes with none of them are left out.
        learning_rate: Adam's learning rate.
        pos_weight: Weight of foreground pixels in the BCE term.
    """

    out_dir: Path
    epochs: int = 15
    size_px: int = 96
    batch_size: int = 8
    num_workers: int = 2
    seed: int = 0
    cache_dir: Path | None = None
    classes: tuple[str, ...] = ("lesion",)
    learning_rate: float = 3e-3
    pos_weight: float = 10.0


@dataclass
class DemoResult:
    """What the demo measured: per-epoch loss/Dice/throughput and the figure's path."""

    losses: list[float]
    val_dice: list[float]
    items_per_s: list[float]
    n_train: int
    n_val: int
    classes: list[str]
    figure: Path
    wall_s: float


def collate_for_training(batch: Sequence[dict[str, Any]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch of sliced items -> ``(image (B, 1, S, S) float32, masks (B, L+1, S, S) float32)``.

    Colour images are averaged to one channel; each image is z-scored on its own,
    so CT (HU-like), MR and ultrasound intensities share one scale.
    """
    images, masks = [], []
    for item in batch:
        image = torch.as_tensor(np.asarray(item["image"], dtype=np.float32)).mean(0, keepdim=True)
        image = (image - image.mean()) / (image.std() + 1e-6)
        images.append(image)
        masks.append(item["masks"])
    return torch.stack(images), torch.stack(masks)


def dice_per_class(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed intersections and sizes per class channel, for a pooled Dice.

    Args:
        pred, target: 0/1 tensors ``(B, K, H, W)``.

    Returns:
        ``(2 * |pred ∩ target|, |pred| + |target|)``, each ``(K,)``.
    """
    dims = (0, 2, 3)
    return 2 * (pred * target).sum(dims), pred.sum(dims) + target.sum(dims)


def _loss(
    logits: torch.Tensor, target: torch.Tensor, channels: list[int], pos_weight: float
) -> torch.Tensor:
    """Positively weighted BCE plus soft Dice over the learned class channels.

    Lesions cover about 1 % of a slice; ``pos_weight`` keeps the network from settling
    on "no lesion anywhere" (the usual remedy for foreground imbalance).
    """
    logits, target = logits[:, channels], target[:, channels]
    bce = F.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(pos_weight))
    inter, total = dice_per_class(torch.sigmoid(logits), target)
    return bce + (1 - (inter + 1) / (total + 1)).mean()


def _evaluate(model: torch.nn.Module, loader: DataLoader, channels: list[int]) -> torch.Tensor:
    """Pooled Dice of each learned channel over the whole loader (0.5 threshold).

    Returns:
        float ``(len(channels),)``; NaN for a class with no annotated pixel in the loader.
    """
    model.eval()
    inter = torch.zeros(len(channels))
    total = torch.zeros(len(channels))
    target_px = torch.zeros(len(channels))
    with torch.no_grad():
        for image, mask in loader:
            pred = (torch.sigmoid(model(image)[:, channels]) > 0.5).float()
            i, t = dice_per_class(pred, mask[:, channels])
            inter += i
            total += t
            target_px += mask[:, channels].sum((0, 2, 3))
    return torch.where(
        target_px > 0, inter / total.clamp(min=1), torch.full_like(total, float("nan"))
    )


def _report_shared_patients(parts: Any) -> None:
    """Print patients that appear in more than one split (a source of optimistic scores)."""
    seen: dict[str, set[str]] = {}
    for name, part in parts.items():
        for res in part.resources:
            if res.patient_id is not None:
                seen.setdefault(res.patient_id, set()).add(name)
    shared = sorted(p for p, names in seen.items() if len(names) > 1)
    if shared:
        print(
            f"note: patients in more than one split: {shared} "
            "(split(..., by_patient=True) avoids this)"
        )


def run_demo(config: DemoConfig) -> DemoResult:
    """Run the demo end to end; see the module docstring.

    Args:
        config: Settings.

    Returns:
        The measurements.

    Raises:
        DatamintException: On any server, download, decode or annotation error.
    """
    import albumentations as alb

    from datamint.dataset.volume_dataset import VolumeDataset
    from datamint.testing.server import build_demo_store, running_server

    start = time.perf_counter()
    # Items are z-scored per slice below, so the uint16 -> uint8 rescale is expected here.
    warnings.filterwarnings(
        "ignore", message=r".*min-max scaled to uint8", category=DatamintWarning
    )
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    with tempfile.TemporaryDirectory(prefix="datamint-demo-store-") as store_dir:
        _, api_key = build_demo_store(Path(store_dir), email=DEMO_USER)
        with running_server(Path(store_dir)) as server:
            print(f"reference server on {server.url} (store {store_dir})")
            volumes = VolumeDataset(
                project="demo",
                server_url=server.url,
                api_key=api_key,
                return_as_semantic_segmentation=True,
                semantic_seg_merge_strategy="mode",
                include_segmentation_names=list(config.classes),
                alb_transform=alb.Resize(config.size_px, config.size_px),
                cache_dir=config.cache_dir or out_dir / "cache",
            )
            # The task: the volumes that carry one of the classes, cut into axial slices.
            sliced = volumes.filter(annotation_names=list(config.classes)).slice("axial")
            parts = sliced.split(train=0.8, val=0.2, seed=config.seed)
            sliced.prefetch(include_annotations=True)
            classes = sliced.segmentation_labels  # every class of the schema; others stay empty
            print(
                f"{len(sliced.resources)} volumes, {len(sliced)} axial slices; classes {classes}; "
                f"train {len(parts['train'])} / val {len(parts['val'])} slices"
            )
            loader_args = {
                "batch_size": config.batch_size,
                "num_workers": config.num_workers,
                "collate_fn": collate_for_training,
                "persistent_workers": config.num_workers > 0,
            }
            train_loader = DataLoader(parts["train"], shuffle=True, **loader_args)
            val_loader = DataLoader(parts["val"], shuffle=False, **loader_args)
            channels = [classes.index(c) + 1 for c in config.classes]
            _report_shared_patients(parts)
            model = TinyUNet(1, len(classes) + 1)
            n_params = sum(p.numel() for p in model.parameters())
            optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
            print(f"TinyUNet: {n_params} parameters")
            print(f"{'epoch':>5} {'loss':>8} {'val Dice':>9} {'items/s':>8}")
            losses, dices, rates = [], [], []
            for epoch in range(1, config.epochs + 1):
                model.train()
                t0, seen, total_loss = time.perf_counter(), 0, 0.0
                for image, mask in train_loader:
                    optimizer.zero_grad()
                    loss = _loss(model(image), mask, channels, config.pos_weight)
                    loss.backward()
                    optimizer.step()
                    total_loss += loss.item() * image.shape[0]
                    seen += image.shape[0]
                rate = seen / (time.perf_counter() - t0)
                per_class = _evaluate(model, val_loader, channels)
                dice = float(per_class.nanmean())
                losses.append(total_loss / max(seen, 1))
                dices.append(dice)
                rates.append(rate)
                print(f"{epoch:>5} {losses[-1]:>8.4f} {dice:>9.3f} {rate:>8.1f}")
            per = ", ".join(
                f"{c}={float(d):.3f}" for c, d in zip(config.classes, per_class, strict=True)
            )
            print(f"final validation Dice: {per}")
            figure = save_figure(
                model,
                parts["val"],
                collate_for_training,
                out_dir / "figure.png",
                config.classes,
                channels,
            )
    wall = time.perf_counter() - start
    print(f"figure: {figure}")
    print(f"wall time: {wall:.1f} s")
    return DemoResult(
        losses, dices, rates, len(parts["train"]), len(parts["val"]), classes, figure, wall
    )
