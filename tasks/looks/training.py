"""Training the compatibility model on the library's outfits, and measuring it on outfits it
never saw.

Real outfits: a photo's parts, each part any of its views (the whole part or a window over it).
Modified outfits: one or two parts swapped for the same part of another photo. Each step draws
``batch`` real and ``batch`` modified pairs for every pair of parts the outfits hold.

The evaluation holds each outfit out in turn (leave one outfit out; a library of more than
``MAX_FOLDS`` outfits in ``MAX_FOLDS`` folds), trains on the rest and scores the held-out ones: the AUC of its real views against the same views with one part swapped
for another photo's, and, for each of its pairs, the rank of the true partner among 100
candidates (the partner and 99 others: other photos' parts, their windows too when the library
has fewer than 99). The baseline is the same network left at its random initialisation: a
random projection of the embeddings, which scores by raw likeness.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import torch

from tasks.looks.model import CompatibilityModel, ModelConfig
from tasks.looks.outfits import PAIRS, Outfit
from tasks.looks.stacked import draw_pairs, train_stacked

CANDIDATES = 100
MAX_FOLDS = 10  # held-out folds of the evaluation: each trains a model


@dataclass(frozen=True)
class TrainingConfig:
    steps: int = 300
    batch: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class Evaluation:
    """Held-out figures of one scorer: ``auc`` of real against one-part-swapped outfits;
    ``partner_above``, the share of swapped partners the true partner scores above, and
    ``mean_rank`` and ``top10`` (share ranked in the first ten) of the true partner among
    ``candidates``; ``outfits`` held out, ``pairs`` ranked."""

    auc: float
    partner_above: float
    mean_rank: float
    top10: float
    outfits: int
    pairs: int
    candidates: int = CANDIDATES


@dataclass(frozen=True)
class CrossValidation:
    trained: Evaluation
    random_projection: Evaluation
    folds: list[str] = field(default_factory=list)  # the outfit each fold held out


_SEEDING = threading.Lock()


def new_model(input_dim: int, seed: int) -> CompatibilityModel:
    """A model initialised from ``seed`` (torch's global generator is held only while the
    weights are drawn: the same model whatever else the process's threads do)."""
    with _SEEDING:
        torch.manual_seed(seed)
        return CompatibilityModel(ModelConfig(input_dim=input_dim))


def train_each(outfit_sets: list[list[Outfit]], config: TrainingConfig = TrainingConfig()) -> list[CompatibilityModel]:
    """A model trained on each set of outfits (deterministic for a seed, in eval mode), all in
    one loop (``tasks.looks.stacked``); each the same model as trained alone."""
    for outfits in outfit_sets:
        if len(outfits) < 2:
            raise ValueError(f"{len(outfits)} outfit(s): training needs two or more photos with a pair of parts")
    pairs = [draw_pairs(outfits, config.steps, config.batch, config.seed) for outfits in outfit_sets]
    models = [new_model(outfits[0].dim, config.seed).train() for outfits in outfit_sets]
    return train_stacked(models, pairs, config.seed, config.learning_rate, config.weight_decay)


@torch.no_grad()
def outfit_scores(model: CompatibilityModel, parts: dict[str, np.ndarray]) -> np.ndarray:
    """The mean compatibility of the pairs each of a batch of outfits (part -> ``(n, D)``
    embeddings, one row per outfit) holds: one forward pass per pair of parts for the batch."""
    scores = [
        model.pair_scores(torch.from_numpy(parts[a]), a, torch.from_numpy(parts[b]), b).numpy()
        for a, b in PAIRS
        if a in parts and b in parts
    ]
    return np.mean(scores, axis=0)


def outfit_score(model: CompatibilityModel, parts: dict[str, np.ndarray]) -> float:
    """The mean compatibility of the pairs an outfit (part -> one embedding) holds."""
    return float(outfit_scores(model, {part: vector[None] for part, vector in parts.items()})[0])


@torch.no_grad()
def partner_scores(model: CompatibilityModel, query: np.ndarray, part: str, candidates: np.ndarray, other: str) -> np.ndarray:
    """The compatibility of one part with each candidate of another part."""
    queries = torch.from_numpy(np.repeat(query[None], len(candidates), axis=0))
    return model.pair_scores(queries, part, torch.from_numpy(candidates), other).numpy()


def auc(positive: list[float], negative: list[float]) -> float:
    """P(a positive scores above a negative), ties counting half (Mann-Whitney)."""
    pos, neg = np.asarray(positive)[:, None], np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def _held_out_figures(model: CompatibilityModel, held: Outfit, others: list[Outfit]) -> tuple:
    """Scores of the held-out outfit's views, real and with each part swapped for each other
    photo's (its view of the same number), and the true partners' ranks."""
    real, swapped, ranks = [], [], []
    views = min(len(v) for v in held.parts.values())
    for i in range(views):
        outfit = {part: vectors[i] for part, vectors in held.parts.items()}
        real.append(outfit_score(model, outfit))
        for part in sorted(outfit):  # the part swapped for each other photo's, scored as one batch
            donors = [o.parts[part][i % len(o.parts[part])] for o in others if part in o.parts]
            if donors:
                batch = {p: np.repeat(v[None], len(donors), axis=0) for p, v in outfit.items()}
                swapped.extend(outfit_scores(model, {**batch, part: np.stack(donors)}).tolist())
    for first, second in held.pairs():
        pool = [v for o in others if second in o.parts for v in o.parts[second][:1]]
        pool += [v for o in others if second in o.parts for v in o.parts[second][1:]]
        if not pool:
            continue
        distractors = np.stack([pool[i % len(pool)] for i in range(CANDIDATES - 1)])
        candidates = np.concatenate([held.parts[second][:1], distractors])
        scores = partner_scores(model, held.parts[first][0], first, candidates, second)
        ranks.append(1 + int((scores[1:] > scores[0]).sum()))
    return real, swapped, ranks


def _evaluation(real: list[float], swapped: list[float], ranks: list[int], outfits: int) -> Evaluation:
    return Evaluation(
        auc=round(auc(real, swapped), 4) if real and swapped else float("nan"),
        partner_above=round(float(np.mean([(CANDIDATES - r) / (CANDIDATES - 1) for r in ranks])), 4) if ranks else float("nan"),
        mean_rank=round(float(np.mean(ranks)), 2) if ranks else float("nan"),
        top10=round(float(np.mean([r <= 10 for r in ranks])), 4) if ranks else float("nan"),
        outfits=outfits,
        pairs=len(ranks),
    )


def train_and_validate(
    outfits: list[Outfit], config: TrainingConfig = TrainingConfig()
) -> tuple[CompatibilityModel, CrossValidation]:
    """A model trained on every outfit, and the held-out figures: train on the outfits of all
    folds but one, score each outfit of the held-out fold against the others; the trained
    models' figures and the random projection's, over every fold. Up to ``MAX_FOLDS`` outfits,
    each is a fold of its own (leave one out); a larger library is dealt into ``MAX_FOLDS``
    folds, so the evaluation trains ``MAX_FOLDS`` models whatever its size (a model per outfit
    made the 100-photo library's build train for over ten minutes). The model and the folds'
    models train together (:func:`train_each`)."""
    if len(outfits) < 3:
        raise ValueError(f"{len(outfits)} outfit(s): a held-out evaluation needs three or more")
    count = min(len(outfits), MAX_FOLDS)
    folds = [outfits[i::count] for i in range(count)]
    rests = [[o for o in outfits if o.photo_id not in {h.photo_id for h in fold}] for fold in folds]
    model, *fold_models = train_each([outfits, *rests], config)
    random = new_model(outfits[0].dim, config.seed + 1).eval()
    figures: dict[str, tuple[list, list, list]] = {"trained": ([], [], []), "random": ([], [], [])}
    for fold, trained in zip(folds, fold_models):
        for name, scorer in (("trained", trained), ("random", random)):
            for held in fold:
                result = _held_out_figures(scorer, held, [o for o in outfits if o.photo_id != held.photo_id])
                for collected, values in zip(figures[name], result):
                    collected.extend(values)
    return model, CrossValidation(
        trained=_evaluation(*figures["trained"], outfits=len(outfits)),
        random_projection=_evaluation(*figures["random"], outfits=len(outfits)),
        folds=["+".join(o.photo_id for o in fold) for fold in folds],
    )


def evaluation_table(evaluation: CrossValidation) -> str:
    """The held-out figures as a table: the trained model and the random projection, side by side."""
    rows = [("trained", evaluation.trained), ("random projection", evaluation.random_projection)]
    first = evaluation.trained
    lines = [
        f"held out: {first.outfits} outfits in {len(evaluation.folds)} folds; {first.pairs} pairs ranked among "
        f"{first.candidates} candidates",
        f"{'scorer':<18} {'AUC real vs 1 swapped':>22} {'partner above a swap':>21} {'mean rank':>10} {'top 10':>7}",
    ]
    lines += [f"{name:<18} {e.auc:>22.3f} {e.partner_above:>21.0%} {e.mean_rank:>10.1f} {e.top10:>7.0%}" for name, e in rows]
    return "\n".join(lines)
