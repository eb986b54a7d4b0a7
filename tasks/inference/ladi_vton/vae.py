"""The Stable Diffusion 2 VAE with EMASC skip connections.

This wraps diffusers' ``AutoencoderKL`` without changing its weights or keys: ``encode`` runs
the encoder step by step and also returns its intermediate features, ``decode`` runs the decoder
step by step and adds the (EMASC-processed, mask-gated) skip features on the way up.

Encoder features, by index: 0 the input; 1 conv_in's output (full size); 2 the same tensor
again; 3, 4, 5 the outputs of down-blocks 0, 1, 2 (1/2, 1/4, 1/8). Features 1..5 go through
EMASC; their outputs are added in the decoder deepest first: before up-blocks 0, 1, 2, 3 and
after the final norm + SiLU, before conv_out.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
from torch import nn

SCALING_FACTOR = 0.18215
SKIP_FEATURES = (1, 2, 3, 4, 5)

SD2_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 768,
    "scaling_factor": SCALING_FACTOR,
}


def emasc_channels(block_out_channels: tuple[int, ...] | list[int]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """EMASC (in, out) widths for a VAE: in = the skipped encoder features' widths, out = the
    decoder widths where each is added (for SD2: (128, 128, 128, 256, 512), (128, 256, 512, 512, 512))."""
    b = tuple(block_out_channels)
    if len(b) != 4:
        raise ValueError("EMASC skips are defined for a four-block VAE")
    return (b[0], b[0], b[0], b[1], b[2]), (b[0], b[1], b[2], b[3], b[3])


def gate_with_mask(features: list[torch.Tensor], mask: torch.Tensor) -> list[torch.Tensor]:
    """Multiply each feature by (1 - mask), the mask nearest-resized to the feature's size:
    skips carry only the pixels that are kept."""
    return [f * (1 - F.interpolate(mask.to(f.dtype), size=f.shape[-2:], mode="nearest")) for f in features]


class MaskAwareVAE(nn.Module):
    """An ``AutoencoderKL`` whose encoder also returns skip features and whose decoder takes them."""

    def __init__(self, vae: AutoencoderKL) -> None:
        super().__init__()
        if len(vae.encoder.down_blocks) != 4 or len(vae.decoder.up_blocks) != 4:
            raise ValueError("MaskAwareVAE needs a four-block AutoencoderKL")
        self.vae = vae

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def encode(self, x: torch.Tensor) -> tuple[DiagonalGaussianDistribution, list[torch.Tensor]]:
        """(B, 3, H, W) in [-1, 1] -> (latent distribution, encoder features 0..5)."""
        encoder = self.vae.encoder
        h = encoder.conv_in(x)
        features = [x, h, h]
        for block in encoder.down_blocks:
            h = block(h)
            features.append(h)
        h = encoder.conv_act(encoder.conv_norm_out(encoder.mid_block(h)))
        moments = encoder.conv_out(h)
        if self.vae.quant_conv is not None:
            moments = self.vae.quant_conv(moments)
        return DiagonalGaussianDistribution(moments), features[:6]

    def decode(self, z: torch.Tensor, skips: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Unscaled latents (B, 4, h, w) -> images in [-1, 1] (not clamped). ``skips`` are the
        five EMASC outputs in encoder order (shallowest first), already mask-gated."""
        if skips is not None and len(skips) != len(SKIP_FEATURES):
            raise ValueError(f"expected {len(SKIP_FEATURES)} skip features, got {len(skips)}")
        decoder = self.vae.decoder
        if self.vae.post_quant_conv is not None:
            z = self.vae.post_quant_conv(z)
        h = decoder.mid_block(decoder.conv_in(z), None)
        deepest_first = list(reversed(skips)) if skips is not None else None
        for index, block in enumerate(decoder.up_blocks):
            if deepest_first is not None:
                h = h + deepest_first[index]
            h = block(h, None)
        h = decoder.conv_act(decoder.conv_norm_out(h))
        if deepest_first is not None:
            h = h + deepest_first[4]
        return decoder.conv_out(h)
