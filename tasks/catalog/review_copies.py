"""What a reviewer sees of a flagged generation: its image and a sidecar (what it failed, why it
waits) under ``review/{date}/{sku}/{photo_id}/{generation_id}.{jpg,json}``. Publishing writes
them; the audit writes them again when one is lost; the review page reads them."""

from __future__ import annotations

import hashlib

from tasks.ledger import Generation
from tasks.storage import ObjectInfo, ObjectStore, json_body, review_key


def copy_for_review(
    store: ObjectStore, row: Generation, failed_checks: list[str], kept: dict[str, ObjectInfo] | None = None
) -> None:
    """The flagged generation's image and its sidecar (what it failed) under the review prefix.
    ``kept``: what the date's review prefix already holds (a listing); an image copy already
    there is the generation's image (a generation whose image is made again loses its review
    copy then, ``tryon_stage.record_outcomes``) and a sidecar whose ETag is the MD5 of what it
    would be written with says the same, so a re-run rewrites neither."""
    key = review_key(row.drop_date, row.sku, row.photo_id, row.generation_id)
    kept = kept or {}
    if key not in kept:
        store.copy(row.stored_key, key)
    sidecar = json_body(
        {
            "generation_id": row.generation_id,
            "sku": row.sku,
            "photo_id": row.photo_id,
            "source_key": row.object_key,
            "failed_checks": failed_checks,
            "reason": row.reason,
        }
    )
    sidecar_key = review_key(row.drop_date, row.sku, row.photo_id, row.generation_id, "json")
    if sidecar_key not in kept or kept[sidecar_key].etag != hashlib.md5(sidecar, usedforsecurity=False).hexdigest():
        store.put_bytes(sidecar_key, sidecar, "application/json")
