"""LaDI-VTON's inpaint masks and pose maps (../shared/ladi-vton-spec.md), computed at the
model's own resolution, 512x384, from an ATR label map and COCO-18 keypoints.

mask = dilate(S, 5x5, 5 iterations) AND NOT F, with per category

- upper_body: S = {4} + arm line + neck; F = {1,2,3,9,10,16,17} + {5,6} + head above the shoulders + hands
- dresses:    S = {7,12,13} + arm line + neck; F = {1,2,3,9,10,16,17} + head above the shoulders + hands
- lower_body: S = {5,6,12,13}; F = {1,2,3,9,10,16,17} + {4,14,15} + the head

The reference's lower-body seed names trousers (6) and legs, not skirts (5): on the Dress Code
parses it was written for, lower-body garments were labelled 6. Our parsers label a skirt 5, and
a skirt's mask then was its legs below the hem and a strip the dilation reached (6 % of a midi
skirt, ``tests/data/library_cases/top-and-skirt.jpg``), so an engine painted the new trousers
below an old skirt still there. The seed takes both, as the library's worn garment does.

Head = {1,2,3,11}. "Head above the shoulders" keeps the head pixels above the line through
both shoulder keypoints raised by 20 px (at 512 high); the rest of the head is the neck. For
lower body the reference code keeps the whole head fixed (no neck). The arm line is a 45 px
polyline (joints rounded) through l-wrist, l-elbow, l-shoulder, r-shoulder, r-elbow, r-wrist,
dropping a missing wrist (and its elbow when that is missing too). Hands = arms minus the line.
Lengths scale with the height: 45 and 20 px are at 512 high.
"""

from __future__ import annotations

import cv2
import numpy as np

from tasks.preprocess.parsing import ATR_LABELS as L
from tasks.preprocess.pose import KP, MIN_SCORE

MODEL_HEIGHT, MODEL_WIDTH = 512, 384
ALWAYS_FIXED = (L["hat"], L["hair"], L["sunglasses"], L["left_shoe"], L["right_shoe"], L["bag"], L["scarf"])
HEAD = (L["hat"], L["hair"], L["sunglasses"], L["head"])
# the garment a category replaces, as the parsing labels it: the one list the masks, the library's
# views and QC's old-garment measures read
GARMENT_LABELS = {
    "upper_body": (L["upper_clothes"],),
    "lower_body": (L["skirt"], L["pants"]),
    "dresses": (L["dress"],),
}
LEGS = (L["left_leg"], L["right_leg"])
SEED = {
    "upper_body": GARMENT_LABELS["upper_body"],
    "dresses": GARMENT_LABELS["dresses"] + LEGS,
    "lower_body": GARMENT_LABELS["lower_body"] + LEGS,
}
EXTRA_FIXED = {
    "upper_body": GARMENT_LABELS["lower_body"],
    "dresses": (),
    "lower_body": GARMENT_LABELS["upper_body"] + (L["left_arm"], L["right_arm"]),
}
POSE_SIGMA = 9.0


def _isin(labels: np.ndarray, ids: tuple[int, ...]) -> np.ndarray:
    """labels in ids, by lookup table (ten times faster than np.isin on a label map)."""
    table = np.zeros(256, bool)
    table[list(ids)] = True
    return table[labels]


def arm_line(keypoints: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The 45 px (at 512 high) arm polyline; ``keypoints`` in pixels of ``shape``."""
    height = shape[0]
    present = keypoints[:, 2] >= MIN_SCORE

    def xy(name: str) -> tuple[int, int]:
        x, y = keypoints[KP[name], :2]
        return int(x), int(y)

    chain = ["l_wrist", "l_elbow", "l_shoulder", "r_shoulder", "r_elbow", "r_wrist"]
    for wrist, elbow in (("r_wrist", "r_elbow"), ("l_wrist", "l_elbow")):
        if not present[KP[wrist]]:
            chain.remove(wrist)
            if not present[KP[elbow]]:
                chain.remove(elbow)
    canvas = np.zeros(shape, np.uint8)
    if not (present[KP["l_shoulder"]] and present[KP["r_shoulder"]]):
        return canvas > 0
    thickness = max(1, round(45 * height / 512))
    points = [xy(name) for name in chain]
    for a, b in zip(points[:-1], points[1:]):  # PIL's 'curve' joint: round caps between segments
        cv2.line(canvas, a, b, 1, thickness)
    for p in points[1:-1]:
        cv2.circle(canvas, p, thickness // 2, 1, -1)
    return canvas > 0


def head_above_shoulders(labels: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """Head pixels above the shoulder line raised by 20 px (at 512 high), fitted through the
    two shoulder keypoints as the reference does (least squares over two points)."""
    head = _isin(labels, HEAD)
    height, width = labels.shape
    (x1, y1), (x2, y2) = keypoints[KP["r_shoulder"], :2], keypoints[KP["l_shoulder"], :2]
    slope = (y2 - y1) / (x2 - x1) if x2 != x1 else 0.0
    intercept = y1 - slope * x1
    raise_by = 20 * height / 512
    cut = np.arange(width) * slope + intercept - raise_by
    rows = np.arange(height)[:, None]
    return head & (rows < np.floor(cut)[None, :].astype(int))


def inpaint_mask(category: str, labels: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The LaDI-VTON inpaint mask (True = generate) for ``category``; ``labels`` and
    ``keypoints`` at the same resolution (512x384 for the reference numbers)."""
    if category not in SEED:
        raise ValueError(f"unknown category {category!r}")
    seed = _isin(labels, SEED[category])
    fixed = _isin(labels, ALWAYS_FIXED + EXTRA_FIXED[category])
    head = _isin(labels, HEAD)
    if category == "lower_body":
        fixed |= head
    else:
        line = arm_line(keypoints, labels.shape)
        arms = _isin(labels, (L["left_arm"], L["right_arm"]))
        above = head_above_shoulders(labels, keypoints)
        seed |= line | (head & ~above)  # arm line and neck
        fixed |= above | (arms & ~line)  # head above the shoulders and hands
    dilated = cv2.dilate(seed.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=5) > 0
    return dilated & ~fixed


def pose_map(keypoints: np.ndarray, shape: tuple[int, int] = (MODEL_HEIGHT, MODEL_WIDTH)) -> np.ndarray:
    """(18, H, W) float32: per COCO-18 keypoint exp(-((X-x)^2 + (Y-y)^2) / 9^2), normalised to
    a maximum of 1; all zeros for a missing keypoint. ``keypoints`` in pixels of ``shape``.

    Only a window of 6 sigma around each point is evaluated: beyond it every value is under
    exp(-36), 3e-16."""
    height, width = shape
    maps = np.zeros((18, height, width), np.float32)
    reach = int(6 * POSE_SIGMA)
    for index, (x, y, score) in enumerate(keypoints):
        if score < MIN_SCORE:
            continue
        x0, x1 = max(0, int(x) - reach), min(width, int(x) + reach + 1)
        y0, y1 = max(0, int(y) - reach), min(height, int(y) + reach + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        # the Gaussian is separable: one exp per row and per column, not per pixel of the window
        column = np.exp(-((np.arange(y0, y1, dtype=np.float32) - y) ** 2) / POSE_SIGMA**2)
        row = np.exp(-((np.arange(x0, x1, dtype=np.float32) - x) ** 2) / POSE_SIGMA**2)
        maps[index, y0:y1, x0:x1] = np.outer(column / column.max(), row / row.max())
    return maps


def encode_pose_map(maps: np.ndarray) -> bytes:
    """Exact, compact storage of a pose map: each channel's non-zero window (float32), in an
    .npz. A dense map is 14 MB; the windows about 0.8 MB."""
    import io

    arrays: dict[str, np.ndarray] = {"shape": np.asarray(maps.shape, np.int32)}
    for index, channel in enumerate(maps):
        ys, xs = np.nonzero(channel)
        if len(ys):
            y0, x0 = ys.min(), xs.min()
            arrays[f"c{index}"] = channel[y0 : ys.max() + 1, x0 : xs.max() + 1]
            arrays[f"o{index}"] = np.asarray([y0, x0], np.int32)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle; Gaussians barely compress
    return buffer.getvalue()


def decode_pose_map(data: bytes) -> np.ndarray:
    import io

    with np.load(io.BytesIO(data)) as stored:
        maps = np.zeros(tuple(stored["shape"]), np.float32)
        for index in range(maps.shape[0]):
            if f"c{index}" in stored:
                window = stored[f"c{index}"]
                y0, x0 = stored[f"o{index}"]
                maps[index, y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] = window
    return maps
