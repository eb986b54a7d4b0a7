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
| ``inside_change`` | mean absolute difference to the photo inside the region, 0..255 (kept for analysis) |
| ``colour_delta_e`` | CIEDE2000 between the cloth's dominant colour and the nearest major colour of the generated region |
| ``inpaint_coverage`` | fraction of the image inside the inpaint region |
| ``photo_face``, ``output_face`` | a face detected in the model photo, in the output |
| ``garment_coverage`` | share of the photo's garment area (parsing) that now looks like the cloth (``appearance``) |
| ``old_garment_left`` | share of that area that still looks like the photo's old garment and not like the cloth |
| ``skin_in_garment`` | new skin-coloured pixels enclosed by the garment (bars, blocks, holes) / garment area |
| ``garment_overflow`` | garment-coloured pixels off the body, not background-coloured / garment area |
| ``garment_split`` | dresses: share of the rows below the hips where the garment has a hole (two legs) |
| ``print_aspect`` | height/width of the garment's print in the output over the same in the cloth (NaN: no print) |
| ``seam_excess`` | brightness ridge along the region's edge beyond the photo's own, grey levels (``artefacts``) |
| ``noise_ratio`` | pixel-scale grain in the region / the most the cloth or the photo explain |
| ``frame_width`` | width in pixels of a flat padding frame along a side (refocus) |
| ``pose_shift`` | median distance of the body keypoints found on the output to the photo's, in torso lengths (``body``; 10 when none is found) |
| ``person_parts`` | person-sized connected parts of the segmented output beyond the photo's own (0: still one figure) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from tasks.qc.appearance import dominant_colours, measure_garment, read_region, to_lab
from tasks.qc.artefacts import frame_width, noise_ratio, seam_excess
from tasks.qc.body import measure_body, person_parts

METRIC_COLUMNS = ("width", "height", "luma_std", "clipped_excess", "outside_ssim", "outside_changed", "inside_change", "colour_delta_e",
                  "inpaint_coverage", "photo_face", "output_face", "garment_coverage", "old_garment_left", "skin_in_garment",
                  "garment_overflow", "garment_split", "print_aspect", "seam_excess", "noise_ratio", "frame_width", "pose_shift", "person_parts")
CHANGED_SSIM = 0.6  # local SSIM under this: the pixel's neighbourhood no longer looks like the photo
MAJOR_SHARE = 0.12  # a colour must cover this share of the generated region to count as one of its colours


def _clipped(image: np.ndarray) -> float:
    return float(((image <= 2).all(axis=2) | (image >= 253).all(axis=2)).mean())


def colour_delta_e(output: np.ndarray, region: np.ndarray, garment: np.ndarray | None) -> float:
    """How far the garment's dominant Lab colour (the cloth's, ``appearance.main_colour``) is from
    every major colour of the generated region: small when the garment's colour is there, large
    when the engine painted another colour."""
    if garment is None or not region.any():
        return float("nan")
    major = [c for c, share in dominant_colours(to_lab(output[region]), 4) if share >= MAJOR_SHARE]
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


@dataclass
class GenerationInputs:
    """What QC compares one generated image with, all on the 768x1024 canvas."""

    category: str
    photo: np.ndarray  # the model photo's view (RGB)
    region: np.ndarray  # the inpaint region (bool)
    person_mask: np.ndarray  # the photo's person (bool)
    keypoints: np.ndarray  # (18, 3) COCO-18 on the view
    worn_garment: np.ndarray  # the photo's own garment of the category (bool; parsing)
    photo_skin: np.ndarray  # the photo's bare skin: face, arms, legs (bool; parsing)
    cloth: np.ndarray  # the garment on white (RGB)
    cloth_mask: np.ndarray  # (bool)
    photo_face: bool
    photo_person_parts: int | None = None  # the photo's own person-sized parts (``body.person_parts``); None: counted here


def generation_metrics(output: np.ndarray, inputs: GenerationInputs, face_detector: Any) -> dict[str, Any]:
    """The metrics row of one generation (without its identifying columns)."""
    height, width = output.shape[:2]
    photo, region = inputs.photo, inputs.region
    row: dict[str, Any] = {"width": width, "height": height, "luma_std": float(cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).std()),
                           "photo_face": bool(inputs.photo_face), "frame_width": frame_width(output)}
    if output.shape != photo.shape:  # nothing else is comparable; the size expectation names it
        return {**row, **dict.fromkeys(set(METRIC_COLUMNS) - set(row) - {"output_face"}, float("nan")), "output_face": False}
    difference = np.abs(output.astype(np.int16) - photo.astype(np.int16)).max(axis=2)
    ssim, changed = outside_similarity(output, photo, region)
    reading = read_region(output, inputs)
    garment = measure_garment(reading, inputs.keypoints, inputs.category)
    photo_parts = person_parts(photo) if inputs.photo_person_parts is None else inputs.photo_person_parts
    body = measure_body(output, photo_parts, inputs.keypoints)
    row.update({
        "clipped_excess": _clipped(output) - _clipped(photo),
        "outside_ssim": ssim,
        "outside_changed": changed,
        "inside_change": float(difference[region].mean()) if region.any() else 0.0,
        "colour_delta_e": colour_delta_e(output, region, reading.main_colour),
        "inpaint_coverage": float(region.mean()),
        "output_face": bool(face_detector(output)),
        **vars(garment),
        "seam_excess": seam_excess(output, photo, region),
        "noise_ratio": noise_ratio(output, photo, region, inputs.cloth, inputs.cloth_mask),
        **vars(body),
    })
    return row
