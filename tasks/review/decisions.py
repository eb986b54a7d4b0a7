"""Reviewers' decisions on flagged generations, without any web framework: list what waits,
approve (publish it), reject (with a reason), re-generate (a new seed, made by the next run). Every decision is a ``review_decisions`` row with
reviewer and time; the garment's state follows its generations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from tasks import storefront
from tasks.catalog.plans import generation_id as make_id
from tasks.catalog.plans import planned_generation
from tasks.context import RunContext
from tasks.ledger import Garment, Generation, GenerationState, LookGeneration, QCResult, ReviewDecision, row_of
from tasks.qc.suite import failure_modes
from tasks.qc.suite_versions import current_suite
from tasks.states import move_if
from tasks.states import settle as settle_rows
from tasks.storage import credentialed_key, garment_cutout_key, library_view_key
from tasks.storefront.credentialed import read_back


class ReviewError(ValueError):
    """The decision cannot be taken (unknown generation, not awaiting review, no reason)."""


class ReasonInvalid(ReviewError):
    """A rejection's reason is missing or too long: the form's fault, not the item's state."""


REASON_MAX_CHARS = 500  # a rejection's reason: shown on every reviewer's date page and in the report


def failure_mode(ctx: RunContext, mode: str | None) -> str | None:
    """A rejection's failure mode: one of the current suite's (``qc.suite.failure_modes``), or
    None when the decision names none (a client without the field)."""
    if mode is None or not mode.strip():
        return None
    known = failure_modes(current_suite(ctx))
    if mode.strip() not in known:
        raise ReasonInvalid(f"{mode.strip()!r} is not a failure mode QC knows ({', '.join(known)})")
    return mode.strip()


def rejection_reason(reason: str) -> str:
    """The reason a reviewer typed, trimmed; refused when empty or over ``REASON_MAX_CHARS``."""
    reason = reason.strip()
    if not reason:
        raise ReasonInvalid("a rejection needs a reason")
    if len(reason) > REASON_MAX_CHARS:
        raise ReasonInvalid(f"a rejection's reason is at most {REASON_MAX_CHARS} characters (this one has {len(reason)})")
    return reason


@dataclass(frozen=True)
class FailedCheck:
    """A QC check a generation failed, as the reviewer reads it."""

    check: str
    value: float | None
    threshold: str | None
    reason: str | None


@dataclass
class ReviewItem:
    """One generation as the review page shows it (a flagged one, or a spot-check sample)."""

    generation_id: str
    sku: str
    category: str
    photo_id: str
    reason: str | None
    failed_checks: list[FailedCheck] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # garment / photo / result -> object key
    qc_suite_version: int | None = None  # the QC suite version that judged it
    can_regenerate: bool = True  # False for a deterministic engine: a new seed would give the same image


def dates_awaiting(ctx: RunContext) -> list[tuple[str, int]]:
    """(drop date, flagged generations and full-outfit images) for every date with something to
    review, newest first."""
    counts: dict[str, int] = {}
    with ctx.ledger.session() as session:
        for table in (Generation, LookGeneration):
            for date, count in session.execute(
                select(table.drop_date, func.count())
                .where(table.state == GenerationState.FLAGGED.value)
                .group_by(table.drop_date)
            ):
                counts[date] = counts.get(date, 0) + count
    return sorted(counts.items(), reverse=True)


def review_item(session: Any, row: Generation) -> ReviewItem:
    garment = session.get(Garment, row.garment_id)
    checks = session.scalars(
        select(QCResult).where(QCResult.generation_id == row.generation_id, QCResult.passed.is_(False)).order_by(QCResult.check)
    ).all()
    return ReviewItem(
        generation_id=row.generation_id,
        sku=row.sku,
        category=row.category,
        photo_id=row.photo_id,
        reason=row.reason,
        failed_checks=[FailedCheck(c.check, c.value, c.threshold, c.reason) for c in checks],
        images={
            "garment": garment_cutout_key(garment.sha256),
            "photo": library_view_key(row.photo_id, row.category),
            "result": row.stored_key,
        },
        qc_suite_version=row.qc_suite_version,
        can_regenerate=not _deterministic(row),
    )


def flagged(ctx: RunContext, date: str) -> list[ReviewItem]:
    with ctx.ledger.session() as session:
        rows = session.scalars(
            select(Generation)
            .where(Generation.drop_date == date, Generation.state == GenerationState.FLAGGED.value)
            .order_by(Generation.sku, Generation.photo_id)
        ).all()
        return [review_item(session, row) for row in rows]


def flagged_item(ctx: RunContext, generation_id: str) -> ReviewItem | None:
    """The generation as the page shows it, while it awaits review (None otherwise)."""
    with ctx.ledger.session() as session:
        row = session.get(Generation, generation_id)
        return None if row is None or row.state != GenerationState.FLAGGED.value else review_item(session, row)


def _flagged_row(session: Any, generation_id: str) -> Generation:
    row = session.get(Generation, generation_id, with_for_update=True)
    if row is None:
        raise ReviewError(f"no generation {generation_id!r}")
    if row.state != GenerationState.FLAGGED.value:
        raise ReviewError(f"generation {generation_id} is {row.state}, not awaiting review")
    return row


def _decide(session: Any, row: Generation, state: GenerationState, reason: str) -> None:
    """Move ``row`` out of ``flagged`` with a conditional UPDATE: of two decisions on one
    generation, exactly one changes a row; the other is refused, whatever the database."""
    if not move_if(session, Generation, row.generation_id, GenerationState.FLAGGED, state, reason):
        raise ReviewError(f"generation {row.generation_id} was decided by someone else a moment ago")


def _deterministic(row: Generation) -> bool:
    return bool((row.parameters or {}).get("deterministic"))


def settle(session: Any, row: Generation) -> None:
    """The garment of ``row`` takes its state from all of its generations again."""
    settle_rows(session, list(session.scalars(select(Generation).where(Generation.garment_id == row.garment_id))))


def approve(ctx: RunContext, generation_id: str, reviewer: str) -> str:
    """Publish the generation: the decision and the publication (the slot's earlier one
    retired) in one transaction, then, after the commit, the image to the storefront and the
    manifests in one PUT each (a reader never sees a manifest entry without its image)."""
    with ctx.ledger.session(exclusive=True) as session:
        row = _flagged_row(session, generation_id)
        before = row.reason
        _decide(session, row, GenerationState.PUBLISHED, f"approved by {reviewer}")
        try:
            dates = storefront.approve_generation(ctx, session, row)
        except (storefront.StaleVersion, storefront.Unlicensed) as refused:
            raise ReviewError(str(refused)) from refused
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision="approved",
                reviewer=reviewer,
                reason_before=before,
            )
        )
        settle(session, row)
        session.expunge(row)
    key = storefront.place(ctx, row)
    for date in sorted(dates):
        storefront.write_manifest(ctx, date)
    return key


def reject(ctx: RunContext, generation_id: str, reviewer: str, reason: str, mode: str | None = None) -> None:
    """Reject a flagged generation with the reviewer's reason and failure mode (``mode``)."""
    reason, mode = rejection_reason(reason), failure_mode(ctx, mode)
    with ctx.ledger.session(exclusive=True) as session:
        row = _flagged_row(session, generation_id)
        before = row.reason
        _decide(session, row, GenerationState.REJECTED, f"rejected by {reviewer}: {reason}")
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision="rejected",
                reason=reason,
                failure_mode=mode,
                reviewer=reviewer,
                reason_before=before,
            )
        )
        settle(session, row)


def regenerate(ctx: RunContext, generation_id: str, reviewer: str) -> str:
    """Replace a flagged generation by a planned one with a new seed (a new generation id); the
    next run of the date (``tryon run --date D``) generates it and QC judges it. Returns the new id."""
    with ctx.ledger.session(exclusive=True) as session:
        row = _flagged_row(session, generation_id)
        if _deterministic(row):
            raise ReviewError(f"{row.engine} is deterministic (it ignores the seed): a re-generation would be the same image")
        attempts = (
            session.scalar(
                select(func.count())
                .select_from(ReviewDecision)
                .where(ReviewDecision.drop_date == row.drop_date, ReviewDecision.decision == "regenerated")
            )
            or 0
        )
        seed = (row.seed + 7919 * (attempts + 1)) & 0x7FFFFFFF
        garment = row_of(session, Garment, row.garment_id)
        new_id = make_id(
            garment.content_sha256, row.photo_id, row.engine, row.model_version, row.weights_sha256, row.parameters, seed
        )
        session.add(
            planned_generation(
                generation_id=new_id,
                garment_id=row.garment_id,
                garment_sha256=garment.content_sha256,
                photo_id=row.photo_id,
                drop_date=row.drop_date,
                sku=row.sku,
                category=row.category,
                engine=row.engine,
                model_version=row.model_version,
                weights_sha256=row.weights_sha256,
                parameters=row.parameters,
                seed=seed,
                reason=f"re-generation of {generation_id} asked by {reviewer}",
            )
        )
        session.add(
            ReviewDecision(
                generation_id=row.generation_id,
                drop_date=row.drop_date,
                decision="regenerated",
                reason=f"new seed {seed}: {new_id}",
                reviewer=reviewer,
                reason_before=row.reason,
            )
        )
        _decide(session, row, GenerationState.REJECTED, f"re-generated as {new_id} by {reviewer}")
    return new_id


def approved_credentials(ctx: RunContext, date: str) -> dict[str, str]:
    """Per generation a reviewer approved on ``date``: the Content Credentials a C2PA reader
    finds on its storefront copy, in words."""
    with ctx.ledger.session() as session:
        approved = session.execute(
            select(Generation.generation_id, Generation.object_key)
            .join(ReviewDecision, ReviewDecision.generation_id == Generation.generation_id)
            .where(ReviewDecision.drop_date == date, ReviewDecision.decision == "approved", Generation.object_key.is_not(None))
        ).all()
    found = {gid: read_back(ctx, credentialed_key(key)) for gid, key in approved}
    return {gid: summary.describe() if summary else "no credentialed copy" for gid, summary in found.items()}


def subject(ctx: RunContext, date: str, short_id: str) -> str | None:
    """What the generation (or full-outfit image) of ``date`` whose id starts with ``short_id``
    shows, in a reviewer's words: "SKU on PHOTO"; None when there is none."""
    with ctx.ledger.session() as session:
        row = session.scalar(
            select(Generation).where(Generation.drop_date == date, Generation.generation_id.startswith(short_id))
        )
        if row is not None:
            return f"{row.sku} on {row.photo_id}"
        look = session.scalar(
            select(LookGeneration).where(LookGeneration.drop_date == date, LookGeneration.generation_id.startswith(short_id))
        )
        return None if look is None else f"{look.upper_sku} with {look.lower_sku} on {look.photo_id}"


def decisions(ctx: RunContext, date: str) -> list[ReviewDecision]:
    with ctx.ledger.session() as session:
        return list(session.scalars(select(ReviewDecision).where(ReviewDecision.drop_date == date).order_by(ReviewDecision.id)))
