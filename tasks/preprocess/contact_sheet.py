"""A contact sheet of the library: every ready photo's view per category with its keypoints
(green) and LaDI-VTON inpaint mask (red), and every rejected photo with its reason. For a
person to look at before trusting a library build."""

from __future__ import annotations

import cv2
import numpy as np

from tasks.context import RunContext
from tasks.images import decode_mask, decode_rgb
from tasks.preprocess.library_stage import read_index
from tasks.preprocess.pose import PoseResult
from tasks.settings import CATEGORIES
from tasks.storage import library_artifact_key

TILE_W, TILE_H = 180, 240


def _caption(tile: np.ndarray, lines: list[str]) -> np.ndarray:
    for i, text in enumerate(lines):
        cv2.putText(tile, text[:30], (4, 14 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, text[:30], (4, 14 + 14 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def _view_tile(ctx: RunContext, photo_id: str, category: str) -> np.ndarray:
    get, key = ctx.store.get_bytes, library_artifact_key
    image = decode_rgb(get(key(photo_id, f"{category}/image.png")))
    mask = decode_mask(get(key(photo_id, f"{category}/inpaint.png")))
    image[mask] = (0.45 * image[mask] + 0.55 * np.array([230, 30, 30])).astype(np.uint8)
    pose = PoseResult.from_openpose_json(ctx.store.get_json(key(photo_id, f"{category}/keypoints.json")))
    for x, y, score in pose.keypoints:
        if score >= 0.5:
            cv2.circle(image, (int(x), int(y)), 9, (40, 220, 40), -1)
    tile = cv2.resize(image, (TILE_W, TILE_H), interpolation=cv2.INTER_AREA)
    return _caption(tile, [photo_id, category])


def render_sheet(ctx: RunContext) -> np.ndarray:
    """One row per photo: its views in category order, or the photo and why it was rejected."""
    rows = []
    for row in read_index(ctx):
        tiles = []
        if row["state"] == "ready":
            for category in CATEGORIES:
                if row["suitable"].get(category):
                    tiles.append(_view_tile(ctx, row["photo_id"], category))
                else:
                    blank = np.full((TILE_H, TILE_W, 3), 235, np.uint8)
                    reason = row["unsuitable_reasons"].get(category, "")
                    tiles.append(_caption(blank, [category, *[reason[i : i + 28] for i in range(0, min(len(reason), 84), 28)]]))
        else:
            blank = np.full((TILE_H, TILE_W * len(CATEGORIES), 3), 235, np.uint8)
            tiles.append(_caption(blank, [row["photo_id"], "rejected:", *(row["reason"] or "")[:90].split(": ", 1)]))
        rows.append(np.hstack(tiles))
    return np.vstack(rows) if rows else np.full((TILE_H, TILE_W, 3), 235, np.uint8)
