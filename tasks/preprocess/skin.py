"""A per-photo skin colour model: chroma (YCrCb) sampled around the face keypoints."""

from __future__ import annotations

import cv2
import numpy as np

from tasks.images import channel_max
from tasks.preprocess.pose import KP


def skin_model(
    image: np.ndarray, person: np.ndarray, keypoints: np.ndarray, tolerance: float = 2.5
) -> tuple[np.ndarray, np.ndarray | None]:
    """Pixels of the person whose chroma matches the face's (or, when the photo is cropped
    above the eyes, the hands'), and that sample's mean colour (RGB). Empty and None when
    neither is visible."""
    nothing = (np.zeros(person.shape, bool), None)
    present = keypoints[:, 2] >= 0.5
    points = [keypoints[KP[n], :2] for n in ("nose", "r_eye", "l_eye") if present[KP[n]]]
    if not points:  # hands: a little beyond each wrist along the forearm
        for side in ("r", "l"):
            wrist, elbow = KP[f"{side}_wrist"], KP[f"{side}_elbow"]
            if present[wrist] and present[elbow]:
                points.append(keypoints[wrist, :2] + 0.3 * (keypoints[wrist, :2] - keypoints[elbow, :2]))
    if not points:
        return nothing
    sample = np.zeros(person.shape, np.uint8)
    shoulders = keypoints[[KP["r_shoulder"], KP["l_shoulder"]], :2]
    radius = max(3, int(0.08 * np.linalg.norm(shoulders[0] - shoulders[1])))
    for point in points:
        cv2.circle(sample, tuple(int(v) for v in point), radius, 1, -1)
    sample = (sample > 0) & person
    ycrcb = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    chroma = ycrcb[..., 1:]
    values = chroma[sample]
    if len(values) < 20:
        return nothing
    mean, std = values.mean(axis=0), values.std(axis=0) + 2.0
    distance = channel_max(np.abs((chroma - mean) / std))
    skin = person & (distance < tolerance) & (ycrcb[..., 0] > 40)
    face_pixels = sample & skin
    tone = image[face_pixels].mean(axis=0) if face_pixels.sum() >= 20 else image[sample].mean(axis=0)
    return skin, tone
