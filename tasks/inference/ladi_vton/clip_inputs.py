"""The CLIP image tower's input for the inversion adapter, as the reference computes it.

The reference resizes (cloth + 1) / 2 to 224x224 (bilinear, antialiased, aspect squashed),
clamps to [0, 1], and hands that to an image processor that converts it to 8-bit (``* 255``,
truncated) before rescaling by 1/255 and normalising with CLIP's mean and std. Newer processors
given floats would rescale a second time, so this does the same steps by hand.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE = 224


def clip_pixel_values(cloth: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) cloth in [-1, 1] -> (B, 3, 224, 224) normalised pixel values."""
    if cloth.ndim != 4 or cloth.shape[1] != 3:
        raise ValueError(f"expected (B, 3, H, W), got {tuple(cloth.shape)}")
    image = F.interpolate(
        (cloth.float() + 1) / 2, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False, antialias=True
    ).clamp(0, 1)
    quantised = (image * 255).to(torch.uint8).float() / 255  # truncation, as a uint8 cast does
    mean = torch.tensor(CLIP_MEAN, device=cloth.device).view(1, 3, 1, 1)
    std = torch.tensor(CLIP_STD, device=cloth.device).view(1, 3, 1, 1)
    return (quantised - mean) / std
