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
from dataclasses import dataclass, field, fields

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.catalog.documents import JsonObject, from_document, to_document
from tasks.context import RunContext
from tasks.images import decode_labels, decode_mask, decode_rgb, encode_mask, encode_png
from tasks.preprocess.masks import encode_pose_map
from tasks.preprocess.model_photo import CategoryView
from tasks.preprocess.pose import PoseResult
from tasks.storage import LIBRARY_ARTIFACTS, LIBRARY_CLUSTERS_KEY, library_artifact_key, library_index_key, library_view_key

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

    def to_document(self) -> JsonObject:
        """The file; a view's cluster before the index build, and a sharpness never measured, are
        left out rather than written as null."""
        document = to_document(self)
        for view in document["views"].values():  # type: ignore[union-attr]
            if view["cluster"] is None:  # type: ignore[index, call-overload]
                del view["cluster"]  # type: ignore[union-attr, arg-type]
        if self.sharpness is None:
            del document["sharpness"]
        return document


def read_photo_meta(ctx: RunContext, photo_id: str) -> PhotoMeta | None:
    document = ctx.store.get_json_or_none(library_artifact_key(photo_id, "meta.json"))
    return None if document is None else from_document(PhotoMeta, document)


def write_photo_meta(ctx: RunContext, meta: PhotoMeta) -> None:
    ctx.store.put_json(library_artifact_key(meta.photo_id, "meta.json"), meta.to_document())


def photo_metas(ctx: RunContext) -> list[PhotoMeta]:
    """Every photo's meta, in key order (``library/artifacts/{photo_id}/meta.json``)."""
    return [
        from_document(PhotoMeta, ctx.store.get_json(key))
        for key in sorted(ctx.store.list_keys(LIBRARY_ARTIFACTS))
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
    put(library_view_key(photo_id, category), encode_png(view.image), "image/png")
    put(key(photo_id, f"{category}/inpaint.png"), encode_mask(view.inpaint_mask), "image/png")
    put(key(photo_id, f"{category}/inpaint_512.png"), encode_mask(view.inpaint_mask_512), "image/png")
    put(key(photo_id, f"{category}/person_mask.png"), encode_mask(view.person_mask), "image/png")
    put(key(photo_id, f"{category}/parsing.png"), encode_png(view.labels), "image/png")
    put(key(photo_id, f"{category}/pose_map.npz"), encode_pose_map(view.pose_map))
    ctx.store.put_json(
        key(photo_id, f"{category}/keypoints.json"),
        PoseResult(keypoints=view.keypoints, hands={}, backend=pose_backend).to_openpose_json(),
    )


@dataclass
class IndexRow:
    """A photo's row of ``library/index.parquet`` (``INDEX_SCHEMA``)."""

    photo_id: str
    sha256: str
    state: str  # ready | rejected
    reason: str | None  # why rejected (a cleaning rule's name and detail)
    keypoints: list[float] | None = None  # COCO-18 (x, y, score) x 18 on the analysis image
    suitable: dict[str, bool] = field(default_factory=dict)  # category -> usable
    unsuitable_reasons: dict[str, str] = field(default_factory=dict)  # category -> reason
    clusters: dict[str, int] = field(default_factory=dict)  # category -> k-means cluster id
    embeddings: dict[str, list[float]] = field(default_factory=dict)  # category -> embedding of the worn garment
    backends: dict[str, str] = field(default_factory=dict)  # stage -> backend and version

    def parquet_row(self) -> dict[str, object]:
        """The row as Parquet writes it: each map as its (key, value) pairs, in key order."""
        row: dict[str, object] = {f.name: getattr(self, f.name) for f in fields(self)}
        for column in INDEX_COLUMNS_WITH_MAPS:
            row[column] = sorted(getattr(self, column).items())
        return row


@dataclass
class ClusterSet:
    """One category's clusters in ``library/clusters.json``: the embedding backend, the k-means
    centroids, and the photos of each cluster (by its id as a string)."""

    backend: str | None
    centroids: list[list[float]]
    members: dict[str, list[str]] = field(default_factory=dict)


def write_index(ctx: RunContext, rows: list[IndexRow], clusters: dict[str, ClusterSet]) -> None:
    """``library/clusters.json``, then ``library/index.parquet`` (the asset matching waits for)."""
    ctx.store.put_json(LIBRARY_CLUSTERS_KEY, {category: to_document(c) for category, c in clusters.items()})
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist([row.parquet_row() for row in rows], schema=INDEX_SCHEMA), buffer)
    ctx.store.put_bytes(library_index_key(), buffer.getvalue(), "application/vnd.apache.parquet")


INDEX_SCHEMA = pa.schema(
    [
        ("photo_id", pa.string()),
        ("sha256", pa.string()),
        ("state", pa.string()),
        ("reason", pa.string()),
        ("keypoints", pa.list_(pa.float32())),
        ("suitable", pa.map_(pa.string(), pa.bool_())),
        ("unsuitable_reasons", pa.map_(pa.string(), pa.string())),
        ("clusters", pa.map_(pa.string(), pa.int32())),
        ("embeddings", pa.map_(pa.string(), pa.list_(pa.float32()))),
        ("backends", pa.map_(pa.string(), pa.string())),
    ]
)  # the columns of IndexRow, documented there and in docs/library.md


def read_index(ctx: RunContext) -> list[IndexRow]:
    """The library index; empty when no library was built."""
    if not ctx.store.exists(library_index_key()):
        return []
    table = pq.read_table(io.BytesIO(ctx.store.get_bytes(library_index_key())))
    rows = table.to_pylist()
    for row in rows:
        for column in INDEX_COLUMNS_WITH_MAPS:
            row[column] = dict(row[column] or [])
    return [from_document(IndexRow, row) for row in rows]


def read_clusters(ctx: RunContext) -> dict[str, ClusterSet]:
    """Category -> its clusters; empty when no library was built."""
    document = ctx.store.get_json_or_none(LIBRARY_CLUSTERS_KEY) or {}
    return {category: from_document(ClusterSet, c) for category, c in document.items()}


def load_photo(ctx: RunContext, photo_id: str, category: str) -> dict[str, np.ndarray]:
    """The arrays an engine needs from a photo's view for ``category``."""
    get, key = ctx.store.get_bytes, library_artifact_key
    pose = PoseResult.from_openpose_json(json.loads(get(key(photo_id, f"{category}/keypoints.json"))))
    return {
        "person": decode_rgb(get(library_view_key(photo_id, category))),
        "person_mask": decode_mask(get(key(photo_id, f"{category}/person_mask.png"))),
        "inpaint_mask": decode_mask(get(key(photo_id, f"{category}/inpaint.png"))),
        "keypoints": pose.keypoints,
    }


def load_view_labels(ctx: RunContext, photo_id: str, category: str) -> np.ndarray | None:
    """The parsing labels of the photo's view for ``category`` (ATR, 512x384), or None for a view
    built before the library stored them."""
    key = library_artifact_key(photo_id, f"{category}/parsing.png")
    return decode_labels(ctx.store.get_bytes(key)) if ctx.store.exists(key) else None
