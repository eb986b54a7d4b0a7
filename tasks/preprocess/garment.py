"""Garment preprocessing for product shots on plain backgrounds: an OpenCV cloth mask from a
border-colour model, and the garment composited on white, centred on a 768x1024 (3:4) canvas.

The border model assumes the photo's edges show background. It is the labelled fallback;
a rembg backend for hard backgrounds comes with the garment-intake work.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tasks.images import fit_to_canvas
from tasks.preprocess.segmentation import largest_component

GARMENT_MASK_BACKEND = "opencv-border-colour-v1"
WHITE = (255, 255, 255)


class GarmentMaskError(ValueError):
    """No garment could be separated from the background; the message is the reason."""


@dataclass
class PreparedGarment:
    cloth: np.ndarray  # (1024, 768, 3) uint8, garment on white
    mask: np.ndarray  # (1024, 768) bool
    backend: str = GARMENT_MASK_BACKEND


def border_colour_mask(image: np.ndarray, border: int = 8, min_distance: float = 10.0) -> np.ndarray:
    """Foreground = pixels whose Lab colour differs from the background model estimated on
    the image border (median and spread of the border pixels)."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    edges = np.concatenate(
        [lab[:border].reshape(-1, 3), lab[-border:].reshape(-1, 3), lab[:, :border].reshape(-1, 3), lab[:, -border:].reshape(-1, 3)]
    )
    background = np.median(edges, axis=0)
    spread = np.percentile(np.linalg.norm(edges - background, axis=1), 99)
    distance = np.linalg.norm(lab - background, axis=2)
    threshold = max(min_distance, spread * 1.5)
    mask = (distance > threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = largest_component(mask)
    return fill_holes(mask)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions enclosed by the mask (prints, logos and white details inside a garment)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


def prepare_garment(image: np.ndarray, margin: float = 0.06) -> PreparedGarment:
    """Mask the garment, crop to it, composite on white and centre on the 3:4 canvas with a
    margin, without distortion."""
    mask = border_colour_mask(image)
    if mask.sum() < 0.01 * mask.size:
        raise GarmentMaskError("garment_mask_empty: no garment found against the background")
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = image[y0:y1, x0:x1].copy()
    crop_mask = mask[y0:y1, x0:x1]
    crop[~crop_mask] = WHITE
    cloth, cloth_mask = fit_to_canvas(crop, WHITE, mask=crop_mask, margin=margin)
    cloth[~cloth_mask] = WHITE  # resampling bleeds garment colour past the mask's edge
    return PreparedGarment(cloth=cloth, mask=cloth_mask)

