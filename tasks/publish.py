"""Publishing: passed generations of a released model are copied to
``storefront/{sku}/{photo_id}.jpg``, flagged ones to the review prefix with the checks they
failed, and the storefront manifest of the date is written last, so a reader never sees a
half-published drop. Garments then take their terminal state from their generations.

The storefront is a promise, so a generation that passed QC still waits for a reviewer when
its model is a preview (the warp baseline, random weights, weights the registry does not mark
released: ``preview``) or when its slot holds an image a reviewer approved
(``replaces_approved``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tasks import states
from tasks.context import RunContext
from tasks.inference.factory import ReleaseLookup
from tasks.ledger import (
    Garment,
    Generation,
    GenerationState,
    Publication,
    QCResult,
    ReviewDecision,
    rows_in,
)
from tasks.publications import LIVE, current_versions, made_from_old_version, record_publication, retire_stale
from tasks.states import move
from tasks.storage import ObjectInfo, ObjectStore, json_body, review_key, review_prefix, storefront_manifest_key

PREVIEW, REPLACES_APPROVED = "preview", "replaces_approved"  # why a generation that passed QC still waits for a reviewer


def preview_reason(note: str) -> str:
    return f"{PREVIEW}: passed QC, but {note}; a reviewer decides"


def flag_cause(reason: str | None) -> str:
    """Why a flagged generation waits for a reviewer: ``failed_qc``, or it passed QC and is a
    ``preview`` (its model is not released) or ``replaces_approved`` (its slot holds an approved image)."""
    cause = (reason or "").split(":", 1)[0]
    return cause if cause in (PREVIEW, REPLACES_APPROVED) else "failed_qc"


def manifest_entries(ctx: RunContext, date: str) -> list[dict[str, Any]]:
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.drop_date == date, Publication.state == LIVE)
            .order_by(Publication.sku, Publication.photo_id)
        ).all()
        return [
            {
                "sku": pub.sku,
                "photo_id": pub.photo_id,
                "key": pub.storefront_key,
                "generation_id": gen.generation_id,
                "category": gen.category,
                "engine": gen.engine,
                "model_version": gen.model_version,
                "weights_sha256": gen.weights_sha256,
                "seed": gen.seed,
            }
            for pub, gen in rows
        ]


class StorefrontIncomplete(RuntimeError):
    """Published generations whose storefront image is missing: left out of the manifest."""


@dataclass
class ManifestWrite:
    entries: list[dict[str, Any]]
    missing: list[str]  # storefront keys of live publications without their object


def publish(ctx: RunContext, date: str) -> dict[str, Any]:
    """Decide in one transaction, then copy: a passed generation of a released model becomes its
    slot's live publication (the slot's earlier one retired), a flagged one goes to the review
    prefix. Only after the commit are the storefront copies made and the manifests rewritten;
    the storefront images of the date's live publications that are missing or hold another
    image (a copy a crash interrupted) are put right as well, so a re-run repairs."""
    releases = ReleaseLookup(ctx.settings)
    dates = {date}
    with ctx.ledger.session() as session:
        skus = set(session.scalars(select(Garment.sku).where(Garment.drop_date == date)))
        retired = retire_stale(session, skus)  # a re-shoot's old images, a withdrawn SKU's: never published, and retired
        dates |= retired.dates
        generations = list(session.scalars(select(Generation).where(Generation.drop_date == date)))
        for row in generations:
            approved = _approved_elsewhere(session, row) if row.state == GenerationState.PASSED.value else None
            if approved is not None:  # a reviewer's approval is never replaced without a reviewer
                move(
                    row,
                    GenerationState.FLAGGED,
                    f"{REPLACES_APPROVED}: the storefront image of {row.sku}/{row.photo_id} was approved in review ({approved})",
                )
            release = releases(row) if row.state == GenerationState.PASSED.value else None
            if release is not None and not release.released:  # a preview waits for a reviewer, whatever QC says
                move(row, GenerationState.FLAGGED, preview_reason(release.note))
            if row.state == GenerationState.PASSED.value:
                dates |= record_publication(session, row)
        settle_garments(session, generations)
        failed_checks: dict[str, list[str]] = {}
        for generation_id, check in session.execute(  # one query for the date, not one per flagged generation
            select(QCResult.generation_id, QCResult.check)
            .join(Generation, Generation.generation_id == QCResult.generation_id)
            .where(Generation.drop_date == date, QCResult.passed.is_(False))
        ):
            failed_checks.setdefault(generation_id, []).append(check)
        flagged = [
            (row, sorted(failed_checks.get(row.generation_id, [])))
            for row in generations
            if row.state == GenerationState.FLAGGED.value
        ]
        live = set(
            session.scalars(
                select(Publication.storefront_key).where(
                    Publication.state == LIVE, Publication.storefront_key.in_(set(retired.deletions))
                )
            )
        )
    for key in sorted(set(retired.deletions) - live):  # a slot another generation took over is copied below
        ctx.store.delete(key)
    kept = dict(ctx.store.list_objects(review_prefix(date)))  # the date's review copies, one listing
    for row, failed in flagged:
        copy_for_review(ctx.store, row, failed, kept)
    restore_storefront(ctx, date)
    written = {d: write_manifest(ctx, d) for d in sorted(dates)}
    missing = [key for result in written.values() for key in result.missing]
    if missing:
        raise StorefrontIncomplete(
            f"{len(missing)} published image(s) missing from the storefront and left out of the "
            f"manifest ({', '.join(missing[:5])}); run `tryon audit --date {date} --repair`"
        )
    return {"published": len(written[date].entries), "manifest": storefront_manifest_key(date)}


def copy_for_review(
    store: ObjectStore, row: Generation, failed_checks: list[str], kept: dict[str, ObjectInfo] | None = None
) -> None:
    """The flagged generation's image and its sidecar (what it failed) under the review prefix.
    ``kept``: what the date's review prefix already holds (a listing); an image copy already
    there is the generation's image (a generation whose image is made again loses its review
    copy then, ``tryon_stage.record_outcomes``) and a sidecar whose ETag is the MD5 of what it
    would be written with says the same, so a re-run rewrites neither."""
    key = review_key(row.drop_date, row.sku, row.photo_id, row.generation_id)
    kept = kept or {}
    if key not in kept:
        store.copy(row.stored_key, key)
    sidecar = json_body(
        {
            "generation_id": row.generation_id,
            "sku": row.sku,
            "photo_id": row.photo_id,
            "source_key": row.object_key,
            "failed_checks": failed_checks,
            "reason": row.reason,
        }
    )
    sidecar_key = review_key(row.drop_date, row.sku, row.photo_id, row.generation_id, "json")
    if sidecar_key not in kept or kept[sidecar_key].etag != hashlib.md5(sidecar, usedforsecurity=False).hexdigest():
        store.put_bytes(sidecar_key, sidecar, "application/json")


@dataclass
class SlotCheck:
    """A live publication held against the objects: ``missing`` when its storefront image is not
    there, ``stale`` when the slot holds another image than its generation's, ``not_published``
    when its generation is no longer in the published state, ``superseded_version`` when it was
    made from another garment version than the SKU's current one (a re-shoot)."""

    publication: Publication
    generation: Generation
    problem: str | None
    source_exists: bool


def check_storefront(ctx: RunContext, date: str) -> list[SlotCheck]:
    """Every live publication of ``date``, each with what is wrong with its storefront slot."""
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.drop_date == date, Publication.state == LIVE)
        ).all()
        versions = current_versions(session, {publication.sku for publication, _ in rows})
    checks = []
    for publication, generation in rows:
        slot, source = ctx.store.head(publication.storefront_key), ctx.store.head(generation.object_key or "")
        problem = None
        if generation.state != GenerationState.PUBLISHED.value:
            problem = "not_published"
        elif made_from_old_version(generation, versions):
            problem = "superseded_version"
        elif slot is None:
            problem = "missing"
        elif source is not None and (slot.etag, slot.size) != (source.etag, source.size):
            problem = "stale"
        checks.append(SlotCheck(publication, generation, problem, source is not None))
    return checks


def restore_storefront(ctx: RunContext, date: str) -> list[str]:
    """Copy the generation's image into every slot of ``date`` that is missing it or holds
    another image; returns the keys copied. A slot whose generation's image is lost too is left
    to ``tryon audit --repair`` (it plans the generation again)."""
    copied = []
    for check in check_storefront(ctx, date):
        if check.problem in ("missing", "stale") and check.source_exists:
            ctx.store.copy(check.generation.stored_key, check.publication.storefront_key)
            copied.append(check.publication.storefront_key)
    return copied


def _approved_elsewhere(session: Any, row: Generation) -> str | None:
    """The id of another generation whose approved image now holds this one's storefront slot."""
    current = session.scalar(
        select(Publication).where(
            Publication.sku == row.sku,
            Publication.photo_id == row.photo_id,
            Publication.state == LIVE,
            Publication.generation_id != row.generation_id,
        )
    )
    if current is None:
        return None
    approved = session.scalar(
        select(ReviewDecision).where(ReviewDecision.generation_id == current.generation_id, ReviewDecision.decision == "approved")
    )
    return current.generation_id if approved is not None else None


def write_manifest(ctx: RunContext, date: str) -> ManifestWrite:
    """The date's storefront manifest from the ledger's live publications, in one PUT: a reader
    sees the old manifest or the new one. Every key is checked first: a publication whose image
    is not in the store is left out and returned in ``missing``, so the manifest never points
    at nothing."""
    entries: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for entry in manifest_entries(ctx, date):
        (entries if ctx.store.exists(entry["key"]) else missing).append(entry)
    ctx.store.put_json(storefront_manifest_key(date), {"date": date, "count": len(entries), "items": entries})
    return ManifestWrite(entries=entries, missing=[entry["key"] for entry in missing])


def settle_garments(session: Any, generations: list[Generation]) -> None:
    """The garments of ``generations`` take their states from them (``tasks.states.settle_garments``)."""
    garment_ids = list({row.garment_id for row in generations})
    states.settle_garments({g.id: g for g in rows_in(session, Garment.id, garment_ids)}, generations)
