"""The try-on stage: one call generates one batch of planned generations with the process's
engine and writes ``generations/{model_version}/{sku}/{photo_id}/{generation_id}.jpg`` with a
JSON sidecar recording engine, model version, weights hash, seed, parameters and licence.

A generation whose object already exists is not generated again. If the engine fails on the
whole batch, the samples are retried one by one so that one bad sample fails alone.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

from tasks.context import RunContext
from tasks.images import encode_jpeg
from tasks.inference.engine import Engine, TryOnSample, get_engine
from tasks.ledger import Garment, Generation, GenerationState
from tasks.preprocess.garment_stage import load_garment
from tasks.preprocess.library_stage import load_photo
from tasks.storage import generation_key

log = logging.getLogger(__name__)


class BatchInputs:
    """Loads a batch's inputs, each photo view and garment once (a batch repeats both)."""

    def __init__(self, ctx: RunContext) -> None:
        self.photo = functools.cache(lambda photo_id, category: load_photo(ctx, photo_id, category))
        self.garment = functools.cache(lambda sha256: load_garment(ctx, sha256))

    def sample(self, row: Generation, garment_sha256: str) -> TryOnSample:
        cloth, cloth_mask = self.garment(garment_sha256)
        return TryOnSample(generation_id=row.generation_id, category=row.category, cloth=cloth, cloth_mask=cloth_mask,
                           seed=row.seed, **self.photo(row.photo_id, row.category))


def _write(ctx: RunContext, engine: Engine, row: Generation, garment_sha256: str, image: Any, detail: dict[str, Any]) -> str:
    key = generation_key(row.model_version, row.sku, row.photo_id, row.generation_id)
    sidecar = {
        **engine.describe(),
        "generation_id": row.generation_id,
        "seed": row.seed,
        "sku": row.sku,
        "category": row.category,
        "photo_id": row.photo_id,
        "garment_sha256": garment_sha256,
        "drop_date": row.drop_date,
        "detail": detail,
    }
    ctx.store.put_bytes(key, encode_jpeg(image, ctx.settings.jpeg_quality), "image/jpeg")
    ctx.store.put_json(key.rsplit(".", 1)[0] + ".json", sidecar)
    return key


def _generate(engine: Engine, samples: list[TryOnSample]) -> dict[str, tuple[Any, dict[str, Any]] | str]:
    """generation id -> (image, detail), or the error message of a sample that failed."""
    try:
        output = engine.generate(samples)
        details = output.details or [{}] * len(samples)
        return {s.generation_id: (image, d) for s, image, d in zip(samples, output.images, details)}
    except Exception:
        if len(samples) == 1:
            raise
        log.exception("batch failed as a whole; retrying its samples one by one")
    results: dict[str, tuple[Any, dict[str, Any]] | str] = {}
    for sample in samples:
        try:
            results.update(_generate(engine, [sample]))
        except Exception as error:
            results[sample.generation_id] = f"engine_error: {error}"
    return results


def run_batch(ctx: RunContext, generation_ids: list[str], batch_index: int | None = None) -> dict[str, Any]:
    """Generate what is missing in this batch; return counts by outcome and the engine's figures
    for this call (weight loads, load seconds, engine seconds without the load, per generation).

    The ledger is read in one short transaction and written in another: no transaction is
    held while the engine runs, so parallel try-on tasks do not wait on each other.
    """
    engine = get_engine(ctx.settings)
    counts: dict[str, Any] = {"generated": 0, "existing": 0, "failed": 0}
    loads_before, load_seconds_before = engine.loads, engine.load_seconds
    with ctx.ledger.session() as session:
        rows = [session.get(Generation, gid) for gid in generation_ids]
        garment_sha = {row.generation_id: session.get(Garment, row.garment_id).sha256 for row in rows}
    outcome: dict[str, tuple[str, str | None, str | None]] = {}  # id -> (state, reason, key)
    todo: list[TryOnSample] = []
    inputs = BatchInputs(ctx)
    for row in rows:
        key = generation_key(row.model_version, row.sku, row.photo_id, row.generation_id)
        if ctx.store.exists(key):
            outcome[row.generation_id] = (GenerationState.GENERATED.value, None, key)
            counts["existing"] += 1
            continue
        try:
            todo.append(inputs.sample(row, garment_sha[row.generation_id]))
        except Exception as error:  # a missing or broken artifact fails this item only
            outcome[row.generation_id] = (GenerationState.FAILED.value, f"inputs_unavailable: {error}", None)
            counts["failed"] += 1
    by_id = {row.generation_id: row for row in rows}
    started = time.perf_counter()
    generated = _generate(engine, todo) if todo else {}
    engine_seconds = time.perf_counter() - started
    counts["engine_loads"] = engine.loads - loads_before
    counts["load_seconds"] = round(engine.load_seconds - load_seconds_before, 3)
    counts["engine_seconds"] = round(engine_seconds - counts["load_seconds"], 3)  # generating, the load left out
    counts["seconds_per_generation"] = round(counts["engine_seconds"] / len(todo), 4) if todo else None
    for generation_id, result in generated.items():
        if isinstance(result, str):
            outcome[generation_id] = (GenerationState.FAILED.value, result, None)
            counts["failed"] += 1
        else:
            row = by_id[generation_id]
            key = _write(ctx, engine, row, garment_sha[generation_id], *result)
            outcome[generation_id] = (GenerationState.GENERATED.value, None, key)
            counts["generated"] += 1
    with ctx.ledger.session() as session:
        for generation_id, (state, reason, key) in outcome.items():
            row = session.get(Generation, generation_id)
            row.batch = batch_index
            if state == GenerationState.FAILED.value or row.state in (GenerationState.PLANNED.value, GenerationState.FAILED.value):
                row.state, row.reason = state, reason
            row.object_key = key or row.object_key
    return counts
