"""Matching garments to model photos through the library's clusters, and planning the
generations.

For each garment: its appearance embedding (the library's backend) is compared with the
centroids of its category's clusters; clusters are visited nearest first, and within each the
photos whose worn garment is closest come first; the first k are taken. The night's generations
are then planned as try-on shards (``tasks.inference.shard``): a few long-lived try-on tasks
that load the weights once each, their batches grouped by (category, cluster).
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from tasks.catalog.garments import garment_embedding
from tasks.catalog.library import ClusterSet, IndexRow, read_clusters, read_index
from tasks.catalog.plans import generation_id, generation_seed, planned_generation
from tasks.context import RunContext
from tasks.inference.engine import Engine, planned_otherwise
from tasks.inference.factory import get_engine
from tasks.inference.shard import Shard, plan_shards, shard_count
from tasks.items import AcceptedItem, set_garment_state
from tasks.ledger import Garment, GarmentState, Generation, GenerationState, rows_in
from tasks.states import move

PLAN_CHUNK = 500  # garments planned per ledger transaction


def rank_photos(
    embedding: np.ndarray, category: str, index: list[IndexRow], clusters: dict[str, ClusterSet]
) -> list[tuple[str, int, float]]:
    """(photo_id, cluster, distance) for every ready photo suiting ``category``: nearest
    cluster first, nearest photo first within a cluster; ties broken by photo id."""
    photos = [
        (
            row.photo_id,
            row.clusters.get(category, 0),
            float(np.linalg.norm(np.asarray(row.embeddings[category]) - embedding)),
        )
        for row in index
        if row.state == "ready" and row.suitable.get(category) and category in row.embeddings
    ]
    centroids = np.asarray(clusters[category].centroids if category in clusters else [], np.float32)
    order = {c: float(np.linalg.norm(centroid - embedding)) for c, centroid in enumerate(centroids)}
    return sorted(photos, key=lambda p: (order.get(p[1], 0.0), p[2], p[0]))


# generation states a new plan may supersede: nothing a reviewer or the storefront decided
_UNDECIDED = (
    GenerationState.PLANNED.value,
    GenerationState.GENERATED.value,
    GenerationState.PASSED.value,
    GenerationState.FLAGGED.value,
    GenerationState.FAILED.value,
)


def _pairs(chosen: list[tuple[AcceptedItem, list[tuple[str, int, str]]]]) -> dict[tuple[int, str], tuple[str, str]]:
    """(garment id, photo id) -> (garment sha256, generation id) of this run's plan."""
    return {(item.garment_id, photo_id): (item.sha256, gid) for item, picks in chosen for photo_id, _, gid in picks}


def _superseded_by(
    row: Generation, engine: Engine, plan: dict[tuple[int, str], tuple[str, str]], rejected: set[str]
) -> str | None:
    """Why this run's plan supersedes an undecided generation of an earlier plan, or None when it
    stands: one garment-photo pair has one current generation, made from the garment's current
    version under the settings it was planned with (never generated under other ones). The
    plan's generation for a pair a reviewer rejected (``rejected``: re-generated in review) gives
    way to the re-generation the reviewer asked for, when it is made under this run's settings."""
    current = plan.get((row.garment_id, row.photo_id))
    if current is not None and row.garment_sha256 not in (None, current[0]):
        return f"superseded_by_reshoot: planned for garment version {row.garment_sha256[:12]}, the drop holds {current[0][:12]}"
    otherwise = planned_otherwise(engine, row)
    if current is not None and (otherwise is not None or current[1] not in rejected):
        return f"superseded_by_plan: the pair's current generation is {current[1]} (planned under this run's settings)"
    return otherwise if row.state == GenerationState.PLANNED.value else None


def match(ctx: RunContext, date: str, items: list[AcceptedItem]) -> list[Shard]:
    """Plan k generations per garment; return the try-on shards.

    Every planned generation of the date is in a shard, also ones already generated: the
    try-on task skips those whose object exists, so a re-run writes nothing new.
    """
    settings = ctx.settings
    engine = get_engine(settings)
    index, clusters = read_index(ctx), read_clusters(ctx)
    groups: dict[tuple[str, int], list[str]] = {}
    chosen: list[tuple[AcceptedItem, list[tuple[str, int, str]]]] = []  # each garment's (photo, cluster, generation id)
    rejected: set[str] = set()  # planned generations a reviewer rejected
    for item in items:
        if not index:
            set_garment_state(
                ctx, item.garment_id, GarmentState.REJECTED, "library_empty: build the model library first (tryon library build)"
            )
            continue
        embedding = garment_embedding(ctx, item.sha256)
        library_backend = clusters[item.category].backend if item.category in clusters else None
        if library_backend and embedding.backend != library_backend:
            raise ValueError(
                f"garment embedded with {embedding.backend} but the library with {library_backend}: rebuild the library"
            )
        ranked = rank_photos(np.asarray(embedding.vector, np.float32), item.category, index, clusters)
        if not ranked:
            set_garment_state(ctx, item.garment_id, GarmentState.REJECTED, f"no_model_photo: none suits {item.category}")
            continue
        chosen.append(
            (
                item,
                [
                    (
                        photo_id,
                        cluster,
                        generation_id(
                            item.sha256,
                            photo_id,
                            engine.name,
                            engine.model_version,
                            engine.weights_sha256,
                            engine.parameters,
                            settings.seed,
                        ),
                    )
                    for photo_id, cluster, _ in ranked[: settings.photos_per_garment]
                ],
            )
        )
    for start in range(0, len(chosen), PLAN_CHUNK):  # a transaction per chunk, the rows it touches read in one query each
        part = chosen[start : start + PLAN_CHUNK]
        with ctx.ledger.session() as session:
            wanted = [gid for _, picks in part for _, _, gid in picks]
            rows = {row.generation_id: row for row in rows_in(session, Generation.generation_id, wanted)}
            garments = {g.id: g for g in rows_in(session, Garment.id, [item.garment_id for item, _ in part])}
            for item, picks in part:
                for photo_id, cluster, gid in picks:
                    row = rows.get(gid)
                    if row is None:
                        row = rows[gid] = planned_generation(
                            generation_id=gid,
                            garment_id=item.garment_id,
                            garment_sha256=item.sha256,
                            photo_id=photo_id,
                            drop_date=date,
                            sku=item.sku,
                            category=item.category,
                            engine=engine.name,
                            model_version=engine.model_version,
                            weights_sha256=engine.weights_sha256,
                            parameters=engine.parameters,
                            seed=generation_seed(gid),
                        )
                        session.add(row)
                    elif row.state in (GenerationState.FAILED.value, GenerationState.SUPERSEDED.value):  # current again
                        move(row, GenerationState.PLANNED)
                    elif row.state == GenerationState.REJECTED.value:  # by a reviewer: a re-generation may take its place
                        rejected.add(gid)
                    groups.setdefault((item.category, cluster), []).append(gid)
                move(garments[item.garment_id], GarmentState.MATCHED)
    planned, plan = {gid for ids in groups.values() for gid in ids}, _pairs(chosen)
    with ctx.ledger.session() as session:
        for row in session.scalars(select(Generation).where(Generation.drop_date == date, Generation.state.in_(_UNDECIDED))):
            if row.generation_id in planned:
                continue
            reason = _superseded_by(row, engine, plan, rejected)
            if reason is not None:
                move(row, GenerationState.SUPERSEDED, reason)
            elif row.state == GenerationState.PLANNED.value:  # a re-generation a reviewer asked for since the last run
                groups.setdefault((row.category, -1), []).append(row.generation_id)
    ordered = [ids for _, ids in sorted(groups.items())]
    shards = plan_shards(ordered, settings.batch_size, shard_count(sum(map(len, ordered)), settings))
    return shards
