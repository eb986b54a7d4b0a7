"""The failure modes QC missed on catalogue photos nobody tuned for (issue 33), injected into the
benchmark's good images as ``qc_cases.FAULTS`` are: each takes a perfect case and returns the
broken output, or a whole case where the fault lies in the view (a mask that left the old
garment out), or None where the mode does not apply to the view.

- ``old_sleeves``: the photo's old sleeves left beside the new top;
- ``unmasked_old``: the new garment painted over a region that left the old garment's top quarter
  out, so the old one shows above it (a skirt's waist under trousers);
- ``pasted_garment``: another garment's flat cut-out pasted over the old one, unfitted, the old
  one showing around it (trousers pasted over a skirt, a block over the garment);
- ``fragmented``: the garment shredded into fragments by torn strips;
- ``print_halved``: half of the print gone and the arms erased;
- ``blotchy``: the region painted with blocks of unrelated colours (a broken diffusion model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import cv2
import numpy as np

from bench import qc_cases as cases
from tasks.preprocess.pose import KP


def _new_garment(case: cases.Case) -> bool:
    """Whether the case shows a garment other than the photo's own (a colourway)."""
    return case.name.split("/")[-1].startswith("colourway")


def old_sleeves(case: cases.Case) -> np.ndarray | None:
    """Upper body: the garment beyond the shoulders (its sleeves) keeps the photo's old pixels."""
    view = case.view
    if view.category != "upper_body" or not _new_garment(case):
        return None
    shoulders = view.keypoints[[KP["r_shoulder"], KP["l_shoulder"]], 0]
    sleeves = view.garment.copy()
    sleeves[:, int(shoulders.min()) + 8 : int(shoulders.max()) - 8] = False
    if sleeves.sum() < 0.1 * view.garment.sum():
        return None
    return np.where(sleeves[..., None], view.image, case.output)


def unmasked_old(case: cases.Case) -> cases.Case | None:
    """The view's region without the old garment's top quarter (its waist, its shoulders): the
    new garment is painted below it, the old one shows above."""
    view = case.view
    if not _new_garment(case):
        return None
    _, y, _, h = cv2.boundingRect(view.garment.astype(np.uint8))
    left_out = np.zeros_like(view.garment)
    left_out[: y + h // 4] = True
    left_out &= view.garment
    region = view.inpaint_mask & ~cv2.dilate(left_out.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    output = np.where(region[..., None], case.output, view.image)
    return replace(case, view=replace(view, inpaint_mask=region), output=output)


def pasted_garment(case: cases.Case, garments: dict[str, tuple[str, np.ndarray, np.ndarray]]) -> cases.Case | None:
    """A sample drop garment of the view's category, its flat cut-out scaled into the middle 80 %
    of the old garment's box and pasted on: no fit to the body, the old garment around it. The
    cloth QC compares with is that garment's."""
    view = case.view
    sku = next((s for s, (category, _, _) in sorted(garments.items()) if category == view.category), None)
    if sku is None or _new_garment(case):
        return None
    _, cloth, cloth_mask = garments[sku]
    x, y, w, h = cv2.boundingRect(view.garment.astype(np.uint8))
    cx, cy, cw, ch = cv2.boundingRect(cloth_mask.astype(np.uint8))
    width, height = max(1, int(0.8 * w)), max(1, int(0.8 * h))
    piece = cv2.resize(cloth[cy : cy + ch, cx : cx + cw], (width, height), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(cloth_mask[cy : cy + ch, cx : cx + cw].astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
    output = case.output.astype(np.float32)
    top, left = y + (h - height) // 2, x + (w - width) // 2
    patch = output[top : top + height, left : left + width]
    output[top : top + height, left : left + width] = patch * (1 - alpha[..., None]) + piece * alpha[..., None]
    name = f"{view.photo_id}/{view.category}/pasted:{sku}"
    return replace(case, name=name, output=np.clip(output, 0, 255).astype(np.uint8), cloth=cloth, cloth_mask=cloth_mask)


def fragmented(case: cases.Case) -> np.ndarray:
    """Torn strips, 5-9 px wide, across the garment in the background's colour: the garment in pieces."""
    view = case.view
    x, y, w, h = cv2.boundingRect(view.garment.astype(np.uint8))
    rng = np.random.default_rng(11)
    tears = np.zeros(view.garment.shape, np.uint8)
    for _ in range(9):
        start = (int(x + rng.uniform(0, w)), y)
        end = (int(x + rng.uniform(0, w)), y + h)
        cv2.line(tears, start, end, 1, int(rng.integers(5, 10)))
    for _ in range(4):
        cv2.line(tears, (x, int(y + rng.uniform(0, h))), (x + w, int(y + rng.uniform(0, h))), 1, int(rng.integers(5, 10)))
    # what shows through the tears: the background, or the body where the background is the
    # garment's own colour (a white tee on a light backdrop), whichever stands out from the garment
    seen = [np.median(view.image[~view.person_mask], axis=0), cases._skin_tone(view)]
    garment = np.median(case.output[view.garment], axis=0)
    colour = max(seen, key=lambda c: float(np.abs(c.astype(float) - garment).sum()))
    return cases._paint(case.output, (tears > 0) & view.garment, colour, shade=False)


def print_halved(case: cases.Case) -> np.ndarray | None:
    """Upper body with a print: the print's right half painted over in the garment's main
    colour, and the arms (the photo's skin in the region, below the face) erased to the background."""
    from tasks.qc.appearance import main_colour, print_shape, to_lab

    view = case.view
    if view.category != "upper_body":
        return None
    lab = to_lab(case.output)
    main = main_colour(lab[view.garment])
    if main is None or print_shape(lab, view.garment, main) is None:
        return None
    far = view.garment & (np.linalg.norm(lab - main, axis=-1) > 40)
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(far.astype(np.uint8), np.ones((15, 15), np.uint8)))
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    px, py, pw, ph = stats[biggest, :4]
    half = np.zeros_like(far)
    half[py : py + ph, px + pw // 2 : px + pw] = True
    colour = np.median(case.output[view.garment & ~far], axis=0)
    output = cases._paint(case.output, cv2.dilate((half & far).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0, colour)
    neck_y = view.keypoints[KP["neck"], 1]
    arms = view.skin & view.inpaint_mask
    arms[: int(neck_y)] = False
    background = np.median(view.image[~view.person_mask], axis=0)
    return cases._paint(output, arms, background, shade=False)


def blotchy(case: cases.Case) -> np.ndarray:
    """Blocks of unrelated colours, 20-40 px, laid over the region at two-thirds strength."""
    rng = np.random.default_rng(5)
    blocks = rng.integers(0, 256, (1024 // 32, 768 // 32, 3)).astype(np.float32)
    colours = cv2.resize(blocks, (768, 1024), interpolation=cv2.INTER_LINEAR)
    alpha = 0.66 * cv2.GaussianBlur(case.view.inpaint_mask.astype(np.float32), (0, 0), 2.0)[..., None]
    return np.clip(case.output * (1 - alpha) + colours * alpha, 0, 255).astype(np.uint8)


def faults(garments: dict[str, tuple[str, np.ndarray, np.ndarray]]) -> dict[str, Callable[[cases.Case], object]]:
    """The missed modes, by name (``pasted_garment`` tries on the sample drop's ``garments``)."""
    return {
        "old_sleeves": old_sleeves,
        "unmasked_old": unmasked_old,
        "pasted_garment": lambda case: pasted_garment(case, garments),
        "fragmented": fragmented,
        "print_halved": print_halved,
        "blotchy": blotchy,
    }
