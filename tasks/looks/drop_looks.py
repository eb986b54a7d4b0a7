"""Looks in the nightly drop: for each of the drop's garments on the storefront, the published
garments of the other category that the compatibility model scores highest with it, written to
``storefront/looks/{sku}.json`` (``tasks.catalog.look_files``, docs/looks.md).

A look file lists only garments with live storefront images (each checked in the store), and is
written in one PUT after that, so a reader sees the whole file or the one before; it holds no
time, so a re-run that finds the same partners writes nothing. Upper-body garments are paired
with lower-body ones and the other way round; a dress is worn without either (the catalogue has
no shoes), so it has no look file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
from sqlalchemy import func, select

from tasks.catalog.garments import garment_embedding
from tasks.catalog.look_files import Look, LookFile, LooksModelRef
from tasks.context import RunContext
from tasks.ledger import Garment, Generation, Publication
from tasks.looks.model import CompatibilityModel
from tasks.looks.outfits import CATEGORY_PART
from tasks.looks.store import LooksCard, current_card, load_model
from tasks.looks.training import partner_scores
from tasks.storefront import LIVE, Gate, put_look_file, write_manifest

PARTNER_CATEGORIES = {"upper_body": ("lower_body",), "lower_body": ("upper_body",), "dresses": ()}


@dataclass(frozen=True)
class StorefrontGarment:
    """A SKU with live storefront images: its category, the garment it was made from and the
    images (keys that exist in the store)."""

    sku: str
    category: str
    drop_date: str
    garment_sha256: str
    images: list[str] = field(default_factory=list)


@dataclass
class LooksWritten:
    """What the step did: look files ``written`` (new or changed), ``unchanged``, and per SKU of
    the drop without one, why (``skipped``); ``model`` the version used, or why none."""

    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    note: str | None = None


def storefront_garments(ctx: RunContext) -> list[StorefrontGarment]:
    """Every SKU with a live publication whose image is in the store, newest drop first per SKU."""
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(
                Publication.sku,
                Publication.storefront_key,
                Generation.category,
                Garment.drop_date,
                func.coalesce(Generation.garment_sha256, Garment.sha256),
            )
            .join(Generation, Generation.generation_id == Publication.generation_id)
            .join(Garment, Garment.id == Generation.garment_id)
            .where(Publication.state == LIVE)
            .order_by(Publication.sku, Garment.drop_date.desc(), Publication.storefront_key)
        ).all()
    garments: dict[str, StorefrontGarment] = {}
    for sku, key, category, drop_date, sha256 in rows:
        if sha256 is None or not ctx.store.exists(key):
            continue
        garment = garments.setdefault(sku, StorefrontGarment(sku, category, drop_date, sha256))
        if garment.garment_sha256 == sha256:
            garment.images.append(key)
    return list(garments.values())


class CatalogueItem(Protocol):
    @property
    def sku(self) -> str: ...
    @property
    def category(self) -> str: ...


Item = TypeVar("Item", bound=CatalogueItem)


def garment_vectors(ctx: RunContext, garments: dict[str, str], backend: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """SKU -> embedding of the garments (SKU -> garment sha256) embedded with ``backend``, the
    only ones a model trained on that backend can score; and every garment's backend."""
    embeddings = {sku: garment_embedding(ctx, sha256) for sku, sha256 in garments.items()}
    vectors = {sku: np.asarray(e.vector, np.float32) for sku, e in embeddings.items() if e.backend == backend}
    return vectors, {sku: e.backend for sku, e in embeddings.items()}


def ranked_partners(
    model: CompatibilityModel, sku: str, category: str, candidates: list[Item], vectors: dict[str, np.ndarray]
) -> list[tuple[Item, float]]:
    """The candidates of ``category``'s partner categories (not the garment itself, and only
    those in ``vectors``), each with its compatibility with the garment, best first (ties by SKU)."""
    partners = [c for c in candidates if c.category in PARTNER_CATEGORIES[category] and c.sku != sku and c.sku in vectors]
    if not partners:
        return []
    others = np.stack([vectors[p.sku] for p in partners])
    scores = partner_scores(model, vectors[sku], CATEGORY_PART[category], others, CATEGORY_PART[partners[0].category])
    order = sorted(range(len(partners)), key=lambda i: (-scores[i], partners[i].sku))
    return [(partners[i], float(scores[i])) for i in order]


def look_file(card: LooksCard, garment: StorefrontGarment, partners: list[tuple[StorefrontGarment, float]]) -> LookFile:
    return LookFile(
        sku=garment.sku,
        category=garment.category,
        drop_date=garment.drop_date,
        model=LooksModelRef(card.version, card.sha256, card.released, card.embedding_backend),
        looks=[Look(p.sku, p.category, round(score, 4), sorted(p.images)) for p, score in partners],
    )


def write_looks(ctx: RunContext, date: str) -> LooksWritten:
    """The look file of every garment of ``date`` that is on the storefront."""
    result = LooksWritten()
    on_storefront = storefront_garments(ctx)
    mine = [g for g in on_storefront if g.drop_date == date]
    card = current_card(ctx)
    if card is None:
        result.note = "no compatibility model yet (model_library's looks task trains one)"
        result.skipped = {g.sku: "no compatibility model" for g in mine}
        return result
    result.model = card.version
    licence = Gate(ctx).admit_look_file(card.registry_entry())
    if not licence.allowed:
        result.note = f"the compatibility model {card.version} may not rank the storefront's looks: {licence.note}"
        result.skipped = {g.sku: "compatibility model not licensed for this deployment's use" for g in mine}
        return result
    model = load_model(ctx, card)
    pairable = {g.sku: g.garment_sha256 for g in on_storefront if PARTNER_CATEGORIES[g.category]}
    vectors, backends = garment_vectors(ctx, pairable, card.embedding_backend)
    for garment in mine:
        if not PARTNER_CATEGORIES[garment.category]:
            result.skipped[garment.sku] = f"{garment.category}: no partner category in the catalogue"
            continue
        if garment.sku not in vectors:
            result.skipped[garment.sku] = (
                f"embedded with {backends[garment.sku]}, the model was trained on {card.embedding_backend}"
            )
            continue
        ranked = ranked_partners(model, garment.sku, garment.category, on_storefront, vectors)
        if not ranked:
            result.skipped[garment.sku] = f"no {' or '.join(PARTNER_CATEGORIES[garment.category])} garment on the storefront yet"
            continue
        top = ranked[: ctx.settings.looks_per_garment]
        document = look_file(card, garment, top)
        if put_look_file(ctx.store, document):
            result.written.append(garment.sku)
        else:
            result.unchanged.append(garment.sku)
    if result.written:
        write_manifest(ctx, date)  # the date's manifest lists its look files too
    return result
