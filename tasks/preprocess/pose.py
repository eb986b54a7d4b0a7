"""Pose keypoints in OpenPose COCO-18 order from mediapipe's pose landmarker (the model ships
inside the mediapipe wheel; ``model_complexity=1`` is the only one that needs no download).

COCO-18 order: nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow, l-wrist, r-hip,
r-knee, r-ankle, l-hip, l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear. "Right" is the person's
right, which is the image's left in a frontal photo.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

COCO18_NAMES: tuple[str, ...] = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
KP = {name: index for index, name in enumerate(COCO18_NAMES)}

# mediapipe's 33 pose landmarks -> COCO-18 (neck is the mean of the two shoulders)
_MEDIAPIPE_TO_COCO18: dict[int, int] = {
    0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28,
    11: 23, 12: 25, 13: 27, 14: 5, 15: 2, 16: 8, 17: 7,
}
_MP_LEFT_SHOULDER, _MP_RIGHT_SHOULDER = 11, 12
# mediapipe hand points (pinky, index, thumb), used to keep hands out of inpaint regions
_MP_HANDS = {"right": (16, 18, 20, 22), "left": (15, 17, 19, 21)}

MIN_SCORE = 0.5
POSE_BACKEND = "mediapipe-pose-0.10.21-complexity1"


@dataclass
class PoseResult:
    """Keypoints (18, 3): x, y in pixels and a score in [0, 1]; score 0 means missing."""

    keypoints: np.ndarray
    hands: dict[str, np.ndarray]
    backend: str = POSE_BACKEND

    def present(self, name: str) -> bool:
        return bool(self.keypoints[KP[name], 2] >= MIN_SCORE)

    def point(self, name: str) -> np.ndarray:
        return self.keypoints[KP[name], :2]

    def to_openpose_json(self) -> dict:
        flat = []
        for x, y, score in self.keypoints:
            flat.extend([float(x), float(y), float(score)] if score > 0 else [0.0, 0.0, 0.0])
        return {
            "version": 1.3,
            "backend": self.backend,
            "people": [{"pose_keypoints_2d": flat}] if self.keypoints[:, 2].any() else [],
        }

    @classmethod
    def from_openpose_json(cls, payload: dict) -> "PoseResult":
        people = payload.get("people") or []
        keypoints = np.zeros((18, 3), np.float32)
        if people:
            keypoints = np.asarray(people[0]["pose_keypoints_2d"], np.float32).reshape(18, 3)
        return cls(keypoints=keypoints, hands={}, backend=payload.get("backend", "unknown"))


class MediapipePose:
    """A static-image pose estimator. One instance per process; calls are serialised because
    mediapipe graphs are not re-entrant."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray) -> PoseResult:
        height, width = image.shape[:2]
        with self._lock:
            result = self._pose.process(image)
        keypoints = np.zeros((18, 3), np.float32)
        hands: dict[str, np.ndarray] = {}
        if result.pose_landmarks is None:
            return PoseResult(keypoints=keypoints, hands=hands)
        landmarks = result.pose_landmarks.landmark

        def pixel(index: int) -> tuple[float, float, float]:
            lm = landmarks[index]
            x, y = lm.x * width, lm.y * height
            if not (0 <= x < width and 0 <= y < height):
                return 0.0, 0.0, 0.0  # out of frame is missing, as in OpenPose
            return x, y, float(lm.visibility)

        for coco, mp_index in _MEDIAPIPE_TO_COCO18.items():
            keypoints[coco] = pixel(mp_index)
        left, right = pixel(_MP_LEFT_SHOULDER), pixel(_MP_RIGHT_SHOULDER)
        keypoints[KP["neck"]] = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2, min(left[2], right[2]))
        for side, indices in _MP_HANDS.items():
            hands[side] = np.asarray([pixel(i) for i in indices], np.float32)
        return PoseResult(keypoints=keypoints, hands=hands)


@functools.cache
def shared_pose() -> MediapipePose:
    """The process's instance, created on first use and kept (loading the model is the
    expensive part)."""
    return MediapipePose()
