"""Every ready library photo is a real outfit: its parts, cut out by the photo's parsing labels
(ATR) and embedded with the library's embedding backend.

Parts: ``top`` (upper clothes), ``bottom`` (skirt and pants), ``dress``, ``shoes`` (both). A
part is kept when it covers at least ``MIN_PART_FRACTION`` of the parsing map. Each part is
embedded whole (sample 0) and in ``samples`` random windows over it (samples 1..n): different
views of the same real outfit, which is what a library of a few photos can train on.

``library/artifacts/{photo_id}/outfit.npz`` holds a photo's embeddings (one array per part,
``(samples + 1, D)``) with the photo's sha256 and the backend, so an unchanged photo is never
embedded twice; ``library/outfits.parquet`` gathers them (schema ``OUTFIT_SCHEMA``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.catalog.library import IndexRow, read_photo_meta
from tasks.context import RunContext
from tasks.images import decode_labels, decode_rgb, sha256_hex
from tasks.preprocess.backends import embedding_backend
from tasks.preprocess.parsing import L
from tasks.storage import LIBRARY_OUTFITS_KEY, library_artifact_key
from tasks.worker_threads import each_on_threads

PART_LABELS: dict[str, tuple[int, ...]] = {
    "top": (L["upper_clothes"],),
    "bottom": (L["skirt"], L["pants"]),
    "dress": (L["dress"],),
    "shoes": (L["left_shoe"], L["right_shoe"]),
}
PARTS = tuple(PART_LABELS)
# the pairs the compatibility model is trained and scored on (a dress is worn without a top or
# a bottom; its pair is with the shoes)
PAIRS: tuple[tuple[str, str], ...] = (("top", "bottom"), ("bottom", "shoes"), ("top", "shoes"), ("dress", "shoes"))
# the catalogue's categories and the part each one is
CATEGORY_PART = {"upper_body": "top", "lower_body": "bottom", "dresses": "dress"}
MIN_PART_FRACTION = 0.003  # of the parsing map: both shoes of a full-length photo are about 0.4 %
SAMPLES = 16
OUTFIT_SCHEMA = pa.schema(
    [
        ("photo_id", pa.string()),
        ("part", pa.string()),  # top | bottom | dress | shoes
        ("sample", pa.int32()),  # 0: the whole part; 1..n: a random window over it
        ("embedding", pa.list_(pa.float32())),
        ("backend", pa.string()),  # the embedding backend and its version
    ]
)


@dataclass(frozen=True)
class Outfit:
    """One photo's outfit: part -> embeddings ``(samples + 1, D)``, sample 0 the whole part."""

    photo_id: str
    parts: dict[str, np.ndarray]

    @property
    def dim(self) -> int:
        """The length of its embeddings (every part's are the same backend's)."""
        return next(iter(self.parts.values())).shape[1]

    def pairs(self) -> list[tuple[str, str]]:
        return [pair for pair in PAIRS if pair[0] in self.parts and pair[1] in self.parts]


def part_masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    """The outfit's parts that the labels show, each as a boolean mask."""
    minimum = MIN_PART_FRACTION * labels.size
    masks = {part: np.isin(labels, ids) for part, ids in PART_LABELS.items()}
    return {part: mask for part, mask in masks.items() if mask.sum() >= minimum}


def _window(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The part inside a random window covering half to all of its bounding box each way; the
    whole part when ten draws leave less than a quarter of it."""
    ys, xs = np.nonzero(mask)
    top, left, height, width = ys.min(), xs.min(), ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    for _ in range(10):
        h, w = max(1, int(height * rng.uniform(0.5, 1.0))), max(1, int(width * rng.uniform(0.5, 1.0)))
        y, x = top + rng.integers(0, height - h + 1), left + rng.integers(0, width - w + 1)
        window = np.zeros_like(mask)
        window[y : y + h, x : x + w] = True
        inside = mask & window
        if inside.sum() >= max(50, 0.25 * mask.sum()):
            return inside
    return mask


def embed_outfit(image: np.ndarray, labels: np.ndarray, embedder, samples: int = SAMPLES, seed: int = 0) -> dict[str, np.ndarray]:
    """Part -> ``(samples + 1, D)`` embeddings of ``image`` (resized to the labels' size)."""
    if image.shape[:2] != labels.shape:
        image = cv2.resize(image, (labels.shape[1], labels.shape[0]), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(seed)
    parts = {}
    for part, mask in part_masks(labels).items():
        views = [mask] + [_window(mask, rng) for _ in range(samples)]
        parts[part] = np.stack([embedder(image, view) for view in views]).astype(np.float32)
    return parts


def photo_outfit(ctx: RunContext, row: IndexRow) -> Outfit:
    """A ready index row's outfit, from its ``outfit.npz`` when that was made from the same photo
    with the same backend, else embedded now (and stored)."""
    embedder = embedding_backend(ctx.settings)
    key = library_artifact_key(row.photo_id, "outfit.npz")
    stamp = {"sha256": row.sha256, "backend": embedder.backend, "samples": SAMPLES}
    stored = ctx.store.get_bytes(key) if ctx.store.exists(key) else None
    if stored is not None:
        with np.load(io.BytesIO(stored)) as archive:
            if json.loads(str(archive["stamp"])) == stamp:
                return Outfit(row.photo_id, {part: archive[part] for part in PARTS if part in archive})
    meta = read_photo_meta(ctx, row.photo_id)
    assert meta is not None, f"photo {row.photo_id} is in the index without its meta.json"
    labels = decode_labels(ctx.store.get_bytes(library_artifact_key(row.photo_id, "parsing.png")))
    # seeded by the photo: the same photo gives the same windows on every worker
    seed = int(row.sha256[:8], 16)
    parts = embed_outfit(decode_rgb(ctx.store.get_bytes(meta.source_key)), labels, embedder, seed=seed)
    buffer = io.BytesIO()
    arrays: dict[str, Any] = {"stamp": np.array(json.dumps(stamp)), **parts}
    np.savez_compressed(buffer, **arrays)
    ctx.store.put_bytes(key, buffer.getvalue())
    return Outfit(row.photo_id, parts)


def build_outfits(ctx: RunContext, index: list[IndexRow]) -> list[Outfit]:
    """Every ready photo's outfit (those with at least one pair of parts; embedded on the
    process's CPU threads), written together to ``library/outfits.parquet``."""
    ready = [row for row in index if row.state == "ready"]
    outfits = list(each_on_threads(lambda row: photo_outfit(ctx, row), ready, ctx.settings.cpu_threads))
    outfits = [outfit for outfit in outfits if outfit.pairs()]
    backend = embedding_backend(ctx.settings).backend
    rows = [
        {"photo_id": o.photo_id, "part": part, "sample": i, "embedding": vector.tolist(), "backend": backend}
        for o in outfits
        for part, vectors in sorted(o.parts.items())
        for i, vector in enumerate(vectors)
    ]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=OUTFIT_SCHEMA), buffer)
    ctx.store.put_bytes(LIBRARY_OUTFITS_KEY, buffer.getvalue(), "application/vnd.apache.parquet")
    return outfits


def read_outfits(ctx: RunContext) -> list[Outfit]:
    """The outfits ``build_outfits`` last wrote; empty when none were."""
    if not ctx.store.exists(LIBRARY_OUTFITS_KEY):
        return []
    table = pq.read_table(io.BytesIO(ctx.store.get_bytes(LIBRARY_OUTFITS_KEY))).to_pylist()
    grouped: dict[str, dict[str, list[tuple[int, list[float]]]]] = {}
    for row in table:
        grouped.setdefault(row["photo_id"], {}).setdefault(row["part"], []).append((row["sample"], row["embedding"]))
    return [
        Outfit(photo_id, {part: np.array([v for _, v in sorted(samples)], np.float32) for part, samples in parts.items()})
        for photo_id, parts in sorted(grouped.items())
    ]


def outfits_sha256(outfits: list[Outfit]) -> str:
    """The training data's hash: every photo's parts and embeddings, in order."""
    digest = [f"{o.photo_id} {part} {sha256_hex(o.parts[part].tobytes())}" for o in outfits for part in sorted(o.parts)]
    return sha256_hex("\n".join(digest).encode())
