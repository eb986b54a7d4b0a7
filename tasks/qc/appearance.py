"""What the generated region shows: which pixels look like the new garment, like the photo's old
garment, like skin, and what that says about the try-on.

Colour models are smoothed 3-D CIE Lab histograms. A pixel "looks like" a model when its density
there is at least what 95 % of the model's own pixels have (a one-class test, tolerant of
shading, JPEG and small exposure shifts through the smoothing). Everything is measured on a
half-resolution copy (384x512): the faults are large, and it keeps QC well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter

from tasks.preprocess.pose import KP
from tasks.preprocess.skin import skin_model
from tasks.qc.artefacts import clipped, cloth_grain, grain, ridge
from tasks.qc.body import person_parts

BINS = np.array([20, 32, 32])  # L 0..100, a and b -80..80
LOW = np.array([0.0, -80.0, -80.0])
HIGH = np.array([100.0, 80.0, 80.0])
FLOOR_QUANTILE = 0.05
FLOOR_SHARE = 0.25  # a pixel belongs when its density is at least this share of the floor: a garment
# of one flat colour has all its density in one bin, and a pixel a shade off must still belong
SCALE = 0.5
SAMPLE = 20000
CHANGED_DELTA = 8.0  # CIE76: a pixel this far from the photo's was painted again


def _lab_values(lab8: np.ndarray) -> np.ndarray:
    """OpenCV's 8-bit Lab -> float32 CIE Lab (L 0..100, a and b about -128..127)."""
    return lab8.astype(np.float32) * np.array([100 / 255, 1, 1], np.float32) - np.array([0, 128, 128], np.float32)


def _lab8(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image.reshape(-1, 1, 3), cv2.COLOR_RGB2LAB).reshape(image.shape)


def to_lab(image: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> float32 CIE Lab (L 0..100, a and b about -128..127)."""
    return _lab_values(_lab8(image))


def _channel_bins(lab: np.ndarray) -> np.ndarray:
    """(..., 3) float Lab -> each channel's histogram bin."""
    index = ((lab - LOW) / (HIGH - LOW) * BINS).astype(np.int32)
    return np.clip(index, 0, BINS - 1)


# each channel's bin depends on that channel's 8-bit value alone: a table per channel of its part
# of the flat bin index, for every 8-bit value
_LEVEL_BINS = _channel_bins(_lab_values(np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)))
_L_BINS, _A_BINS, _B_BINS = _LEVEL_BINS[:, 0] * BINS[1] * BINS[2], _LEVEL_BINS[:, 1] * BINS[2], _LEVEL_BINS[:, 2]


def colour_bins(image: np.ndarray) -> np.ndarray:
    """Each pixel's histogram bin as one flat index, from (..., 3) uint8 RGB: the bin of its
    ``to_lab`` colour, found by table (computed once per image and shared by every colour
    model that judges it)."""
    lab8 = _lab8(image)
    return _L_BINS[lab8[..., 0]] + _A_BINS[lab8[..., 1]] + _B_BINS[lab8[..., 2]]


@dataclass
class ColourModel:
    """A smoothed Lab histogram of some pixels and its membership floor."""

    density: np.ndarray  # flat, indexed by ``colour_bins``
    floor: float

    @classmethod
    def of(cls, bins: np.ndarray) -> ColourModel | None:
        """The model of some pixels, given as their ``colour_bins``; None for under 50 pixels."""
        if len(bins) < 50:
            return None
        if len(bins) > SAMPLE:
            bins = bins[np.random.default_rng(0).choice(len(bins), SAMPLE, replace=False)]
        histogram = np.bincount(bins, minlength=int(BINS.prod())).astype(np.float32).reshape(BINS)
        density = gaussian_filter(histogram, sigma=(2.5, 1.5, 1.5), mode="constant").ravel()  # lightness varies with light
        density /= density.sum()
        return cls(density, FLOOR_SHARE * float(np.quantile(density[bins], FLOOR_QUANTILE)))

    def likeness(self, bins: np.ndarray) -> np.ndarray:
        """Per pixel of ``colour_bins``: its density relative to the floor (>= 1: looks like the model)."""
        return self.density[bins] / max(self.floor, 1e-12)


@dataclass
class RegionReading:
    """The generated region, read at half resolution: boolean maps of the same shape."""

    region: np.ndarray  # the inpaint region
    person: np.ndarray  # the photo's person, slightly dilated
    garment: np.ndarray  # region pixels that look like the new garment (the cloth)
    old: np.ndarray  # the photo's own garment of the category (parsing), inside the region
    old_like: np.ndarray  # region pixels that look like the old garment and not like the new one
    old_beside: np.ndarray  # the photo's old garment outside the region, still looking like it and not like the new one
    old_area: int  # the photo's old garment, all of it (pixels)
    changed: np.ndarray  # pixels whose colour differs from the photo's (CIE76 over CHANGED_DELTA)
    photo_skin: np.ndarray  # the photo's skin (dilated)
    foreign: np.ndarray  # region pixels of a colour neither the cloth nor the photo has (blotches)
    new_skin: np.ndarray  # skin-coloured in the output, not skin in the photo, not garment-coloured
    background_like: np.ndarray  # looks like the photo's background (outside the person)
    output_lab: np.ndarray  # the output, half resolution, Lab
    cloth_lab: np.ndarray  # the cloth, half resolution, Lab
    cloth_mask: np.ndarray  # the cloth's mask, half resolution
    main_colour: np.ndarray | None  # the cloth's dominant Lab colour (None: an empty cloth mask)
    cloth_print: float | None  # the cloth's print shape (None: no print)


def _half(mask: np.ndarray) -> np.ndarray:
    height, width = mask.shape[:2]
    return cv2.resize(mask.astype(np.uint8), (round(width * SCALE), round(height * SCALE)), interpolation=cv2.INTER_NEAREST) > 0


def _half_image(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    return cv2.resize(image, (round(width * SCALE), round(height * SCALE)), interpolation=cv2.INTER_AREA)


@dataclass
class ClothReading:
    """What QC reads from a garment once, whatever photo it is tried on."""

    model: ColourModel | None  # the cloth's colours
    main_colour: np.ndarray | None  # its dominant Lab colour (None: an empty cloth mask)
    half_lab: np.ndarray  # the cloth, half resolution, Lab
    half_mask: np.ndarray  # its mask, half resolution
    grain: float  # its own texture's grain (``artefacts.cloth_grain``)
    print_shape: float | None  # its print's height / width (``print_shape``; None: no print to read)


def read_cloth(cloth: np.ndarray, cloth_mask: np.ndarray) -> ClothReading:
    pixels = cloth[cloth_mask]
    lab = to_lab(pixels)
    colour = main_colour(lab)
    half_lab, half_mask = to_lab(_half_image(cloth)), _half(cloth_mask)
    return ClothReading(
        model=ColourModel.of(colour_bins(pixels)),
        main_colour=colour,
        half_lab=half_lab,
        half_mask=half_mask,
        grain=cloth_grain(cloth, cloth_mask),
        print_shape=None if colour is None else print_shape(half_lab, half_mask, colour),
    )


@dataclass
class ViewReading:
    """What QC reads from a model photo's view once, whatever garment is tried on it."""

    region: np.ndarray  # the inpaint region, half resolution
    person: np.ndarray  # the photo's person, slightly dilated
    old: np.ndarray  # the photo's own garment of the category (parsing)
    points: np.ndarray  # the keypoints at half resolution
    skin: np.ndarray  # the photo's skin (dilated)
    skin_colours: ColourModel | None  # the photo's own bare skin outside the region
    old_model: ColourModel | None  # the old garment's colours inside the region
    ridge: float  # the photo's own brightness ridge along the region's edge (``artefacts.ridge``)
    grain: float  # the photo's grain in the region
    clipped: float  # the photo's share of clipped pixels
    person_parts: int  # the photo's own person-sized parts (``body.person_parts``)
    photo_lab: np.ndarray  # the photo, half resolution, Lab
    colours: ColourModel | None  # every colour of the photo


class ViewSource(Protocol):
    """What a view reading is read from (``tasks.qc.metrics.GenerationInputs`` is one), all on
    the 768x1024 canvas."""

    photo: np.ndarray
    region: np.ndarray
    person_mask: np.ndarray
    keypoints: np.ndarray
    worn_garment: np.ndarray
    photo_skin: np.ndarray


def read_view(inputs: ViewSource) -> ViewReading:
    ph = _half_image(inputs.photo)
    region, person, old = _half(inputs.region), _half(inputs.person_mask), _half(inputs.worn_garment)
    person = cv2.dilate(person.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    points = inputs.keypoints.copy()
    points[:, :2] *= SCALE
    photo_bins = colour_bins(ph)
    # skin: the face's chroma (skin_model), widened to the colours (light and shade) of the photo's
    # own bare skin outside the region where the parsing and the face's chroma agree on it
    skin_photo = skin_pixels(ph, person, points)
    bare = _half(inputs.photo_skin) & skin_photo & ~region
    skin_colours = ColourModel.of(photo_bins[bare])
    if skin_colours is not None:
        skin_photo |= (skin_colours.likeness(photo_bins) >= 1) & person
    skin_photo = cv2.dilate(skin_photo.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    old_model = ColourModel.of(photo_bins[old & region & ~skin_photo])
    return ViewReading(
        region=region,
        person=person,
        old=old,
        points=points,
        skin=skin_photo,
        skin_colours=skin_colours,
        old_model=old_model,
        ridge=ridge(inputs.photo, inputs.region),
        grain=grain(inputs.photo, inputs.region),
        clipped=clipped(inputs.photo),
        person_parts=person_parts(inputs.photo),
        photo_lab=to_lab(ph),
        colours=ColourModel.of(photo_bins.ravel()),
    )


def read_region(output: np.ndarray, view: ViewReading, cloth: ClothReading) -> RegionReading:
    """The generated region of ``output``, against what was read from its view and its cloth."""
    region, person = view.region, view.person
    out = _half_image(output)
    out_lab = to_lab(out)
    out_bins = colour_bins(out)
    new_likeness = cloth.model.likeness(out_bins) if cloth.model else np.zeros(region.shape)
    new_like = new_likeness >= 1
    skin_out = skin_pixels(out, person, view.points)
    if view.skin_colours is not None:
        skin_out |= (view.skin_colours.likeness(out_bins) >= 1) & person
    old_like = np.zeros(region.shape, bool)
    if view.old_model is not None and cloth.model is not None:
        # an old-garment pixel must look like the old garment clearly more than like the new one
        old_likeness = view.old_model.likeness(out_bins)
        old_like = (old_likeness >= 1) & (old_likeness / np.maximum(new_likeness, 1e-6) > 4) & ~new_like
    # the background as the output shows it (outside the person and the region it is the photo's,
    # under the output's own exposure)
    background = ColourModel.of(out_bins[~person & ~region])
    background_like = background.likeness(out_bins) >= 1 if background else np.zeros(region.shape, bool)
    return RegionReading(
        region=region,
        person=person,
        garment=new_like & region,
        old=view.old & region,
        old_like=old_like & region,
        old_beside=old_like & view.old & ~region & ~view.skin,
        old_area=int(view.old.sum()),
        changed=np.linalg.norm(out_lab - view.photo_lab, axis=-1) > CHANGED_DELTA,
        photo_skin=view.skin,
        foreign=region & ~new_like & ~(view.colours.likeness(out_bins) >= 1 if view.colours else False),
        new_skin=skin_out & ~view.skin & ~new_like & region,
        background_like=background_like,
        output_lab=out_lab,
        cloth_lab=cloth.half_lab,
        cloth_mask=cloth.half_mask,
        main_colour=cloth.main_colour,
        cloth_print=cloth.print_shape,
    )


def skin_pixels(image: np.ndarray, person: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The face's skin model (``skin_model``), held to the chroma any skin has (Chai and Ngan's
    YCrCb box): a beard or hair in the face sample widens the model until grey cloth passes."""
    matched, _ = skin_model(image, person, keypoints)
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return matched & (cr >= 133) & (cr <= 180) & (cb >= 77) & (cb <= 127)


def _spans(mask: np.ndarray, axis: int) -> np.ndarray:
    """Pixels between the first and last ``mask`` pixel of their row (axis 1) or column (axis 0)."""
    forward = np.maximum.accumulate(mask, axis=axis)
    backward = np.flip(np.maximum.accumulate(np.flip(mask, axis=axis), axis=axis), axis=axis)
    return forward & backward


def clean(mask: np.ndarray) -> np.ndarray:
    """Drops specks (JPEG, print details) so that only areas count."""
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)) > 0


@dataclass
class GarmentMeasures:
    garment_coverage: float  # new-garment pixels / the photo's garment area in the region
    old_garment_left: float  # old-garment-looking pixels / the photo's garment area in the region
    old_garment_beside: float  # the old garment still showing outside the region / all of the old garment
    foreign_colours: float  # region pixels of colours neither the cloth nor the photo has / the region
    skin_in_garment: float  # new skin enclosed by the garment (bars, blocks, holes) or beside it on the body zone / garment area
    garment_overflow: float  # garment pixels off the body (and not background-coloured) / garment area
    garment_split: float  # dresses: share of the rows below the hips where the garment has a hole
    print_aspect: float  # (height / width of the print in the output) / (the same in the cloth); NaN without a print


def measure_garment(reading: RegionReading, keypoints: np.ndarray, category: str) -> GarmentMeasures:
    garment = clean(reading.garment)
    cloth_print = reading.cloth_print
    output_print = None
    if reading.main_colour is not None:
        output_print = print_shape(reading.output_lab, garment, reading.main_colour)
    area = max(int(garment.sum()), 1)
    old_area = max(int(reading.old.sum()), 1)
    new_skin = clean(reading.new_skin)
    enclosed = new_skin & (_spans(garment, 1) | _spans(garment, 0))
    beside = new_skin & body_zone(garment.shape, keypoints * SCALE, category) & (garment.sum(axis=1) > 5)[:, None]
    off_body = garment & ~reading.person & ~reading.background_like
    return GarmentMeasures(
        garment_coverage=float((garment & reading.old).sum() / old_area),
        old_garment_left=float((clean(reading.old_like) & reading.old).sum() / old_area),
        old_garment_beside=float(clean(reading.old_beside).sum() / max(reading.old_area, 1)),
        foreign_colours=float(clean(reading.foreign).sum() / max(int(reading.region.sum()), 1)),
        skin_in_garment=float((enclosed | beside).sum() / area),
        garment_overflow=float(off_body.sum() / area),
        garment_split=_split_rows(garment, keypoints * SCALE) if category == "dresses" else 0.0,
        print_aspect=output_print / cloth_print if cloth_print and output_print else float("nan"),
    )


def body_zone(shape: tuple[int, int], keypoints: np.ndarray, category: str) -> np.ndarray:
    """Where the body must be clothed in the rows the garment occupies: the torso between the
    shoulders and the hips, narrowed by an eighth on each side (bare shoulders of a tank top stay
    outside it), for tops and dresses; the hips and legs below them, between the knees' outer
    edges, for bottoms and dresses. New skin there, beside the garment, means the garment was
    squeezed or cut away (a shorter garment shows skin below it, in rows it does not occupy)."""
    zone = np.zeros(shape, np.uint8)
    point = {name: keypoints[KP[name]] for name in ("r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_knee", "l_knee")}
    seen = {name: p[2] >= 0.3 for name, p in point.items()}
    if category in ("upper_body", "dresses") and all(seen[n] for n in ("r_shoulder", "l_shoulder", "r_hip", "l_hip")):
        corners = np.array([point["r_shoulder"][:2], point["l_shoulder"][:2], point["l_hip"][:2], point["r_hip"][:2]], np.float32)
        centre = corners.mean(axis=0)
        corners[:, 0] = centre[0] + (corners[:, 0] - centre[0]) * 0.75
        top = corners[:2, 1].mean() + 0.15 * (corners[2:, 1].mean() - corners[:2, 1].mean())  # below the neckline
        corners[:2, 1] = np.maximum(corners[:2, 1], top)
        cv2.fillConvexPoly(zone, corners.astype(np.int32), 1)
    if category in ("lower_body", "dresses") and all(seen[n] for n in ("r_hip", "l_hip", "r_knee", "l_knee")):
        hips = np.array([point["r_hip"][:2], point["l_hip"][:2]])
        knees = np.array([point["r_knee"][:2], point["l_knee"][:2]])
        width = np.abs(hips[0, 0] - hips[1, 0])
        left = min(hips[:, 0].min(), knees[:, 0].min()) - 0.15 * width
        right = max(hips[:, 0].max(), knees[:, 0].max()) + 0.15 * width
        top, bottom = hips[:, 1].mean(), knees[:, 1].max()
        zone[int(max(top, 0)) : int(max(bottom, 0)), int(max(left, 0)) : int(max(right, 0))] = 1
    return zone > 0


def dominant_colours(lab_pixels: np.ndarray, k: int) -> list[tuple[np.ndarray, float]]:
    """(Lab centre, share) of ``k`` k-means clusters of (N, 3) Lab pixels, largest first."""
    if len(lab_pixels) > SAMPLE:
        lab_pixels = lab_pixels[np.random.default_rng(0).choice(len(lab_pixels), SAMPLE, replace=False)]
    k = max(1, min(k, len(lab_pixels)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)  # k-means++ seeding draws from OpenCV's global RNG: the same image, the same colours
    # no initial labels with KMEANS_PP_CENTERS (OpenCV's stubs require an array)
    _, labels, centres = cv2.kmeans(lab_pixels.astype(np.float32), k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)  # type: ignore[call-overload]
    shares = np.bincount(labels.ravel(), minlength=k) / len(lab_pixels)
    return sorted(((centres[i], float(shares[i])) for i in range(k)), key=lambda c: -c[1])


def main_colour(lab_pixels: np.ndarray) -> np.ndarray | None:
    """The garment's main colour: the largest of three k-means clusters; None without pixels."""
    return dominant_colours(lab_pixels, 3)[0][0] if len(lab_pixels) else None


PRINT_DISTANCE = 40.0  # Lab distance from the main colour that makes a pixel part of the print


def print_shape(lab: np.ndarray, mask: np.ndarray, main: np.ndarray) -> float | None:
    """Height / width of the garment's print: its pixels far from the main colour, closed with a
    kernel scaled to the garment (letters and motifs join into one patch at any image scale),
    the largest patch. None when there is no print to read: too few such pixels (under 0.8 %), or a patch over
    half the garment's box (a pattern all over, fading, shading), whose shape says nothing."""
    offset = lab - main
    far = mask & (np.sqrt(offset[..., 0] ** 2 + offset[..., 1] ** 2 + offset[..., 2] ** 2) > PRINT_DISTANCE)
    far = cv2.morphologyEx(far.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if far.sum() < max(0.008 * mask.sum(), 20):
        return None
    size = 2 * int(0.03 * np.sqrt(mask.sum())) + 1
    far = cv2.morphologyEx(far, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    _, _, stats, _ = cv2.connectedComponentsWithStats(far, connectivity=8)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    height, width = stats[biggest, cv2.CC_STAT_HEIGHT], stats[biggest, cv2.CC_STAT_WIDTH]
    gy, gx = np.nonzero(mask)
    if height * width > 0.5 * (np.ptp(gy) + 1) * (np.ptp(gx) + 1):
        return None
    return float(height / width)


def _split_rows(garment: np.ndarray, keypoints: np.ndarray) -> float:
    """Share of the garment's rows below the hips whose span holds a hole at least a twentieth of
    the garment's width: a skirt that became two legs."""
    hips = keypoints[[KP["r_hip"], KP["l_hip"]]]
    if (hips[:, 2] < 0.3).any():
        return 0.0
    start = int(hips[:, 1].mean()) + 4
    rows = [row for row in garment[start:] if row.sum() > 10]
    if not rows:
        return 0.0
    width = max(int(np.ptp(np.nonzero(row)[0])) + 1 for row in rows)
    split = 0
    for row in rows:
        columns = np.nonzero(row)[0]
        gaps = np.diff(columns) - 1
        split += bool(gaps.size and gaps.max() >= max(4, width // 20))
    return split / len(rows)
