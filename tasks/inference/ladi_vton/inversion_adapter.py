"""The inversion adapter: CLIP ViT-H/14 image features of the cloth -> 16 pseudo-word
embeddings for the text encoder.

Input: the vision tower's ``last_hidden_state`` (B, 257, 1280), before its post-layernorm. One
CLIP encoder layer (hidden 1280, 16 heads, intermediate 5120, GELU, eps 1e-5, no mask), token 0,
LayerNorm(1280), then Linear(1280, 5120) - GELU - Dropout(0.5) - Linear(5120, 5120) - GELU -
Dropout(0.5) - Linear(5120, 16 * 1024), reshaped to (B, 16, 1024). Keys
``encoder_layers.0.*``, ``post_layernorm.*``, ``layers.{0,3,6}.*``.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers import CLIPVisionConfig
from transformers.models.clip.modeling_clip import CLIPEncoderLayer


class InversionAdapter(nn.Module):
    def __init__(
        self,
        hidden: int = 1280,
        heads: int = 16,
        intermediate: int = 5120,
        words: int = 16,
        word_dim: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        config = CLIPVisionConfig(
            hidden_size=hidden,
            num_attention_heads=heads,
            intermediate_size=intermediate,
            hidden_act="gelu",
            layer_norm_eps=1e-5,
            attention_dropout=0.0,
            attn_implementation="sdpa",
        )  # a bare layer gets no dispatch from a model
        self.words, self.word_dim = words, word_dim
        self.encoder_layers = nn.ModuleList([CLIPEncoderLayer(config)])
        self.post_layernorm = nn.LayerNorm(hidden, eps=1e-5)
        self.layers = nn.Sequential(
            nn.Linear(hidden, intermediate),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(intermediate, intermediate),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(intermediate, words * word_dim),
        )

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        """(B, tokens, hidden) -> (B, words, word_dim)."""
        for layer in self.encoder_layers:
            out = layer(hidden_states, None)
            hidden_states = out[0] if isinstance(out, tuple) else out
        pooled = self.post_layernorm(hidden_states[:, 0, :])
        return self.layers(pooled).view(-1, self.words, self.word_dim)
