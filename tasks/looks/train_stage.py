"""The library's looks step (model_library's ``looks`` task and ``tryon looks train``): bring the
outfits up to date, and train a compatibility model when they changed since the current one."""

from __future__ import annotations

from dataclasses import dataclass

from tasks.catalog.library import read_index
from tasks.context import RunContext
from tasks.looks.outfits import build_outfits, outfits_sha256
from tasks.looks.store import LooksCard, current_card, save_model
from tasks.looks.training import TrainingConfig, train_and_validate
from tasks.preprocess.backends import embedding_backend

MIN_OUTFITS = 3  # two to train on and one held out, at the least


@dataclass(frozen=True)
class LooksTraining:
    """What the step did: ``outcome`` is ``trained``, ``unchanged`` (the current model was trained
    on these outfits), ``too_few`` (fewer than ``MIN_OUTFITS`` photos with a pair of parts) or
    ``skipped`` (the run asked for no looks: model_library's ``looks`` param)."""

    outcome: str
    outfits: int
    card: LooksCard | None


def train_looks(ctx: RunContext, config: TrainingConfig = TrainingConfig(), *, force: bool = False) -> LooksTraining:
    outfits = build_outfits(ctx, read_index(ctx))
    if len(outfits) < MIN_OUTFITS:
        return LooksTraining("too_few", len(outfits), None)
    data_sha256 = outfits_sha256(outfits)
    current = current_card(ctx) if ctx.settings.looks_model is None else None
    same = current is not None and (current.training_data_sha256, current.training_config) == (data_sha256, config)
    if same and not force:
        return LooksTraining("unchanged", len(outfits), current)
    model, evaluation = train_and_validate(outfits, config)
    card = save_model(
        ctx,
        model,
        training_data_sha256=data_sha256,
        embedding_backend=embedding_backend(ctx.settings).backend,
        outfits=len(outfits),
        training_config=config,
        evaluation=evaluation,
    )
    return LooksTraining("trained", len(outfits), card)
