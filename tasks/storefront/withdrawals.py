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
  are deleted after the ledger committed, and the manifests of the dates touched are written
  again.
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
    """What one sweep took off the storefront, in words, and the dates whose manifests changed."""

    withdrawn: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    look_files_changed: list[str] = field(default_factory=list)


def withdraw_without_rights(ctx: RunContext) -> RightsSweep:
    """Take off the storefront what the gate would not let on it today (the module docstring)."""
    gate, sweep, deletions, dates = Gate(ctx), RightsSweep(), [], set()
    with ctx.ledger.session(exclusive=True) as session:
        live = session.execute(
            select(Publication, Generation)
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .where(Publication.state == LIVE)
            .order_by(Publication.drop_date, Publication.sku, Publication.photo_id)
        ).all()
        for publication, row in live:
            refused = gate.refusal(row, session)
            if refused is None:
                continue
            key = withdraw_publication(session, row, refused)
            move(row, GenerationState.FLAGGED, refused)
            if key is not None:
                deletions.append(key)
                dates.add(row.drop_date)
                session.add(RightsWithdrawal(kind=GENERATION, subject=row.generation_id, storefront_key=key, reason=refused))
                sweep.withdrawn.append(f"{key} ({row.generation_id}): {refused}")
        outfits = session.scalars(select(LookGeneration).where(LookGeneration.state == GenerationState.PUBLISHED.value))
        for outfit in outfits:
            refused = gate.refusal(outfit, session)
            if refused is None:
                continue
            key = storefront_look_key(outfit.look_id, outfit.photo_id)
            move(outfit, GenerationState.FLAGGED, refused)
            deletions.append(key)
            dates.add(outfit.drop_date)
            session.add(RightsWithdrawal(kind=OUTFIT, subject=outfit.generation_id, storefront_key=key, reason=refused))
            sweep.withdrawn.append(f"{key} ({outfit.generation_id}): {refused}")
        still_live = set(session.scalars(select(Publication.storefront_key).where(Publication.state == LIVE)))
        withdrawn_images = set(deletions) - still_live
        sweep.look_files_changed = _mend_look_files(ctx, session, withdrawn_images, still_live, dates)
    clear(ctx.store, sorted(withdrawn_images))
    sweep.dates = sorted(dates)
    for date in sweep.dates:
        write_manifest(ctx, date)
    return sweep


def _mend_look_files(ctx: RunContext, session, withdrawn: set[str], live: set[str], dates: set[str]) -> list[str]:
    """Look files rewritten without ``withdrawn`` images, or deleted (see the module docstring);
    returns their SKUs. Each change is recorded in ``session``."""
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
        if own_images and looks:
            put_look_file(ctx.store, replace(look_file, looks=looks))
        else:
            clear(ctx.store, [look_file_key(look_file.sku)])
        session.add(RightsWithdrawal(kind=LOOK_FILE, subject=look_file.sku, storefront_key=key, reason=f"rights: {why}"))
        dates.add(look_file.drop_date)
        changed.append(look_file.sku)
    return changed
