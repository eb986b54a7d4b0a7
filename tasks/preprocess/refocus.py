"""Refocus crops: the part of the photo a category needs, framed 3:4 at 768x1024.

Upper body: from the top of the head to just below the knees (or the photo's bottom when the
knees are out of frame). Lower body and dresses: the full figure. Areas outside the photo are
filled with the photo's own background colour. One similarity transform (scale and offset)
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

    def image(
        self, image: np.ndarray, fill: tuple[int, int, int], size: tuple[int, int] = (CANVAS_WIDTH, CANVAS_HEIGHT)
    ) -> np.ndarray:
        return cv2.warpAffine(
            image,
            self.matrix,
            size,
            flags=cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=fill,
        )

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


def background_colour(image: np.ndarray, person: np.ndarray) -> tuple[int, int, int]:
    """Median colour of the photo's border pixels that are not the person."""
    border = np.zeros(person.shape, bool)
    border[:6], border[-6:], border[:, :6], border[:, -6:] = True, True, True, True
    pixels = image[border & ~person]
    if len(pixels) == 0:
        pixels = image[border]
    r, g, b = np.median(pixels, axis=0)
    return int(r), int(g), int(b)


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
