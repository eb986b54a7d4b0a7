"""Publishing: passed generations of a released model are copied to
``storefront/{sku}/{photo_id}.jpg``, flagged ones to the review prefix with the checks they
failed, and the storefront manifest of the date is written last, so a reader never sees a
half-published drop. Garments then take their terminal state from their generations.

The storefront is a promise, so a generation that passed QC still waits for a reviewer when
its model is a preview (the warp baseline, random weights, weights the registry does not mark
released: ``preview``) or when its slot holds an image a reviewer approved
(``replaces_approved``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tasks.context import RunContext
from tasks.inference.engine import ReleaseLookup
from tasks.ledger import (
    Garment,
    GarmentState,
    Generation,
    GenerationState,
    Publication,
    QCResult,
    ReviewDecision,
    utcnow,
)
from tasks.storage import ObjectStore, review_key, storefront_key, storefront_manifest_key


def manifest_entries(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.drop_date == date, Publication.state == "published")
            .order_by(Publication.sku, Publication.photo_id)
        ).all()
        return [
            {
                "sku": pub.sku, "photo_id": pub.photo_id, "key": pub.storefront_key,
                "generation_id": gen.generation_id, "category": gen.category, "engine": gen.engine,
                "model_version": gen.model_version, "weights_sha256": gen.weights_sha256, "seed": gen.seed,
            }
            for pub, gen in rows
        ]


def publish(ctx: RunContext, date: str) -> dict[str, Any]:
    store = ctx.store
    releases = ReleaseLookup(ctx.settings)
    with ctx.ledger.session() as session:
        generations = list(session.scalars(select(Generation).where(Generation.drop_date == date)))
        for row in generations:
            approved = _approved_elsewhere(session, row) if row.state == GenerationState.PASSED.value else None
            if approved is not None:  # a reviewer's approval is never replaced without a reviewer
                row.state = GenerationState.FLAGGED.value
                row.reason = f"replaces_approved: the storefront image of {row.sku}/{row.photo_id} was approved in review ({approved})"
            release = releases(row) if row.state == GenerationState.PASSED.value else None
            if release is not None and not release.released:  # a preview waits for a reviewer, whatever QC says
                row.state = GenerationState.FLAGGED.value
                row.reason = f"preview: passed QC, but {release.note}; a reviewer decides"
            if row.state == GenerationState.PASSED.value:
                publish_generation(store, session, row)
            elif row.state == GenerationState.FLAGGED.value:
                key = review_key(date, row.sku, row.photo_id, row.generation_id)
                failed = [r.check for r in session.scalars(
                    select(QCResult).where(QCResult.generation_id == row.generation_id, QCResult.passed.is_(False)))]
                store.copy(row.object_key, key)
                store.put_json(key.rsplit(".", 1)[0] + ".json", {
                    "generation_id": row.generation_id, "sku": row.sku, "photo_id": row.photo_id,
                    "source_key": row.object_key, "failed_checks": sorted(failed), "reason": row.reason,
                })
        settle_garments(session, generations)
    entries = write_manifest(ctx, date)
    return {"published": len(entries), "manifest": storefront_manifest_key(date)}


def publish_generation(store: ObjectStore, session: Any, row: Generation) -> str:
    """Copy the generation's image to its storefront slot and record the publication (a
    generation published before is published again, now); returns the storefront key. The
    caller rewrites the date's manifest afterwards."""
    key = storefront_key(row.sku, row.photo_id)
    store.copy(row.object_key, key)
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None:
        session.add(Publication(generation_id=row.generation_id, drop_date=row.drop_date, sku=row.sku,
                                photo_id=row.photo_id, storefront_key=key))
    else:
        publication.storefront_key, publication.state, publication.published_at = key, "published", utcnow()
    row.state = GenerationState.PUBLISHED.value
    return key


def withdraw_generation(store: ObjectStore, session: Any, row: Generation) -> None:
    """Take a published generation off the storefront: its publication is ``withdrawn`` and its
    image removed from the slot, unless a later publication holds the slot now. The caller
    rewrites the date's manifest afterwards (it lists only published ones)."""
    publication = session.scalar(select(Publication).where(Publication.generation_id == row.generation_id))
    if publication is None or publication.state != "published":
        return
    publication.state = "withdrawn"
    later = session.scalar(select(Publication).where(Publication.sku == row.sku, Publication.photo_id == row.photo_id,
                                                     Publication.state == "published", Publication.generation_id != row.generation_id))
    if later is None:
        store.delete(publication.storefront_key)


def _approved_elsewhere(session: Any, row: Generation) -> str | None:
    """The id of another generation whose approved image now holds this one's storefront slot."""
    current = session.scalars(select(Publication).where(Publication.sku == row.sku, Publication.photo_id == row.photo_id,
                                                        Publication.generation_id != row.generation_id)
                              .order_by(Publication.published_at.desc())).first()
    if current is None:
        return None
    approved = session.scalar(select(ReviewDecision).where(ReviewDecision.generation_id == current.generation_id,
                                                           ReviewDecision.decision == "approved"))
    return current.generation_id if approved is not None else None


def write_manifest(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    """The date's storefront manifest from the ledger's publications, in one PUT: a reader sees
    the old manifest or the new one, and every image either lists is already in place."""
    entries = manifest_entries(ctx, date)
    ctx.store.put_json(storefront_manifest_key(date), {"date": date, "count": len(entries), "items": entries})
    return entries


def settle_garments(session: Any, generations: list[Generation]) -> None:
    """flagged if any generation awaits review, else published if any was published, else
    rejected with the generations' failure (or review) reasons."""
    by_garment: dict[int, list[Generation]] = {}
    for row in generations:
        by_garment.setdefault(row.garment_id, []).append(row)
    for garment_id, rows in by_garment.items():
        garment = session.get(Garment, garment_id)
        states = {r.state for r in rows}
        if GenerationState.FLAGGED.value in states:
            garment.state, garment.reason = GarmentState.FLAGGED.value, None
        elif GenerationState.PUBLISHED.value in states:
            garment.state, garment.reason = GarmentState.PUBLISHED.value, None
        elif states <= {GenerationState.FAILED.value}:
            garment.state = GarmentState.REJECTED.value
            garment.reason = "generation_failed: " + "; ".join(sorted({r.reason or "unknown" for r in rows}))
        elif states <= {GenerationState.FAILED.value, GenerationState.REJECTED.value}:
            garment.state = GarmentState.REJECTED.value
            garment.reason = "rejected_in_review: " + "; ".join(sorted({r.reason or "unknown" for r in rows}))
