"""LaDI-VTON modules at full size on the meta device: the spec's key names, shapes and
parameter counts; then real forward passes at small sizes."""

import torch

from tasks.inference.ladi_vton.emasc import EMASC
from tasks.inference.ladi_vton.warping import (
    RefinementUNet,
    TPSWarpingNetwork,
    target_control_points,
)


def _trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_emasc_full_size():
    with torch.device("meta"):
        emasc = EMASC()
    assert _trainable(emasc) == 7_965_696
    keys = set(emasc.state_dict())
    assert {f"conv.{i}.{j}.{p}" for i in range(5) for j in (0, 2) for p in ("weight", "bias")} == keys
    assert emasc.state_dict()["conv.3.2.weight"].shape == (512, 256, 3, 3)


def test_tps_network_full_size():
    with torch.device("meta"):
        tps = TPSWarpingNetwork()
    assert _trainable(tps) == 19_056_626
    state = tps.state_dict()
    assert state["gridGen.inverse_kernel"].shape == (28, 28)
    assert state["gridGen.padding_matrix"].shape == (3, 2)
    assert state["gridGen.target_coordinate_repr"].shape == (49152, 28)
    assert state["extractionB.model.0.weight"].shape == (64, 21, 4, 4)
    for index in (0, 3, 6, 9, 12, 15):
        assert f"extractionA.model.{index}.weight" in state
    for index in (2, 5, 8, 11, 14):
        assert f"extractionA.model.{index}.running_mean" in state
    assert state["loc_net.regression.linear.weight"].shape == (50, 768)
    assert state["loc_net.regression.conv.0.weight"].shape == (512, 192, 4, 4)


def test_refinement_full_size():
    with torch.device("meta"):
        unet = RefinementUNet()
    assert _trainable(unet) == 17_275_203
    state = unet.state_dict()
    assert state["inc.double_conv.0.weight"].shape == (64, 24, 3, 3)
    assert state["up1.conv.double_conv.0.weight"].shape == (512, 1024, 3, 3)
    assert state["outc.conv.weight"].shape == (3, 64, 1, 1)


def test_tps_grid_is_the_identity_at_the_rest_position():
    torch.manual_seed(0)
    tps = TPSWarpingNetwork().eval()
    grid = tps.gridGen(target_control_points()[None])
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 256), torch.linspace(-1, 1, 192), indexing="ij")
    assert torch.allclose(grid[0], torch.stack([xs, ys], dim=-1), atol=1e-4)
    with torch.inference_mode():
        out, points = tps(torch.randn(2, 3, 256, 192), torch.randn(2, 21, 256, 192))
    assert out.shape == (2, 256, 192, 2) and points.shape == (2, 25, 2) and points.abs().max() <= 1


def test_refinement_forward_keeps_the_size():
    unet = RefinementUNet().eval()
    with torch.inference_mode():
        out = unet(torch.randn(1, 24, 64, 48))
    assert out.shape == (1, 3, 64, 48)


def test_inversion_adapter_full_size():
    from tasks.inference.ladi_vton.inversion_adapter import InversionAdapter

    with torch.device("meta"):
        adapter = InversionAdapter()
    assert _trainable(adapter) == 136_360_704
    keys = set(adapter.state_dict())
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert f"encoder_layers.0.self_attn.{name}.weight" in keys
    assert {
        "encoder_layers.0.layer_norm1.weight",
        "encoder_layers.0.mlp.fc2.bias",
        "post_layernorm.weight",
        "layers.0.weight",
        "layers.3.weight",
        "layers.6.bias",
    } <= keys
    assert adapter.state_dict()["layers.6.weight"].shape == (16384, 5120)


def test_inversion_adapter_small_forward():
    from tasks.inference.ladi_vton.inversion_adapter import InversionAdapter

    torch.manual_seed(0)
    adapter = InversionAdapter(hidden=64, heads=4, intermediate=128, words=16, word_dim=32).eval()
    with torch.inference_mode():
        words = adapter(torch.randn(3, 10, 64))
    assert words.shape == (3, 16, 32) and torch.isfinite(words).all()


def test_extended_unet_full_size():
    from tasks.inference.ladi_vton.unet import IN_CHANNELS, build_unet

    with torch.device("meta"):
        unet = build_unet()
    state = unet.state_dict()
    assert IN_CHANNELS == 31 and state["conv_in.weight"].shape == (320, 31, 3, 3)
    assert state["conv_out.weight"].shape == (4, 320, 3, 3)
    # SD2 block widths and a 1024-wide cross-attention (the text encoder's width)
    assert state["down_blocks.2.resnets.0.conv1.weight"].shape == (1280, 640, 3, 3)
    assert state["down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.weight"].shape == (320, 1024)
    assert state["down_blocks.0.attentions.0.proj_in.weight"].shape == (320, 320), "linear projection, not 1x1 conv"
    assert _trainable(unet) == 865_988_484  # about 866M, as the spec says
    assert (
        unet.attn_processors["mid_block.attentions.0.transformer_blocks.0.attn1.processor"].__class__.__name__
        == "AttnProcessor2_0"
    )


def test_extended_unet_keeps_31_channels():
    import pytest

    from tasks.inference.ladi_vton.unet import extended_unet_config

    with pytest.raises(ValueError, match="31 input channels"):
        extended_unet_config(in_channels=9)


def test_emasc_widths_come_from_the_sd2_vae():
    from tasks.inference.ladi_vton.emasc import IN_CHANNELS, OUT_CHANNELS
    from tasks.inference.ladi_vton.vae import SD2_VAE, emasc_channels

    assert emasc_channels(SD2_VAE["block_out_channels"]) == (IN_CHANNELS, OUT_CHANNELS)
