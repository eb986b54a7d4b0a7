"""Looks in the nightly drop: for each of the drop's garments on the storefront, the published
garments of the other category that the compatibility model scores highest with it, written to
``storefront/looks/{sku}.json`` (schema ``LOOK_FILE_SCHEMA``, docs/looks.md).

A look file lists only garments with live storefront images (each checked in the store), and is
written in one PUT after that, so a reader sees the whole file or the one before; it holds no
time, so a re-run that finds the same partners writes nothing. Upper-body garments are paired
with lower-body ones and the other way round; a dress is worn without either (the catalogue has
no shoes), so it has no look file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema
import numpy as np
from sqlalchemy import select

from tasks.context import RunContext
from tasks.ledger import Garment, Generation, Publication
from tasks.looks.outfits import CATEGORY_PART
from tasks.looks.store import LooksCard, current_card, load_model
from tasks.looks.training import partner_scores
from tasks.publications import LIVE
from tasks.storage import garment_artifact_key, look_file_key

PARTNER_CATEGORIES = {"upper_body": ("lower_body",), "lower_body": ("upper_body",), "dresses": ()}
LOOK_FILE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["sku", "category", "drop_date", "model", "looks"],
    "additionalProperties": False,
    "properties": {
        "sku": {"type": "string", "minLength": 1},
        "category": {"enum": ["upper_body", "lower_body"]},
        "drop_date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
        "model": {
            "type": "object",
            "required": ["version", "sha256", "released", "embedding_backend"],
            "additionalProperties": False,
            "properties": {
                "version": {"type": "string"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "released": {"type": "boolean"},
                "embedding_backend": {"type": "string"},
            },
        },
        "looks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku", "category", "score", "images"],
                "additionalProperties": False,
                "properties": {
                    "sku": {"type": "string", "minLength": 1},
                    "category": {"enum": ["upper_body", "lower_body"]},
                    "score": {"type": "number", "minimum": -1, "maximum": 1},
                    "images": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^storefront/"}},
                },
            },
        },
    },
}


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

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("written", "unchanged", "skipped", "model", "note")}


def storefront_garments(ctx: RunContext) -> list[StorefrontGarment]:
    """Every SKU with a live publication whose image is in the store, newest drop first per SKU."""
    with ctx.ledger.session() as session:
        rows = session.execute(
            select(Publication.sku, Publication.storefront_key, Generation.category, Garment.drop_date, Garment.sha256)
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


def _embedding(ctx: RunContext, garment: StorefrontGarment) -> tuple[str, np.ndarray]:
    meta = ctx.store.get_json(garment_artifact_key(garment.garment_sha256, "meta.json"))["embedding"]
    return meta["backend"], np.asarray(meta["vector"], np.float32)


def look_file(card: LooksCard, garment: StorefrontGarment, partners: list[tuple[StorefrontGarment, float]]) -> dict[str, Any]:
    document = {
        "sku": garment.sku,
        "category": garment.category,
        "drop_date": garment.drop_date,
        "model": {
            "version": card.version,
            "sha256": card.sha256,
            "released": card.released,
            "embedding_backend": card.embedding_backend,
        },
        "looks": [
            {"sku": p.sku, "category": p.category, "score": round(score, 4), "images": sorted(p.images)} for p, score in partners
        ],
    }
    jsonschema.validate(document, LOOK_FILE_SCHEMA)
    return document


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
    model = load_model(ctx, card)
    embeddings = {g.sku: _embedding(ctx, g) for g in on_storefront if PARTNER_CATEGORIES.get(g.category)}
    for garment in mine:
        partner_categories = PARTNER_CATEGORIES.get(garment.category, ())
        backend, vector = embeddings.get(garment.sku, ("", np.zeros(0)))
        if not partner_categories:
            result.skipped[garment.sku] = f"{garment.category}: no partner category in the catalogue"
            continue
        if backend != card.embedding_backend:
            result.skipped[garment.sku] = f"embedded with {backend}, the model was trained on {card.embedding_backend}"
            continue
        candidates = [
            g
            for g in on_storefront
            if g.category in partner_categories and g.sku != garment.sku and embeddings[g.sku][0] == card.embedding_backend
        ]
        if not candidates:
            result.skipped[garment.sku] = f"no {' or '.join(partner_categories)} garment on the storefront yet"
            continue
        others = np.stack([embeddings[c.sku][1] for c in candidates])
        scores = partner_scores(model, vector, CATEGORY_PART[garment.category], others, CATEGORY_PART[candidates[0].category])
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i].sku))
        top = [(candidates[i], float(scores[i])) for i in order[: ctx.settings.looks_per_garment]]
        document = look_file(card, garment, top)
        if ctx.store.get_json_or_none(look_file_key(garment.sku)) == document:
            result.unchanged.append(garment.sku)
        else:
            ctx.store.put_json(look_file_key(garment.sku), document)
            result.written.append(garment.sku)
    return result
