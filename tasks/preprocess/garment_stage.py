"""The garment stage of a drop: mask and canvas for each valid garment, stored
content-addressed under ``garments/{sha256}/`` so the same bytes are processed once."""

from __future__ import annotations

from typing import Any

from tasks.context import RunContext
from tasks.images import decode_mask, decode_rgb, encode_mask, encode_png
from tasks.intake import DropItem, set_garment_state
from tasks.ledger import GarmentState
from tasks.preprocess.garment import GarmentMaskError, prepare_garment
from tasks.storage import garment_artifact_key


def preprocess_garments(ctx: RunContext, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    prepared = []
    for raw in items:
        item = DropItem(**raw)
        meta_key = garment_artifact_key(item.sha256, "meta.json")
        if not ctx.store.exists(meta_key):
            try:
                garment = prepare_garment(decode_rgb(ctx.store.get_bytes(item.image_key)))
            except GarmentMaskError as error:
                set_garment_state(ctx, item.garment_id, GarmentState.REJECTED, str(error))
                continue
            ctx.store.put_bytes(garment_artifact_key(item.sha256, "cloth.png"), encode_png(garment.cloth), "image/png")
            ctx.store.put_bytes(garment_artifact_key(item.sha256, "mask.png"), encode_mask(garment.mask), "image/png")
            ctx.store.put_json(meta_key, {"sha256": item.sha256, "source_key": item.image_key, "backend": garment.backend})
        set_garment_state(ctx, item.garment_id, GarmentState.PREPROCESSED)
        prepared.append(item.to_dict())
    return prepared


def load_garment(ctx: RunContext, sha256: str) -> tuple[Any, Any]:
    """(cloth RGB, cloth mask) of a preprocessed garment."""
    cloth = decode_rgb(ctx.store.get_bytes(garment_artifact_key(sha256, "cloth.png")))
    mask = decode_mask(ctx.store.get_bytes(garment_artifact_key(sha256, "mask.png")))
    return cloth, mask
