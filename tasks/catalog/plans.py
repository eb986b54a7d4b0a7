"""Generation plans: the deterministic id of a generation (BRIEF section 3), the seed it is made
with, and the one factory of a planned ``Generation`` row (matching plans them, a reviewer's
re-generation plans one with a new seed)."""

from __future__ import annotations

import hashlib
import json

from tasks.catalog.documents import JsonObject
from tasks.ledger import Generation, GenerationState
from tasks.states import initial


def generation_id(
    garment_sha256: str,
    photo_id: str,
    engine: str,
    model_version: str,
    weights_sha256: str,
    parameters: JsonObject,
    seed: int,
) -> str:
    """Deterministic id of one generation (BRIEF section 3): the same inputs, engine, weights,
    parameters and seed always give the same id."""
    payload = json.dumps(
        [garment_sha256, photo_id, engine, model_version, weights_sha256, parameters, seed],
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def generation_seed(generation_id: str) -> int:
    """The seed a generation is made with: from its id, so a re-run draws the same noise and
    two generations of one batch draw different noise (31 bits: fits every integer column)."""
    return int(generation_id[:8], 16) & 0x7FFFFFFF


def planned_generation(
    *,
    generation_id: str,
    garment_id: int,
    garment_sha256: str,
    photo_id: str,
    drop_date: str,
    sku: str,
    category: str,
    engine: str,
    model_version: str,
    weights_sha256: str,
    parameters: JsonObject,
    seed: int,
    reason: str | None = None,
) -> Generation:
    """A new ``planned`` generation row (the caller adds it to its session)."""
    return initial(
        Generation(
            generation_id=generation_id,
            garment_id=garment_id,
            garment_sha256=garment_sha256,
            photo_id=photo_id,
            drop_date=drop_date,
            sku=sku,
            category=category,
            engine=engine,
            model_version=model_version,
            weights_sha256=weights_sha256,
            seed=seed,
            parameters=parameters,
        ),
        GenerationState.PLANNED,
        reason,
    )
