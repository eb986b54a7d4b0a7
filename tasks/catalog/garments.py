"""A preprocessed garment's artefacts, addressed by its content (the sha256 of its image) under
``garments/{sha256}/``: ``cloth.png`` (the garment on white, 768x1024 canvas), ``mask.png`` and
``meta.json`` (source key, cut-out backend and method, perceptual hash, embedding). The garment
stage writes them; matching, try-on, QC, looks and the evaluation read them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.catalog.documents import from_document, to_document
from tasks.context import RunContext
from tasks.images import decode_artifact, decode_mask, encode_mask, encode_png
from tasks.storage import garment_artifact_key, garment_cutout_key


def write_cutout(ctx: RunContext, sha256: str, cloth: np.ndarray, mask: np.ndarray) -> None:
    ctx.store.put_bytes(garment_cutout_key(sha256), encode_png(cloth), "image/png")
    ctx.store.put_bytes(garment_artifact_key(sha256, "mask.png"), encode_mask(mask), "image/png")


@dataclass
class GarmentEmbedding:
    """The garment's appearance embedding, with the backend that made it (matching and looks
    compare it only with embeddings of the same backend)."""

    backend: str
    vector: list[float]


@dataclass
class GarmentMeta:
    """A preprocessed garment's ``meta.json``."""

    sha256: str
    source_key: str
    backend: str  # the cut-out backend
    mask_method: str
    phash: str  # perceptual hash (``preprocess.garment.perceptual_hash``)
    embedding: GarmentEmbedding
    checks: str | None = None  # the checks the cut-out passed (``preprocess.garment.CUT_CHECKS``); None: made before any


def read_meta(ctx: RunContext, sha256: str) -> GarmentMeta | None:
    """The garment's ``meta.json``, or None before it was preprocessed."""
    document = ctx.store.get_json_or_none(garment_artifact_key(sha256, "meta.json"))
    return None if document is None else from_document(GarmentMeta, document)


def write_meta(ctx: RunContext, meta: GarmentMeta) -> None:
    ctx.store.put_json(garment_artifact_key(meta.sha256, "meta.json"), to_document(meta))


def garment_embedding(ctx: RunContext, sha256: str) -> GarmentEmbedding:
    return from_document(GarmentEmbedding, ctx.store.get_json(garment_artifact_key(sha256, "meta.json"))["embedding"])


def load_garment(ctx: RunContext, sha256: str) -> tuple[Any, Any]:
    """(cloth RGB, cloth mask) of a preprocessed garment."""
    cloth = decode_artifact(ctx.store.get_bytes(garment_cutout_key(sha256)))
    mask = decode_mask(ctx.store.get_bytes(garment_artifact_key(sha256, "mask.png")))
    return cloth, mask
