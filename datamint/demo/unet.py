"""A U-Net small enough to train on a CPU in seconds (Ronneberger et al., MICCAI 2015)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["TinyUNet"]


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """Two-level U-Net: ``(B, in_channels, H, W)`` -> logits ``(B, out_channels, H, W)``.

    H and W must be divisible by 4. With ``width=8`` and 7 outputs it has 19 231 parameters.

    Args:
        in_channels: Input channels.
        out_channels: Output channels (one logit per class channel).
        width: Channels of the first level; doubled at each level down.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int = 8) -> None:
        super().__init__()
        w1, w2, w3 = width, 2 * width, 2 * width
        self.enc1 = _block(in_channels, w1)
        self.enc2 = _block(w1, w2)
        self.bottom = _block(w2, w3)
        self.up2 = nn.ConvTranspose2d(w3, w2, 2, stride=2)
        self.dec2 = _block(2 * w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = _block(2 * w1, w1)
        self.head = nn.Conv2d(w1, out_channels, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for each output channel."""
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        b = self.bottom(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(b), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)
