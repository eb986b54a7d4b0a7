"""Model-photo preprocessing: normalise to the 768x1024 canvas, pose keypoints, person mask,
which categories the photo suits, and a first inpaint region per category built from the
keypoints and the person mask.

These regions are a first approximation (the exact LaDI-VTON label-map rules need human
parsing, which comes with the model-library work): upper body and dresses cover the person
from just above the shoulders down to below the hips (dresses: to the knees or ankles),
arms included, the head and hands excluded; lower body covers the person from the waist to
the ankles, arms, hands and feet excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from tasks.images import CANVAS_HEIGHT, CANVAS_WIDTH, fit_to_canvas
from tasks.preprocess.pose import KP, PoseResult, shared_pose
from tasks.preprocess.segmentation import SEGMENTATION_BACKEND, shared_segmenter
from tasks.settings import CATEGORIES

# keypoints a category needs to be fitted on the photo
REQUIRED_KEYPOINTS: dict[str, tuple[str, ...]] = {
    "upper_body": ("r_shoulder", "l_shoulder", "r_elbow", "l_elbow", "r_hip", "l_hip"),
    "lower_body": ("r_hip", "l_hip", "r_knee", "l_knee"),
    "dresses": ("r_shoulder", "l_shoulder", "r_hip", "l_hip", "r_knee", "l_knee"),
}
MIN_PERSON_FRACTION = 0.05
INPAINT_BACKEND = "keypoints+person-mask-v1"


class ModelPhotoRejected(ValueError):
    """The photo cannot be used for any category; the message is the reason."""


@dataclass
class PreparedPhoto:
    image: np.ndarray  # (1024, 768, 3) uint8
    pose: PoseResult
    person_mask: np.ndarray  # bool
    inpaint_masks: dict[str, np.ndarray] = field(default_factory=dict)  # category -> bool mask
    unsuitable: dict[str, str] = field(default_factory=dict)  # category -> reason

    @property
    def categories(self) -> list[str]:
        return sorted(self.inpaint_masks)

    @property
    def backends(self) -> dict[str, str]:
        return {"pose": self.pose.backend, "segmentation": SEGMENTATION_BACKEND, "inpaint": INPAINT_BACKEND}


def background_colour(image: np.ndarray, border: int = 6) -> tuple[int, int, int]:
    edges = np.concatenate([image[:border].reshape(-1, 3), image[-border:].reshape(-1, 3)])
    return tuple(int(v) for v in np.median(edges, axis=0))


def prepare_model_photo(image: np.ndarray) -> PreparedPhoto:
    """Run pose and segmentation on the normalised photo and build the category regions."""
    if image.shape[:2] != (CANVAS_HEIGHT, CANVAS_WIDTH):
        image, _ = fit_to_canvas(image, background_colour(image))
    person = shared_segmenter()(image)
    if person.mean() < MIN_PERSON_FRACTION:
        raise ModelPhotoRejected("no_person: the person mask covers under 5% of the photo")
    pose = shared_pose()(image)
    if not pose.keypoints[:, 2].any():
        raise ModelPhotoRejected("no_pose: no body keypoints detected")
    photo = PreparedPhoto(image=image, pose=pose, person_mask=person)
    for category in CATEGORIES:
        missing = [name for name in REQUIRED_KEYPOINTS[category] if not pose.present(name)]
        if missing:
            photo.unsuitable[category] = f"missing_keypoints: {', '.join(missing)}"
            continue
        photo.inpaint_masks[category] = inpaint_region(category, pose, person)
    if not photo.inpaint_masks:
        raise ModelPhotoRejected("no_category: " + "; ".join(f"{c}: {r}" for c, r in photo.unsuitable.items()))
    return photo


def _line_y(pose: PoseResult, left: str, right: str) -> float:
    return float((pose.point(left)[1] + pose.point(right)[1]) / 2)


ARM = ("shoulder", "elbow", "wrist")
LEG = ("hip", "knee", "ankle")


def limb_lines(pose: PoseResult, shape: tuple[int, int], thickness: int, joints: tuple[str, ...] = ARM) -> np.ndarray:
    """A thick polyline through each side's present joints of a limb (default the arms)."""
    canvas = np.zeros(shape, np.uint8)
    for side in ("r", "l"):
        joints_xy = [pose.point(f"{side}_{j}") for j in joints if pose.present(f"{side}_{j}")]
        if len(joints_xy) >= 2:
            cv2.polylines(canvas, [np.asarray(joints_xy, np.int32)], False, 1, thickness=thickness)
    return canvas > 0


def hand_mask(pose: PoseResult, shape: tuple[int, int], radius: int) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    for side, points in pose.hands.items():
        wrist = pose.point(f"{side[0]}_wrist")
        present = [p[:2] for p in points if p[2] >= 0.3]
        if pose.present(f"{side[0]}_wrist") and present:
            centre = np.mean([wrist, *present], axis=0)
            cv2.circle(canvas, tuple(int(v) for v in centre), radius, 1, thickness=-1)
    return canvas > 0


def inpaint_region(category: str, pose: PoseResult, person: np.ndarray) -> np.ndarray:
    """The region the engine may repaint for ``category`` on this photo (bool mask)."""
    height, width = person.shape
    rows = np.arange(height)[:, None]
    shoulder_y = _line_y(pose, "r_shoulder", "l_shoulder") if pose.present("r_shoulder") else None
    hip_y = _line_y(pose, "r_hip", "l_hip")
    hip_width = float(np.linalg.norm(pose.point("r_hip") - pose.point("l_hip")))
    torso = hip_y - shoulder_y if shoulder_y is not None else 2.5 * hip_width
    hands = hand_mask(pose, person.shape, radius=max(12, int(0.11 * torso)))
    grown = cv2.dilate(person.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0

    if category == "lower_body":
        top = hip_y - 0.22 * torso
        bottom = _leg_end(pose, height)
        band = (rows >= top) & (rows <= bottom)
        arms = limb_lines(pose, person.shape, thickness=max(8, int(0.22 * torso)))
        return grown & band & ~arms & ~hands

    top = shoulder_y - 0.12 * torso
    if category == "upper_body":
        band = (rows >= top) & (rows <= hip_y + 0.18 * torso)
        return grown & band & ~hands
    # dresses: a skirt stands away from the legs, so below the hips the region spans each
    # row of the person (arms and hands left out) from side to side
    band = (rows >= top) & (rows <= _leg_end(pose, height))
    arms = limb_lines(pose, person.shape, thickness=max(8, int(0.22 * torso)))
    legs = np.zeros_like(person)
    for y in range(int(hip_y), height):
        xs = np.flatnonzero(person[y] & ~arms[y] & ~hands[y])
        if len(xs):
            legs[y, xs[0] : xs[-1] + 1] = True
    return (grown | legs) & band & ~hands


def _leg_end(pose: PoseResult, height: int) -> float:
    """Just above the feet when the ankles show, else the photo's bottom edge."""
    if pose.present("r_ankle") and pose.present("l_ankle"):
        knee_y = _line_y(pose, "r_knee", "l_knee")
        ankle_y = _line_y(pose, "r_ankle", "l_ankle")
        return ankle_y + 0.08 * (ankle_y - knee_y)
    return float(height - 1)
