"""The model-photo library's artefacts, as the library stage writes them and every other stage
reads them.

Under ``library/artifacts/{photo_id}/`` (``storage.library_artifact_key``):

- ``meta.json``: sha256, state, reason, suitability per category, backends, timings, and per
  category the crop, embedding and cluster (cluster ids are written by the index build);
- ``keypoints.json`` (OpenPose COCO-18 JSON, analysis image), ``parsing.png`` (ATR labels, 512
  px high), ``person_mask.png``;
- per suitable category ``{category}/`` (a *view*): ``image.png`` (refocused 768x1024),
  ``inpaint.png`` (768x1024), ``inpaint_512.png`` (the reference mask at 512x384),
  ``pose_map.npz`` (18x512x384, see ``masks.encode_pose_map``), ``keypoints.json`` (on the
  768x1024 view), ``person_mask.png``, ``parsing.png`` (the view's ATR labels at 512x384: QC
  reads the garment the photo wears).

``library/index.parquet`` has one row per photo (schema ``INDEX_SCHEMA``, documented in
docs/library.md) and ``library/clusters.json`` the k-means centroids per category.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.context import RunContext
from tasks.images import decode_labels, decode_mask, decode_rgb, encode_mask, encode_png
from tasks.preprocess.masks import encode_pose_map
from tasks.preprocess.model_photo import CategoryView
from tasks.preprocess.pose import PoseResult
from tasks.storage import library_artifact_key, library_index_key

INDEX_COLUMNS_WITH_MAPS = ("suitable", "unsuitable_reasons", "clusters", "embeddings", "backends")


@dataclass
class ViewMeta:
    """A view's entry in its photo's ``meta.json``: the refocus crop, the worn garment's
    embedding and (once the index is built) its cluster."""

    crop: dict[str, float]
    embedding: list[float]
    cluster: int | None = None


@dataclass
class PhotoMeta:
    """A model photo's ``meta.json``: what preprocessing made of it, ready or rejected."""

    photo_id: str
    sha256: str
    source_key: str
    state: str  # ledger.PhotoState
    reason: str | None
    categories: list[str] = field(default_factory=list)
    unsuitable: dict[str, str] = field(default_factory=dict)  # category -> why no view
    keypoints: list[float] | None = None  # COCO-18 (x, y, score) on the analysis image
    backends: dict[str, str] = field(default_factory=dict)  # stage -> backend and version
    views: dict[str, ViewMeta] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    sharpness: float | None = None

    def to_document(self) -> dict[str, Any]:
        document = asdict(self)
        for view in document["views"].values():
            if view["cluster"] is None:
                del view["cluster"]
        if self.sharpness is None:
            del document["sharpness"]
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> PhotoMeta:
        known = {f.name for f in fields(cls)}
        views = {c: ViewMeta(**v) for c, v in (document.get("views") or {}).items()}
        return cls(**{**{k: v for k, v in document.items() if k in known}, "views": views})


def read_photo_meta(ctx: RunContext, photo_id: str) -> PhotoMeta | None:
    document = ctx.store.get_json_or_none(library_artifact_key(photo_id, "meta.json"))
    return None if document is None else PhotoMeta.from_document(document)


def write_photo_meta(ctx: RunContext, meta: PhotoMeta) -> None:
    ctx.store.put_json(library_artifact_key(meta.photo_id, "meta.json"), meta.to_document())


def photo_metas(ctx: RunContext) -> list[PhotoMeta]:
    """Every photo's meta, in key order (``library/artifacts/{photo_id}/meta.json``)."""
    return [
        PhotoMeta.from_document(ctx.store.get_json(key))
        for key in sorted(ctx.store.list_keys("library/artifacts/"))
        if key.endswith("/meta.json") and key.count("/") == 3
    ]


def write_photo(ctx: RunContext, photo_id: str, pose: PoseResult, labels: np.ndarray, person_mask: np.ndarray) -> None:
    """The photo's own artefacts: keypoints on the analysis image, parsing labels, person mask."""
    ctx.store.put_json(library_artifact_key(photo_id, "keypoints.json"), pose.to_openpose_json())
    ctx.store.put_bytes(library_artifact_key(photo_id, "parsing.png"), encode_png(labels), "image/png")
    ctx.store.put_bytes(library_artifact_key(photo_id, "person_mask.png"), encode_mask(person_mask), "image/png")


def write_view(ctx: RunContext, photo_id: str, category: str, view: CategoryView, pose_backend: str) -> None:
    """The view of the photo for ``category``."""
    put, key = ctx.store.put_bytes, library_artifact_key
    put(key(photo_id, f"{category}/image.png"), encode_png(view.image), "image/png")
    put(key(photo_id, f"{category}/inpaint.png"), encode_mask(view.inpaint_mask), "image/png")
    put(key(photo_id, f"{category}/inpaint_512.png"), encode_mask(view.inpaint_mask_512), "image/png")
    put(key(photo_id, f"{category}/person_mask.png"), encode_mask(view.person_mask), "image/png")
    put(key(photo_id, f"{category}/parsing.png"), encode_png(view.labels), "image/png")
    put(key(photo_id, f"{category}/pose_map.npz"), encode_pose_map(view.pose_map))
    ctx.store.put_json(
        key(photo_id, f"{category}/keypoints.json"),
        PoseResult(keypoints=view.keypoints, hands={}, backend=pose_backend).to_openpose_json(),
    )


def write_index(ctx: RunContext, rows: list[dict[str, Any]], clusters: dict[str, Any]) -> None:
    """``library/clusters.json``, then ``library/index.parquet`` (the asset matching waits for)."""
    ctx.store.put_json(CLUSTERS_KEY, clusters)
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=INDEX_SCHEMA), buffer)
    ctx.store.put_bytes(library_index_key(), buffer.getvalue(), "application/vnd.apache.parquet")


CLUSTERS_KEY = "library/clusters.json"


INDEX_SCHEMA = pa.schema(
    [
        ("photo_id", pa.string()),
        ("sha256", pa.string()),
        ("state", pa.string()),  # ready | rejected
        ("reason", pa.string()),  # why rejected (a cleaning rule's name and detail)
        ("keypoints", pa.list_(pa.float32())),  # COCO-18 (x, y, score) x 18 on the analysis image, or null
        ("suitable", pa.map_(pa.string(), pa.bool_())),  # category -> usable
        ("unsuitable_reasons", pa.map_(pa.string(), pa.string())),  # category -> reason
        ("clusters", pa.map_(pa.string(), pa.int32())),  # category -> k-means cluster id
        ("embeddings", pa.map_(pa.string(), pa.list_(pa.float32()))),  # category -> embedding of the worn garment
        ("backends", pa.map_(pa.string(), pa.string())),  # stage -> backend and version
    ]
)


def read_index(ctx: RunContext) -> list[dict[str, Any]]:
    """The library index as rows (maps as dicts); empty when no library was built."""
    if not ctx.store.exists(library_index_key()):
        return []
    table = pq.read_table(io.BytesIO(ctx.store.get_bytes(library_index_key())))
    rows = table.to_pylist()
    for row in rows:
        for column in INDEX_COLUMNS_WITH_MAPS:
            row[column] = dict(row[column] or [])
    return rows


def read_clusters(ctx: RunContext) -> dict[str, Any]:
    return ctx.store.get_json(CLUSTERS_KEY) if ctx.store.exists(CLUSTERS_KEY) else {}


def load_photo(ctx: RunContext, photo_id: str, category: str) -> dict[str, np.ndarray]:
    """The arrays an engine needs from a photo's view for ``category``."""
    get, key = ctx.store.get_bytes, library_artifact_key
    pose = PoseResult.from_openpose_json(json.loads(get(key(photo_id, f"{category}/keypoints.json"))))
    return {
        "person": decode_rgb(get(key(photo_id, f"{category}/image.png"))),
        "person_mask": decode_mask(get(key(photo_id, f"{category}/person_mask.png"))),
        "inpaint_mask": decode_mask(get(key(photo_id, f"{category}/inpaint.png"))),
        "keypoints": pose.keypoints,
    }


def load_view_labels(ctx: RunContext, photo_id: str, category: str) -> np.ndarray | None:
    """The parsing labels of the photo's view for ``category`` (ATR, 512x384), or None for a view
    built before the library stored them."""
    key = library_artifact_key(photo_id, f"{category}/parsing.png")
    return decode_labels(ctx.store.get_bytes(key)) if ctx.store.exists(key) else None
