"""The try-on stage: one call generates one batch of planned generations with the process's
engine and writes ``generations/{model_version}/{sku}/{photo_id}/{generation_id}.jpg`` with a
JSON sidecar recording engine, model version, weights hash, seed, parameters and licence.

A generation whose object already exists is not generated again. If the engine fails on the
whole batch, the samples are retried one by one so that one bad sample fails alone.
"""

from __future__ import annotations

import logging
from typing import Any

from tasks.context import RunContext
from tasks.images import encode_jpeg
from tasks.inference.engine import Engine, TryOnSample, get_engine
from tasks.ledger import Garment, Generation, GenerationState
from tasks.preprocess.garment_stage import load_garment
from tasks.preprocess.library_stage import load_photo
from tasks.storage import generation_key

log = logging.getLogger(__name__)


def _sample(ctx: RunContext, row: Generation, garment_sha256: str) -> TryOnSample:
    photo = load_photo(ctx, row.photo_id, row.category)
    cloth, cloth_mask = load_garment(ctx, garment_sha256)
    return TryOnSample(generation_id=row.generation_id, category=row.category, cloth=cloth, cloth_mask=cloth_mask,
                       seed=row.seed, **photo)


def _write(ctx: RunContext, engine: Engine, row: Generation, image: Any, detail: dict[str, Any], garment: Garment) -> str:
    key = generation_key(row.model_version, row.sku, row.photo_id, row.generation_id)
    sidecar = {
        **engine.describe(),
        "generation_id": row.generation_id,
        "seed": row.seed,
        "sku": row.sku,
        "category": row.category,
        "photo_id": row.photo_id,
        "garment_sha256": garment.sha256,
        "drop_date": row.drop_date,
        "detail": detail,
    }
    ctx.store.put_bytes(key, encode_jpeg(image, ctx.settings.jpeg_quality), "image/jpeg")
    ctx.store.put_json(key.rsplit(".", 1)[0] + ".json", sidecar)
    return key


def run_batch(ctx: RunContext, generation_ids: list[str], batch_index: int | None = None) -> dict[str, int]:
    """Generate what is missing in this batch; return counts by outcome."""
    engine = get_engine(ctx.settings.engine)
    counts = {"generated": 0, "existing": 0, "failed": 0}
    todo: list[tuple[Generation, Garment, TryOnSample]] = []
    with ctx.ledger.session() as session:
        rows = [session.get(Generation, gid) for gid in generation_ids]
        for row in rows:
            row.batch = batch_index
            garment = session.get(Garment, row.garment_id)
            key = generation_key(row.model_version, row.sku, row.photo_id, row.generation_id)
            if ctx.store.exists(key):
                row.object_key = key
                if row.state in (GenerationState.PLANNED.value, GenerationState.FAILED.value):
                    row.state = GenerationState.GENERATED.value
                counts["existing"] += 1
                continue
            try:
                todo.append((row, garment, _sample(ctx, row, garment.sha256)))
            except Exception as error:  # a missing or broken artifact fails this item only
                row.state, row.reason = GenerationState.FAILED.value, f"inputs_unavailable: {error}"
                counts["failed"] += 1
        if not todo:
            return counts
        try:
            output = engine.generate([sample for _, _, sample in todo])
            results = list(zip(todo, output.images, output.details or [{}] * len(todo)))
        except Exception:
            log.exception("batch failed as a whole; retrying its samples one by one")
            results = []
            for entry in todo:
                try:
                    single = engine.generate([entry[2]])
                    results.append((entry, single.images[0], single.details[0] if single.details else {}))
                except Exception as error:
                    entry[0].state, entry[0].reason = GenerationState.FAILED.value, f"engine_error: {error}"
                    counts["failed"] += 1
        for (row, garment, _), image, detail in results:
            row.object_key = _write(ctx, engine, row, image, detail, garment)
            row.state, row.reason = GenerationState.GENERATED.value, None
            counts["generated"] += 1
    return counts
