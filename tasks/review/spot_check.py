"""QA's spot check of what passed QC: a sample of each date's QC-passed, published generations
(``TRYON_SPOT_CHECK_RATE``, default 5 %, at least one where any passed) waits on the review page
with the same two decisions. Approving confirms QC; rejecting takes the image off the storefront
and counts as a **QC miss**, which the run report totals per date and over time.

The sample is deterministic (the generations whose ids hash lowest), so every reviewer and every
page load sees the same one, and a re-run of a date does not draw a new one.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from sqlalchemy import select

from tasks import storefront
from tasks.context import RunContext
from tasks.ledger import SPOT_APPROVED, SPOT_REJECTED, Generation, GenerationState, ReviewDecision
from tasks.review.decisions import ReviewError, ReviewItem, failure_mode, rejection_reason, review_item, settle
from tasks.states import move


def sample(generation_ids: list[str], rate: float) -> set[str]:
    """ceil(rate x n) of the ids, the ones whose sha256 is lowest."""
    count = math.ceil(rate * len(generation_ids)) if rate > 0 else 0
    return set(sorted(generation_ids, key=lambda gid: hashlib.sha256(gid.encode()).hexdigest())[:count])


def _passed_by_qc(session: Any, date: str) -> list[Generation]:
    """The date's generations published because they passed QC (not because a reviewer approved)."""
    approved = select(ReviewDecision.generation_id).where(ReviewDecision.decision == "approved")
    spot_rejected = select(ReviewDecision.generation_id).where(ReviewDecision.decision == SPOT_REJECTED)
    return list(
        session.scalars(
            select(Generation).where(
                Generation.drop_date == date,
                ((Generation.state == GenerationState.PUBLISHED.value) & Generation.generation_id.not_in(approved))
                | Generation.generation_id.in_(spot_rejected),
            )
        )
    )


def _sampled(session: Any, date: str, rate: float) -> list[Generation]:
    rows = _passed_by_qc(session, date)
    chosen = sample([r.generation_id for r in rows], rate)
    return sorted((r for r in rows if r.generation_id in chosen), key=lambda r: (r.sku, r.photo_id))


def _decided(session: Any, generation_ids: list[str]) -> set[str]:
    return set(
        session.scalars(
            select(ReviewDecision.generation_id).where(
                ReviewDecision.generation_id.in_(generation_ids), ReviewDecision.decision.in_((SPOT_APPROVED, SPOT_REJECTED))
            )
        )
    )


def pending(ctx: RunContext, date: str) -> list[ReviewItem]:
    """The date's sampled generations that no reviewer has spot-checked yet."""
    with ctx.ledger.session() as session:
        rows = _sampled(session, date, ctx.settings.spot_check_rate)
        done = _decided(session, [r.generation_id for r in rows])
        return [review_item(session, r) for r in rows if r.generation_id not in done]


def dates_pending(ctx: RunContext) -> dict[str, int]:
    """date -> spot checks waiting, for every date with published generations, newest first."""
    waiting = {}
    with ctx.ledger.session() as session:
        dates = session.scalars(
            select(Generation.drop_date).where(Generation.state == GenerationState.PUBLISHED.value).distinct()
        )
        for date in sorted(dates, reverse=True):
            ids = [r.generation_id for r in _sampled(session, date, ctx.settings.spot_check_rate)]
            if count := len(ids) - len(_decided(session, ids)):
                waiting[date] = count
    return waiting


def _sampled_row(session: Any, ctx: RunContext, generation_id: str) -> Generation:
    row = session.get(Generation, generation_id, with_for_update=True)
    if row is None:
        raise ReviewError(f"no generation {generation_id!r}")
    if generation_id not in {r.generation_id for r in _sampled(session, row.drop_date, ctx.settings.spot_check_rate)}:
        raise ReviewError(f"generation {generation_id} is not in the spot-check sample of {row.drop_date}")
    if _decided(session, [generation_id]):
        raise ReviewError(f"generation {generation_id} was spot-checked already")
    return row


def approve(ctx: RunContext, generation_id: str, reviewer: str) -> None:
    """QC was right: the image stays published; the decision is recorded."""
    with ctx.ledger.session(exclusive=True) as session:
        row = _sampled_row(session, ctx, generation_id)
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision=SPOT_APPROVED,
                reviewer=reviewer,
                reason_before=row.reason,
            )
        )


def reject(ctx: RunContext, generation_id: str, reviewer: str, reason: str, mode: str | None = None) -> None:
    """QC missed it: the image leaves the storefront (slot and manifest), the generation ends
    ``rejected`` with the reviewer's reason, and the decision counts as a QC miss."""
    reason, mode = rejection_reason(reason), failure_mode(ctx, mode)
    with ctx.ledger.session(exclusive=True) as session:
        row = _sampled_row(session, ctx, generation_id)
        withdrawn = storefront.withdraw_publication(session, row)
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision=SPOT_REJECTED,
                reason=reason,
                failure_mode=mode,
                reviewer=reviewer,
                reason_before=row.reason,
            )
        )
        move(row, GenerationState.REJECTED, f"rejected in spot check by {reviewer} (a QC miss): {reason}")
        settle(session, row)
        date = row.drop_date
    storefront.write_manifest(ctx, date)  # first the manifest without it, then the image
    if withdrawn is not None:
        storefront.clear(ctx.store, [withdrawn])
