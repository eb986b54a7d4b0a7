"""Training several compatibility models in one loop: the looks model and the held-out
evaluation's folds' models. Each step of a small network is mostly Python's time, so folds
trained side by side on threads took as long as one after another; stacked, a step is one
batched forward and backward pass for every model.

Each model keeps its own training: its outfits, its random draws (``numpy`` generator and dropout
generator, both from the config's seed) and its own share of the loss (the total is their sum,
so each model's gradient is its own; AdamW works element by element, so one optimiser over the
stacked weights is one per model). A model comes out the same whatever it was stacked with.

The pairs every step learns from are drawn for all steps at once: for each pair of parts, real
pairs from one outfit and modified pairs with the first part, the second or both (from two other
photos) swapped. A modified pair for which no other photo holds the part is left out
(``kept``); a pair of parts no two outfits hold, or none of whose modified pairs could be made at
a step, is left out of that step (``included``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from tasks.looks.model import CompatibilityModel, contrastive_loss
from tasks.looks.outfits import PAIRS, Outfit

# a CompatibilityModel's weights, by the stack's name for them
_WEIGHTS = {
    "skip": "skip.weight",
    "w1": "project.0.weight",
    "b1": "project.0.bias",
    "norm_w": "project.1.weight",
    "norm_b": "project.1.bias",
    "w2": "project.4.weight",
    "b2": "project.4.bias",
}
ROLES = 4  # the rows of a pair of parts at a step: real first, real second, modified first, modified second


@dataclass(frozen=True)
class _PartViews:
    """Every outfit's views of one part as rows of the model's table: outfit ``i``'s are rows
    ``start[i]`` to ``start[i] + count[i]`` (``count[i]`` 0: it has no such part)."""

    start: np.ndarray
    count: np.ndarray
    owners: np.ndarray  # the outfits that have the part, by index

    def pick(self, outfit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random view (its table row) of each of these outfits (each has the part)."""
        return self.start[outfit] + (rng.random(len(outfit)) * self.count[outfit]).astype(int)

    def donors(self, not_these: tuple[np.ndarray, ...], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """For each row, an outfit that has the part and is none of the row's ``not_these``
        (outfit indices), and whether one could be found (the others may hold none)."""
        size = len(not_these[0])
        excluded = np.zeros(size, int)
        for i, outfits in enumerate(not_these):
            repeated = np.zeros(size, bool) if i == 0 else np.any([outfits == earlier for earlier in not_these[:i]], axis=0)
            excluded += (self.count[outfits] > 0) & ~repeated
        found = len(self.owners) - excluded > 0
        donor = np.full(size, -1)
        todo = found.copy()
        while todo.any():  # draw again where a draw is one of the row's excluded outfits
            donor[todo] = self.owners[rng.integers(len(self.owners), size=int(todo.sum()))]
            todo = found & np.any([donor == outfits for outfits in not_these], axis=0)
        return donor, found


@dataclass(frozen=True)
class StepPairs:
    """One model's training pairs for every step. ``table`` ``(T, D)``: row 0 zeros (what a left
    out row reads), then every outfit's views, part by part. ``rows`` ``(steps, pairs, ROLES,
    batch)``: table rows; ``kept`` ``(steps, pairs, batch)``; ``included`` ``(steps, pairs)``."""

    table: np.ndarray
    rows: np.ndarray
    kept: np.ndarray
    included: np.ndarray


def draw_pairs(outfits: list[Outfit], steps: int, batch: int, seed: int) -> StepPairs:
    """The pairs ``steps`` training steps of ``batch`` real and ``batch`` modified pairs per pair
    of parts learn from, drawn from ``seed``."""
    table, views, offset = [np.zeros((1, outfits[0].dim), np.float32)], {}, 1
    for part in sorted({p for pair in PAIRS for p in pair}):
        count = np.array([len(o.parts[part]) if part in o.parts else 0 for o in outfits])
        table += [o.parts[part].astype(np.float32) for o in outfits if part in o.parts]
        views[part] = _PartViews(offset + np.concatenate([[0], np.cumsum(count)[:-1]]), count, np.flatnonzero(count))
        offset += int(count.sum())
    rng = np.random.default_rng(seed)
    size = steps * batch
    rows = np.zeros((steps, len(PAIRS), ROLES, batch), np.int64)
    kept = np.zeros((steps, len(PAIRS), batch), bool)
    for p, (first, second) in enumerate(PAIRS):
        a_views, b_views = views[first], views[second]
        holders = np.flatnonzero((a_views.count > 0) & (b_views.count > 0))
        if not len(holders):
            continue
        outfit = holders[rng.integers(len(holders), size=size)]
        swap = rng.integers(3, size=size)
        a_donor, a_found = a_views.donors((outfit,), rng)
        a_from = np.where(swap != 1, a_donor, outfit)
        b_donor, b_found = b_views.donors((outfit, a_from), rng)
        b_from = np.where(swap != 0, b_donor, outfit)
        made = np.where(swap == 0, a_found, np.where(swap == 1, b_found, a_found & b_found))
        modified = np.zeros((2, size), np.int64)
        modified[0, made] = a_views.pick(a_from[made], rng)
        modified[1, made] = b_views.pick(b_from[made], rng)
        real = np.stack([a_views.pick(outfit, rng), b_views.pick(outfit, rng)])
        rows[:, p] = np.concatenate([real, modified]).reshape(ROLES, steps, batch).transpose(1, 0, 2)
        kept[:, p] = made.reshape(steps, batch)
    included = np.any(kept, axis=2)
    if not included.any(axis=1).all():
        raise ValueError("no two photos share a part: nothing to contrast")
    return StepPairs(np.concatenate(table), rows, kept, included)


class StackedModels(nn.Module):
    """``len(models)`` compatibility models of one configuration as batched weights: ``x``
    ``(K, N, input_dim)``, one slice per model."""

    skip: nn.Parameter
    w1: nn.Parameter
    b1: nn.Parameter
    norm_w: nn.Parameter
    norm_b: nn.Parameter
    w2: nn.Parameter
    b2: nn.Parameter

    def __init__(self, models: list[CompatibilityModel]) -> None:
        super().__init__()
        self.config = models[0].config
        states = [model.state_dict() for model in models]
        for name, key in _WEIGHTS.items():
            self.register_parameter(name, nn.Parameter(torch.stack([state[key] for state in states]).clone()))
        self.skip.requires_grad_(self.config.train_skip)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Latent vectors ``(K, N, latent_dim)``; ``keep`` ``(K, N, hidden_dim)``: the dropout's mask,
        scaled (0 where a unit is dropped, ``1 / (1 - dropout)`` where it is kept)."""
        hidden = torch.baddbmm(self.b1.unsqueeze(1), x, self.w1.transpose(1, 2))
        hidden = nn.functional.layer_norm(hidden, hidden.shape[-1:]) * self.norm_w.unsqueeze(1) + self.norm_b.unsqueeze(1)
        hidden = torch.relu(hidden) * keep
        out = torch.baddbmm(self.b2.unsqueeze(1), hidden, self.w2.transpose(1, 2)) + torch.bmm(x, self.skip.transpose(1, 2))
        return nn.functional.normalize(out, dim=2)

    def write_back(self, models: list[CompatibilityModel]) -> None:
        for k, model in enumerate(models):
            model.load_state_dict({key: getattr(self, name)[k].detach().clone() for name, key in _WEIGHTS.items()})


class _AdamW:
    """AdamW (decoupled weight decay, bias-corrected moments) over the stack's weights, element by
    element as ``torch.optim.AdamW`` is. Written out because the first ``torch.optim`` optimiser
    of a process imports ``torch._dynamo`` (1.2-1.8 s of a library build on this machine's
    cores); three lines of tensor arithmetic are the whole update."""

    BETAS, EPS = (0.9, 0.999), 1e-8

    def __init__(self, params: list[nn.Parameter], learning_rate: float, weight_decay: float) -> None:
        self.params, self.learning_rate, self.weight_decay = params, learning_rate, weight_decay
        self.moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
        self.steps = 0

    @torch.no_grad()
    def step(self) -> None:
        self.steps += 1
        (beta1, beta2), lr = self.BETAS, self.learning_rate
        first_fix, second_fix = 1 - beta1**self.steps, 1 - beta2**self.steps
        for param, (mean, square) in zip(self.params, self.moments):
            grad = param.grad
            assert grad is not None
            param.mul_(1 - lr * self.weight_decay)
            mean.lerp_(grad, 1 - beta1)
            square.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denominator = (square / second_fix).sqrt_().add_(self.EPS)
            param.addcdiv_(mean, denominator, value=-lr / first_fix)
            param.grad = None


def train_stacked(
    models: list[CompatibilityModel], pairs: list[StepPairs], seed: int, learning_rate: float, weight_decay: float
) -> list[CompatibilityModel]:
    """Each model trained on its pairs, all in one loop (each model's dropout draws from a
    generator of its own, seeded with ``seed``); the models, their weights trained, in eval mode."""
    stack = StackedModels(models)
    tables = [torch.from_numpy(p.table) for p in pairs]
    offsets = np.cumsum([0] + [len(p.table) for p in pairs[:-1]])
    table = torch.cat(tables)
    rows = torch.from_numpy(np.stack([p.rows + offset for p, offset in zip(pairs, offsets)]))  # (K, steps, P, ROLES, B)
    kept = torch.from_numpy(np.stack([p.kept for p in pairs]))
    included = torch.from_numpy(np.stack([p.included for p in pairs]))
    generators = [np.random.default_rng(seed) for _ in models]
    count, steps, n_pairs, _, batch = rows.shape
    hidden, dropout = stack.config.hidden_dim, stack.config.dropout
    optimiser = _AdamW([p for p in stack.parameters() if p.requires_grad], learning_rate, weight_decay)
    scale = np.float32(1 / (1 - dropout))
    for step in range(steps):
        x = torch.index_select(table, 0, rows[:, step].reshape(-1)).view(count, -1, table.shape[1])
        keep = np.stack([(g.random((x.shape[1], hidden), dtype=np.float32) >= dropout) * scale for g in generators])
        latent = stack(x, torch.from_numpy(keep)).view(count, n_pairs, ROLES, batch, -1)
        contrastive_loss(latent, kept[:, step], included[:, step], stack.config.margin).sum().backward()
        optimiser.step()
    stack.write_back(models)
    return [model.eval() for model in models]
