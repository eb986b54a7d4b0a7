"""The outfit compatibility model: one projection shared by every part into one latent space,
where the parts of a real outfit lie close together.

A part's embedding, with a one-hot of which part it is, goes through ``Linear -> LayerNorm ->
ReLU -> Dropout -> Linear`` and is L2-normalised. Two parts are compatible as their latent
vectors are near: ``score = 1 - distance^2 / 2`` (the cosine, 1 for the same point).

The loss is contrastive per pair of parts (``PAIRS``: (top, bottom), (bottom, shoes),
(top, shoes), (dress, shoes)), averaged over the pairs: a real outfit's pair is pulled
together (``distance^2``); a pair in a modified outfit (one or two parts swapped for another
photo's) is pushed apart while nearer than ``margin`` and left alone beyond it
(``max(0, margin - distance)^2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    input_dim: int
    hidden_dim: int = 128
    latent_dim: int = 32
    dropout: float = 0.5
    margin: float = 0.8
    train_skip: bool = True


class CompatibilityModel(nn.Module):
    """``latent = normalise(skip(x) + project(x))``: ``skip`` a linear map, ``project`` the MLP,
    whose last layer starts at zero, so an untrained model is a random linear projection (the
    baseline the evaluation compares with) and training moves away from it only as far as the
    outfits ask."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.skip = nn.Linear(config.input_dim, config.latent_dim, bias=False)
        self.project = nn.Sequential(
            nn.Linear(config.input_dim, config.hidden_dim),
            nn.LayerNorm(config.hidden_dim),
            nn.ReLU(),
            nn.Dropout(config.dropout),
            nn.Linear(config.hidden_dim, config.latent_dim),
        )
        last = self.project[-1]
        assert isinstance(last, nn.Linear)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.skip.requires_grad_(config.train_skip)

    def forward(self, embeddings: torch.Tensor, part: str) -> torch.Tensor:
        """Latent vectors ``(N, latent_dim)`` of ``(N, input_dim)`` embeddings of one part (every
        part goes through the same projection: one shared space)."""
        return nn.functional.normalize(self.skip(embeddings) + self.project(embeddings), dim=1)

    def pair_scores(self, first: torch.Tensor, first_part: str, second: torch.Tensor, second_part: str) -> torch.Tensor:
        """The compatibility of each row of ``first`` with the same row of ``second``: the cosine
        of their latent vectors, in [-1, 1]."""
        return (self(first, first_part) * self(second, second_part)).sum(dim=1)


def contrastive_loss(latent: torch.Tensor, kept: torch.Tensor, included: torch.Tensor, margin: float) -> torch.Tensor:
    """The contrastive loss of each pair of parts, averaged over the pairs ``included``: one
    figure per leading index (a model of a stack). ``latent`` ``(..., pairs, 4, batch,
    latent_dim)``: per pair of parts the rows of real first parts, real second parts, modified
    first parts, modified second parts; ``kept`` ``(..., pairs, batch)``: the modified rows that
    exist; ``included`` ``(..., pairs)``."""
    near = torch.linalg.vector_norm(latent[..., 0, :, :] - latent[..., 1, :, :], dim=-1)
    far = torch.linalg.vector_norm(latent[..., 2, :, :] - latent[..., 3, :, :], dim=-1)
    pull = (near**2).mean(dim=-1)
    made = kept.to(latent.dtype)
    push = ((torch.clamp(margin - far, min=0) ** 2) * made).sum(dim=-1) / made.sum(dim=-1).clamp(min=1)
    weight = included.to(latent.dtype)
    return ((pull + push) * weight).sum(dim=-1) / weight.sum(dim=-1).clamp(min=1)
