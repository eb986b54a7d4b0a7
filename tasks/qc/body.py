"""Body integrity: the same mediapipe pose and person segmentation that the library runs on the
photo, run again on the output. A try-on changes the clothes, not the body: the keypoints stay
where the photo has them, and the person stays one connected figure (a sleeve flung off the
arm, a limb cut away or a second blob of garment shows up here)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass
class BodyMeasures:
    pose_shift: float  # median distance of the body keypoints to the photo's, in torso lengths; LOST when none is found again
    person_parts: int  # person-sized connected parts of the segmented output beyond the photo's own


def torso_length(keypoints: np.ndarray) -> float:
    shoulders = keypoints[[KP["r_shoulder"], KP["l_shoulder"]], :2].mean(axis=0)
    hips = keypoints[[KP["r_hip"], KP["l_hip"]], :2].mean(axis=0)
    return max(float(np.linalg.norm(hips - shoulders)), 1.0)


def person_parts(image: np.ndarray) -> int:
    """Connected parts of the segmented person larger than MIN_PART of the image."""
    areas = component_areas(shared_segmenter().segment(image))
    return sum(1 for area in areas if area >= MIN_PART * image.shape[0] * image.shape[1])


def measure_body(output: np.ndarray, photo_parts: int, keypoints: np.ndarray) -> BodyMeasures:
    """Against the photo's keypoints and its own count of person parts (``person_parts``)."""
    found = shared_pose()(output).keypoints
    both = [i for i in BODY_POINTS if keypoints[i, 2] >= 0.5 and found[i, 2] >= 0.5]
    if both:
        shift = float(np.median(np.linalg.norm(found[both, :2] - keypoints[both, :2], axis=1)) / torso_length(keypoints))
    else:
        shift = LOST if (keypoints[BODY_POINTS, 2] >= 0.5).any() else 0.0
    return BodyMeasures(pose_shift=shift, person_parts=person_parts(output) - photo_parts)
