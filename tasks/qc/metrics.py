"""Image metrics of one generation, one row of the QC metrics table. The thresholds are not
here: the Great Expectations suite (``tasks/qc/suite.py`` with ``expectations.yaml``) judges
the table.

| column | what |
| --- | --- |
| ``width``, ``height`` | output size in pixels |
| ``luma_std`` | grey-level standard deviation of the whole image (a blank image has ~0) |
| ``clipped_excess`` | fraction of pixels clipped to black or white in the output minus in the photo |
| ``outside_ssim`` | SSIM against the model photo, averaged outside the inpaint region |
| ``outside_changed`` | fraction of the pixels outside the region whose local SSIM is under 0.6 |
| ``inside_change`` | mean absolute difference to the photo inside the region, 0..255 |
| ``colour_delta_e`` | CIEDE2000 between the cloth's dominant colour and the nearest major colour of the generated region |
| ``inpaint_coverage`` | fraction of the image inside the inpaint region |
| ``photo_face``, ``output_face`` | a face detected in the model photo, in the output |
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

METRIC_COLUMNS = ("width", "height", "luma_std", "clipped_excess", "outside_ssim", "outside_changed", "inside_change", "colour_delta_e",
                  "inpaint_coverage", "photo_face", "output_face")
CHANGED_SSIM = 0.6  # local SSIM under this: the pixel's neighbourhood no longer looks like the photo
MAJOR_SHARE = 0.12  # a colour must cover this share of the generated region to count as one of its colours


def _clipped(image: np.ndarray) -> float:
    return float(((image <= 2).all(axis=2) | (image >= 253).all(axis=2)).mean())


def _lab(pixels: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 RGB -> (N, 3) CIE Lab (L 0..100)."""
    lab = cv2.cvtColor(pixels.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    return lab * np.array([100 / 255, 1, 1], np.float32) - np.array([0, 128, 128], np.float32)


def dominant_colours(pixels: np.ndarray, k: int) -> list[tuple[np.ndarray, float]]:
    """(Lab centre, share) of ``k`` k-means clusters of RGB ``pixels``, largest first."""
    lab = _lab(pixels)
    if len(lab) > 20000:
        lab = lab[np.random.default_rng(0).choice(len(lab), 20000, replace=False)]
    k = max(1, min(k, len(lab)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)  # k-means++ seeding draws from OpenCV's global RNG: the same image, the same colours
    _, labels, centres = cv2.kmeans(lab, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
    shares = np.bincount(labels.ravel(), minlength=k) / len(lab)
    return sorted(((centres[i], float(shares[i])) for i in range(k)), key=lambda c: -c[1])


def colour_delta_e(output: np.ndarray, region: np.ndarray, cloth: np.ndarray, cloth_mask: np.ndarray) -> float:
    """How far the garment's dominant colour is from every major colour of the generated region:
    small when the garment's colour is there, large when the engine painted another colour."""
    if not cloth_mask.any() or not region.any():
        return float("nan")
    garment = dominant_colours(cloth[cloth_mask], 3)[0][0]
    major = [c for c, share in dominant_colours(output[region], 4) if share >= MAJOR_SHARE]
    return float(min(deltaE_ciede2000(garment[None], c[None])[0] for c in major))


def outside_similarity(output: np.ndarray, photo: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(mean SSIM outside the region, fraction of outside pixels whose local SSIM is under
    ``CHANGED_SSIM``): the mean hides a small erased area such as a face, the fraction does not."""
    grey_out = cv2.cvtColor(output, cv2.COLOR_RGB2GRAY)
    grey_photo = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    _, ssim_map = structural_similarity(grey_out, grey_photo, data_range=255, full=True)
    outside = ~region
    if not outside.any():
        return 1.0, 0.0
    values = ssim_map[outside]
    return float(values.mean()), float((values < CHANGED_SSIM).mean())


def generation_metrics(output: np.ndarray, photo: np.ndarray, region: np.ndarray, cloth: np.ndarray, cloth_mask: np.ndarray,
                       photo_face: bool, face_detector: Any) -> dict[str, Any]:
    """The metrics row of one generation (without its identifying columns)."""
    height, width = output.shape[:2]
    row: dict[str, Any] = {"width": width, "height": height, "luma_std": float(cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).std()),
                           "photo_face": bool(photo_face)}
    if output.shape != photo.shape:  # nothing else is comparable; the size expectation names it
        return {**row, **dict.fromkeys(("clipped_excess", "outside_ssim", "outside_changed", "inside_change", "colour_delta_e", "inpaint_coverage"),
                                       float("nan")), "output_face": False}
    difference = np.abs(output.astype(np.int16) - photo.astype(np.int16)).max(axis=2)
    ssim, changed = outside_similarity(output, photo, region)
    row.update({
        "clipped_excess": _clipped(output) - _clipped(photo),
        "outside_ssim": ssim,
        "outside_changed": changed,
        "inside_change": float(difference[region].mean()) if region.any() else 0.0,
        "colour_delta_e": colour_delta_e(output, region, cloth, cloth_mask),
        "inpaint_coverage": float(region.mean()),
        "output_face": bool(face_detector(output)),
    })
    return row
