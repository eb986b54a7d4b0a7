"""Image artefacts a composite or a diffusion model leaves: a seam or halo along the inpaint
region's edge, noise where cloth should be smooth, and a padding frame from refocus."""

from __future__ import annotations

import cv2
import numpy as np

from tasks.images import channel_max


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)


def _around(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """The slices of ``mask``'s bounding box grown by ``margin`` pixels (clipped to the image).
    The filters here reach at most ``margin`` pixels, and beyond the box every mask they weigh
    is zero, so a measure over the crop is the measure over the whole image, at the region's
    cost instead of the frame's."""
    x, y, width, height = cv2.boundingRect(mask.astype(np.uint8))
    return slice(max(0, y - margin), y + height + margin), slice(max(0, x - margin), x + width + margin)


def _masked_mean(values: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    weight = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return cv2.GaussianBlur(values * mask, (0, 0), sigma) / np.maximum(weight, 1e-3)


# how far ridge's filters reach: the band grows 5 px outside the region, a Gaussian of sigma 6 on
# float32 reaches 24 px (OpenCV's kernel is 8 sigma + 1 wide)
RIDGE_REACH = 5 + 24 + 1
GRAIN_REACH = 1 + 16 + 1  # the noise operator's 1 px and a Gaussian of sigma 4's 16 px


def ridge(image: np.ndarray, region: np.ndarray) -> float:
    """Mean brightness ridge along the region's edge: how far a thin band just inside the edge
    stands out from both the cloth further in and the photo just outside (a halo or a seam line),
    beyond what the step between those two explains. Grey levels."""
    crop = _around(region, RIDGE_REACH)
    grey = _grey(image[crop])
    inside = region[crop].astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    band = inside - cv2.erode(inside, kernel, iterations=4)  # 0..4 px inside the edge
    deeper = cv2.erode(inside, kernel, iterations=5) - cv2.erode(inside, kernel, iterations=10)
    outside = cv2.dilate(inside, kernel, iterations=5) - inside
    on_band = band > 0
    if on_band.sum() < 50:
        return 0.0
    own = _masked_mean(grey, band, 2.0)
    deep = _masked_mean(grey, deeper, 6.0)
    out = _masked_mean(grey, outside, 6.0)
    stands_out = np.minimum(np.abs(own - deep), np.abs(own - out))
    return float(stands_out[on_band].mean())


def clipped(image: np.ndarray) -> float:
    """Fraction of pixels clipped to black or white (every channel <= 2, or every one >= 253)."""
    black = cv2.inRange(image, (0, 0, 0), (2, 2, 2))
    white = cv2.inRange(image, (253, 253, 253), (255, 255, 255))
    return (cv2.countNonZero(black) + cv2.countNonZero(white)) / (image.shape[0] * image.shape[1])


LAPLACE = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def grain(image: np.ndarray, mask: np.ndarray) -> float:
    """The typical pixel-scale grain over ``mask``: the median of the local mean of the absolute
    response to Immerkaer's noise operator (a second difference that cancels shading and
    edges' slopes). The median keeps a textured patch (a print, a leopard skirt) from hiding
    noise everywhere else."""
    if mask.sum() < 50:
        return 0.0
    crop = _around(mask, GRAIN_REACH)
    response = np.abs(cv2.filter2D(_grey(image[crop]), -1, LAPLACE))
    local = cv2.GaussianBlur(response, (0, 0), 4.0)
    return float(np.median(local[mask[crop]]))


def cloth_grain(cloth: np.ndarray, cloth_mask: np.ndarray) -> float:
    """The cloth's own grain, away from its outline."""
    return grain(cloth, cv2.erode(cloth_mask.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0)


def noise_ratio(output: np.ndarray, region: np.ndarray, cloth_grain: float, photo_grain: float) -> float:
    """Grain in the generated region against the most the inputs explain there: the cloth's own
    texture or the photo's in the same region. Near 1 (or below) for a faithful image, several
    times that for noise."""
    return grain(output, region) / max(cloth_grain, photo_grain, 2.0)


NARROWEST_FRAME = 6  # pixels: a flat band narrower than this along a side is not a frame


def frame_width(image: np.ndarray, flat: float = 2.5, step: float = 10.0, widest: int = 160) -> int:
    """Width in pixels of the widest padding frame on any side: a band along the edge of one
    flat colour whose inner border is a straight line, the whole side changing colour at once
    (refocus padding with a colour that is not the photo's own). A plain studio background is
    flat too, but it ends where the person starts, in a few rows only. 0 when there is none."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
    found = 0
    for strip in (lab, lab[:, ::-1], lab.transpose(1, 0, 2), lab.transpose(1, 0, 2)[:, ::-1]):
        edge = np.median(strip[:, 0].astype(np.float32), axis=0)
        if not _stays(strip[:, :NARROWEST_FRAME].astype(np.float32), edge, flat, step).all():
            continue  # narrower than a frame: the rest of the side need not be read
        columns = strip[:, :widest].astype(np.float32)  # (length, widest, 3): the side's columns from the edge inward
        # the frame: the columns from the edge while they stay the edge's colour and flat
        inside = np.flatnonzero(~_stays(columns[:, : widest - 3], edge, flat, step))
        width = int(inside[0]) if len(inside) else widest - 3
        off = (channel_max(np.abs(columns[:, width + 2] - edge)) >= step).mean()
        if width >= NARROWEST_FRAME and off >= 0.8:
            found = max(found, width)
    return found


def _stays(columns: np.ndarray, edge: np.ndarray, flat: float, step: float) -> np.ndarray:
    """Per column of (length, n, 3) Lab: whether it stays the edge's colour (under 2 % of its
    pixels differ by ``step`` or more) and flat (every channel's spread under ``flat``)."""
    off = (channel_max(np.abs(columns - edge)) >= step).mean(axis=0)
    spread = columns.std(axis=0).max(axis=1)
    return (off < 0.02) & (spread < flat)
