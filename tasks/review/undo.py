"""Undoing a review decision for a while (``TRYON_REVIEW_UNDO_S``, 300 s by default).

Within the window the reviewer who took a decision may undo it, and the generation is where it
was before: an approval's image leaves the storefront (the slot given back to what the approval
replaced there, ``storefront.undo_approval``), a rejection or a re-generation puts it back in
review (the planned re-generation dropped, unless it was made already), a spot check's
rejection puts it back on the storefront, a spot check's confirmation is forgotten. The
decision's row is deleted, so nothing that counts decisions (QC calibration's labels, the QC
misses) counts it, and an ``undone`` row says which decision it was, by whom and when.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tasks import storefront
from tasks.context import RunContext
from tasks.ledger import SPOT_APPROVED, SPOT_REJECTED, Generation, GenerationState, ReviewDecision
from tasks.review.decisions import ReviewError, settle
from tasks.states import move, move_back

UNDONE = "undone"
UNDOABLE = ("approved", "rejected", "regenerated", SPOT_APPROVED, SPOT_REJECTED)


def seconds_left(ctx: RunContext, decision: ReviewDecision, now: datetime | None = None) -> float:
    """How long ``decision`` can still be undone (0 or less: no longer)."""
    decided = decision.decided_at if decision.decided_at.tzinfo else decision.decided_at.replace(tzinfo=UTC)
    return ctx.settings.review_undo_s - ((now or datetime.now(UTC)) - decided).total_seconds()


def undoable(ctx: RunContext, decisions: list[ReviewDecision], reviewer: str) -> dict[int, int]:
    """decision id -> whole seconds left, for the decisions ``reviewer`` may undo now."""
    now = datetime.now(UTC)
    return {
        d.id: int(left)
        for d in decisions
        if d.reviewer == reviewer and d.decision in UNDOABLE and (left := seconds_left(ctx, d, now)) >= 1
    }


def _regeneration(session: Any, row: Generation) -> Generation | None:
    """The generation a re-generation of ``row`` planned (``decisions.regenerate``), if any."""
    return session.scalar(
        select(Generation).where(
            Generation.garment_id == row.garment_id,
            Generation.photo_id == row.photo_id,
            Generation.reason.startswith(f"re-generation of {row.generation_id} "),
        )
    )


def undo(ctx: RunContext, decision_id: int, reviewer: str) -> str:
    """Undo decision ``decision_id`` (see the module) and return its generation's id;
    :class:`ReviewError` when it cannot be."""
    with ctx.ledger.session(exclusive=True) as session:
        decision = session.get(ReviewDecision, decision_id, with_for_update=True)
        if decision is None or decision.decision not in UNDOABLE:
            raise ReviewError(f"no decision {decision_id} to undo")
        if decision.reviewer != reviewer:
            raise ReviewError(f"decision {decision_id} is {decision.reviewer}'s: only they can undo it")
        if seconds_left(ctx, decision) <= 0:
            raise ReviewError(
                f"decision {decision_id} can no longer be undone (the window is {ctx.settings.review_undo_s:.0f} s)"
            )
        row = session.get(Generation, decision.generation_id, with_for_update=True)
        if row is None:
            raise ReviewError(f"no generation {decision.generation_id!r}")
        kind, before = decision.decision, decision.reason_before
        withdrawn: str | None = None
        placed: list[Generation] = []
        if kind == "approved":
            withdrawn, placed = storefront.undo_approval(session, row, f"approval undone by {reviewer}")
            move(row, GenerationState.FLAGGED, before)
        elif kind == "rejected":
            move_back(row, GenerationState.FLAGGED, before)
        elif kind == "regenerated":
            planned = _regeneration(session, row)
            if planned is not None and planned.state != GenerationState.PLANNED.value:
                raise ReviewError(f"the re-generation {planned.generation_id} was made already: decide on it instead")
            if planned is not None:
                session.delete(planned)
            move_back(row, GenerationState.FLAGGED, before)
        elif kind == SPOT_REJECTED:
            move_back(row, GenerationState.PASSED, before)
            try:
                storefront.approve_generation(ctx, session, row)  # back in its slot, if it may still be there
            except (storefront.StaleVersion, storefront.Unlicensed) as refused:
                raise ReviewError(str(refused)) from refused
            row.reason = before
            placed = [row]
        session.delete(decision)
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision=UNDONE,
                reason=f"{kind} of {decision.decided_at:%Y-%m-%d %H:%M:%S} UTC undone",
                reviewer=reviewer,
            )
        )
        settle(session, row)
        dates = {row.drop_date, *(g.drop_date for g in placed)}
        session.expunge_all()
    for generation in placed:
        storefront.place(ctx, generation)
    if withdrawn is not None:
        storefront.write_manifest(ctx, row.drop_date)  # first the manifest without it, then the image
        storefront.clear(ctx.store, [withdrawn])
        dates.discard(row.drop_date)
    for date in sorted(dates):
        storefront.write_manifest(ctx, date)
    return row.generation_id
