"""The garment stage of a drop: mask and canvas for each valid garment, stored
content-addressed under ``garments/{sha256}/`` so the same bytes are processed once."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from tasks.context import RunContext
from tasks.images import decode_mask, decode_rgb, encode_mask, encode_png
from tasks.intake import DropItem, set_garment_state
from tasks.ledger import GarmentState
from tasks.preprocess.backends import embedding_backend
from tasks.preprocess.garment import GarmentMaskError, prepare_garment
from tasks.preprocess.masks import MODEL_HEIGHT, MODEL_WIDTH
from tasks.storage import garment_artifact_key


def embed_garment(ctx: RunContext, cloth: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """The garment's appearance embedding with the library's backend, at the size the library
    embeds worn garments (512x384), so the two are comparable."""
    embedder = embedding_backend(ctx.settings)
    small = cv2.resize(cloth, (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), (MODEL_WIDTH, MODEL_HEIGHT), interpolation=cv2.INTER_NEAREST) > 0
    return {"backend": embedder.backend, "vector": embedder(small, small_mask).tolist()}


def preprocess_garments(ctx: RunContext, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prepared = []
    for raw in items:
        item = DropItem(**raw)
        meta_key = garment_artifact_key(item.sha256, "meta.json")
        meta = ctx.store.get_json(meta_key) if ctx.store.exists(meta_key) else None
        if meta is None:
            try:
                garment = prepare_garment(decode_rgb(ctx.store.get_bytes(item.image_key)))
            except GarmentMaskError as error:
                set_garment_state(ctx, item.garment_id, GarmentState.REJECTED, str(error))
                continue
            ctx.store.put_bytes(garment_artifact_key(item.sha256, "cloth.png"), encode_png(garment.cloth), "image/png")
            ctx.store.put_bytes(garment_artifact_key(item.sha256, "mask.png"), encode_mask(garment.mask), "image/png")
            meta = {"sha256": item.sha256, "source_key": item.image_key, "backend": garment.backend,
                    "embedding": embed_garment(ctx, garment.cloth, garment.mask)}
            ctx.store.put_json(meta_key, meta)
        elif meta.get("embedding", {}).get("backend") != embedding_backend(ctx.settings).backend:
            meta["embedding"] = embed_garment(ctx, *load_garment(ctx, item.sha256))
            ctx.store.put_json(meta_key, meta)
        set_garment_state(ctx, item.garment_id, GarmentState.PREPROCESSED)
        prepared.append(item.to_dict())
    return prepared


def garment_embedding(ctx: RunContext, sha256: str) -> dict[str, Any]:
    return ctx.store.get_json(garment_artifact_key(sha256, "meta.json"))["embedding"]


def load_garment(ctx: RunContext, sha256: str) -> tuple[Any, Any]:
    """(cloth RGB, cloth mask) of a preprocessed garment."""
    cloth = decode_rgb(ctx.store.get_bytes(garment_artifact_key(sha256, "cloth.png")))
    mask = decode_mask(ctx.store.get_bytes(garment_artifact_key(sha256, "mask.png")))
    return cloth, mask
