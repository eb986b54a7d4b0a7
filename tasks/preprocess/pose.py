"""Pose keypoints in OpenPose COCO-18 order from mediapipe's pose landmarker (the model ships
inside the mediapipe wheel; ``model_complexity=1`` is the only one that needs no download).

COCO-18 order: nose, neck, r-shoulder, r-elbow, r-wrist, l-shoulder, l-elbow, l-wrist, r-hip,
r-knee, r-ankle, l-hip, l-knee, l-ankle, r-eye, l-eye, r-ear, l-ear. "Right" is the person's
right, which is the image's left in a frontal photo.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from tasks.preprocess.onnx_runtime import ON_CPU, OnnxPlacement, device_of
from tasks.preprocess.shared_models import process_instance

COCO18_NAMES: tuple[str, ...] = (
    "nose",
    "neck",
    "r_shoulder",
    "r_elbow",
    "r_wrist",
    "l_shoulder",
    "l_elbow",
    "l_wrist",
    "r_hip",
    "r_knee",
    "r_ankle",
    "l_hip",
    "l_knee",
    "l_ankle",
    "r_eye",
    "l_eye",
    "r_ear",
    "l_ear",
)
KP = {name: index for index, name in enumerate(COCO18_NAMES)}

# mediapipe's 33 pose landmarks -> COCO-18 (neck is the mean of the two shoulders)
_MEDIAPIPE_TO_COCO18: dict[int, int] = {
    0: 0,
    2: 12,
    3: 14,
    4: 16,
    5: 11,
    6: 13,
    7: 15,
    8: 24,
    9: 26,
    10: 28,
    11: 23,
    12: 25,
    13: 27,
    14: 5,
    15: 2,
    16: 8,
    17: 7,
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
    def from_openpose_json(cls, payload: dict) -> PoseResult:
        people = payload.get("people") or []
        keypoints = np.zeros((18, 3), np.float32)
        if people:
            keypoints = np.asarray(people[0]["pose_keypoints_2d"], np.float32).reshape(18, 3)
        return cls(keypoints=keypoints, hands={}, backend=payload.get("backend", "unknown"))


class MediapipePose:
    """A static-image pose estimator. One instance per thread (``shared_pose``); calls are
    serialised because mediapipe graphs are not re-entrant."""

    backend = POSE_BACKEND

    def __init__(self) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._pose.close()

    def __call__(self, image: np.ndarray, person_mask: np.ndarray | None = None) -> PoseResult:
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


# COCO-17 (RTMPose, DWPose body) -> COCO-18; the neck is the mean of the shoulders
_COCO17_TO_COCO18: dict[int, int] = {
    0: 0,
    2: 6,
    3: 8,
    4: 10,
    5: 5,
    6: 7,
    7: 9,
    8: 12,
    9: 14,
    10: 16,
    11: 11,
    12: 13,
    13: 15,
    14: 2,
    15: 1,
    16: 4,
    17: 3,
}


class OnnxSimccPose:
    """A top-down SimCC pose model (RTMPose / DWPose body style) through onnxruntime: input
    (1, 3, 256, 192) RGB normalised with ImageNet mean and std in 0..255 units, outputs
    ``simcc_x`` (1, 17, 384) and ``simcc_y`` (1, 17, 512) (split ratio 2). The person box comes
    from the person mask, enlarged 1.25 and brought to 3:4."""

    input_height, input_width, split_ratio = 256, 192, 2.0
    mean = np.array([123.675, 116.28, 103.53], np.float32)
    std = np.array([58.395, 57.12, 57.375], np.float32)

    def __init__(self, model_path, version: str, placement: OnnxPlacement | None = None) -> None:
        self._session = (placement or ON_CPU).session(str(model_path))
        self.device = device_of(self._session)
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [3, self.input_height, self.input_width] or len(outputs) != 2:
            raise ValueError(f"{model_path}: expected input (N, 3, 256, 192) and outputs simcc_x, simcc_y")
        self._input = inputs[0].name
        self.backend = f"simcc-onnx:{version}"

    def _box(self, image: np.ndarray, person_mask: np.ndarray | None) -> tuple[float, float, float, float]:
        height, width = image.shape[:2]
        if person_mask is not None and person_mask.any():
            ys, xs = np.nonzero(person_mask)
            x0, x1, y0, y1 = xs.min(), xs.max(), ys.min(), ys.max()
        else:
            x0, x1, y0, y1 = 0, width - 1, 0, height - 1
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        w, h = (x1 - x0 + 1) * 1.25, (y1 - y0 + 1) * 1.25
        aspect = self.input_width / self.input_height
        w, h = max(w, h * aspect), max(h, w / aspect)
        return cx - w / 2, cy - h / 2, w, h

    def __call__(self, image: np.ndarray, person_mask: np.ndarray | None = None) -> PoseResult:
        import cv2

        height, width = image.shape[:2]
        x0, y0, w, h = self._box(image, person_mask)
        scale = self.input_width / w
        matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], np.float32)
        crop = cv2.warpAffine(image, matrix, (self.input_width, self.input_height), flags=cv2.INTER_LINEAR)
        tensor = ((crop.astype(np.float32) - self.mean) / self.std).transpose(2, 0, 1)[None]
        simcc_x, simcc_y = self._session.run(None, {self._input: tensor})
        keypoints17 = np.zeros((17, 3), np.float32)
        xs, ys = simcc_x[0].argmax(axis=1), simcc_y[0].argmax(axis=1)
        keypoints17[:, 0] = xs / self.split_ratio / scale + x0
        keypoints17[:, 1] = ys / self.split_ratio / scale + y0
        keypoints17[:, 2] = np.minimum(simcc_x[0].max(axis=1), simcc_y[0].max(axis=1)).clip(0, 1)
        keypoints = np.zeros((18, 3), np.float32)
        for coco18, coco17 in _COCO17_TO_COCO18.items():
            x, y, score = keypoints17[coco17]
            if 0 <= x < width and 0 <= y < height:
                keypoints[coco18] = (x, y, score)
        left, right = keypoints[KP["l_shoulder"]], keypoints[KP["r_shoulder"]]
        keypoints[KP["neck"]] = ((left[0] + right[0]) / 2, (left[1] + right[1]) / 2, min(left[2], right[2]))
        if keypoints[KP["neck"], 2] == 0:
            keypoints[KP["neck"]] = 0
        return PoseResult(keypoints=keypoints, hands={}, backend=self.backend)


shared_pose = process_instance(MediapipePose)


class ThreadsPose:
    """The mediapipe pose as a process's backend: each call runs on the calling thread's own
    model (``shared_pose``), so the process's CPU threads estimate side by side."""

    backend = POSE_BACKEND
    device = "cpu"  # mediapipe's Python wheel runs its graphs on the CPU

    def __call__(self, image: np.ndarray, person_mask: np.ndarray | None = None) -> PoseResult:
        return shared_pose()(image, person_mask)


ARM = ("shoulder", "elbow", "wrist")
LEG = ("hip", "knee", "ankle")


def limb_lines(pose: PoseResult, shape: tuple[int, int], thickness: int, joints: tuple[str, ...] = ARM) -> np.ndarray:
    """A thick polyline through each side's present joints of a limb (default the arms)."""
    import cv2

    canvas = np.zeros(shape, np.uint8)
    for side in ("r", "l"):
        points = [pose.point(f"{side}_{j}") for j in joints if pose.present(f"{side}_{j}")]
        if len(points) >= 2:
            cv2.polylines(canvas, [np.asarray(points, np.int32)], False, 1, thickness=thickness)
    return canvas > 0
