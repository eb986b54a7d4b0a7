"""Writes the hard garment-mask cases of tests/data/garment_cases/ from the sample garments and
their masks checked by eye (tests/data/garment_masks/): each case is a sample garment re-coloured,
re-printed, re-lit or re-framed on a new background, so its true mask is the sample's mask (moved
with the garment where it is re-framed). Run once; the images and masks are committed, and
``tryon garments sheet``-style renders of them were looked at (docs/intake.md says how).

    .venv/bin/python tests/data/make_garment_cases.py

The cases (what catalogue photos do to a background model):

- ``white-on-white``: a white garment (its folds kept as soft shading, its edge as a faint rim) on pure white;
- ``white-on-lightgrey``: the same, without the darker rim, on a light-grey backdrop;
- ``offwhite-on-offwhite``: a cream garment on a slightly darker off-white backdrop;
- ``whiteprint-on-white``: a white garment with a large multicoloured print on pure white;
- ``whiteprint-on-light``: the same garment with faint folds and no rim, on a backdrop 3 Lab units
  darker than it (a white tee on a light studio wall): its outline barely shows and its print
  stands out everywhere. Found from outside (issue 33): the default cut such a tee down to its
  print alone;
- ``dark-on-white``: a deep purple garment on pure white;
- ``dark-cropped-on-white``: the same, framed so tight that it runs off two sides of the photo;
- ``shadow-on-white``: the garment as shot, with a soft drop shadow on white;
- ``sheer-hem-on-white``: the garment as shot whose lowest quarter turns sheer (fading to 45 %
  opaque, the backdrop showing through), as chiffon or lace hems do.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).resolve().parent
REPO = DATA.parent.parent
OUT = DATA / "garment_cases"


def _shading(image: np.ndarray, mask: np.ndarray, strength: float) -> np.ndarray:
    """The garment's folds as a signed grey offset (its own grey minus its median, so a large
    print does not shift the body's colour), scaled and kept within +-25."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    smooth = cv2.GaussianBlur(grey, (0, 0), 2.0)  # folds, not the print or the weave
    return np.clip((smooth - np.median(smooth[mask])) * strength, -25, 25)


def _compose(garment: np.ndarray, mask: np.ndarray, background: np.ndarray) -> np.ndarray:
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)[..., None]  # an anti-aliased edge
    return np.clip(garment * alpha + background * (1 - alpha) + 0.5, 0, 255).astype(np.uint8)


def _plain(colour: tuple[int, int, int], shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.array(colour, np.float32), shape).copy()


def _recolour(
    image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], strength: float, rim: float = 14.0
) -> np.ndarray:
    """The garment in ``colour`` with its folds as shading, never brighter than 8 below white, and
    the slight darker rim a real garment's edge has against a white backdrop (a person sees its
    outline). On a backdrop darker than the garment the rim is left out (``rim=0``): darkened to
    the backdrop's own colour, the garment's outermost pixels vanished into it, and the true
    outline lay 2-3 px outside what anyone (or any cut) could see."""
    shaded = np.array(colour, np.float32) + _shading(image, mask, strength)[..., None]
    inside = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
    band = cv2.GaussianBlur((mask & ~inside.astype(bool)).astype(np.float32), (0, 0), 1.5)[..., None]
    return np.minimum(shaded, 247) - rim * band


def _print(garment: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
    """A large print: petals and a slogan band in saturated colours over the chest, inside the garment."""
    rng = np.random.default_rng(seed)
    ys, xs = np.nonzero(mask)
    cy, cx = int(np.percentile(ys, 40)), int(xs.mean())
    size = int(0.22 * (xs.max() - xs.min()))
    printed = garment.copy()
    layer = np.zeros(mask.shape, np.uint8)
    colours = [(220, 40, 60), (250, 170, 30), (40, 120, 200), (30, 150, 70)]
    for petal in range(7):
        angle = 2 * np.pi * petal / 7
        centre = (cx + int(0.6 * size * np.cos(angle)), cy + int(0.6 * size * np.sin(angle)))
        cv2.ellipse(layer, centre, (size // 2, size // 4), np.degrees(angle), 0, 360, petal % 4 + 1, -1)
    cv2.circle(layer, (cx, cy), size // 3, 4, -1)
    cv2.putText(
        layer, "SUMMER", (cx - int(1.1 * size), cy + int(1.6 * size)), cv2.FONT_HERSHEY_DUPLEX, size / 45, 1, max(2, size // 18)
    )
    layer[~mask] = 0
    for value, colour in enumerate(colours, start=1):
        jitter = rng.integers(-15, 15, 3)
        printed[layer == value] = np.clip(np.array(colour) + jitter, 0, 255)
    return printed


def _shadow(mask: np.ndarray, background: np.ndarray, offset: int = 14, opacity: float = 0.35) -> np.ndarray:
    moved = np.roll(np.roll(mask.astype(np.float32), offset, axis=0), offset // 2, axis=1)
    soft = cv2.GaussianBlur(moved, (0, 0), 12)
    return background * (1 - opacity * soft[..., None])


def _sheer_hem(image: np.ndarray, mask: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """The lowest quarter of the garment fades to ``opacity`` over white (over 8 % of its height)."""
    ys = np.nonzero(mask)[0]
    start, length = ys.max() - 0.25 * (ys.max() - ys.min()), 0.08 * (ys.max() - ys.min())
    fade = np.clip((np.arange(mask.shape[0]) - start) / length, 0, 1)[:, None, None]
    alpha = 1 - (1 - opacity) * fade
    return image.astype(np.float32) * alpha + 255 * (1 - alpha)


def _reframe(image: np.ndarray, mask: np.ndarray, background: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Scale the garment until it fills the frame on its longer side, a little past it, and crop
    it back to the frame: it touches both sides (or top and bottom), as in a tight catalogue crop."""
    ys, xs = np.nonzero(mask)
    scale = min(image.shape[1] / (xs.max() - xs.min() + 1), image.shape[0] / (ys.max() - ys.min() + 1)) * 1.04
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    big_mask = cv2.resize(mask.astype(np.uint8), None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST) > 0
    height, width = image.shape[:2]
    x0 = int((xs.min() + xs.max()) / 2 * scale - width / 2)
    y0 = max(0, int((ys.min() + ys.max()) / 2 * scale - height / 2))
    canvas, canvas_mask = np.empty_like(image), np.zeros(mask.shape, bool)
    canvas[:] = background
    crop, crop_mask = big[y0 : y0 + height, x0 : x0 + width], big_mask[y0 : y0 + height, x0 : x0 + width]
    canvas[: crop.shape[0], : crop.shape[1]] = np.where(crop_mask[..., None], crop, canvas[: crop.shape[0], : crop.shape[1]])
    canvas_mask[: crop.shape[0], : crop.shape[1]] = crop_mask
    return canvas, canvas_mask


def cases(image: np.ndarray, mask: np.ndarray, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    shape = image.shape
    white = _recolour(image, mask, (246, 246, 244), 0.45)
    white_no_rim = _recolour(image, mask, (246, 246, 244), 0.45, rim=0.0)
    dark = _recolour(image, mask, (78, 42, 104), 0.5)
    cream = _recolour(image, mask, (248, 244, 232), 0.4, rim=0.0)
    faint = np.minimum(np.array((246, 246, 244), np.float32) + _shading(image, mask, 0.25)[..., None], 247)
    out = {
        "white-on-white": (_compose(white, mask, _plain((255, 255, 255), shape)), mask),
        "white-on-lightgrey": (_compose(white_no_rim, mask, _plain((226, 227, 229), shape)), mask),
        "offwhite-on-offwhite": (_compose(cream, mask, _plain((234, 230, 221), shape)), mask),
        "whiteprint-on-white": (_compose(_print(white, mask, seed), mask, _plain((255, 255, 255), shape)), mask),
        "whiteprint-on-light": (_compose(_print(faint, mask, seed), mask, _plain((243, 243, 242), shape)), mask),
        "dark-on-white": (_compose(dark, mask, _plain((255, 255, 255), shape)), mask),
        "shadow-on-white": (_compose(image.astype(np.float32), mask, _shadow(mask, _plain((255, 255, 255), shape))), mask),
        "sheer-hem-on-white": (_compose(_sheer_hem(image, mask), mask, _plain((255, 255, 255), shape)), mask),
    }
    tight, tight_mask = _reframe(out["dark-on-white"][0], mask, (255, 255, 255))
    out["dark-cropped-on-white"] = (tight, tight_mask)
    return out


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for seed, reference in enumerate(sorted((DATA / "garment_masks").glob("*.png"))):
        sku = reference.stem
        image = cv2.cvtColor(cv2.imread(str(REPO / "samples" / "drop" / sku / "front.jpg")), cv2.COLOR_BGR2RGB)
        mask = cv2.imread(str(reference), cv2.IMREAD_GRAYSCALE) > 127
        for name, (case, case_mask) in cases(image, mask, seed).items():
            cv2.imwrite(str(OUT / f"{sku}--{name}.jpg"), cv2.cvtColor(case, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
            cv2.imwrite(str(OUT / f"{sku}--{name}.png"), case_mask.astype(np.uint8) * 255)
    print(f"{len(list(OUT.glob('*.jpg')))} cases in {OUT}")


if __name__ == "__main__":
    main()
