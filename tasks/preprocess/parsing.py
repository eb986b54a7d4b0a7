"""Human parsing to the 18-class ATR label map (the labels LaDI-VTON's masks are defined on).

Two backends:

- ``SCHPOnnxParser``: an operator-provided SCHP (Self-Correction Human Parsing, ATR) model
  exported to ONNX, as other try-on projects ship it: one input (1, 3, 512, 512), BGR, ImageNet
  normalisation in BGR order, logits (1, 18, h, w) as the first output.
- ``FallbackParser``: a labelled heuristic from pose, person mask and colour cues. It derives the
  labels the masks need: face and hair, upper clothes, skirt / pants / dress, arms (hands
  included, as in ATR), legs and shoes.

Where the fallback is weak (also in docs/library.md): it never outputs hat, sunglasses, belt,
bag or scarf; it splits top from bottom by colour at an edge across the waist, so a top and
bottom of the same colour, or meeting without a visible edge, read as a dress (and a dress that
shades from one colour to another is read as one), and a patterned top whose colours match the
trousers can move the split; a bare
midriff is labelled upper clothes; hair falling over the shoulders below the chin is labelled
clothes; skin detection needs a visible face or hands, and without it arms and legs in the
same colour as the clothes are labelled clothes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tasks.preprocess.onnx_runtime import ON_CPU, OnnxPlacement, device_of
from tasks.preprocess.pose import KP
from tasks.preprocess.skin import skin_model

ATR_LABELS: dict[str, int] = {
    "background": 0,
    "hat": 1,
    "hair": 2,
    "sunglasses": 3,
    "upper_clothes": 4,
    "skirt": 5,
    "pants": 6,
    "dress": 7,
    "belt": 8,
    "left_shoe": 9,
    "right_shoe": 10,
    "head": 11,
    "left_leg": 12,
    "right_leg": 13,
    "left_arm": 14,
    "right_arm": 15,
    "bag": 16,
    "scarf": 17,
}
L = ATR_LABELS
FALLBACK_BACKEND = "fallback-pose-colour-v1"


@dataclass
class Parsing:
    labels: np.ndarray  # (H, W) uint8, ATR ids
    backend: str


class SCHPOnnxParser:
    """SCHP ATR model through onnxruntime, on the CPU or CUDA as ``onnx_runtime.placement`` puts it."""

    input_size = (512, 512)
    mean_bgr = np.array([0.406, 0.456, 0.485], np.float32)
    std_bgr = np.array([0.225, 0.224, 0.229], np.float32)

    def __init__(self, model_path: Path, version: str, placement: OnnxPlacement | None = None) -> None:
        self._session = (placement or ON_CPU).session(str(model_path))
        self.device = device_of(self._session)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, *self.input_size]:
            raise ValueError(f"{model_path}: expected one input (N, 3, 512, 512), got {[(i.name, i.shape) for i in inputs]}")
        self._input = inputs[0].name
        self.backend = f"schp-atr-onnx:{version}"

    def __call__(self, image: np.ndarray, person: np.ndarray, keypoints: np.ndarray) -> Parsing:
        height, width = image.shape[:2]
        bgr = cv2.resize(image[..., ::-1], self.input_size[::-1], interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
        tensor = ((bgr - self.mean_bgr) / self.std_bgr).transpose(2, 0, 1)[None]
        logits = self._session.run(None, {self._input: tensor})[0][0]
        if logits.shape[0] != len(ATR_LABELS):
            raise ValueError(f"SCHP output has {logits.shape[0]} classes, expected {len(ATR_LABELS)}")
        resized = np.stack([cv2.resize(channel, (width, height), interpolation=cv2.INTER_LINEAR) for channel in logits])
        return Parsing(labels=resized.argmax(axis=0).astype(np.uint8), backend=self.backend)


class FallbackParser:
    """Labels from pose, person mask and colour; see the module docstring for its limits."""

    backend = FALLBACK_BACKEND
    device = "cpu"

    def __call__(self, image: np.ndarray, person: np.ndarray, keypoints: np.ndarray) -> Parsing:
        return Parsing(labels=fallback_labels(image, person, keypoints), backend=self.backend)


def _line(canvas: np.ndarray, points: list[np.ndarray], thickness: int) -> None:
    if len(points) >= 2:
        cv2.polylines(canvas, [np.asarray(points, np.int32)], False, 1, thickness=thickness)


def _present(keypoints: np.ndarray, *names: str) -> bool:
    return all(keypoints[KP[n], 2] >= 0.5 for n in names)


def fallback_labels(image: np.ndarray, person: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    height, width = person.shape
    kp = keypoints
    point = {name: kp[index, :2] for name, index in KP.items()}
    labels = np.zeros((height, width), np.uint8)
    if not _present(kp, "r_shoulder", "l_shoulder"):
        labels[person] = L["upper_clothes"]
        return labels
    rows, cols = np.mgrid[0:height, 0:width]
    shoulder_width = float(np.linalg.norm(point["r_shoulder"] - point["l_shoulder"]))
    has_hips = _present(kp, "r_hip", "l_hip")
    shoulder_y = (point["r_shoulder"][1] + point["l_shoulder"][1]) / 2
    hip_y = (point["r_hip"][1] + point["l_hip"][1]) / 2 if has_hips else shoulder_y + 1.5 * shoulder_width
    torso = hip_y - shoulder_y
    skin, _ = skin_model(image, person, kp)

    # the line through the shoulders, as LaDI-VTON's neck rule draws it
    (x1, y1), (x2, y2) = point["r_shoulder"], point["l_shoulder"]
    slope = (y2 - y1) / (x2 - x1) if abs(x2 - x1) > 1e-3 else 0.0
    shoulder_line = y1 + slope * (cols - x1)
    chin_y = shoulder_y - 0.18 * torso
    if _present(kp, "nose"):
        chin_y = point["nose"][1] + 0.55 * (shoulder_y - point["nose"][1])

    # arms and hands: bands along shoulder -> elbow -> wrist (and a little past the wrist)
    arm_labels = {"l": L["left_arm"], "r": L["right_arm"]}
    arm_bands = {}
    for side in ("l", "r"):
        band = np.zeros((height, width), np.uint8)
        joints = [point[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist") if _present(kp, f"{side}_{j}")]
        if _present(kp, f"{side}_elbow", f"{side}_wrist"):
            joints.append(point[f"{side}_wrist"] + 0.45 * (point[f"{side}_wrist"] - point[f"{side}_elbow"]))
        _line(band, joints, max(3, int(0.3 * shoulder_width)))
        arm_bands[side] = (band > 0) & person
    leg_labels = {"l": L["left_leg"], "r": L["right_leg"]}
    leg_bands = {}
    for side in ("l", "r"):
        band = np.zeros((height, width), np.uint8)
        _line(
            band,
            [point[f"{side}_{j}"] for j in ("hip", "knee", "ankle") if _present(kp, f"{side}_{j}")],
            max(3, int(0.45 * shoulder_width)),
        )
        leg_bands[side] = (band > 0) & person

    head = person & (rows < shoulder_line - 0.02 * torso) & ~arm_bands["l"] & ~arm_bands["r"]
    labels[head & skin] = L["head"]
    labels[head & ~skin & (rows < chin_y)] = L["hair"]
    clothes = person & ~(head & (skin | (rows < chin_y)))

    # shoes: below the ankles, by side
    if _present(kp, "r_ankle", "l_ankle"):
        ankle_y = (point["r_ankle"][1] + point["l_ankle"][1]) / 2
        feet = person & (rows > ankle_y - 0.02 * torso) & ~skin
        mid_x = (point["r_ankle"][0] + point["l_ankle"][0]) / 2
        left_is_right_of_mid = point["l_ankle"][0] > mid_x
        left_side = (cols > mid_x) if left_is_right_of_mid else (cols <= mid_x)
        labels[feet & left_side] = L["left_shoe"]
        labels[feet & ~left_side] = L["right_shoe"]
        clothes &= ~feet

    for side in ("l", "r"):
        bare = arm_bands[side] & skin & (rows >= shoulder_line - 0.02 * torso)
        labels[bare] = arm_labels[side]
        clothes &= ~bare
        bare_leg = leg_bands[side] & skin & (rows > hip_y)
        labels[bare_leg & (labels == 0)] = leg_labels[side]
        clothes &= ~bare_leg

    split, upper_like = _split_clothes(image, clothes, kp, point, shoulder_y, hip_y, torso, cols)
    sleeves = clothes & (arm_bands["l"] | arm_bands["r"]) & upper_like
    split[sleeves] = L["upper_clothes"]  # sleeves belong to the top whatever the row
    labels[clothes] = split[clothes]
    return labels


def _split_clothes(image, clothes, kp, point, shoulder_y, hip_y, torso, cols) -> tuple[np.ndarray, np.ndarray]:
    """Upper clothes above a row found by colour, the lower garment below it; one dress when the
    two look alike and no split is found. Also returns which pixels look like the top (for
    sleeves that hang beside the lower garment)."""
    height, width = clothes.shape
    out = np.full((height, width), L["upper_clothes"], np.uint8)
    nothing_like_top = np.zeros((height, width), bool)
    if not _present(kp, "r_hip", "l_hip"):
        return out, nothing_like_top
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    centre_x = (point["r_hip"][0] + point["l_hip"][0]) / 2
    half = 0.25 * abs(point["r_shoulder"][0] - point["l_shoulder"][0])
    central = clothes & (np.abs(cols - centre_x) < half)
    has_knees = _present(kp, "r_knee", "l_knee")
    knee_y = (point["r_knee"][1] + point["l_knee"][1]) / 2 if has_knees else min(height - 1.0, hip_y + torso)
    upper_rows = slice(int(shoulder_y + 0.15 * torso), int(shoulder_y + 0.45 * torso))
    lower_rows = slice(int(hip_y + 0.15 * (knee_y - hip_y)), int(hip_y + 0.45 * (knee_y - hip_y)))
    thigh_band = np.zeros_like(clothes)
    thigh_band[lower_rows] = True
    upper_sample = lab[upper_rows][central[upper_rows]]
    lower_sample = lab[thigh_band & clothes]
    if len(upper_sample) < 30 or len(lower_sample) < 30:
        return out, nothing_like_top
    upper_mean, lower_mean = np.median(upper_sample, axis=0), np.median(lower_sample, axis=0)
    like_top = np.linalg.norm(lab - upper_mean, axis=-1) < np.linalg.norm(lab - lower_mean, axis=-1)

    # best split row between the chest and the thighs: fewest lower-looking pixels above it
    # and upper-looking ones below it, measured in the central column band
    top, bottom = upper_rows.stop, lower_rows.start
    if bottom <= top + 2:
        return out, like_top
    band = central[top:bottom]
    closer_to_lower = ~like_top[top:bottom] & band
    lower_per_row = closer_to_lower.sum(axis=1)
    upper_per_row = (band & ~closer_to_lower).sum(axis=1)
    cost = np.concatenate([[0], np.cumsum(lower_per_row)]) + np.concatenate([np.cumsum(upper_per_row[::-1])[::-1], [0]])
    split = top + int(np.argmin(cost))
    separation = float(np.linalg.norm(upper_mean - lower_mean))
    clean_split = cost.min() < 0.4 * max(1, band.sum())
    if separation < 18 or not clean_split or _waist_edge(lab, central, top, bottom, torso) < 0.5 * separation:
        out[:] = L["dress"]
        return out, nothing_like_top
    lower = _lower_kind(clothes, point, knee_y, has_knees, split)
    out[split:] = lower
    # near the split each pixel goes to the garment it looks like: a hem is rarely level, and a
    # strip of the top's hem left labelled as the trousers stays out of the upper-body mask
    reach = max(2, int(torso / 10))
    window = slice(max(0, split - reach), min(height, split + reach))
    out[window] = np.where(like_top[window], L["upper_clothes"], lower)
    return out, like_top


def _waist_edge(lab: np.ndarray, central: np.ndarray, top: int, bottom: int, torso: float) -> float:
    """The sharpest colour change between the chest and the thighs: over the rows from ``top``
    to ``bottom``, the largest Lab distance between the median colours of the central band
    just above and just below a row (a twelfth of the torso each). A top and a bottom meet at
    an edge, so most of their difference is there; one garment that shades from one colour to
    another (an ombre dress, a skirt in shadow) changes a little everywhere and nowhere much."""
    reach = max(2, int(torso / 12))
    sharpest = 0.0
    for row in range(top, bottom + 1, 2):
        above = lab[max(0, row - reach) : row][central[max(0, row - reach) : row]]
        below = lab[row : row + reach][central[row : row + reach]]
        if len(above) >= 10 and len(below) >= 10:
            sharpest = max(sharpest, float(np.linalg.norm(np.median(above, axis=0) - np.median(below, axis=0))))
    return sharpest


def _lower_kind(clothes: np.ndarray, point: dict, knee_y: float, has_knees: bool, split: int) -> int:
    """Pants when the garment parts between the legs near its lowest rows (or the knees),
    else a skirt."""
    ys = np.flatnonzero(clothes[split:].any(axis=1))
    if len(ys) == 0:
        return L["pants"]
    hem = split + ys[-1]
    probe = int(min(hem, knee_y) - 0.1 * max(1.0, min(hem, knee_y) - split))
    joints = ("r_knee", "l_knee") if has_knees else ("r_hip", "l_hip")
    mid_x = int(round((point[joints[0]][0] + point[joints[1]][0]) / 2))
    between = clothes[max(split, probe - 2) : probe + 3, max(0, mid_x - 2) : mid_x + 3]
    return L["skirt"] if between.size and between.mean() > 0.5 else L["pants"]
