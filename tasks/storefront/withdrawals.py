"""The rights sweep (the ``rights`` DAG, daily): everything on the storefront whose inputs' terms
no longer hold is taken off it. The gate's own question (:meth:`Gate.refusal`: the weights'
licences for the deployment's use, the model photo's release today) is asked of every live
publication and every published full-outfit image:

- a refused generation's publication is withdrawn and the generation waits as ``flagged`` with
  the refusal for its reason (a renewed release lets a reviewer approve it again);
- a refused full-outfit image likewise;
- every look file is rewritten without the withdrawn images (a look left with none is dropped,
  a file left with no look is deleted, and so is the look file of a SKU with no image left);
- each withdrawal is recorded in the ledger (``RightsWithdrawal``) with its reason, the objects
  are deleted or rewritten after the ledger committed, and the manifests of the dates touched
  are written again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from sqlalchemy import select

from tasks.catalog.documents import from_document
from tasks.catalog.look_files import LookFile
from tasks.context import RunContext
from tasks.ledger import Generation, GenerationState, LookGeneration, Publication, RightsWithdrawal
from tasks.states import move
from tasks.storage import LOOKS, STOREFRONT, look_file_key, storefront_look_key
from tasks.storefront.gate import Gate
from tasks.storefront.objects import clear, put_look_file, write_manifest
from tasks.storefront.slots import LIVE, withdraw_publication

GENERATION, OUTFIT, LOOK_FILE = "generation", "outfit", "look_file"


@dataclass
class RightsSweep:
    """What one sweep took off the storefront, in words (:func:`describe`), and the dates whose
    manifests changed."""

    withdrawn: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)


def describe(withdrawal: RightsWithdrawal) -> str:
    """A withdrawal in one line, as the rights DAG's message and ``tryon rights`` print it."""
    return f"{withdrawal.storefront_key} ({withdrawal.subject}): {withdrawal.reason}"


def withdraw_without_rights(ctx: RunContext) -> RightsSweep:
    """Take off the storefront what the gate would not let on it today (the module docstring).
    The ledger decides in one transaction; the objects change after it committed."""
    gate, sweep, deletions, dates = Gate(ctx), RightsSweep(), set(), set()

    def record(session, kind: str, subject: str, key: str, reason: str, date: str) -> None:
        withdrawal = RightsWithdrawal(kind=kind, subject=subject, storefront_key=key, reason=reason)
        session.add(withdrawal)
        sweep.withdrawn.append(describe(withdrawal))
        dates.add(date)

    with ctx.ledger.session(exclusive=True) as session:
        live = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.state == LIVE)
            .order_by(Publication.drop_date, Publication.sku, Publication.photo_id)
        ).all()
        for _, row in live:
            refused = gate.refusal(row, session)
            if refused is not None:
                key = withdraw_publication(session, row, refused)
                move(row, GenerationState.FLAGGED, refused)
                if key is not None:
                    deletions.add(key)
                    record(session, GENERATION, row.generation_id, key, refused, row.drop_date)
        for outfit in session.scalars(select(LookGeneration).where(LookGeneration.state == GenerationState.PUBLISHED.value)):
            refused = gate.refusal(outfit, session)
            if refused is not None:
                key = storefront_look_key(outfit.look_id, outfit.photo_id)
                move(outfit, GenerationState.FLAGGED, refused)
                deletions.add(key)
                record(session, OUTFIT, outfit.generation_id, key, refused, outfit.drop_date)
        still_live = set(session.scalars(select(Publication.storefront_key).where(Publication.state == LIVE)))
        withdrawn_images = deletions - still_live
        mended = mended_look_files(ctx, withdrawn_images, still_live)
        for look_file, why, _ in mended:
            record(session, LOOK_FILE, look_file.sku, look_file_key(look_file.sku), f"rights: {why}", look_file.drop_date)
    clear(ctx.store, sorted(withdrawn_images | {look_file_key(f.sku) for f, _, kept in mended if kept is None}))
    for _, _, kept in mended:
        if kept is not None:
            put_look_file(ctx.store, kept)
    sweep.dates = sorted(dates)
    for date in sweep.dates:
        write_manifest(ctx, date)
    return sweep


def mended_look_files(ctx: RunContext, withdrawn: set[str], live: set[str]) -> list[tuple[LookFile, str, LookFile | None]]:
    """Each look file that must change: the file, why in words, and what it becomes (None: it
    is deleted). A file loses the ``withdrawn`` images, a look left with none, and the whole file
    when no look is left or its own garment has no image ``live``."""
    if not withdrawn:
        return []
    changed = []
    prefix = f"{STOREFRONT}{LOOKS}/"
    for key in sorted(ctx.store.list_keys(prefix)):
        if "/" in key[len(prefix) :] or not key.endswith(".json"):
            continue  # a full-outfit image, not a look file
        look_file = from_document(LookFile, ctx.store.get_json(key))
        own_images = any(image.startswith(f"{STOREFRONT}{look_file.sku}/") for image in live)
        looks = [replace(look, images=[i for i in look.images if i not in withdrawn]) for look in look_file.looks]
        looks = [look for look in looks if look.images]
        if own_images and looks == look_file.looks:
            continue
        why = "its garment has no image left on the storefront" if not own_images else "it listed withdrawn images"
        changed.append((look_file, why, replace(look_file, looks=looks) if own_images and looks else None))
    return changed
