"""Refocus crops: the part of the photo a category needs, framed 3:4 at 768x1024.

Upper body: from the top of the head to just below the knees (or the photo's bottom when the
knees are out of frame). Lower body and dresses: the full figure. Areas outside the photo are
filled by extending the photo's own backdrop from its nearest edge (``padding_source``), so a
backdrop that shades from one side to the other does not end in a band of one flat colour. One similarity transform (scale and offset)
maps the photo onto the crop, so keypoints, masks and labels follow exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tasks.images import CANVAS_HEIGHT, CANVAS_WIDTH
from tasks.preprocess.pose import KP, MIN_SCORE

MARGIN = 0.04  # of the crop's height, around the person


@dataclass(frozen=True)
class Crop:
    """x' = (x - x0) * scale, y' = (y - y0) * scale."""

    x0: float
    y0: float
    scale: float

    @property
    def matrix(self) -> np.ndarray:
        return np.array([[self.scale, 0, -self.x0 * self.scale], [0, self.scale, -self.y0 * self.scale]], np.float32)

    def rescaled(self, factor: float) -> Crop:
        """The same crop onto a canvas ``factor`` times the size (0.5: 384x512)."""
        return Crop(self.x0, self.y0, self.scale * factor)

    def of_scaled_source(self, source_scale: float) -> Crop:
        """The same crop taken from a copy of the photo resized by ``source_scale``."""
        return Crop(self.x0 * source_scale, self.y0 * source_scale, self.scale / source_scale)

    def image(self, image: np.ndarray, padding: np.ndarray, size: tuple[int, int] = (CANVAS_WIDTH, CANVAS_HEIGHT)) -> np.ndarray:
        """The photo in the crop; where the crop reaches past the photo, ``padding`` (the photo's
        ``padding_source``) extended from its nearest edge."""
        flags = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        view = cv2.warpAffine(image, self.matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        (left, right), (top, bottom) = (
            _span(self.x0, image.shape[1], size[0], self.scale),
            _span(self.y0, image.shape[0], size[1], self.scale),
        )
        if (left, top, right, bottom) == (0, 0, size[0], size[1]):
            return view
        padded = cv2.warpAffine(padding, self.matrix, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        padded[top:bottom, left:right] = view[top:bottom, left:right]
        return padded

    def labels(self, labels: np.ndarray, size: tuple[int, int] = (CANVAS_WIDTH, CANVAS_HEIGHT)) -> np.ndarray:
        """A label map or mask (nearest neighbour; outside the photo is 0)."""
        warped = cv2.warpAffine(
            labels.astype(np.uint8), self.matrix, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
        )
        return warped.astype(labels.dtype) if labels.dtype != bool else warped > 0

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        moved = keypoints.copy()
        present = moved[:, 2] > 0
        moved[present, 0] = (moved[present, 0] - self.x0) * self.scale
        moved[present, 1] = (moved[present, 1] - self.y0) * self.scale
        return moved

    def to_dict(self) -> dict[str, float]:
        return {"x0": float(self.x0), "y0": float(self.y0), "scale": float(self.scale)}


def _span(offset: float, extent: int, canvas: int, scale: float) -> tuple[int, int]:
    """The canvas columns (or rows) that a nearest-neighbour warp takes from inside the photo,
    as ``[first, last)``: the crop is an axis-aligned scale and offset, so the photo covers one
    rectangle of the canvas. Found by warping one row of ones the way the image's warp maps
    that axis (the same rounding as a whole mask's warp, at the cost of one row)."""
    ones = np.ones((1, extent), np.uint8)
    matrix = np.array([[scale, 0, -offset * scale], [0, 1, 0]], np.float32)
    covered = np.flatnonzero(cv2.warpAffine(ones, matrix, (canvas, 1), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT))
    return (int(covered[0]), int(covered[-1]) + 1) if covered.size else (0, 0)


PADDING_STRIP = 6  # px of the photo's edge that the padding extends
PADDING_SMOOTHING = 41  # px along the edge over which it is averaged (no streaks from noise)
BACKDROP_DISTANCE = 25.0  # Lab units from the edges' typical colour: a shading backdrop stays within it


def padding_source(image: np.ndarray, person: np.ndarray) -> np.ndarray:
    """What a view's padding extends: the photo with each outer strip replaced by the backdrop's
    colour along that edge (the strip's non-person pixels, averaged across the strip and
    smoothed along it; where the frame cuts through the model, interpolated from the backdrop
    on either side). The padding keeps the backdrop's shading from one end of an edge to the
    other, with no band of one flat colour and no streaks of the model's clothes."""
    source = image.copy()
    strip = PADDING_STRIP
    strips = (
        (slice(0, strip), slice(None)),
        (slice(-strip, None), slice(None)),
        (slice(None), slice(0, strip)),
        (slice(None), slice(-strip, None)),
    )
    edges = np.zeros(person.shape, bool)
    lab = np.zeros(image.shape, np.float32)  # only the strips are converted: nothing else is read
    for rows, columns in strips:
        edges[rows, columns] = True
        lab[rows, columns] = cv2.cvtColor(np.ascontiguousarray(image[rows, columns]), cv2.COLOR_RGB2LAB)
    away = ~(cv2.dilate(person.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0)
    typical = np.median(lab[edges & away] if (edges & away).any() else lab[edges], axis=0)
    # the backdrop: away from the person, and near the edges' typical colour (hair or a bag the
    # person mask missed is neither carried into the padding)
    clear = np.zeros(person.shape, bool)
    for rows, columns in strips:
        clear[rows, columns] = away[rows, columns] & (np.linalg.norm(lab[rows, columns] - typical, axis=2) < BACKDROP_DISTANCE)
    fallback = np.median(image[edges & clear] if (edges & clear).any() else image[edges], axis=0)
    for rows, columns in strips:
        along_x = rows != slice(None)
        pixels, backdrop = image[rows, columns].astype(np.float32), clear[rows, columns]
        if not along_x:
            pixels, backdrop = pixels.transpose(1, 0, 2), backdrop.T
        counts = backdrop.sum(axis=0)
        means = (pixels * backdrop[..., None]).sum(axis=0) / np.maximum(counts, 1)[:, None]
        known = np.nonzero(counts)[0]
        positions = np.arange(pixels.shape[1])
        profile = (
            np.stack([np.interp(positions, known, means[known, c]) for c in range(3)], axis=1)
            if known.size
            else np.broadcast_to(fallback, (pixels.shape[1], 3))
        )
        profile = cv2.blur(profile[None].astype(np.float32), (PADDING_SMOOTHING, 1), borderType=cv2.BORDER_REFLECT)[0]
        line = np.clip(profile, 0, 255).astype(np.uint8)
        if along_x:
            source[rows, columns] = line[None]
        else:
            source[rows, columns] = line[:, None]
    return source


def refocus_crop(category: str, person: np.ndarray, keypoints: np.ndarray) -> Crop:
    ys, xs = np.nonzero(person)
    top, bottom, left, right = float(ys.min()), float(ys.max()), float(xs.min()), float(xs.max())
    if category == "upper_body":
        knees = [keypoints[KP[k]] for k in ("r_knee", "l_knee") if keypoints[KP[k], 2] >= MIN_SCORE]
        ankles = [keypoints[KP[k]] for k in ("r_ankle", "l_ankle") if keypoints[KP[k], 2] >= MIN_SCORE]
        if knees:
            knee_y = max(k[1] for k in knees)
            below = 0.15 * (min(a[1] for a in ankles) - knee_y) if ankles else 0.05 * (knee_y - top)
            bottom = min(bottom, knee_y + below)
    height = bottom - top
    top, bottom = top - MARGIN * height, bottom + MARGIN * height
    height = bottom - top
    centre_x = (left + right) / 2
    width = max(right - left + 2 * MARGIN * height, 0.75 * height)
    height = max(height, width / 0.75)
    centre_y = (top + bottom) / 2
    scale = CANVAS_HEIGHT / height
    return Crop(x0=centre_x - width / 2, y0=centre_y - height / 2, scale=scale)
