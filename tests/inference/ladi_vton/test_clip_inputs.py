"""CLIP preprocessing checked against values computed by hand."""

import pytest
import torch

from tasks.inference.ladi_vton.clip_inputs import clip_pixel_values


def test_constant_images_by_hand():
    # values chosen away from integer levels (resampling leaves float noise of ~1e-7):
    # 0.3 -> 0.65 -> 165.75 -> 165; -0.5 -> 0.25 -> 63.75 -> 63; 0.9 -> 0.95 -> 242.25 -> 242
    cloth = torch.tensor([0.3, -0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 512, 384).clone()
    out = clip_pixel_values(cloth)
    assert out.shape == (1, 3, 224, 224)
    expected = [(165 / 255 - 0.48145466) / 0.26862954, (63 / 255 - 0.4578275) / 0.26130258, (242 / 255 - 0.40821073) / 0.27577711]
    for channel, value in enumerate(expected):
        assert torch.allclose(out[0, channel], torch.full((224, 224), value), atol=1e-6)


def test_quantisation_truncates():
    # 0.999 -> 0.9995 -> 254.87 -> 254 (a float path without the uint8 step would keep 254.87)
    out = clip_pixel_values(torch.full((1, 3, 8, 8), 0.999))
    assert out[0, 0, 0, 0].item() == pytest.approx((254 / 255 - 0.48145466) / 0.26862954, abs=1e-6)


def test_aspect_is_squashed_not_cropped():
    cloth = torch.full((1, 3, 512, 384), -1.0)
    cloth[:, :, :, :192] = 1.0  # left half white: stays the left half after a squash
    out = clip_pixel_values(cloth)
    assert out[0, 0, 112, 10] > 1.0 and out[0, 0, 112, 213] < -1.0
