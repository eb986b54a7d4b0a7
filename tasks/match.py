"""Matching garments to model photos and planning the generations.

The rule for now is deterministic and content-based: among the ready photos that suit the
garment's category, take the k whose ``sha256(garment sha256 + photo_id)`` sort first. The
same inputs always give the same pairs; clusters replace this with the model-library work.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from tasks.context import RunContext
from tasks.inference.engine import get_engine
from tasks.intake import DropItem, set_garment_state
from tasks.ledger import Generation, GarmentState, GenerationState
from tasks.preprocess.library_stage import ready_photos


def generation_id(garment_sha256: str, photo_id: str, engine: str, model_version: str,
                  weights_sha256: str, parameters: dict[str, Any], seed: int) -> str:
    """Deterministic id of one generation (BRIEF section 3): the same inputs, engine, weights,
    parameters and seed always give the same id."""
    payload = json.dumps(
        [garment_sha256, photo_id, engine, model_version, weights_sha256, parameters, seed],
        sort_keys=True, separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _rank(garment_sha256: str, photo_id: str) -> str:
    return hashlib.sha256(f"{garment_sha256}:{photo_id}".encode()).hexdigest()


def match(ctx: RunContext, date: str, items: list[dict[str, Any]]) -> list[list[str]]:
    """Plan k generations per garment; return batches of generation ids for the try-on tasks.

    Every planned generation of the date is in a batch, also ones already generated: the
    try-on task skips those whose object exists, so a re-run writes nothing new.
    """
    settings = ctx.settings
    engine = get_engine(settings.engine)
    photos = ready_photos(ctx)
    planned: list[str] = []
    for raw in items:
        item = DropItem(**raw)
        candidates = sorted((p for p in photos if item.category in p.categories), key=lambda p: _rank(item.sha256, p.photo_id))
        if not candidates:
            set_garment_state(ctx, item.garment_id, GarmentState.REJECTED, f"no_model_photo: none suits {item.category}")
            continue
        with ctx.ledger.session() as session:
            for photo in candidates[: settings.photos_per_garment]:
                gid = generation_id(item.sha256, photo.photo_id, engine.name, engine.model_version,
                                    engine.weights_sha256, engine.parameters, settings.seed)
                row = session.get(Generation, gid)
                if row is None:
                    session.add(Generation(
                        generation_id=gid, garment_id=item.garment_id, photo_id=photo.photo_id, drop_date=date,
                        sku=item.sku, category=item.category, engine=engine.name, model_version=engine.model_version,
                        weights_sha256=engine.weights_sha256, seed=settings.seed, parameters=engine.parameters,
                        state=GenerationState.PLANNED.value,
                    ))
                elif row.state == GenerationState.FAILED.value:
                    row.state, row.reason = GenerationState.PLANNED.value, None
                planned.append(gid)
        set_garment_state(ctx, item.garment_id, GarmentState.MATCHED)
    size = settings.batch_size
    return [planned[i : i + size] for i in range(0, len(planned), size)]
