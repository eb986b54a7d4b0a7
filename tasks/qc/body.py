"""Body integrity: the same mediapipe pose and person segmentation that the library runs on the
photo, run again on the output. A try-on changes the clothes, not the body: the keypoints stay
where the photo has them, the person stays one connected figure (a sleeve flung off the arm, a
limb cut away or a second blob of garment shows up here), and the photo's bare arms and legs in
the region stay a person's (painted over with the backdrop, they are gone from the segmentation
whatever their colour)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tasks.preprocess.pose import KP, shared_pose
from tasks.preprocess.segmentation import component_areas, shared_segmenter

# the points a garment can hide or move without the body changing are left out: eyes and ears
BODY_POINTS = [
    KP[n]
    for n in (
        "neck",
        "r_shoulder",
        "l_shoulder",
        "r_elbow",
        "l_elbow",
        "r_wrist",
        "l_wrist",
        "r_hip",
        "l_hip",
        "r_knee",
        "l_knee",
    )
]
LOST = 10.0  # pose_shift when the photo's body keypoints are not found on the output at all
MIN_PART = 0.03  # a second person-sized part: at least this share of the image
MIN_SKIN = 800  # pixels of bare skin in the region below which erasing it is not measured


@dataclass
class BodyMeasures:
    pose_shift: float  # median distance of the body keypoints to the photo's, in torso lengths; LOST when none is found again
    person_parts: int  # person-sized connected parts of the segmented output beyond the photo's own
    skin_erased: float  # share of the photo's bare skin in the region the output's person no longer covers


def torso_length(keypoints: np.ndarray) -> float:
    shoulders = keypoints[[KP["r_shoulder"], KP["l_shoulder"]], :2].mean(axis=0)
    hips = keypoints[[KP["r_hip"], KP["l_hip"]], :2].mean(axis=0)
    return max(float(np.linalg.norm(hips - shoulders)), 1.0)


def _parts(person: np.ndarray) -> int:
    return sum(1 for area in component_areas(person) if area >= MIN_PART * person.shape[0] * person.shape[1])


def person_parts(image: np.ndarray) -> int:
    """Connected parts of the segmented person larger than MIN_PART of the image."""
    return _parts(shared_segmenter().segment(image))


def skin_erased(person: np.ndarray, bare_skin: np.ndarray) -> float:
    """The share of ``bare_skin`` (the photo's, in the region, its edge left out) that the output's
    segmented ``person`` no longer covers: an arm painted over with the backdrop."""
    core = cv2.erode(bare_skin.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    area = int(core.sum())
    return float((core & ~person).sum() / area) if area >= MIN_SKIN else 0.0


def measure_body(output: np.ndarray, photo_parts: int, keypoints: np.ndarray, bare_skin: np.ndarray) -> BodyMeasures:
    """Against the photo's keypoints, its own count of person parts (``person_parts``) and its
    bare skin inside the region."""
    found = shared_pose()(output).keypoints
    both = [i for i in BODY_POINTS if keypoints[i, 2] >= 0.5 and found[i, 2] >= 0.5]
    if both:
        shift = float(np.median(np.linalg.norm(found[both, :2] - keypoints[both, :2], axis=1)) / torso_length(keypoints))
    else:
        shift = LOST if (keypoints[BODY_POINTS, 2] >= 0.5).any() else 0.0
    person = shared_segmenter().segment(output)
    return BodyMeasures(pose_shift=shift, person_parts=_parts(person) - photo_parts, skin_erased=skin_erased(person, bare_skin))
