"""The model-photo stage: every photo under ``library/photos/`` is preprocessed once per
content hash. Artifacts go to ``library/artifacts/{photo_id}/`` (normalised image, person
mask, OpenPose JSON, one inpaint mask per suitable category, ``meta.json``); a photo whose
``meta.json`` already records the same sha256 is skipped. ``library/index.parquet`` lists them.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select

from tasks.context import RunContext
from tasks.images import ImageDecodeError, decode_mask, decode_rgb, encode_mask, encode_png, sha256_hex
from tasks.ledger import ModelPhoto, PhotoState
from tasks.preprocess.model_photo import ModelPhotoRejected, prepare_model_photo
from tasks.preprocess.pose import PoseResult
from tasks.storage import library_artifact_key, library_index_key, library_photos_prefix

PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png")
SAFE_PHOTO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
INDEX_SCHEMA = pa.schema(
    [
        ("photo_id", pa.string()),
        ("sha256", pa.string()),
        ("state", pa.string()),
        ("reason", pa.string()),
        ("categories", pa.list_(pa.string())),
        ("keypoints", pa.list_(pa.float32())),  # 18 x (x, y, score), flattened
        ("backends", pa.string()),  # JSON object
    ]
)


def _photo_id(key: str) -> str:
    return key.rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _process(ctx: RunContext, photo_id: str, key: str, data: bytes, sha256: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"photo_id": photo_id, "sha256": sha256, "source_key": key}
    try:
        photo = prepare_model_photo(decode_rgb(data))
    except (ImageDecodeError, ModelPhotoRejected) as error:
        return {**meta, "state": PhotoState.REJECTED.value, "reason": str(error), "categories": [], "keypoints": None, "backends": {}}
    put = ctx.store.put_bytes
    put(library_artifact_key(photo_id, "image.png"), encode_png(photo.image), "image/png")
    put(library_artifact_key(photo_id, "person_mask.png"), encode_mask(photo.person_mask), "image/png")
    ctx.store.put_json(library_artifact_key(photo_id, "keypoints.json"), photo.pose.to_openpose_json())
    for category, mask in photo.inpaint_masks.items():
        put(library_artifact_key(photo_id, f"inpaint_{category}.png"), encode_mask(mask), "image/png")
    return {
        **meta,
        "state": PhotoState.READY.value,
        "reason": None,
        "categories": photo.categories,
        "unsuitable": photo.unsuitable,
        "keypoints": photo.pose.keypoints.reshape(-1).tolist(),
        "backends": photo.backends,
    }


def preprocess_model_photos(ctx: RunContext) -> list[dict[str, Any]]:
    """Bring every library photo's artifacts up to date; return one summary per photo."""
    metas: list[dict[str, Any]] = []
    for key in sorted(ctx.store.list_keys(library_photos_prefix())):
        photo_id = _photo_id(key)
        data = ctx.store.get_bytes(key)
        sha256 = sha256_hex(data)
        if not key.lower().endswith(PHOTO_EXTENSIONS) or not SAFE_PHOTO_ID.match(photo_id):
            # recorded under a safe id; nothing is written under the unsafe name
            photo_id = f"invalid-{sha256_hex(key.encode())[:12]}"
            meta = {"photo_id": photo_id, "sha256": sha256, "source_key": key, "state": PhotoState.REJECTED.value,
                    "reason": f"invalid_name: {key!r} (expected a safe id and .jpg/.jpeg/.png)",
                    "categories": [], "keypoints": None, "backends": {}}
            ctx.store.put_json(library_artifact_key(photo_id, "meta.json"), meta)
        else:
            meta_key = library_artifact_key(photo_id, "meta.json")
            meta = ctx.store.get_json(meta_key) if ctx.store.exists(meta_key) else None
            if meta is None or meta.get("sha256") != sha256:
                meta = _process(ctx, photo_id, key, data, sha256)
                ctx.store.put_json(meta_key, meta)
        _record(ctx, meta)
        metas.append(meta)
    _write_index(ctx, metas)
    return [{k: meta[k] for k in ("photo_id", "sha256", "state", "reason", "categories")} for meta in metas]


def _record(ctx: RunContext, meta: dict[str, Any]) -> None:
    with ctx.ledger.session() as session:
        row = session.get(ModelPhoto, meta["photo_id"]) or ModelPhoto(photo_id=meta["photo_id"])
        row.sha256, row.source_key = meta["sha256"], meta["source_key"]
        row.state, row.reason = meta["state"], meta["reason"]
        row.categories, row.backends = meta["categories"], meta["backends"]
        session.merge(row)


def _write_index(ctx: RunContext, metas: list[dict[str, Any]]) -> None:
    rows = []
    for meta in metas:
        rows.append({
            "photo_id": meta["photo_id"], "sha256": meta["sha256"], "state": meta["state"],
            "reason": meta["reason"], "categories": meta["categories"], "keypoints": meta["keypoints"],
            "backends": json.dumps(meta["backends"], sort_keys=True),
        })
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA), buffer)
    ctx.store.put_bytes(library_index_key(), buffer.getvalue(), "application/vnd.apache.parquet")


def ready_photos(ctx: RunContext) -> list[ModelPhoto]:
    with ctx.ledger.session() as session:
        return list(session.scalars(select(ModelPhoto).where(ModelPhoto.state == PhotoState.READY.value).order_by(ModelPhoto.photo_id)))


def load_photo(ctx: RunContext, photo_id: str, category: str) -> dict[str, np.ndarray]:
    """The arrays an engine needs from a preprocessed photo."""
    get = ctx.store.get_bytes
    pose = PoseResult.from_openpose_json(ctx.store.get_json(library_artifact_key(photo_id, "keypoints.json")))
    return {
        "person": decode_rgb(get(library_artifact_key(photo_id, "image.png"))),
        "person_mask": decode_mask(get(library_artifact_key(photo_id, "person_mask.png"))),
        "inpaint_mask": decode_mask(get(library_artifact_key(photo_id, f"inpaint_{category}.png"))),
        "keypoints": pose.keypoints,
    }
