"""The VAE wrapper and the pseudo-word prompt encoding against the stock diffusers/transformers
computation, on small random models of the real classes."""

import pytest
import torch

from tasks.inference.ladi_vton.components import (
    SMALL,
    prompt_tokenizer,
    random_components,
)
from tasks.inference.ladi_vton.emasc import EMASC
from tasks.inference.ladi_vton.prompt import (
    encode_embeddings,
    encode_with_pseudo_words,
    placeholder_id,
    prompt_for,
    tokenize,
)
from tasks.inference.ladi_vton.vae import MaskAwareVAE, emasc_channels, gate_with_mask


@pytest.fixture(scope="module")
def small():
    return random_components(SMALL, seed=3)


@torch.inference_mode()
def test_wrapper_without_skips_is_the_stock_vae(small):
    vae = small.vae
    x = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0)) * 2 - 1
    dist, features = MaskAwareVAE(vae).encode(x)
    stock = vae.encode(x).latent_dist
    assert torch.allclose(dist.mean, stock.mean, atol=1e-5) and torch.allclose(dist.logvar, stock.logvar, atol=1e-5)
    assert [tuple(f.shape[1:]) for f in features] == [
        (3, 64, 48),
        (32, 64, 48),
        (32, 64, 48),
        (32, 32, 24),
        (32, 16, 12),
        (64, 8, 6),
    ]
    assert features[1] is features[2], "features 1 and 2 are the same tensor"
    z = dist.mean
    assert torch.allclose(MaskAwareVAE(vae).decode(z), vae.decode(z).sample, atol=1e-5)


@torch.inference_mode()
def test_skips_enter_the_decoder_deepest_first_gated_by_the_mask(small):
    vae = MaskAwareVAE(small.vae)
    x = torch.rand(1, 3, 64, 48) * 2 - 1
    dist, features = vae.encode(x)
    emasc = EMASC(*emasc_channels(small.vae.config.block_out_channels)).eval()
    skips = emasc([features[i] for i in (1, 2, 3, 4, 5)])
    assert [s.shape[1] for s in skips] == [32, 32, 64, 64, 64]
    mask = torch.zeros(1, 1, 64, 48)
    mask[..., 16:48, 12:36] = 1
    gated = gate_with_mask(skips, mask)
    for g in gated:  # zero where the mask (nearest-resized to the feature) is 1
        m = torch.nn.functional.interpolate(mask, size=g.shape[-2:], mode="nearest")[0, 0].bool()
        assert g[0][:, m].abs().max() == 0 and g[0][:, ~m].abs().max() > 0
    with_skips = vae.decode(dist.mean, gated)
    assert not torch.allclose(with_skips, vae.decode(dist.mean))
    # a skip that is zero everywhere changes nothing
    zeros = [torch.zeros_like(g) for g in gated]
    assert torch.allclose(vae.decode(dist.mean, zeros), vae.decode(dist.mean), atol=1e-6)
    with pytest.raises(ValueError, match="5 skip features"):
        vae.decode(dist.mean, gated[:4])


def test_prompts_and_placeholders():
    tokenizer = prompt_tokenizer()
    assert prompt_for("dresses", 2) == "a photo of a model wearing a dress $ $"
    ids = tokenize(tokenizer, [prompt_for("upper_body", 16)])[0]
    assert ids.shape == (77,) and int((ids == placeholder_id(tokenizer)).sum()) == 16
    with pytest.raises(ValueError, match="unknown category 'hats'"):
        prompt_for("hats", 16)


@torch.inference_mode()
def test_pseudo_words_replace_the_placeholder_embeddings(small):
    encoder, tokenizer = small.text_encoder, small.tokenizer
    ids = tokenize(tokenizer, [prompt_for("lower_body", 16)])
    # with the placeholders' own embeddings as the words, the result is the stock encoder's
    own = encoder.embeddings.token_embedding(ids)
    first = int((ids[0] == placeholder_id(tokenizer)).nonzero()[0, 0])
    words = own[:, first : first + 16].clone()
    stock = encoder(input_ids=ids).last_hidden_state
    assert torch.allclose(encode_with_pseudo_words(encoder, tokenizer, ["lower_body"], words), stock, atol=1e-5)
    assert torch.allclose(encode_embeddings(encoder, own), stock, atol=1e-5)
    # other words change the tokens from the first placeholder on, never the ones before (causal)
    other = encode_with_pseudo_words(encoder, tokenizer, ["lower_body"], torch.randn(1, 16, 32))
    assert torch.allclose(other[0, :first], stock[0, :first], atol=1e-5)
    assert not torch.allclose(other[0, first:], stock[0, first:], atol=1e-3)
