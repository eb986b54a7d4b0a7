"""Redraws the outline of the reference masks in tests/data/garment_masks/ at the photo's full
size (issue 33). The first masks were the classical cut of their day, checked by eye: right
garment, right holes, but an outline computed 192 px high and scaled up, a staircase of 5 px
steps that the real edge of the garment does not have. A boundary measure against them scores
the staircase, not the cut.

What stays: every pixel more than ``BAND`` px from the old outline (the garment, its holes, what
was judged shadow or backdrop). What is decided again, pixel by pixel at full size: the band
along the outline. A band pixel is garment when its Lab colour is nearer the garment's than
the backdrop's, both read locally: the backdrop just outside the band and the garment just
inside it, each spread over the band by normalised Gaussian smoothing. A soft drop shadow or
the backdrop darkening towards the garment is nearer the backdrop; an anti-aliased edge pixel
goes to whichever side it is nearer; a thin part with no garment near it to read the colour
from (a strap) keeps its old outline. Beyond the band, what stands out strongly from the backdrop
and reaches the garment joins it: the old cami mask had left its straps out. Then the pieces the
redraw cut off are dropped and holes filled, as the old masks were.

Run once; the masks are committed, and each was looked at zoomed along its outline (the
overlays ``--sheet DIR`` writes). ``make_garment_cases.py`` then rebuilds the hard cases from
them, so their images carry the same clean edge.

    .venv/bin/python tests/data/redraw_garment_masks.py [--sheet DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parent
REPO = DATA.parent.parent
BAND = 6  # px on each side of the old outline: more than its steps
MIN_DISTANCE = 4.0  # OpenCV 8-bit Lab units from the backdrop under which a pixel is the backdrop
NOTCH = 6  # px: the widest gap in the outline that is filled where it is not the backdrop's colour
STRONG_DISTANCE = 30.0  # beyond the band, a pixel this far from the backdrop that reaches the garment is garment


def spread(lab: np.ndarray, source: np.ndarray, sigma: float = 8.0) -> np.ndarray:
    """The colours of the ``source`` pixels spread over their neighbourhood by normalised
    Gaussian smoothing: the local colour of what ``source`` holds, near it."""
    weight = cv2.GaussianBlur(source.astype(np.float32), (0, 0), sigma)
    total = cv2.GaussianBlur(lab * source[..., None], (0, 0), sigma)
    return total / np.maximum(weight, 1e-4)[..., None]


def redraw(image: np.ndarray, old: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BAND + 1, 2 * BAND + 1))
    grown, core = cv2.dilate(old.astype(np.uint8), kernel) > 0, cv2.erode(old.astype(np.uint8), kernel) > 0
    band = grown & ~core
    to_backdrop = np.linalg.norm(lab - spread(lab, ~grown), axis=-1)
    to_garment = np.linalg.norm(lab - spread(lab, core), axis=-1)
    known = cv2.GaussianBlur(core.astype(np.float32), (0, 0), 8.0) > 0.02  # a strap far from the core stays as it was
    mask = core | (band & np.where(known, (to_garment < to_backdrop) & (to_backdrop > MIN_DISTANCE), old))
    # thin parts the old mask left out (the cami's straps): pixels beyond the band that stand out
    # strongly from the backdrop, joined by a small closing, where they reach the garment
    strong = (to_backdrop > STRONG_DISTANCE) & ~grown
    strong = cv2.morphologyEx(strong.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((7, 7), np.uint8)) > 0
    mask |= strong & ~core
    # notches: a light stripe of a print that meets the backdrop at the edge (the cami's cream
    # stripes, a few Lab units from its grey-white backdrop) was left out between its dark
    # neighbours; a narrow gap in the outline that is not the backdrop's colour is garment
    closed = (
        cv2.morphologyEx(
            mask.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * NOTCH + 1, 2 * NOTCH + 1))
        )
        > 0
    )
    mask |= closed & (to_backdrop > MIN_DISTANCE)
    count, labels, _, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = [i for i in range(1, count) if (labels == i)[core].any()]
    mask = np.isin(labels, keep)
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


def overlay(image: np.ndarray, old: np.ndarray, new: np.ndarray, windows: int = 6, size: int = 96) -> np.ndarray:
    """``windows`` crops along the outline, 4x: the old outline green, the new red."""
    contour = max(cv2.findContours(new.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0], key=len)[:, 0]
    tiles = []
    for index in np.linspace(0, len(contour) - 1, windows).astype(int):
        x, y = contour[index]
        y0 = int(np.clip(y - size // 2, 0, image.shape[0] - size))
        x0 = int(np.clip(x - size // 2, 0, image.shape[1] - size))
        crop = cv2.resize(image[y0 : y0 + size, x0 : x0 + size], (4 * size, 4 * size), interpolation=cv2.INTER_NEAREST)
        for mask, colour in ((old, (0, 200, 0)), (new, (255, 0, 0))):
            part = cv2.resize(
                mask[y0 : y0 + size, x0 : x0 + size].astype(np.uint8), (4 * size, 4 * size), interpolation=cv2.INTER_NEAREST
            )
            lines, _ = cv2.findContours(part, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
            cv2.drawContours(crop, lines, -1, colour, 1)
        tiles.append(crop)
    return np.concatenate(tiles, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sheet", type=Path, help="write an overlay per garment to this folder")
    args = parser.parse_args()
    for reference in sorted((DATA / "garment_masks").glob("*.png")):
        image = cv2.cvtColor(cv2.imread(str(REPO / "samples" / "drop" / reference.stem / "front.jpg")), cv2.COLOR_BGR2RGB)
        old = cv2.imread(str(reference), cv2.IMREAD_GRAYSCALE) > 127
        new = redraw(image, old)
        changed = float((old ^ new).sum() / old.sum())
        print(
            f"{reference.stem}: {changed:.2%} of the mask redrawn, IoU with the old {(old & new).sum() / (old | new).sum():.3f}"
        )
        if args.sheet:
            args.sheet.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(args.sheet / f"{reference.stem}.png"), cv2.cvtColor(overlay(image, old, new), cv2.COLOR_RGB2BGR))
        else:
            cv2.imwrite(str(reference), new.astype(np.uint8) * 255)


if __name__ == "__main__":
    main()
