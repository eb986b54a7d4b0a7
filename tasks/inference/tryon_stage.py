"""The try-on stage: one call runs one shard (``tasks.inference.shard``) through the process's
engine, batch after batch, and writes ``generations/{model_version}/{sku}/{photo_id}/{generation_id}.jpg``
with a JSON sidecar recording engine, model version, weights hash, seed, parameters and licence.

The engine loads its weights once for the whole shard. Around it, a reader thread fetches and
decodes the next batch's inputs from S3 while the engine works on this one, and writer threads
encode and upload finished images and commit each generation's ledger state as it is stored, so
the engine waits on neither S3 nor JPEG coding (the shard's record says how long it did wait).

Resumable: a generation whose image exists is not generated again, and an image is written
after its sidecar, so an existing image is a complete generation. A shard killed mid-way and
retried regenerates nothing it stored. If the engine fails on a whole batch, the samples are
retried one by one so that one bad sample fails alone.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from types import TracebackType
from typing import Any

from sqlalchemy import select

from tasks.catalog.documents import JsonObject
from tasks.catalog.garments import load_garment
from tasks.catalog.library import load_photo
from tasks.catalog.run_summary import ShardFigures
from tasks.context import RunContext
from tasks.images import encode_jpeg
from tasks.inference.engine import Engine, TryOnSample, generate_each, planned_otherwise
from tasks.inference.factory import get_engine
from tasks.inference.shard import Shard
from tasks.ledger import Garment, Generation, GenerationState, rows_in
from tasks.states import move
from tasks.storage import generation_key, review_key
from tasks.storefront import withdraw_publication

GENERATED, FAILED, SUPERSEDED = GenerationState.GENERATED.value, GenerationState.FAILED.value, GenerationState.SUPERSEDED.value
WRITERS = 2  # threads encoding and uploading; more only contend for the engine's cores
INPUT_CACHE = 64  # photo views and garments kept decoded: a shard's batches repeat them within a cluster
Outcome = tuple[str, str | None, str | None]  # (state, reason, object key)


@dataclass
class PlannedGeneration:
    """What the stage needs of a generation's ledger row, read once (detached from any session)."""

    generation_id: str
    sku: str
    photo_id: str
    category: str
    model_version: str
    seed: int
    drop_date: str
    garment_sha256: str

    @property
    def key(self) -> str:
        return generation_key(self.model_version, self.sku, self.photo_id, self.generation_id)


@dataclass
class PreparedBatch:
    """One batch, ready for the engine: samples to generate, and what was decided without it
    (already stored, or inputs that could not be read)."""

    planned: dict[str, PlannedGeneration]
    samples: list[TryOnSample] = field(default_factory=list)
    decided: dict[str, Outcome] = field(default_factory=dict)


class ShardReader:
    """Reads a batch's ledger rows and inputs; each photo view and garment decoded once while
    it is in use (a bounded cache: a shard may visit thousands)."""

    def __init__(self, ctx: RunContext, engine: Engine) -> None:
        self.ctx = ctx
        self.engine = engine
        self.photo = lru_cache(INPUT_CACHE)(lambda photo_id, category: load_photo(ctx, photo_id, category))
        self.garment = lru_cache(INPUT_CACHE)(lambda sha256: load_garment(ctx, sha256))

    def prepare(self, generation_ids: list[str]) -> PreparedBatch:
        """The batch's samples. A generation is made only as planned: from the garment version
        and under the settings its row records; one this process's engine would make otherwise
        (a run restarted with other settings) is superseded, never generated, and one superseded
        since the plan is left alone."""
        decided: dict[str, Outcome] = {}
        with self.ctx.ledger.session() as session:  # the batch's rows and garments in one query
            found = {
                row.generation_id: (row, sha256)
                for row, sha256 in session.execute(
                    select(Generation, Garment.sha256)
                    .join(Garment, Garment.id == Generation.garment_id)
                    .where(Generation.generation_id.in_(generation_ids))
                )
            }
            planned = {}
            for gid in generation_ids:
                row, sha256 = found[gid]
                if row.state == SUPERSEDED:
                    continue
                otherwise = planned_otherwise(self.engine, row) if row.state == GenerationState.PLANNED.value else None
                if otherwise is not None:
                    decided[gid] = (SUPERSEDED, otherwise, None)
                    continue
                planned[gid] = PlannedGeneration(
                    gid,
                    row.sku,
                    row.photo_id,
                    row.category,
                    row.model_version,
                    row.seed,
                    row.drop_date,
                    row.garment_sha256 or sha256,
                )
        batch = PreparedBatch(planned, decided=decided)
        for gid, g in planned.items():
            if self.ctx.store.exists(g.key):
                batch.decided[gid] = (GENERATED, None, g.key)
                continue
            try:
                cloth, cloth_mask = self.garment(g.garment_sha256)
                batch.samples.append(
                    TryOnSample(
                        generation_id=gid,
                        category=g.category,
                        cloth=cloth,
                        cloth_mask=cloth_mask,
                        seed=g.seed,
                        **self.photo(g.photo_id, g.category),
                    )
                )
            except Exception as error:  # a missing or broken artifact fails this item only
                batch.decided[gid] = (FAILED, f"inputs_unavailable: {error}", None)
        return batch


def record_outcomes(ctx: RunContext, outcomes: dict[str, Outcome], shard: int | None, *, fresh: bool = False) -> None:
    """Commit try-on outcomes in one transaction. A generation already past try-on (QC'd,
    published) keeps its state when it is found stored again; when its image was lost and has
    been made anew (``fresh``), the new image is not the one QC judged: it goes back to
    ``generated`` for QC, and off the storefront until it passes."""
    with ctx.ledger.session() as session:
        rows = {row.generation_id: row for row in rows_in(session, Generation.generation_id, list(outcomes))}
        for generation_id, (state, reason, key) in outcomes.items():
            row = rows[generation_id]
            row.batch = shard
            if row.state == GenerationState.REJECTED.value:
                pass  # a reviewer's rejection stands, whatever a later try-on makes of the pair
            elif state in (FAILED, SUPERSEDED) or row.state in (GenerationState.PLANNED.value, FAILED):
                move(row, state, reason)
            elif fresh and row.state != GENERATED:
                withdraw_publication(session, row)
                for ext in ("jpg", "json"):  # a review copy is always of the current image
                    ctx.store.delete(review_key(row.drop_date, row.sku, row.photo_id, row.generation_id, ext))
                move(row, GENERATED, f"made again: the image {row.state} before was lost; QC judges the new one")
            row.object_key = key or row.object_key


class ShardWriter:
    """Stores finished generations on background threads, at most ``limit`` in flight (the
    engine waits when it is further ahead than that), and commits each one's ledger state as
    soon as its objects are stored. Leaving the ``with`` block waits for every write, also when
    the shard failed, so nothing generated is lost to a later error."""

    def __init__(self, ctx: RunContext, engine: Engine, shard: int | None, limit: int) -> None:
        self.ctx, self.shard, self.limit = ctx, shard, limit
        self.described = engine.describe().document()  # the same for every generation of the shard
        self.pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="tryon-writer")
        self.pending: deque[Future[None]] = deque()
        self.wait_seconds = 0.0

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.pool.shutdown(wait=True)
        if kind is None:
            for future in self.pending:
                future.result()  # the first write error fails the shard

    def record(self, outcomes: dict[str, Outcome]) -> None:
        """Outcomes decided without the engine (stored already, inputs unreadable, engine errors)."""
        self._submit(record_outcomes, self.ctx, outcomes, self.shard)

    def store(self, g: PlannedGeneration, image: Any, detail: JsonObject) -> None:
        self._submit(self._store, g, image, detail)

    def _store(self, g: PlannedGeneration, image: Any, detail: JsonObject) -> None:
        sidecar = {
            **self.described,
            "generation_id": g.generation_id,
            "seed": g.seed,
            "sku": g.sku,
            "category": g.category,
            "photo_id": g.photo_id,
            "garment_sha256": g.garment_sha256,
            "drop_date": g.drop_date,
            "detail": detail,
        }
        jpeg = encode_jpeg(image, self.ctx.settings.jpeg_quality)
        self.ctx.store.put_json(g.key.rsplit(".", 1)[0] + ".json", sidecar)
        self.ctx.store.put_bytes(g.key, jpeg, "image/jpeg")  # last: an existing image is a whole generation
        record_outcomes(self.ctx, {g.generation_id: (GENERATED, None, g.key)}, self.shard, fresh=True)

    def _submit(self, fn: Any, *args: Any) -> None:
        while len(self.pending) >= self.limit:
            started = time.perf_counter()
            self.pending.popleft().result()
            self.wait_seconds += time.perf_counter() - started
        while self.pending and self.pending[0].done():
            self.pending.popleft().result()
        self.pending.append(self.pool.submit(fn, *args))


def run_shard(ctx: RunContext, shard: Shard) -> ShardFigures:
    """Generate what is missing in the shard; return its figures: counts by outcome and the
    engine's weight loads and load seconds, engine seconds (the load left out), seconds per
    generation, and the seconds the engine waited on inputs and on writes.

    No ledger transaction is held while the engine runs: each batch's rows are read in one short
    transaction, each stored generation's outcome is committed in its own as soon as it is stored,
    and what a batch decided without storing (already stored, failed) in one more.
    """
    engine = get_engine(ctx.settings)
    loads_before, load_seconds_before = engine.loads, engine.load_seconds
    figures = ShardFigures(batches=len(shard.batches), pid=os.getpid())
    engine_seconds = input_wait = 0.0
    generating = 0
    reader = ShardReader(ctx, engine)
    limit = 2 * max(len(batch) for batch in shard.batches) if shard.batches else 1
    with (
        ThreadPoolExecutor(1, thread_name_prefix="tryon-reader") as prefetch,
        ShardWriter(ctx, engine, shard.index, limit) as writer,
    ):
        reading = prefetch.submit(reader.prepare, shard.batches[0]) if shard.batches else None
        for number in range(len(shard.batches)):
            started = time.perf_counter()
            assert reading is not None  # submitted before the first batch and after each one but the last
            batch = reading.result()
            input_wait += time.perf_counter() - started
            if number + 1 < len(shard.batches):
                reading = prefetch.submit(reader.prepare, shard.batches[number + 1])
            for state, _, _ in batch.decided.values():
                if state == GENERATED:
                    figures.existing += 1
                elif state == SUPERSEDED:
                    figures.superseded += 1
                else:
                    figures.failed += 1
            if batch.decided:
                writer.record(batch.decided)
            if not batch.samples:
                continue
            started = time.perf_counter()
            results = generate_each(engine, batch.samples)
            engine_seconds += time.perf_counter() - started
            generating += len(batch.samples)
            errors: dict[str, Outcome] = {
                gid: (FAILED, result, None) for gid, result in results.items() if isinstance(result, str)
            }
            figures.failed += len(errors)
            if errors:
                writer.record(errors)
            for gid, result in results.items():
                if not isinstance(result, str):
                    figures.generated += 1
                    writer.store(batch.planned[gid], *result)
    figures.engine_loads = engine.loads - loads_before
    figures.load_seconds = round(engine.load_seconds - load_seconds_before, 3)
    figures.engine_seconds = round(engine_seconds - figures.load_seconds, 3)  # generating, the load left out
    figures.seconds_per_generation = round(figures.engine_seconds / generating, 4) if generating else None
    figures.input_wait_seconds = round(input_wait, 3)
    figures.write_wait_seconds = round(writer.wait_seconds, 3)
    return figures
