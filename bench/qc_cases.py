"""The labelled QC benchmark's cases, built from the repo's sample photos (``bench/qc.py`` runs
them; ``tests/qc`` uses the same builders for each measurement's good case and broken twin).

Positives are images a person would publish. No engine here makes one, so they are real photos
used as perfect outputs: a library view with its own worn garment cut out (the parsing mask, on
white) as the cloth image, so the garment really is on that body; the same with the garment's
colour turned in both the cloth and the photo (a plain recolour is a real garment too); and
light, harmless changes of those (JPEG re-encoding, small exposure shifts) that must still pass.

Negatives are images a person would not publish: the warp baseline's outputs on the samples
(each labelled by looking, ``bench/qc/labels.yaml``), random-weight LaDI-VTON outputs, and each
failure mode seen in real runs injected into otherwise good images (``FAULTS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from tasks.evaluation.sets import cut_out
from tasks.images import decode_rgb, encode_jpeg
from tasks.preprocess.pose import KP

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@dataclass
class View:
    """A library photo's view for one category, with the garment it wears there."""

    photo_id: str
    category: str
    image: np.ndarray  # (1024, 768, 3) the refocused photo
    person_mask: np.ndarray
    inpaint_mask: np.ndarray
    keypoints: np.ndarray  # (18, 3) on the view
    garment: np.ndarray  # (1024, 768) bool: the worn garment of the category (parsing)
    skin: np.ndarray  # (1024, 768) bool: arms, legs and face (parsing)
    labels: np.ndarray  # (1024, 768) the view's parsing


@dataclass
class Case:
    name: str
    label: str  # "positive" or "negative"
    mode: str  # the failure mode of a negative ("good" for a positive)
    view: View
    output: np.ndarray
    cloth: np.ndarray
    cloth_mask: np.ndarray
    photo: np.ndarray | None = None  # the photo QC compares with, when not the view's own (refocus frame)
    seen: list[str] = field(default_factory=list)  # every failure mode visible (the first is ``mode``)

    @property
    def reference(self) -> np.ndarray:
        return self.view.image if self.photo is None else self.photo

    def inputs(self, photo_face: bool) -> object:
        """What the QC stage would compare this output with (``tasks.qc.metrics.GenerationInputs``)."""
        from tasks.qc.metrics import GenerationInputs

        view = self.view
        return GenerationInputs(
            category=view.category,
            photo=self.reference,
            region=view.inpaint_mask,
            person_mask=view.person_mask,
            keypoints=view.keypoints,
            worn_garment=view.garment,
            photo_skin=view.skin,
            cloth=self.cloth,
            cloth_mask=self.cloth_mask,
            photo_face=photo_face,
        )


def load_views(settings: object | None = None) -> list[View]:
    """Every suitable (photo, category) view of the sample library, preprocessed as the library does."""
    from tasks.evaluation.sets import View as SetView
    from tasks.evaluation.sets import worn_garment
    from tasks.preprocess.model_photo import prepare_model_photo, worn_garment_and_skin
    from tasks.settings import Settings

    views = []
    for path in sorted((SAMPLES / "library").iterdir()):
        if path.suffix not in (".jpg", ".png"):
            continue
        prepared = prepare_model_photo(decode_rgb(path.read_bytes()), settings or Settings())
        for category, view in sorted(prepared.views.items()):
            _, skin = worn_garment_and_skin(view.labels, category)
            garment = worn_garment(
                SetView(view.image, view.person_mask, view.inpaint_mask, view.keypoints, view.labels), category
            )
            views.append(
                View(
                    path.stem,
                    category,
                    view.image,
                    view.person_mask,
                    view.inpaint_mask,
                    view.keypoints,
                    garment,
                    skin & view.person_mask,
                    view.labels,
                )
            )
    return views


def recolour(image: np.ndarray, mask: np.ndarray, hue_degrees: int, chroma: int) -> np.ndarray:
    """The garment under ``mask`` in another colourway: one hue and chroma, its lightness pattern
    (shading, folds, print) kept around a mid lightness. What the same garment dyed another
    colour looks like, for light and dark garments alike."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lightness = lab[..., 0]
    centre = float(np.median(lightness[mask]))
    angle = np.deg2rad(hue_degrees)
    dyed = np.stack(
        [
            np.clip(120 + 0.55 * (lightness - centre), 0, 255),
            np.full_like(lightness, 128 + chroma * np.cos(angle)),
            np.full_like(lightness, 128 + chroma * np.sin(angle)),
        ],
        axis=-1,
    )
    rgb = cv2.cvtColor(dyed.astype(np.uint8), cv2.COLOR_LAB2RGB)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 0.8)[..., None]
    return np.clip(image * (1 - alpha) + rgb * alpha, 0, 255).astype(np.uint8)


COLOURWAYS = ((30, 45), (160, 40))  # (hue in degrees, chroma) in CIE Lab: red, green
# Views whose parsing mask follows the garment closely enough for a clean recolour (checked by
# looking at every colourway: on the others the fallback parser's mask takes in shoulders, a
# neckline or an arm, and the recoloured photo is not an image a person would publish).
CLEAN_COLOURWAYS = {("049205_0", "upper_body"), ("049205_0", "lower_body"), ("051918_0", "lower_body")}


def labelled(case: Case) -> Case:
    """``case`` with what a person sees in it: nothing in a positive, its mode in a negative.
    (model_6's view had a padding band of its own; the refocus now pads with the backdrop.)"""
    return replace(case, seen=case.seen or ([] if case.label == "positive" else [case.mode]))


def colourways(view: View) -> tuple[tuple[int, int] | None, ...]:
    return (None, *COLOURWAYS) if (view.photo_id, view.category) in CLEAN_COLOURWAYS else (None,)


def perfect(view: View, colourway: tuple[int, int] | None = None) -> Case:
    """The photo as the try-on of its own garment (optionally in another colourway)."""
    image = view.image if colourway is None else recolour(view.image, view.garment, *colourway)
    cloth, cloth_mask = cut_out(image, view.garment)
    suffix = "own" if colourway is None else f"colourway{colourway[0]}"
    return Case(f"{view.photo_id}/{view.category}/{suffix}", "positive", "good", view, image, cloth, cloth_mask)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return decode_rgb(encode_jpeg(image, quality))


def exposure(case: Case, gain: float, offset: float) -> np.ndarray:
    """The garment a little brighter or darker (an engine's rendering of its light), blended
    over a pixel or two at its edge; everything else keeps the photo's pixels. (Shifting the
    whole inpaint region instead leaves a visible band of changed background around the body:
    not a harmless change.)"""
    shifted = np.clip(case.output.astype(np.float32) * gain + offset, 0, 255)
    alpha = cv2.GaussianBlur(case.view.garment.astype(np.float32), (0, 0), 1.0)[..., None]
    return np.clip(case.output * (1 - alpha) + shifted * alpha, 0, 255).astype(np.uint8)


HARMLESS: dict[str, Callable[[Case], np.ndarray]] = {
    "jpeg70": lambda case: jpeg(case.output, 70),
    "brighter": lambda case: jpeg(exposure(case, 1.06, 4), 95),
    "darker": lambda case: jpeg(exposure(case, 0.94, -3), 95),
}


def perfect_outputs(views: list[View]) -> Iterator[Case]:
    """The perfect outputs and their harmless variants (positives, but for a view's own defect)."""
    for view in views:
        for colourway in colourways(view):
            base = perfect(view, colourway)
            yield labelled(replace(base, output=jpeg(base.output, 95)))
            for name, change in HARMLESS.items():
                yield labelled(replace(base, name=f"{base.name}+{name}", output=change(base)))


# ---------------------------------------------------------------------------------------------
# failure modes injected into a good image: each takes the perfect case and returns the broken
# output (and, for the frame, the photo), or None where the mode does not apply to the view


def _skin_tone(view: View) -> np.ndarray:
    pixels = view.image[view.skin & view.person_mask]
    return np.median(pixels, axis=0) if len(pixels) > 50 else np.array([200, 160, 140], np.float32)


def _paint(image: np.ndarray, mask: np.ndarray, colour: np.ndarray, shade: bool = True) -> np.ndarray:
    """``mask`` filled with a flat colour (with the photo's shading when ``shade``), edges softened."""
    out = image.astype(np.float32)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    light = (0.85 + 0.3 * grey / 255.0)[..., None] if shade else 1.0
    fill = np.clip(colour[None, None, :] * light, 0, 255)
    alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.2)[..., None]
    return np.clip(out * (1 - alpha) + fill * alpha, 0, 255).astype(np.uint8)


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
    return x, y, w, h


def skin_block(case: Case) -> np.ndarray:
    """A skin-coloured bar across the middle of the garment."""
    x, y, w, h = _bbox(case.view.garment)
    block = np.zeros_like(case.view.garment)
    block[y + int(0.35 * h) : y + int(0.6 * h), x : x + w] = True
    return _paint(case.output, block & case.view.garment, _skin_tone(case.view))


def print_only(case: Case) -> np.ndarray:
    """Only a patch of the garment (its print) pasted on a bare body."""
    x, y, w, h = _bbox(case.view.garment)
    keep = np.zeros_like(case.view.garment)
    keep[y + int(0.25 * h) : y + int(0.5 * h), x + int(0.3 * w) : x + int(0.7 * w)] = True
    return _paint(case.output, case.view.garment & ~keep, _skin_tone(case.view))


def squeezed(case: Case) -> np.ndarray:
    """The garment squeezed to 65 % of its width about its centre; where it was, bare skin."""
    view = case.view
    x, _, w, _ = _bbox(view.garment)
    centre = x + w / 2
    matrix = np.float32([[0.65, 0, centre * 0.35], [0, 1, 0]])
    garment = cv2.warpAffine(case.output, matrix, (768, 1024), flags=cv2.INTER_LINEAR)
    moved = cv2.warpAffine(view.garment.astype(np.uint8), matrix, (768, 1024), flags=cv2.INTER_NEAREST) > 0
    bare = _paint(case.output, view.garment & ~moved, _skin_tone(view))
    return np.where(moved[..., None], garment, bare)


# Where a 35 % stretch shows (checked by looking): a print drawn out, a dress pulled over the
# feet. On the plain tops and trousers of the other views the same stretch looks like a slightly
# longer garment that a person would publish, so it is not made there.
STRETCH_SHOWS = {("049205_0", "upper_body"), ("051918_0", "upper_body"), ("052472_0", "dresses")}


def stretched(case: Case) -> np.ndarray | None:
    """The garment stretched to 135 % of its height from its top edge, over whatever lies below."""
    view = case.view
    if (view.photo_id, view.category) not in STRETCH_SHOWS:
        return None
    _, y, _, _ = _bbox(view.garment)
    matrix = np.float32([[1, 0, 0], [0, 1.35, -0.35 * y]])
    garment = cv2.warpAffine(case.output, matrix, (768, 1024), flags=cv2.INTER_LINEAR)
    moved = (cv2.warpAffine(view.garment.astype(np.uint8), matrix, (768, 1024), flags=cv2.INTER_NEAREST) > 0) & view.inpaint_mask
    return np.where(moved[..., None], garment, case.output)


def detached_sleeve(case: Case, shift: int = 40) -> np.ndarray | None:
    """Upper body: the garment beyond one shoulder (its sleeve) moved ``shift`` px out and turned
    away from the arm (inside the inpaint region, as an engine paints), leaving the arm bare."""
    view = case.view
    if view.category != "upper_body":
        return None
    kp = view.keypoints
    right, left = kp[KP["r_shoulder"]], kp[KP["l_shoulder"]]
    side_x = min(right[0], left[0])  # the sleeve on the image's left
    sleeve = view.garment.copy()
    sleeve[:, int(side_x) :] = False
    if sleeve.sum() < max(500, 0.06 * view.garment.sum()):  # a sleeveless top has no sleeve to fling off
        return None
    pivot = (float(side_x), float(min(right[1], left[1])))
    matrix = cv2.getRotationMatrix2D(pivot, -25, 1.0)
    matrix[0, 2] -= shift
    moved_pixels = cv2.warpAffine(case.output, matrix, (768, 1024), flags=cv2.INTER_LINEAR)
    moved = (cv2.warpAffine(sleeve.astype(np.uint8), matrix, (768, 1024), flags=cv2.INTER_NEAREST) > 0) & view.inpaint_mask
    bare = _paint(case.output, sleeve, _skin_tone(view))
    return np.where(moved[..., None], moved_pixels, bare)


def dress_split(case: Case) -> np.ndarray | None:
    """Dresses: the skirt split into two trouser legs by a strip of the background from the hips down."""
    view = case.view
    if view.category != "dresses":
        return None
    kp = view.keypoints
    hip_y = int((kp[KP["r_hip"], 1] + kp[KP["l_hip"], 1]) / 2)
    centre = int((kp[KP["r_hip"], 0] + kp[KP["l_hip"], 0]) / 2)
    gap = np.zeros_like(view.garment)
    gap[hip_y + 40 :, centre - 22 : centre + 22] = True
    background = np.median(view.image[~view.person_mask], axis=0)
    return _paint(case.output, gap & view.garment, background, shade=False)


def old_garment_everywhere(case: Case) -> np.ndarray | None:
    """The engine changed nothing: the photo's own garment where the new colourway should be."""
    return case.view.image if case.name.split("/")[-1].startswith("colourway") else None


def old_garment_band(case: Case) -> np.ndarray | None:
    """The old garment left showing in a band at the waist (the lowest 30 % of the garment)."""
    if not case.name.split("/")[-1].startswith("colourway"):
        return None
    _, y, _, h = _bbox(case.view.garment)
    band = np.zeros_like(case.view.garment)
    band[y + int(0.7 * h) :] = True
    band &= case.view.garment
    return np.where(band[..., None], case.view.image, case.output)


def halo(case: Case) -> np.ndarray:
    """A light ring along the inpaint region's edge, as a bad composite leaves one."""
    region = case.view.inpaint_mask.astype(np.uint8)
    ring = (region - cv2.erode(region, np.ones((9, 9), np.uint8))) > 0
    out = case.output.astype(np.float32)
    out[ring] = out[ring] * 0.4 + 255 * 0.6
    return np.clip(out, 0, 255).astype(np.uint8)


SMEAR_SHOWS = 15.0  # CIE76 between the garment's and the backdrop's colours under which a smear does not show


def _lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.reshape(1, 1, 3).astype(np.uint8), cv2.COLOR_RGB2LAB).reshape(3).astype(np.float32) * np.float32(
        [100 / 255, 1, 1]
    )


def garment_smear(case: Case) -> np.ndarray | None:
    """The garment's colour smeared 12-25 px past the body into the background, inside the
    region: the blurred fringe a bad warp or composite leaves (the warp baseline's outputs have it).
    Not made where the region leaves too little background beside the garment to show one, nor
    where the garment is the backdrop's colour (a white tee on a light backdrop: no smear shows)."""
    view = case.view
    garment = view.garment.astype(np.uint8)
    ring = (cv2.dilate(garment, np.ones((51, 51), np.uint8)) > 0) & ~view.person_mask & view.inpaint_mask
    if ring.sum() < 5000:
        return None
    colour = np.median(case.output[view.garment], axis=0).astype(np.float32)
    backdrop = np.median(case.output[~view.person_mask], axis=0).astype(np.float32)
    if np.linalg.norm(_lab(colour) - _lab(backdrop)) < SMEAR_SHOWS:
        return None
    smear = cv2.GaussianBlur(ring.astype(np.float32), (0, 0), 4.0)[..., None] * ring[..., None]
    return np.clip(case.output * (1 - 0.85 * smear) + colour * 0.85 * smear, 0, 255).astype(np.uint8)


def noise(case: Case) -> np.ndarray:
    """Grain inside the region, as an unconverged or broken diffusion model leaves it."""
    grain = np.random.default_rng(7).normal(0, 18, case.output.shape).astype(np.float32)
    out = case.output.astype(np.float32)
    region = case.view.inpaint_mask
    out[region] += grain[region]
    return np.clip(out, 0, 255).astype(np.uint8)


def refocus_frame(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """A visible padding frame (refocus padded the photo with a colour that is not its own), in
    the photo view and so in the output."""
    colour = np.array([60, 62, 66], np.float32)

    def framed(image: np.ndarray) -> np.ndarray:
        out = image.copy()
        out[:, :70] = colour
        out[:, -70:] = colour
        return out

    return framed(case.output), framed(case.view.image)


FAULTS: dict[str, Callable[[Case], object]] = {
    "skin_block": skin_block,
    "print_only": print_only,
    "squeezed": squeezed,
    "stretched": stretched,
    "detached_sleeve": detached_sleeve,
    "dress_split": dress_split,
    "old_garment_left": old_garment_everywhere,
    "old_garment_band": old_garment_band,
    "halo": halo,
    "garment_smear": garment_smear,
    "noise": noise,
    "refocus_frame": refocus_frame,
}


def injected(views: list[View], faults: dict[str, Callable[[Case], object]] | None = None) -> Iterator[Case]:
    """Each fault (``FAULTS`` unless given) on each view's perfect case and first colourway. A
    fault returns the broken output, (output, photo), a whole broken case, or None."""
    for view in views:
        for colourway in colourways(view)[:2]:
            base = perfect(view, colourway)
            for mode, fault in (faults or FAULTS).items():
                result = fault(base)
                if result is None:
                    continue
                if isinstance(result, Case):
                    broken, output, photo = result, result.output, None
                else:
                    broken = base
                    output, photo = result if isinstance(result, tuple) else (result, None)
                yield labelled(
                    replace(
                        broken, name=f"{broken.name}+{mode}", label="negative", mode=mode, output=jpeg(output, 95), photo=photo
                    )
                )


# ---------------------------------------------------------------------------------------------
# engine outputs: the warp baseline's (labelled by looking) and random-weight LaDI-VTON's

DROP_CATEGORIES = {
    "TEE-00055": "upper_body",
    "TEE-03032": "upper_body",
    "CAMI-048769": "upper_body",
    "JEANS-051946": "lower_body",
    "TROUSER-051473": "lower_body",
    "DRESS-052234": "dresses",
    "DRESS-053744": "dresses",
}


def drop_garments() -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """sku -> (category, cloth, cloth mask) of the sample drop's garments, preprocessed as intake does."""
    from tasks.preprocess.garment import prepare_garment

    garments = {}
    for sku, category in DROP_CATEGORIES.items():
        prepared = prepare_garment(decode_rgb((SAMPLES / "drop" / sku / "front.jpg").read_bytes()))
        garments[sku] = (category, prepared.cloth, prepared.mask)
    return garments


def _sample(view: View, sku: str, cloth: np.ndarray, cloth_mask: np.ndarray, seed: int) -> object:
    from tasks.inference.engine import TryOnSample

    return TryOnSample(
        generation_id=f"{sku}/{view.photo_id}",
        category=view.category,
        person=view.image,
        person_mask=view.person_mask,
        inpaint_mask=view.inpaint_mask,
        keypoints=view.keypoints,
        cloth=cloth,
        cloth_mask=cloth_mask,
        seed=seed,
    )


def load_labels() -> dict[str, dict[str, object]]:
    import yaml

    return yaml.safe_load((REPO / "bench" / "qc" / "labels.yaml").read_text())


def warp_baseline_cases(views: list[View], labels: dict[str, dict[str, object]], only: set[str] | None = None) -> Iterator[Case]:
    """Every sample garment on every view of its category (or the ``only`` names), made by the
    warp baseline; each label (``positive``/``negative`` and the failure modes seen, first the
    one a person sees first) comes from ``bench/qc/labels.yaml``."""
    from tasks.inference.warp_baseline import WarpBaselineEngine

    engine = WarpBaselineEngine()
    for sku, (category, cloth, cloth_mask) in drop_garments().items():
        for view in (v for v in views if v.category == category):
            name = f"{view.photo_id}/{category}/warp:{sku}"
            if only is not None and name not in only:
                continue
            if name not in labels:
                raise KeyError(f"{name} has no label in bench/qc/labels.yaml: look at it and label it")
            label = labels[name]
            output = engine.generate([_sample(view, sku, cloth, cloth_mask, 0)]).images[0]
            yield labelled(
                Case(
                    name,
                    label["label"],
                    label["seen"][0] if label["seen"] else "good",
                    view,
                    jpeg(output, 95),
                    cloth,
                    cloth_mask,
                    seen=list(label["seen"]),
                )
            )


def random_ladi_vton_cases(views: list[View], count: int = 6) -> Iterator[Case]:
    """Random-weight LaDI-VTON (the small configuration of the real classes, 4 steps): noise where
    the garment should be. Negative by construction, failure mode ``noise``."""
    import torch

    from tasks.inference.ladi_vton.components import SMALL, random_components
    from tasks.inference.ladi_vton.tensors import paste_back, sample_tensors

    pipeline = random_components(SMALL, seed=3).pipeline("ddim")
    garments = drop_garments()
    pairs = [(view, sku) for view in views for sku, (category, _, _) in garments.items() if category == view.category]
    for index, (view, sku) in enumerate(pairs[:: max(1, len(pairs) // count)][:count]):
        _, cloth, cloth_mask = garments[sku]
        sample = _sample(view, sku, cloth, cloth_mask, index)
        with torch.inference_mode():
            out = pipeline(
                **sample_tensors([sample]),
                categories=[view.category],
                generators=[torch.Generator().manual_seed(index)],
                num_inference_steps=4,
                guidance_scale=7.5,
            )
        pixels = (out.images[0].permute(1, 2, 0).float().numpy() * 255 + 0.5).astype(np.uint8)
        output = paste_back(pixels, view.image, view.inpaint_mask)
        yield Case(
            f"{view.photo_id}/{view.category}/ladi-random:{sku}",
            "negative",
            "noise",
            view,
            jpeg(output, 95),
            cloth,
            cloth_mask,
            seen=["noise"],
        )
