"""EMASC: Enhanced Mask-Aware Skip Connections between the VAE encoder and decoder.

Five branches, one per skipped encoder feature; each is Conv3x3(in, in) - SiLU -
Conv3x3(in, out), with biases. State-dict keys ``conv.{i}.0.*`` and ``conv.{i}.2.*``.
"""

from __future__ import annotations

import torch
from torch import nn

IN_CHANNELS = (128, 128, 128, 256, 512)
OUT_CHANNELS = (128, 256, 512, 512, 512)


class EMASC(nn.Module):
    def __init__(self, in_channels: tuple[int, ...] = IN_CHANNELS, out_channels: tuple[int, ...] = OUT_CHANNELS) -> None:
        super().__init__()
        if len(in_channels) != len(out_channels):
            raise ValueError("EMASC needs one output width per input width")
        self.conv = nn.ModuleList(
            nn.Sequential(nn.Conv2d(i, i, 3, padding=1), nn.SiLU(), nn.Conv2d(i, o, 3, padding=1))
            for i, o in zip(in_channels, out_channels)
        )

    def forward(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """One output per encoder feature, in the order given (shallowest first)."""
        if len(features) != len(self.conv):
            raise ValueError(f"EMASC takes {len(self.conv)} features, got {len(features)}")
        return [branch(feature) for branch, feature in zip(self.conv, features)]
