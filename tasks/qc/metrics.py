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
| ``old_garment_beside`` | share of the photo's old garment that still looks like it, and not like the cloth, outside the region (a mask that left part of it out) |
| ``garment_torn`` | gaps inside the garment the engine painted, other than the photo's own skin / garment area (shredded into fragments) |
| ``print_matched`` | share of the cloth print's corner features found in the region under one similarity transform (NaN: no print) |
| ``foreign_colours`` | share of the region in colours neither the cloth nor the photo has (blotches of unrelated colours) |
| ``skin_erased`` | share of the photo's bare skin in the region that the output's person segmentation no longer covers (an arm erased) |
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

from tasks.catalog.qc_table import METRIC_COLUMNS, MetricRow
from tasks.images import channel_max
from tasks.qc.appearance import (
    ClothReading,
    ViewReading,
    dominant_colours,
    measure_garment,
    read_cloth,
    read_region,
    read_view,
    to_lab,
)
from tasks.qc.artefacts import clipped, frame_width, noise_ratio, ridge
from tasks.qc.body import measure_body
from tasks.qc.layout import garment_torn, print_matched

SSIM_WINDOW = 7
CHANGED_SSIM = 0.6  # local SSIM under this: the pixel's neighbourhood no longer looks like the photo
MAJOR_SHARE = 0.12  # a colour must cover this share of the generated region to count as one of its colours


def colour_delta_e(output: np.ndarray, region: np.ndarray, garment: np.ndarray | None) -> float:
    """How far the garment's dominant Lab colour (the cloth's, ``appearance.main_colour``) is from
    every major colour of the generated region: small when the garment's colour is there, large
    when the engine painted another colour."""
    if garment is None or not region.any():
        return float("nan")
    major = [c for c, share in dominant_colours(to_lab(output[region]), 4) if share >= MAJOR_SHARE]
    return float(min(deltaE_ciede2000(garment[None], c[None])[0] for c in major))


def ssim_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The local SSIM of two grey images, pixel by pixel: scikit-image's ``structural_similarity``
    (7x7 uniform window, sample covariance, data range 255, reflected borders) with OpenCV's box
    filter, which gives the same map several times faster. Only where the images differ is it
    computed: a pixel whose whole window is the same in both has an SSIM of exactly 1 (every term
    of the formula is the same number on both sides), so the map is 1 outside the differing
    pixels' bounding box grown by the window, and that box is computed with enough margin that
    its filters see what they would see over the whole image."""
    radius = SSIM_WINDOW // 2
    ys, xs = np.nonzero(cv2.absdiff(a, b))
    result = np.ones(a.shape, np.float64)
    if not len(ys):
        return result
    height, width = a.shape
    y0, y1 = max(0, ys.min() - radius), min(height, ys.max() + radius + 1)  # the pixels whose window sees a difference
    x0, x1 = max(0, xs.min() - radius), min(width, xs.max() + radius + 1)
    cy0, cy1, cx0, cx1 = max(0, y0 - radius), min(height, y1 + radius), max(0, x0 - radius), min(width, x1 + radius)
    x, y = a[cy0:cy1, cx0:cx1].astype(np.float64), b[cy0:cy1, cx0:cx1].astype(np.float64)

    def mean(image: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(image, -1, (SSIM_WINDOW, SSIM_WINDOW), borderType=cv2.BORDER_REFLECT)

    ux, uy = mean(x), mean(y)
    norm = SSIM_WINDOW**2 / (SSIM_WINDOW**2 - 1)
    vx, vy, vxy = norm * (mean(x * x) - ux * ux), norm * (mean(y * y) - uy * uy), norm * (mean(x * y) - ux * uy)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    local = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    result[y0:y1, x0:x1] = local[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0]
    return result


def outside_similarity(output: np.ndarray, photo: np.ndarray, region: np.ndarray) -> tuple[float, float]:
    """(mean SSIM outside the region, fraction of outside pixels whose local SSIM is under
    ``CHANGED_SSIM``): the mean hides a small erased area such as a face, the fraction does not."""
    outside = ~region
    if not outside.any():
        return 1.0, 0.0
    values = ssim_map(cv2.cvtColor(output, cv2.COLOR_RGB2GRAY), cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY))[outside]
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
    # what QC reads from the view and the cloth alone (``appearance.read_view`` / ``read_cloth``):
    # the same for every generation of the photo or the garment, so the QC stage reads each once;
    # None: read here
    view_reading: ViewReading | None = None
    cloth_reading: ClothReading | None = None


def view_template(
    category: str, view: dict[str, np.ndarray], worn: np.ndarray, skin: np.ndarray, photo_face: bool
) -> GenerationInputs:
    """The inputs of every generation on one view (``view``: person, person_mask, inpaint_mask,
    keypoints), with what QC reads from the view alone read once; a generation's cloth goes in
    as its ``cloth_reading`` (``dataclasses.replace``)."""
    from dataclasses import replace

    inputs = GenerationInputs(
        category=category,
        photo=view["person"],
        region=view["inpaint_mask"],
        person_mask=view["person_mask"],
        keypoints=view["keypoints"],
        worn_garment=worn,
        photo_skin=skin,
        cloth=np.zeros(0, np.uint8),
        cloth_mask=np.zeros(0, bool),
        photo_face=photo_face,
    )
    return replace(inputs, view_reading=read_view(inputs))


def generation_metrics(output: np.ndarray, inputs: GenerationInputs, face_detector: Any) -> MetricRow:
    """The metrics row of one generation (without its identifying columns)."""
    height, width = output.shape[:2]
    photo, region = inputs.photo, inputs.region
    row: MetricRow = {
        "width": width,
        "height": height,
        "luma_std": float(cv2.cvtColor(output, cv2.COLOR_RGB2GRAY).std()),
        "photo_face": bool(inputs.photo_face),
        "frame_width": frame_width(output),
    }
    if output.shape != photo.shape:  # nothing else is comparable; the size expectation names it
        return {**row, **dict.fromkeys(set(METRIC_COLUMNS) - set(row) - {"output_face"}, float("nan")), "output_face": False}
    difference = channel_max(cv2.absdiff(output, photo))
    ssim, changed = outside_similarity(output, photo, region)
    view = inputs.view_reading or read_view(inputs)
    cloth = inputs.cloth_reading or read_cloth(inputs.cloth, inputs.cloth_mask)
    body = measure_body(output, view.person_parts, inputs.keypoints, inputs.photo_skin & region)
    reading = read_region(output, view, cloth)
    row.update(
        {
            "clipped_excess": clipped(output) - view.clipped,
            "outside_ssim": ssim,
            "outside_changed": changed,
            "inside_change": float(difference[region].mean()) if region.any() else 0.0,
            "colour_delta_e": colour_delta_e(output, region, cloth.main_colour),
            "inpaint_coverage": float(region.mean()),
            "output_face": bool(face_detector(output)),
            **vars(measure_garment(reading, inputs.keypoints, inputs.category)),
            "garment_torn": garment_torn(reading),
            "print_matched": print_matched(reading),
            "seam_excess": ridge(output, region) - view.ridge,
            "noise_ratio": noise_ratio(output, region, cloth.grain, view.grain),
            **vars(body),
        }
    )
    return row
