"""Publishing a drop date: each generation that passed QC is put before the storefront gate
(``tasks.storefront``: it enters only from a released model and when its slot holds no
reviewer's approval; otherwise it waits for a reviewer), flagged ones are copied to the review
prefix with the checks they failed, and the storefront manifest of the date is written last, so
a reader never sees a half-published drop. Garments then take their terminal state from their
generations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from tasks import states, storefront
from tasks.catalog.review_copies import copy_for_review
from tasks.context import RunContext
from tasks.ledger import Garment, Generation, GenerationState, QCResult
from tasks.storage import review_prefix, storefront_manifest_key
from tasks.worker_threads import each_on_threads

COPY_THREADS = 8  # review copies made at once


def publish(ctx: RunContext, date: str) -> Published:
    """Decide in one transaction, then copy: a passed generation of a released model becomes its
    slot's live publication (the slot's earlier one retired), a flagged one goes to the review
    prefix. Only after the commit are the storefront copies made and the manifests rewritten;
    the storefront images of the date's live publications that are missing or hold another
    image (a copy a crash interrupted) are put right as well, so a re-run repairs."""
    gate = storefront.Gate(ctx)
    dates = {date}
    with ctx.ledger.session() as session:
        skus = set(session.scalars(select(Garment.sku).where(Garment.drop_date == date)))
        retired = storefront.retire_stale(session, skus)  # a re-shoot's old images, a withdrawn SKU's: retired
        dates |= retired.dates
        generations = list(session.scalars(select(Generation).where(Generation.drop_date == date)))
        for row in generations:
            if row.state == GenerationState.PASSED.value:
                dates |= gate.admit_generation(session, row)
        states.settle(session, generations)
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
        left = storefront.keys_to_clear(session, retired.deletions)
    storefront.clear(ctx.store, left)
    kept = dict(ctx.store.list_objects(review_prefix(date)))  # the date's review copies, one listing
    # S3 copies wait on the network, not a core: side by side
    list(each_on_threads(lambda item: copy_for_review(ctx.store, *item, kept), flagged, COPY_THREADS))
    storefront.restore_storefront(ctx, date)
    written = {d: storefront.write_manifest(ctx, d) for d in sorted(dates)}
    missing = [key for result in written.values() for key in result.missing]
    if missing:
        raise storefront.StorefrontIncomplete(
            f"{len(missing)} published image(s) missing from the storefront and left out of the "
            f"manifest ({', '.join(missing[:5])}); run `tryon audit --date {date} --repair`"
        )
    return Published(len(written[date].entries), storefront_manifest_key(date))


@dataclass(frozen=True)
class Published:
    published: int  # the date's live publications, as its manifest lists them
    manifest: str
