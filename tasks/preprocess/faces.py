"""Face boxes from mediapipe's short-range face detector (shipped inside the wheel). Used to
count people and to check that inpaint masks spare the face."""

from __future__ import annotations

import threading

import numpy as np

from tasks.preprocess.shared_models import process_instance

FACE_BACKEND = "mediapipe-face-detection-0.10.21-short-range"


class MediapipeFaces:
    def __init__(self, min_confidence: float = 0.6) -> None:
        import mediapipe as mp

        self._detector = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=min_confidence)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._detector.close()

    def __call__(self, image: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Boxes (x0, y0, x1, y1) in pixels, clipped to the image."""
        height, width = image.shape[:2]
        with self._lock:
            result = self._detector.process(image)
        boxes = []
        for detection in result.detections or []:
            box = detection.location_data.relative_bounding_box
            x0, y0 = max(0, int(box.xmin * width)), max(0, int(box.ymin * height))
            x1, y1 = min(width, int((box.xmin + box.width) * width)), min(height, int((box.ymin + box.height) * height))
            if x1 > x0 and y1 > y0:
                boxes.append((x0, y0, x1, y1))
        return boxes


shared_faces = process_instance(MediapipeFaces)
