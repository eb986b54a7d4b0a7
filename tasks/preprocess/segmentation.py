"""Person mask from mediapipe's selfie segmentation (the model ships inside the wheel)."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from tasks.preprocess.shared_models import process_instance

SEGMENTATION_BACKEND = "mediapipe-selfie-segmentation-0.10.21-general"


class MediapipePersonSegmenter:
    """Returns a boolean person mask; the largest connected component is kept so stray
    background blobs do not enter the inpaint region."""

    def __init__(self, threshold: float = 0.5) -> None:
        import mediapipe as mp

        # model_selection=0 is the general (256x256) model: better than the landscape one for
        # portrait-format catalogue photos.
        self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        self._threshold = threshold
        self._lock = threading.Lock()

    def close(self) -> None:
        self._segmenter.close()

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Every pixel the model calls a person (several people stay several blobs)."""
        with self._lock:
            result = self._segmenter.process(image)
        mask = (result.segmentation_mask > self._threshold).astype(np.uint8)
        return cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8)) > 0

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return largest_component(self.segment(image))


def component_areas(mask: np.ndarray) -> list[int]:
    """Areas of the 8-connected components, largest first."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return sorted((int(a) for a in stats[1:count, cv2.CC_STAT_AREA]), reverse=True)


def largest_component(mask: np.ndarray) -> np.ndarray:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == biggest


shared_segmenter = process_instance(MediapipePersonSegmenter)


def outline(mask: np.ndarray) -> np.ndarray:
    """The mask's edge pixels: in the mask, with a 4-neighbour outside it."""
    inside = mask.astype(np.uint8)
    return mask.astype(bool) & ~(cv2.erode(inside, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0)


def boundary_f_score(mask: np.ndarray, truth: np.ndarray, tolerance: float = 2.0) -> float:
    """How well ``mask``'s outline follows ``truth``'s (the boundary F-measure of Martin, Fowlkes
    and Malik, as the DAVIS benchmark uses it): the share of the mask's edge pixels within
    ``tolerance`` px of the true edge, and of the true edge's within it of the mask's,
    harmonically averaged. An outline that steps where the truth runs straight scores low
    although its IoU barely moves."""
    found, true = outline(mask), outline(truth)
    if not found.any() or not true.any():
        return float(found.any() == true.any())
    to_true = cv2.distanceTransform((~true).astype(np.uint8), cv2.DIST_L2, 5)
    to_found = cv2.distanceTransform((~found).astype(np.uint8), cv2.DIST_L2, 5)
    precision = float((to_true[found] <= tolerance).mean())
    recall = float((to_found[true] <= tolerance).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
