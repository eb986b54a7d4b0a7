"""Reviewers' decisions on flagged full-outfit images (``tasks/looks/outfit_tryon.py``):
approve (published to ``storefront/looks/{look_id}/{photo_id}.jpg``) or reject with a reason.
The decision, the reviewer and the time are on the look generation's own row."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from tasks import storefront
from tasks.context import RunContext
from tasks.ledger import GenerationState, LookGeneration, utcnow
from tasks.review.decisions import ReviewError, rejection_reason
from tasks.states import move_if
from tasks.storage import garment_cutout_key, look_photo_view_key

FLAGGED = GenerationState.FLAGGED.value


@dataclass
class LookReviewItem:
    """One flagged full-outfit image as the review page shows it: the pairing, its score, what
    QC found, and the images (upper and lower garment, the photo, the result)."""

    generation_id: str
    look_id: str
    photo_id: str
    upper_sku: str
    lower_sku: str
    score: float
    reason: str | None
    failed_checks: list[str] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)


def flagged_looks(ctx: RunContext, date: str) -> list[LookReviewItem]:
    with ctx.ledger.session() as session:
        rows = session.scalars(
            select(LookGeneration)
            .where(LookGeneration.drop_date == date, LookGeneration.state == FLAGGED)
            .order_by(LookGeneration.look_id)
        ).all()
        return [
            LookReviewItem(
                generation_id=row.generation_id,
                look_id=row.look_id,
                photo_id=row.photo_id,
                upper_sku=row.upper_sku,
                lower_sku=row.lower_sku,
                score=row.score,
                reason=row.reason,
                failed_checks=list(row.failed_checks or []),
                images={
                    "upper": garment_cutout_key(row.upper_garment_sha256),
                    "lower": garment_cutout_key(row.lower_garment_sha256),
                    "photo": look_photo_view_key(row.photo_id),
                    "result": row.object_key or "",
                },
            )
            for row in rows
            if row.object_key
        ]


def _decide(ctx: RunContext, generation_id: str, state: GenerationState, reviewer: str, reason: str) -> LookGeneration:
    """Move the row out of ``flagged`` with a conditional UPDATE: of two decisions on one image,
    exactly one changes the row; the other is refused."""
    with ctx.ledger.session(exclusive=True) as session:
        row = session.get(LookGeneration, generation_id)
        if row is None:
            raise ReviewError(f"no full-outfit image {generation_id!r}")
        if row.state != FLAGGED:
            raise ReviewError(f"full-outfit image {generation_id} is {row.state}, not awaiting review")
        if not move_if(session, LookGeneration, generation_id, FLAGGED, state, reason, reviewer=reviewer, decided_at=utcnow()):
            raise ReviewError(f"full-outfit image {generation_id} was decided by someone else a moment ago")
        session.expunge(row)
    return row


def approve_look(ctx: RunContext, generation_id: str, reviewer: str) -> str:
    """Publish the image: the decision first, then the storefront copy (its key returned). An
    image whose weights are not licensed for the deployment's use is refused."""
    with ctx.ledger.session() as session:
        pending = session.get(LookGeneration, generation_id)
        if pending is not None:
            try:
                storefront.Gate(ctx).licensed(pending, session)
            except storefront.Unlicensed as refused:
                raise ReviewError(str(refused)) from refused
    row = _decide(ctx, generation_id, GenerationState.PUBLISHED, reviewer, f"approved by {reviewer}")
    key = storefront.place_look(ctx, row)
    storefront.write_manifest(ctx, row.drop_date)
    return key


def reject_look(ctx: RunContext, generation_id: str, reviewer: str, reason: str) -> None:
    reason = rejection_reason(reason)
    _decide(ctx, generation_id, GenerationState.REJECTED, reviewer, f"rejected by {reviewer}: {reason}")
