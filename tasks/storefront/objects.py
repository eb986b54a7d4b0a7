"""The objects under ``storefront/``: the only code that copies, writes or deletes there
(generation images, full-outfit images, look files, the manifests), always after the ledger
said so. An image enters as a copy of its credentialed copy (``tasks.storefront.credentialed``):
never without its signed Content Credentials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tasks.catalog.look_files import LookFile
from tasks.catalog.storefront_manifest import LookFileItem, ManifestItem, OutfitItem, StorefrontManifest
from tasks.context import RunContext
from tasks.ledger import (
    Generation,
    GenerationState,
    LookGeneration,
    Publication,
)
from tasks.storage import (
    STOREFRONT,
    ObjectStore,
    credentialed_key,
    look_file_key,
    storefront_key,
    storefront_look_key,
    storefront_manifest_key,
)
from tasks.storefront.credentialed import credentialed_copy
from tasks.storefront.slots import LIVE, current_versions, made_from_old_version


def _live_publications(session: Any, date: str) -> list[tuple[Publication, Generation]]:
    """The date's live publications with their generations, by slot."""
    query = (
        select(Publication, Generation)
        .join(Generation, Generation.generation_id == Publication.generation_id)
        .where(Publication.drop_date == date, Publication.state == LIVE)
        .order_by(Publication.sku, Publication.photo_id)
    )
    return [(publication, generation) for publication, generation in session.execute(query).all()]


def _published_outfits(session: Any, date: str) -> list[LookGeneration]:
    """The date's published full-outfit generations, by look and photo."""
    query = (
        select(LookGeneration)
        .where(LookGeneration.drop_date == date, LookGeneration.state == GenerationState.PUBLISHED.value)
        .order_by(LookGeneration.look_id, LookGeneration.photo_id)
    )
    return list(session.scalars(query).all())


def manifest_entries(ctx: RunContext, date: str) -> list[ManifestItem]:
    with ctx.ledger.session() as session:
        rows = _live_publications(session, date)
        return [
            ManifestItem(
                sku=pub.sku,
                photo_id=pub.photo_id,
                key=pub.storefront_key,
                generation_id=gen.generation_id,
                category=gen.category,
                engine=gen.engine,
                model_version=gen.model_version,
                weights_sha256=gen.weights_sha256,
                seed=gen.seed,
            )
            for pub, gen in rows
        ]


class StorefrontIncomplete(RuntimeError):
    """Published generations whose storefront image is missing: left out of the manifest."""


@dataclass
class ManifestWrite:
    entries: list[ManifestItem]
    missing: list[str]  # storefront keys of live publications without their object


@dataclass
class SlotCheck:
    """A live publication held against the objects: ``missing`` when its storefront image is not
    there, ``stale`` when the slot holds another image than its generation's credentialed copy
    (or that copy was never made: an image without its credentials), ``not_published``
    when its generation is no longer in the published state, ``superseded_version`` when it was
    made from another garment version than the SKU's current one (a re-shoot)."""

    publication: Publication
    generation: Generation
    problem: str | None
    source_exists: bool


def check_storefront(ctx: RunContext, date: str) -> list[SlotCheck]:
    """Every live publication of ``date``, each with what is wrong with its storefront slot."""
    with ctx.ledger.session() as session:
        rows = _live_publications(session, date)
        versions = current_versions(session, {publication.sku for publication, _ in rows})
    checks = []
    for publication, generation in rows:
        slot, source = ctx.store.head(publication.storefront_key), ctx.store.head(generation.object_key or "")
        signed = ctx.store.head(credentialed_key(generation.object_key)) if generation.object_key else None
        problem = None
        if generation.state != GenerationState.PUBLISHED.value:
            problem = "not_published"
        elif made_from_old_version(generation, versions):
            problem = "superseded_version"
        elif slot is None:
            problem = "missing"
        elif source is not None and (signed is None or (slot.etag, slot.size) != (signed.etag, signed.size)):
            problem = "stale"
        checks.append(SlotCheck(publication, generation, problem, source is not None))
    return checks


def restore_storefront(ctx: RunContext, date: str) -> list[str]:
    """Copy the generation's credentialed image into every slot of ``date`` that is missing it or
    holds another image, and every published full-outfit image of ``date`` that is missing; returns
    the keys copied. A slot whose generation's image is lost too is left to ``tryon audit
    --repair`` (it plans the generation again)."""
    copied = []
    for check in check_storefront(ctx, date):
        if check.problem in ("missing", "stale") and check.source_exists:
            ctx.store.copy(credentialed_copy(ctx, check.generation), check.publication.storefront_key)
            copied.append(check.publication.storefront_key)
    with ctx.ledger.session() as session:
        outfits = _published_outfits(session, date)
        session.expunge_all()
    for row in outfits:
        target = storefront_look_key(row.look_id, row.photo_id)
        if row.object_key and not ctx.store.exists(target) and ctx.store.exists(row.object_key):
            place_look(ctx, row)
            copied.append(target)
    return copied


def outfit_entries(ctx: RunContext, date: str) -> list[OutfitItem]:
    """The date's published full-outfit images (``storefront/looks/{look_id}/{photo_id}.jpg``)."""
    with ctx.ledger.session() as session:
        rows = _published_outfits(session, date)
        return [
            OutfitItem(
                look_id=row.look_id,
                photo_id=row.photo_id,
                key=storefront_look_key(row.look_id, row.photo_id),
                generation_id=row.generation_id,
                upper_sku=row.upper_sku,
                lower_sku=row.lower_sku,
                engine=row.engine,
                model_version=row.model_version,
                weights_sha256=row.weights_sha256,
                seed=row.seed,
            )
            for row in rows
        ]


def write_manifest(ctx: RunContext, date: str) -> ManifestWrite:
    """The date's storefront manifest, in one PUT (a reader sees the old manifest or the new
    one): every storefront object the date stands behind. ``items``: the live publications of
    its generations; ``outfits``: its published full-outfit images; ``look_files``: the look
    files of its SKUs on the storefront. Every key is checked first: one whose object is not in
    the store is left out (a publication's is returned in ``missing``), so the manifest never
    points at nothing. The looks and full-outfit stages write it again after publishing."""
    entries: list[ManifestItem] = []
    missing: list[ManifestItem] = []
    for entry in manifest_entries(ctx, date):
        (entries if ctx.store.exists(entry.key) else missing).append(entry)
    outfits = [entry for entry in outfit_entries(ctx, date) if ctx.store.exists(entry.key)]
    skus = sorted({entry.sku for entry in entries})
    look_files = [LookFileItem(sku, look_file_key(sku)) for sku in skus if ctx.store.exists(look_file_key(sku))]
    manifest = StorefrontManifest(date, entries, outfits, look_files)
    ctx.store.put_json(storefront_manifest_key(date), manifest.to_document())
    return ManifestWrite(entries=entries, missing=[entry.key for entry in missing])


def place(ctx: RunContext, row: Generation) -> str:
    """Copy an admitted generation's credentialed image into its slot (after the decision committed)."""
    key = storefront_key(row.sku, row.photo_id)
    ctx.store.copy(credentialed_copy(ctx, row), key)
    return key


def place_look(ctx: RunContext, row: LookGeneration) -> str:
    """Copy an admitted full-outfit image's credentialed copy into ``storefront/looks/``."""
    key = storefront_look_key(row.look_id, row.photo_id)
    ctx.store.copy(credentialed_copy(ctx, row), key)
    return key


def clear(store: ObjectStore, keys: list[str] | set[str]) -> None:
    """Delete storefront objects that must leave (after the ledger says so)."""
    for key in sorted(keys):
        if not key.startswith(STOREFRONT):
            raise ValueError(f"not a storefront key: {key}")
        store.delete(key)


def put_look_file(store: ObjectStore, look_file: LookFile) -> bool:
    """Write the SKU's look file (``storefront/looks/{sku}.json``); False when it already says so."""
    key, document = look_file_key(look_file.sku), look_file.document()
    if store.get_json_or_none(key) == document:
        return False
    store.put_json(key, document)
    return True
