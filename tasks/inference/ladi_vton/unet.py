"""The extended denoising UNet: diffusers' ``UNet2DConditionModel`` with the Stable Diffusion 2
inpainting configuration except ``in_channels = 31``.

Input channels, in order: the noisy latent (4), the inpaint mask (1), the masked-image latent
(4), the pose map (18) and the warped-cloth latent (4).
"""

from __future__ import annotations

from typing import Any

from diffusers import UNet2DConditionModel

LATENT_CHANNELS = 4
POSE_CHANNELS = 18
IN_CHANNELS = LATENT_CHANNELS + 1 + LATENT_CHANNELS + POSE_CHANNELS + LATENT_CHANNELS  # 31

SD2_INPAINTING_UNET: dict[str, Any] = {
    "sample_size": 64,
    "in_channels": 9,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "attention_head_dim": (5, 10, 20, 20),
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "norm_num_groups": 32,
    "act_fn": "silu",
    "center_input_sample": False,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "downsample_padding": 1,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "dual_cross_attention": False,
}


def extended_unet_config(**overrides: Any) -> dict[str, Any]:
    """The LaDI-VTON UNet configuration; ``overrides`` make small test configurations of the
    same class (``in_channels`` stays 31: the channel layout is the model)."""
    if overrides.get("in_channels", IN_CHANNELS) != IN_CHANNELS:
        raise ValueError(f"the LaDI-VTON UNet takes {IN_CHANNELS} input channels")
    return {**SD2_INPAINTING_UNET, **overrides, "in_channels": IN_CHANNELS}


def build_unet(**overrides: Any) -> UNet2DConditionModel:
    return UNet2DConditionModel(**extended_unet_config(**overrides))
