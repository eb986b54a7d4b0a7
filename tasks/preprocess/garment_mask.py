"""Garment masks for product shots: the classical border cut (no weights), U2-Net through
rembg, and the default that combines the two.

Neither alone holds on catalogue photos (bench/garments.py, tests/data/garment_cases/):

- the border cut models the backdrop from the photo's edges. It is exact where the garment
  stands out, but takes a drop shadow for garment and loses a white garment on a light-grey
  backdrop where the two are a few Lab units apart;
- U2-Net-p (a salient-object model, run at 320x320) finds those, but rounds thin straps into
  the background between them, bridges the gap between trouser legs, and can lose most of a
  garment that runs off the frame.

``CombinedMasker`` runs the border cut first. Where every point of its outline stands out
from the backdrop, it is taken as is and the model is not run. Otherwise the model runs and
the two are merged (``combine``):

- the border cut's pixels are kept near the model's mask (for their exact edge);
- the model's confident core is added (for what the border cut could not tell from the
  backdrop);
- far from the model, the border cut keeps only what does not look like a shadow.

A model mask much smaller than the object the border cut sees, or in pieces, is implausible:
the border cut's object is then kept whole and the model's core added. A border cut under half
the model's mask saw only what stands out from the backdrop (a white garment's print): the
model's own mask is taken.

Every cut-out is judged (``doubtful_cut``): one that is probably not the garment as it is goes to
quarantine with the reason, for a person to look at.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from tasks.preprocess.onnx_runtime import ON_CPU, BatchGatherer, OnnxPlacement, device_of, free_batch
from tasks.preprocess.segmentation import component_areas, largest_component, outline

CLASSICAL_BACKEND = "opencv-border-grabcut-v5"  # v4: the outline decided again at full size (refine_edges); v5: notches filled, more passes while it moves
COMBINE_VERSION = "combine-v3"  # v3: the model's own mask where the border cut saw under half of it


_UNJUDGED = "not judged"


@dataclass
class GarmentCut:
    mask: np.ndarray  # (H, W) bool at the photo's size
    method: str  # how it was cut, in words, for the garment's notes
    doubt: str | None = _UNJUDGED  # why it is probably not the whole garment (``doubtful_cut``), None when it is

    @property
    def judged(self) -> bool:
        return self.doubt != _UNJUDGED


@dataclass
class BorderCut:
    mask: np.ndarray  # (H, W) bool at the photo's size
    background: np.ndarray  # the backdrop's Lab colour (OpenCV 8-bit scale)
    clear_outline: bool  # every point of the outline stands out from the backdrop (3x the threshold)


def background_model(border_lab: np.ndarray, bin_size: float = 6.0, tolerance: float = 12.0) -> tuple[np.ndarray, float]:
    """The backdrop's Lab colour and spread from the photo's border pixels: the largest cluster
    of them, not all of them. A garment cropped tight runs off the frame and covers part of the
    border; taken whole, the border's spread grew so large that no pixel passed the threshold
    and a dark garment on pure white was refused as having no mask."""
    bins, counts = np.unique(np.round(border_lab / bin_size).astype(np.int32), axis=0, return_counts=True)
    mode = bins[counts.argmax()] * bin_size
    inliers = border_lab[np.linalg.norm(border_lab - mode, axis=1) < tolerance]
    background = np.median(inliers, axis=0)
    return background, float(np.percentile(np.linalg.norm(inliers - background, axis=1), 99))


def frame_pixels(lab: np.ndarray, border: int = 4) -> np.ndarray:
    """The photo's outermost ``border`` px on each side, as a list of colours (where the backdrop
    is read)."""
    sides = (lab[:border], lab[-border:], lab[:, :border], lab[:, -border:])
    return np.concatenate([side.reshape(-1, 3) for side in sides])


def border_cut(image: np.ndarray, border: int = 4, min_distance: float = 6.0, work_height: int = 512) -> BorderCut:
    """Foreground = pixels whose Lab colour differs from the backdrop model estimated on the
    image border (``background_model``), refined by GrabCut, largest component, holes filled.
    The threshold follows the backdrop's own spread, down to ``min_distance`` (6 units of
    OpenCV's 8-bit Lab) on a clean backdrop, so a white garment on white is found by its
    shading and rim. Computed at ``work_height`` px and scaled back (cost, not accuracy: the
    edge moves by under a pixel of the work size)."""
    height, width = image.shape[:2]
    scale = min(1.0, work_height / height)
    work = (
        cv2.resize(image, (max(8, round(width * scale)), max(8, round(height * scale))), interpolation=cv2.INTER_AREA)
        if scale < 1
        else image
    )
    lab = cv2.cvtColor(work, cv2.COLOR_RGB2LAB).astype(np.float32)
    background, spread = background_model(frame_pixels(lab, border))
    distance = np.sqrt(((lab - background) ** 2).sum(axis=2))
    threshold = max(min_distance, spread * 1.5)
    mask = (distance > threshold).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel, iterations=2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = largest_component(mask)
    clear = False
    if mask.any():
        mask = fill_holes(largest_component(grabcut_refine(work, mask)))
        rim = mask & ~(cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)
        clear = bool((distance[rim] < 3 * threshold).mean() < 0.03)
    if scale < 1:
        mask = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR) > 0.5
    return BorderCut(mask=mask, background=background, clear_outline=clear)


def grabcut_refine(image: np.ndarray, mask: np.ndarray, work_height: int = 192, band: int = 3) -> np.ndarray:
    """One GrabCut pass at ``work_height`` px: inside the mask is probable garment, a band of
    ``band`` px around its edge undecided, the rest certain background. Cleans shadows and
    background-coloured edges the colour threshold let through; the result is restricted to
    the mask grown by the band, so GrabCut cannot wander into the background."""
    scale = work_height / image.shape[0]
    size = (max(8, round(image.shape[1] * scale)), work_height)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small_mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
    grown = cv2.dilate(small_mask, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    core = cv2.erode(small_mask, np.ones((2 * band + 1, 2 * band + 1), np.uint8))
    labels = np.full(small_mask.shape, cv2.GC_BGD, np.uint8)
    labels[grown > 0] = cv2.GC_PR_BGD
    labels[small_mask > 0] = cv2.GC_PR_FGD
    labels[core > 0] = cv2.GC_FGD
    if not (labels == cv2.GC_BGD).any() or not core.any():
        return mask
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut seeds its colour models with k-means on OpenCV's global RNG: same bytes, same mask
    # no rectangle with GC_INIT_WITH_MASK (OpenCV's stubs require one)
    cv2.grabCut(cv2.cvtColor(small, cv2.COLOR_RGB2BGR), labels, None, background, foreground, 1, cv2.GC_INIT_WITH_MASK)  # type: ignore[call-overload]
    cut = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    refined = cv2.resize(cut, mask.shape[::-1], interpolation=cv2.INTER_LINEAR) > 0
    # keep full-resolution edges where the colour mask and GrabCut agree near the border
    edge = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    return (refined & edge) | (mask & cv2.erode(refined.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0)


EDGE_BAND = 6  # px at 1024 high on each side of the outline decided again: more than the work sizes' steps
EDGE_SPREAD = 8.0  # px at 1024 high: how far the garment's and the backdrop's local colours are read
EDGE_PASSES = 2  # each starts from the last one's outline: a shadow or a lost rim two bands wide is reached
EDGE_MORE_PASSES = 2  # passes beyond EDGE_PASSES while the outline still moves (a shadow three or four bands wide)
EDGE_SETTLED = 1.0  # px the outline moves in a pass, on average, under which it has settled
EDGE_SHADOW_CHROMA = 4.0  # OpenCV Lab a/b units: within it of the backdrop's hue and darker, a pixel may be shadow
EDGE_MIN_DISTANCE = 4.0  # OpenCV 8-bit Lab units from the backdrop under which a pixel is the backdrop

EDGE_NOTCH = 6  # px at 1024 high: the widest gap in the outline filled where it is not the backdrop's colour


def _local_colour(lab: np.ndarray, source: np.ndarray, sigma: float, at: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """At the pixels ``at``: the colour of the ``source`` pixels near them (normalised Gaussian
    smoothing), and whether any are near enough to say. The smoothing runs at a quarter of the
    size and is read there (it is smooth at this scale; at full size it was most of the
    refinement's time)."""
    height, width = source.shape
    small = (max(1, width // 4), max(1, height // 4))
    held = source.astype(np.uint8)
    share = cv2.resize(held * np.uint8(255), small, interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    weight = cv2.GaussianBlur(share, (0, 0), sigma / 4)
    total = cv2.resize(cv2.bitwise_and(lab, lab, mask=held), small, interpolation=cv2.INTER_AREA)  # lab where source, else 0
    total = cv2.GaussianBlur(total, (0, 0), sigma / 4)
    ys = np.minimum(at[0] * small[1] // height, small[1] - 1)
    xs = np.minimum(at[1] * small[0] // width, small[0] - 1)
    return total[ys, xs] / np.maximum(weight[ys, xs], 1e-4)[..., None], weight[ys, xs] > 0.02


def refine_edges(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The mask's outline decided again at the photo's full size. The mask is computed smaller
    and scaled up (a staircase of the work size's steps, and an edge a pixel or three off where
    the garment is faint against its backdrop); every pixel of a band along the outline becomes
    garment or backdrop by which of the two it is nearer in colour, each read locally (the
    garment just inside the band, the backdrop just outside it). A shadow (the backdrop's hue,
    darker) beside a garment of another hue is judged by its hue alone, so it goes to the
    backdrop; an anti-aliased edge pixel goes to the side it is nearer. The garment away from its
    outline, a thin part with no garment near it to read the colour from (a strap), its holes and
    what the cut judged shadow further out stay as they were. Where the two local colours are too
    alike to tell apart (under EDGE_MIN_DISTANCE), colour cannot place the edge and the cut's own
    outline stays. While the outline still moves (a drop shadow wider than two bands), up to
    EDGE_MORE_PASSES more passes run. Last, narrow notches in the outline that are not the
    backdrop's colour are filled (``_fill_notches``)."""
    if not mask.any():
        return mask
    unit = image.shape[0] / 1024
    band_px, sigma = max(2, round(EDGE_BAND * unit)), EDGE_SPREAD * unit
    x, y, width, height = cv2.boundingRect(mask.astype(np.uint8))
    margin = (EDGE_PASSES + EDGE_MORE_PASSES) * band_px + round(4 * sigma)
    rows = slice(max(0, y - margin), y + height + margin)
    columns = slice(max(0, x - margin), x + width + margin)
    lab = cv2.cvtColor(image[rows, columns], cv2.COLOR_RGB2LAB).astype(np.float32)
    decided = mask[rows, columns]
    for index in range(EDGE_PASSES + EDGE_MORE_PASSES):
        before = decided
        decided = _decide_band(lab, decided, _disk(band_px), sigma)
        edge_px = max(
            1, int(np.count_nonzero(decided & ~(cv2.erode(decided.astype(np.uint8), _disk(1)) > 0)))
        )  # 4-neighbour edge
        moved = np.count_nonzero(before ^ decided) / edge_px  # px the outline moved, on average
        if index + 1 >= EDGE_PASSES and moved < EDGE_SETTLED * unit:
            break
    decided = _fill_notches(lab, decided, _disk(max(1, round(EDGE_NOTCH * unit))), sigma)
    refined = mask.copy()
    refined[rows, columns] = decided
    return fill_holes(largest_component(refined))


def _decide_band(lab: np.ndarray, crop: np.ndarray, disk: np.ndarray, sigma: float) -> np.ndarray:
    """``refine_edges``' decision over the band along ``crop``'s outline."""
    grown, core = cv2.dilate(crop.astype(np.uint8), disk) > 0, cv2.erode(crop.astype(np.uint8), disk) > 0
    if not core.any():
        return crop
    band = np.nonzero(grown & ~core)
    pixels = lab[band]
    backdrop, backdrop_known = _local_colour(lab, ~grown, sigma, band)
    garment, garment_known = _local_colour(lab, core, sigma, band)
    from_backdrop = np.linalg.norm(pixels - backdrop, axis=-1)
    hue_off = np.linalg.norm(pixels[:, 1:] - backdrop[:, 1:], axis=-1)
    shadow = (hue_off < EDGE_SHADOW_CHROMA) & (pixels[:, 0] < backdrop[:, 0])
    distinct = (np.linalg.norm(garment[:, 1:] - backdrop[:, 1:], axis=-1) >= 2 * EDGE_SHADOW_CHROMA) | (
        garment[:, 0] > backdrop[:, 0]
    )
    to_backdrop = np.where(shadow & distinct, hue_off, from_backdrop)
    nearer = (np.linalg.norm(pixels - garment, axis=-1) < to_backdrop) & (from_backdrop > EDGE_MIN_DISTANCE)
    decided = core.copy()
    # where the two local colours are too alike to tell apart (a white garment a few units off its
    # backdrop), colour cannot place the edge: the cut's own outline stays
    telling = garment_known & backdrop_known & (np.linalg.norm(garment - backdrop, axis=-1) > EDGE_MIN_DISTANCE)
    decided[band] = np.where(telling, nearer, crop[band])
    return decided


def _fill_notches(lab: np.ndarray, crop: np.ndarray, disk: np.ndarray, sigma: float) -> np.ndarray:
    """The narrow gaps in ``crop``'s outline filled where they are not the backdrop's colour: a
    light stripe or flower of a print that meets the backdrop at the garment's edge is nearer the
    backdrop than the garment's mean colour (a cream stripe beside black ones), so the band's
    decision leaves it out and the outline is notched between its dark neighbours."""
    gaps = np.nonzero((cv2.morphologyEx(crop.astype(np.uint8), cv2.MORPH_CLOSE, disk) > 0) & ~crop)
    if not len(gaps[0]):
        return crop
    grown = cv2.dilate(crop.astype(np.uint8), disk) > 0
    backdrop, known = _local_colour(lab, ~grown, sigma, gaps)
    filled = crop.copy()
    filled[gaps] = known & (np.linalg.norm(lab[gaps] - backdrop, axis=-1) > EDGE_MIN_DISTANCE)
    return filled


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill regions enclosed by the mask (prints, logos and white details inside a garment)."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(mask.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled > 0


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


SHADOW_HUE = 6.0  # OpenCV Lab a/b units from the backdrop's within which a darker pixel looks like its shadow


def shadow_like(image: np.ndarray, at: tuple[np.ndarray, ...], background: np.ndarray) -> np.ndarray:
    """Per pixel ``at``: the backdrop's hue, darker (a drop shadow, as the border cut sees one)."""
    if not len(at[0]):
        return np.zeros(0, bool)
    delta = cv2.cvtColor(image[at].reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32) - background
    return (np.hypot(delta[:, 1], delta[:, 2]) < SHADOW_HUE) & (delta[:, 0] < 0)


UNSEEN_SHARE = 0.5  # of the model's mask: a border cut smaller saw only what stands out (a print), not the garment


def combine(image: np.ndarray, cut: BorderCut, probability: np.ndarray) -> GarmentCut:
    """The border cut and the model's probability map (both at the photo's size) merged as the
    module docstring says. Radii are set at 1024 px high and scale with the photo."""
    unit = image.shape[0] / 1024
    raw = probability > 0.5
    model = fill_holes(largest_component(raw))
    core = cv2.erode(((probability > 0.8) & model).astype(np.uint8), _disk(max(1, round(3 * unit)))) > 0
    areas = component_areas(raw)
    if model.any() and cut.mask.sum() < UNSEEN_SHARE * model.sum():
        mask, method = model | cut.mask, "model (the border cut could not tell the garment from the backdrop)"
    elif not model.any() or areas[0] < 0.8 * raw.sum() or model.sum() < 0.8 * cut.mask.sum():
        mask, method = (
            cut.mask | core,
            "classical, with the model's core (the model's mask was implausible: in pieces or much smaller)",
        )
    else:
        near_model = cv2.dilate(model.astype(np.uint8), _disk(max(1, round(4 * unit)))) > 0
        far = np.nonzero(cut.mask & ~near_model)  # only these can be shadow the cut took for garment
        mask = cut.mask.copy()
        mask[far] = ~shadow_like(image, far, cut.background)
        mask, method = mask | core, "model and classical combined"
    return GarmentCut(fill_holes(largest_component(mask)), method)


DOUBT_HEIGHT = 512  # px: the size a cut-out is judged at
MIN_FRAME_SHARE = 0.2  # below it, a cut-out is looked at twice (the samples' garments fill 0.23-0.70 of the frame)
SURFACE_DISTANCE = 2.0  # Lab units from the backdrop: the median just outside a cut-out that sits on something
PLAIN_CONTRAST = 2.0  # OpenCV Lab units: under it, the two sides of an outline are one surface
CUT_THROUGH_SHARE = 0.1  # of the outline running through one surface that is not the backdrop: a garment cut across
FAINT_SHARE = 0.3  # of the outline fainter than the edge rule can place (EDGE_MIN_DISTANCE): a guessed outline
OUTLINE_GAP = 5  # px at 1024 high between the outline and where each side's colour is read


def doubtful_cut(image: np.ndarray, mask: np.ndarray) -> str | None:
    """Why a cut-out is probably not the garment as it is, in words, or None. Three signs, all of
    a garment about as light as its backdrop:

    - the cut-out fills little of the frame and is surrounded by something that is not the
      backdrop (a surface a few Lab units from it, all round): its print, a pocket, a logo;
    - its outline runs, for a stretch, through one surface: the same colour on both sides, and
      not the backdrop's. A true outline has the garment on one side and the backdrop on the
      other, however faint the step; an outline cut across a white tee under its print has the
      tee on both (on the labelled cut-outs: none of the true outlines, 18-20 % of the tees
      cut across);
    - along much of its outline the two sides differ by less than the edge rule can tell apart
      (``refine_edges``' EDGE_MIN_DISTANCE): the outline there is the model's guess (on the
      labelled set: at most 14 % of a true outline on the other backdrops, 33-79 % on a white
      printed garment 3 Lab units from its backdrop)."""
    if not mask.any():
        return None
    if image.shape[0] > DOUBT_HEIGHT:  # colours and shares need no more; a quarter of the pixels to read
        size = (max(8, round(image.shape[1] * DOUBT_HEIGHT / image.shape[0])), DOUBT_HEIGHT)
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.5
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    background, _ = background_model(frame_pixels(lab))
    return _surrounded(lab, mask, background) or _outline_doubts(lab, mask, background)


def _surrounded(lab: np.ndarray, mask: np.ndarray, background: np.ndarray) -> str | None:
    share = float(mask.mean())
    if share >= MIN_FRAME_SHARE:
        return None
    height = lab.shape[0]
    outer = cv2.dilate(mask.astype(np.uint8), _disk(max(2, round(0.04 * height)))) > 0
    inner = cv2.dilate(mask.astype(np.uint8), _disk(max(1, round(0.01 * height)))) > 0
    ring = outer & ~inner
    if not ring.any():
        return None
    surround = float(np.median(np.sqrt(((lab[ring] - background) ** 2).sum(axis=1))))
    if surround < SURFACE_DISTANCE:
        return None
    return (
        f"the cut-out fills {share:.0%} of the photo and what surrounds it is not the backdrop "
        f"({surround:.0f} Lab units from it): it is probably only part of the garment (its print, a pocket or a logo); "
        "a backdrop that differs more from the garment would tell them apart"
    )


def _outline_doubts(lab: np.ndarray, mask: np.ndarray, background: np.ndarray) -> str | None:
    """The outline's two signs (``doubtful_cut``), from the colours just inside and just outside
    each point of it (away from the frame's edge)."""
    height, width = mask.shape
    held = mask.astype(np.uint8)
    edge = np.nonzero(outline(mask))
    away = (edge[0] > 2) & (edge[0] < height - 3) & (edge[1] > 2) & (edge[1] < width - 3)
    edge = (edge[0][away], edge[1][away])
    if not len(edge[0]):
        return None
    gap = _disk(max(1, round(OUTLINE_GAP * height / 1024)))
    sigma = 6.0 * height / 1024
    inside, _ = _local_colour(lab, cv2.erode(held, gap) > 0, sigma, edge)
    outside, _ = _local_colour(lab, ~(cv2.dilate(held, gap) > 0), sigma, edge)
    contrast = np.linalg.norm(inside - outside, axis=-1)
    through = float(((contrast < PLAIN_CONTRAST) & (np.linalg.norm(outside - background, axis=-1) >= SURFACE_DISTANCE)).mean())
    if through > CUT_THROUGH_SHARE:
        return (
            f"{through:.0%} of the cut-out's outline runs through one surface that is not the backdrop (the same colour "
            "on both sides of it): the garment is probably as light as its backdrop and was cut across, its print or "
            "shading taken for all of it; a backdrop that differs more from the garment would tell them apart"
        )
    faint = float((contrast < EDGE_MIN_DISTANCE).mean())
    if faint > FAINT_SHARE:
        return (
            f"along {faint:.0%} of its outline the garment differs from its backdrop by under {EDGE_MIN_DISTANCE:g} Lab "
            "units: where its edge runs there cannot be told from the photo, so the cut-out's outline is a guess; "
            "a backdrop that differs more from the garment would tell them apart"
        )
    return None


SHADOW_SHARE = 0.2  # of the cut's outer band looking like shadow, where its core does not: a shadow taken for garment


def shadow_fringe(image: np.ndarray, cut: BorderCut) -> bool:
    """Whether the border cut took a drop shadow for garment: its outer band (12 px at 1024 high)
    is largely the backdrop's hue and darker, while its core (beyond 24 px) is not. Its outline
    stands out from the backdrop all the same (a shadow is darker than it), so the model is asked."""
    unit = image.shape[0] / 1024
    mask = cut.mask.astype(np.uint8)
    band = np.nonzero(mask.astype(bool) & ~(cv2.erode(mask, _disk(max(1, round(12 * unit)))) > 0))
    core = np.nonzero(cv2.erode(mask, _disk(max(1, round(24 * unit)))) > 0)
    if not len(band[0]) or not len(core[0]):
        return False
    band_share = float(shadow_like(image, band, cut.background).mean())
    return band_share > SHADOW_SHARE and float(shadow_like(image, core, cut.background).mean()) < SHADOW_SHARE


class OpenCVMasker:
    """The fallback for plain backgrounds (no weights)."""

    backend = CLASSICAL_BACKEND
    device = "cpu"

    def __call__(self, image: np.ndarray) -> GarmentCut:
        return GarmentCut(refine_edges(image, border_cut(image).mask), "classical")


def import_rembg() -> ModuleType:
    """rembg, without compiling pymatting's numba kernels.

    rembg's package imports pymatting (alpha matting) at its top, and pymatting compiles its numba
    kernels at import: 40-100 s of CPU in the first process of every fresh environment (a fresh
    clone's first demo, each test run's workers, each new worker container whose user cannot
    write the cache beside the package). The cut-outs use rembg's session and preprocessing and
    never matte, so while rembg is imported numba leaves the kernels as the Python functions
    they are; nothing else imported then is numba's."""
    import numba

    config: Any = numba.config  # its settings are set from the environment at import: not typed
    jit_was_off = config.DISABLE_JIT
    config.DISABLE_JIT = True
    try:
        import rembg
    finally:
        config.DISABLE_JIT = jit_was_off
    return rembg


class U2NetMasker:
    """A U2-Net ONNX (the shipped U2-Net-p or an operator's model) through rembg's
    ``u2net_custom`` session. rembg only loads models from inside its models folder
    (``U2NET_HOME``), so the verified file is copied into ``models_dir`` and ``U2NET_HOME``
    pointed there for this process. The session is always passed: without one rembg reaches
    for a model it would download.

    The calls of the process's threads are gathered into batches where the placement asks for
    them (on CUDA): rembg predicts one image at a time, so its preprocessing is used and the
    batch runs on a copy of the model with a free batch dimension; each image's map is then
    made as rembg makes it (min-max scaled, to 8 bits, resized with Lanczos)."""

    MEAN, STD, SIZE = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), (320, 320)  # rembg's for U2-Net

    def __init__(self, model_path: Path, version: str, models_dir: Path, placement: OnnxPlacement | None = None) -> None:
        models_dir = Path(models_dir)
        models_dir.mkdir(parents=True, exist_ok=True)
        target = models_dir / Path(model_path).name
        if not target.exists() or target.stat().st_size != Path(model_path).stat().st_size:
            shutil.copyfile(model_path, target)
        os.environ["U2NET_HOME"] = str(models_dir)
        rembg = import_rembg()
        placement = placement or ON_CPU
        self._session = rembg.new_session(
            "u2net_custom", placement.session_options(), model_path=str(target), providers=placement.providers
        )
        self._batched = placement.session(free_batch(str(target))) if placement.batch > 1 else None
        self._gathered = BatchGatherer(self.probabilities, placement.batch)
        self.backend = f"rembg-u2net-onnx:{version}"
        self.device = device_of(self._session.inner_session)

    def probability(self, image: np.ndarray) -> np.ndarray:
        """The model's saliency at the photo's size, 0..1 (rembg scales it to its own range); run in
        a batch with other threads' calls where the placement gathers them."""
        return self._gathered(image)

    def probabilities(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """The saliency of each image, in one model call."""
        from PIL import Image

        if len(images) > 1 and self._batched is None:  # a placement without batches: one at a time
            return [found for image in images for found in self.probabilities([image])]
        session: Any = self._batched if len(images) > 1 else self._session.inner_session
        name = session.get_inputs()[0].name
        batch = np.concatenate(
            [self._session.normalize(Image.fromarray(image), self.MEAN, self.STD, self.SIZE)[name] for image in images]
        )
        maps = []
        for prediction, image in zip(session.run(None, {name: batch})[0][:, 0], images):
            low, high = prediction.min(), prediction.max()
            scaled = Image.fromarray(((prediction - low) / (high - low) * 255).astype(np.uint8), mode="L")
            maps.append(np.asarray(scaled.resize(image.shape[1::-1], Image.Resampling.LANCZOS), np.float32) / 255.0)
        return maps

    def __call__(self, image: np.ndarray) -> GarmentCut:
        return GarmentCut(refine_edges(image, fill_holes(largest_component(self.probability(image) > 0.5))), "model")


class CombinedMasker:
    """The default: the border cut, and the model where the border cut's outline is not clear."""

    def __init__(self, model: U2NetMasker) -> None:
        self.model = model
        self.device = model.device
        self.backend = f"{model.backend}+{CLASSICAL_BACKEND}+{COMBINE_VERSION}"

    def __call__(self, image: np.ndarray) -> GarmentCut:
        cut = border_cut(image)
        if cut.clear_outline and not shadow_fringe(image, cut):
            return GarmentCut(
                refine_edges(image, cut.mask), "classical (its outline stands out everywhere; the model was not run)"
            )
        found = combine(image, cut, self.model.probability(image))
        mask = refine_edges(image, found.mask)
        return GarmentCut(mask, found.method, doubtful_cut(image, mask))
