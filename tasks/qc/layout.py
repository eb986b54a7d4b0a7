"""The garment's layout in the generated region: whether it is one piece (not shredded into
fragments) and whether the cloth's print is there as the cloth lays it out (not cut in half,
mirrored or scrambled). Both read the half-resolution region of ``appearance``.
"""

from __future__ import annotations

import cv2
import numpy as np

from tasks.qc.appearance import PRINT_DISTANCE, RegionReading, clean

TEAR_SCALE = 0.05  # the closing that joins a garment's pieces: this share of the garment's size
MIN_FEATURES = 25  # a print with fewer corner features than this says nothing about its layout
FIT_TOLERANCE = 4.0  # pixels at half resolution: a match this close to the fitted geometry agrees with it


def garment_torn(reading: RegionReading) -> float:
    """The gaps inside the garment (its cleaned new-garment pixels) that the engine
    painted with something else: what closing the garment's pieces fills, among the pixels it
    changed, over the garment's area. A whole garment has few (the folds' shadows); a shredded
    one has the torn strips between its fragments. The photo's own skin there (an arm across the
    body) and what the engine left as the photo has it (a hand, hair) are no tear."""
    garment = clean(reading.garment)
    area = int(garment.sum())
    if area < 50:
        return 0.0
    size = 2 * int(TEAR_SCALE * np.sqrt(area)) + 1
    closed = cv2.morphologyEx(
        garment.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    )
    gaps = (closed > 0) & ~garment & reading.region & reading.changed & ~reading.photo_skin
    return float(gaps.sum() / area)


def _grey(lab: np.ndarray) -> np.ndarray:
    return np.clip(lab[..., 0] * 2.55, 0, 255).astype(np.uint8)


def print_matched(reading: RegionReading) -> float:
    """Share of the cloth's corner features (ORB, on its print) found again in the generated
    region where one similarity transform (rotation, scale, shift; no mirror) puts them: near 1
    when the print is laid out as on the cloth, low when half of it is gone, mirrored or
    scrambled. NaN without a print or with too few features to say (a plain garment)."""
    if reading.cloth_print is None or reading.main_colour is None:
        return float("nan")
    orb = cv2.ORB.create(nfeatures=400, edgeThreshold=15, patchSize=15)
    # the print's features only: the cloth's outline is against white, the output's against a body
    inside = cv2.erode(reading.cloth_mask.astype(np.uint8), np.ones((7, 7), np.uint8))
    far = np.linalg.norm(reading.cloth_lab - reading.main_colour, axis=-1) > PRINT_DISTANCE
    cloth_mask = inside * cv2.dilate(far.astype(np.uint8), np.ones((7, 7), np.uint8))
    cloth_points, cloth_desc = orb.detectAndCompute(_grey(reading.cloth_lab), cloth_mask)
    if cloth_desc is None or len(cloth_points) < MIN_FEATURES:
        return float("nan")
    region = cv2.dilate(reading.region.astype(np.uint8), np.ones((5, 5), np.uint8))
    out_points, out_desc = orb.detectAndCompute(_grey(reading.output_lab), region)
    if out_desc is None or len(out_points) < 3:
        return 0.0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(cloth_desc, out_desc)
    if len(matches) < 3:
        return 0.0
    source = np.array([cloth_points[m.queryIdx].pt for m in matches], np.float32)
    target = np.array([out_points[m.trainIdx].pt for m in matches], np.float32)
    cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's global RNG: the same image, the same figure
    _, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=FIT_TOLERANCE)
    if inliers is None:
        return 0.0
    return float(inliers.sum() / len(cloth_points))
