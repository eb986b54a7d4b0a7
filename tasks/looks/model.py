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


class SeededDropout(nn.Dropout):
    """``nn.Dropout`` drawing its masks from its own ``generator`` when it has one, so that models
    trained side by side on threads (the evaluation's folds) each draw the same masks whatever
    order the threads run in; without one, from torch's global generator."""

    generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0 or self.generator is None:
            return super().forward(x)
        keep = torch.empty_like(x).bernoulli_(1 - self.p, generator=self.generator)
        return x * keep / (1 - self.p)


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
            SeededDropout(config.dropout),
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


@dataclass(frozen=True)
class PairBatch:
    """One pair of parts' rows: ``real`` from real outfits, ``modified`` from modified outfits in
    which at least one of the two parts was swapped (a pair a swap left whole is a real pair and
    is never here). Each a ``(first (N, D), second (N, D))`` tensor pair."""

    parts: tuple[str, str]
    real: tuple[torch.Tensor, torch.Tensor]
    modified: tuple[torch.Tensor, torch.Tensor]


def contrastive_loss(model: CompatibilityModel, batches: list[PairBatch]) -> torch.Tensor:
    """The contrastive loss of each pair of parts, averaged over the pairs. Every row of every
    batch goes through the model in one call (one projection is shared by every part)."""
    if not batches:
        raise ValueError("no pair of parts in the batch")
    rows = [t for batch in batches for t in (*batch.real, *batch.modified)]
    latent = torch.split(model(torch.cat(rows), "any"), [len(t) for t in rows])
    losses = []
    for i, _ in enumerate(batches):
        real_a, real_b, modified_a, modified_b = latent[4 * i : 4 * i + 4]
        near = torch.linalg.vector_norm(real_a - real_b, dim=1)
        far = torch.linalg.vector_norm(modified_a - modified_b, dim=1)
        pull = (near**2).mean() if len(near) else near.sum()
        push = (torch.clamp(model.config.margin - far, min=0) ** 2).mean() if len(far) else far.sum()
        losses.append(pull + push)
    return torch.stack(losses).mean()
