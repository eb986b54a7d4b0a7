"""The geometric warp baseline: a CPU try-on engine with no learned weights.

It fits landmarks of the garment's mask contour onto the body's keypoints with a thin-plate
spline (sleeves by a rigid rotation onto the arms), composites the warped garment into the
photo's inpaint region with feathered edges, and fills inpaint pixels the garment does not
cover: skin-coloured pixels keep the photo's own; uncovered arms and legs (an old long sleeve
under a new short one) are painted in the person's skin tone with the photo's shading; the rest
is inpainted from its surroundings (OpenCV Telea). The garment's main part never covers the
forearms, which hang in front of it. Pixels outside the inpaint region are never touched.
Every output says it is ``warp-baseline``: this is not LaDI-VTON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from tasks.catalog.documents import JsonObject
from tasks.images import CANVAS_HEIGHT, CANVAS_WIDTH
from tasks.inference.engine import NO_WEIGHTS, Engine, Release, TryOnOutput, TryOnSample
from tasks.inference.landmarks import Correspondence, correspondence
from tasks.inference.tps import backward_warp
from tasks.preprocess.pose import LEG, PoseResult, limb_lines
from tasks.preprocess.skin import skin_model
from tasks.settings import CATEGORIES


@dataclass
class LimbBands:
    """Thick polylines along the limbs, clipped to the person."""

    forearms: np.ndarray
    arms: np.ndarray
    legs: np.ndarray

    @classmethod
    def of(cls, sample: TryOnSample) -> LimbBands:
        pose = PoseResult(keypoints=sample.keypoints, hands={})
        shoulder_width = float(np.linalg.norm(pose.point("r_shoulder") - pose.point("l_shoulder")))
        hip_width = float(np.linalg.norm(pose.point("r_hip") - pose.point("l_hip")))
        shape, person = sample.person_mask.shape, sample.person_mask
        return cls(
            forearms=limb_lines(pose, shape, max(6, int(0.18 * shoulder_width)), ("elbow", "wrist")) & person,
            arms=limb_lines(pose, shape, max(6, int(0.22 * shoulder_width))) & person,
            legs=limb_lines(pose, shape, max(6, int(0.7 * hip_width)), LEG) & person,
        )


@dataclass
class WarpBaselineConfig:
    feather_px: int = 7
    grid_step: int = 8
    inpaint_radius: int = 6
    skin_tolerance: float = 2.5


class WarpBaselinePipeline:
    """check_inputs -> prepare_correspondence (+ limb bands) -> prepare_warped_cloth -> composite."""

    def __init__(self, config: WarpBaselineConfig | None = None) -> None:
        self.config = config or WarpBaselineConfig()

    def check_inputs(self, sample: TryOnSample) -> None:
        shape = (CANVAS_HEIGHT, CANVAS_WIDTH)
        if sample.category not in CATEGORIES:
            raise ValueError(f"{sample.generation_id}: unknown category {sample.category!r}")
        for name in ("person", "cloth"):
            array = getattr(sample, name)
            if array.shape != (*shape, 3) or array.dtype != np.uint8:
                raise ValueError(f"{sample.generation_id}: {name} must be uint8 {shape + (3,)}, got {array.dtype} {array.shape}")
        for name in ("person_mask", "inpaint_mask", "cloth_mask"):
            if getattr(sample, name).shape != shape:
                raise ValueError(f"{sample.generation_id}: {name} must be {shape}")
        if not sample.inpaint_mask.any():
            raise ValueError(f"{sample.generation_id}: empty inpaint mask")
        if sample.keypoints.shape != (18, 3):
            raise ValueError(f"{sample.generation_id}: keypoints must be COCO-18 (18, 3)")

    def prepare_correspondence(self, sample: TryOnSample) -> Correspondence:
        return correspondence(sample.category, sample.cloth_mask, sample.keypoints)

    def prepare_warped_cloth(self, sample: TryOnSample, corr: Correspondence, limbs: LimbBands) -> tuple[np.ndarray, np.ndarray]:
        """The garment on the body and its coverage in [0, 1]: the main part by the
        thin-plate spline, then each sleeve by its rigid fit, drawn over it."""
        garment_points, body_points = corr.as_arrays()
        height, width = sample.person.shape[:2]
        main = sample.cloth_mask.copy()
        for sleeve in corr.sleeves:
            main &= ~sleeve.mask
        warped = backward_warp(sample.cloth, body_points, garment_points, (height, width), self.config.grid_step, (255, 255, 255))
        coverage = backward_warp(
            main.astype(np.uint8) * 255, body_points, garment_points, (height, width), self.config.grid_step, 0
        )
        coverage = coverage.astype(np.float32) / 255.0
        coverage[limbs.forearms] = 0.0  # hanging forearms are in front of the garment's body
        for sleeve in corr.sleeves:
            sleeve_rgb = cv2.warpAffine(
                sample.cloth, sleeve.matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
            )
            sleeve_alpha = cv2.warpAffine(sleeve.mask.astype(np.float32), sleeve.matrix, (width, height), flags=cv2.INTER_LINEAR)
            warped = (warped * (1 - sleeve_alpha[..., None]) + sleeve_rgb * sleeve_alpha[..., None]).astype(np.uint8)
            coverage = np.maximum(coverage, sleeve_alpha)
        return warped, coverage

    def composite(self, sample: TryOnSample, warped: np.ndarray, coverage: np.ndarray, limbs: LimbBands) -> np.ndarray:
        region = sample.inpaint_mask
        feather = self.config.feather_px | 1
        alpha = cv2.GaussianBlur(coverage, (feather, feather), 0) * region
        base = self._fill_uncovered(sample, coverage > 0.5, limbs)
        out = base.astype(np.float32) * (1 - alpha[..., None]) + warped.astype(np.float32) * alpha[..., None]
        out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        out[~region] = sample.person[~region]
        return out

    def _fill_uncovered(self, sample: TryOnSample, covered: np.ndarray, limbs: LimbBands) -> np.ndarray:
        """Photo with the uncovered part of the inpaint region filled: skin stays, uncovered
        limbs get skin tone, the rest (old garment beyond the body, background) is inpainted
        from what surrounds it."""
        region = sample.inpaint_mask
        skin, tone = skin_model(sample.person, sample.person_mask, sample.keypoints, self.config.skin_tolerance)
        result = sample.person.copy()
        unknown = region & ~covered & ~skin
        if tone is not None:
            bare = unknown & (limbs.arms | limbs.legs)
            result[bare] = shade(sample.person, tone, bare)[bare]
            unknown &= ~bare
        if not unknown.any():
            return result
        # inpaint at half resolution (Telea's cost grows with the hole), then upsample the fill
        small = cv2.resize(sample.person, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(unknown.astype(np.uint8), None, fx=0.5, fy=0.5, interpolation=cv2.INTER_NEAREST)
        small_hole = cv2.dilate(small_hole, np.ones((3, 3), np.uint8))
        filled = cv2.inpaint(small, small_hole, self.config.inpaint_radius, cv2.INPAINT_TELEA)
        filled = cv2.resize(filled, (sample.person.shape[1], sample.person.shape[0]), interpolation=cv2.INTER_LINEAR)
        result[unknown] = filled[unknown]
        return result

    def __call__(self, batch: list[TryOnSample]) -> TryOnOutput:
        images: list[np.ndarray] = []
        details: list[JsonObject] = []
        for sample in batch:
            self.check_inputs(sample)
            corr = self.prepare_correspondence(sample)
            limbs = LimbBands.of(sample)
            warped, coverage = self.prepare_warped_cloth(sample, corr, limbs)
            images.append(self.composite(sample, warped, coverage, limbs))
            details.append({"landmarks": corr.to_dict()})
        return TryOnOutput(images=images, details=details)


def shade(image: np.ndarray, tone: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``tone`` modulated by the image's lightness relative to its median over ``where``, so
    folds and shadows survive while the average is the tone itself."""
    luma = cv2.GaussianBlur(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 3)
    relative = luma / max(1.0, float(np.median(luma[where])))
    relative = 0.75 + 0.25 * np.clip(relative, 0.6, 1.3)  # soft: the old garment's print must not show
    return np.clip(tone[None, None, :] * relative[..., None], 0, 255).astype(np.uint8)


class WarpBaselineEngine(Engine):
    name = "warp-baseline"
    version = "1.0.0"
    is_baseline = True
    licence = "no learned weights (project code)"

    def __init__(self, config: WarpBaselineConfig | None = None) -> None:
        self.pipeline = WarpBaselinePipeline(config)

    @property
    def weights_sha256(self) -> str:
        return NO_WEIGHTS

    @property
    def parameters(self) -> JsonObject:
        return {**asdict(self.pipeline.config), "deterministic": True}

    @property
    def release(self) -> Release:
        return Release(False, "warp-baseline is a geometric CPU baseline, not a released try-on model: its images are previews")

    def generate(self, batch: list[TryOnSample]) -> TryOnOutput:
        return self.pipeline(batch)
